/* test_blocks_grad.c — finite-difference gradient checks of whole CRATE
 * stacks: two encoder layers (MSSA + ISTA; bidirectional and causal) and two
 * decoder layers (inverse + subtracted MSSA), each closed by the final
 * LayerNorm — every parameter tensor and the stack's input. The loss is
 * L = Σ out ⊙ P for a fixed random probe P, so the analytic gradient is the
 * backward with dout = P. h = 1e-2, rtol 2e-2, atol 1e-3 (see gradcheck.h);
 * ReLU kinks are kept out of reach (keep_relu_away_from_kinks); the data
 * are fixed, so the outcome is deterministic, and dropping any term
 * (e.g. one of the three roles of U) fails it. */
#include <stdlib.h>
#include <string.h>

#include "decoders/decoder_block.h"
#include "encoders/encoder_block.h"
#include "src/error.h"
#include "tests/check.h"
#include "tests/gradcheck.h"

enum { B = 2, N = 5, D = 8, HEADS = 2, HEAD_DIM = 3, DEPTH = 2, ELEMS = B * N * D };

typedef struct {
    block_stack stack;
    param_store ps;
    arena arena;
    float z[ELEMS], probe[ELEMS];
} fixture;

static double stack_loss(void *ctx) {
    fixture *f = ctx;
    block_stack_forward(&f->stack, &f->ps, f->z, B, N);
    double l = 0;
    for (int i = 0; i < ELEMS; i++) l += (double)f->stack.final_ln.out[i] * f->probe[i];
    return l;
}

/* A finite difference across a ReLU kink measures an average of two slopes,
 * not the derivative. ISTA's pre-activation is Y + η(Y − YDᵀ)D − ηλ with
 * Y = LN₂(Z½), so putting LN₂'s bias at ±4 (alternating channels) with gain
 * 0.5 keeps every unit firmly on or firmly off: both branches of the ReLU are
 * exercised and no probe straddles a kink. */
static void keep_relu_away_from_kinks(param_store *ps) {
    for (int id = 0; id < ps->count; id++) {
        const char *name = ps->tensors[id].name;
        size_t len = strlen(name);
        int is_gain = len > 11 && !strcmp(name + len - 11, ".ln2.weight");
        int is_bias = len > 9 && !strcmp(name + len - 9, ".ln2.bias");
        if (strncmp(name, "encoder", 7) || !(is_gain || is_bias)) continue;
        for (size_t i = 0; i < ps->tensors[id].numel; i++)
            param_data(ps, id)[i] = is_gain ? 0.5f : (i % 2 ? -4.0f : 4.0f);
    }
}

typedef int (*stack_declare_fn)(block_stack *, param_store *, const char *, int, const block_config *);

static void check_stack(const char *what, stack_declare_fn declare, int causal, block_kind kind) {
    fixture *f = calloc(1, sizeof *f);
    param_store_init(&f->ps);
    arena_init(&f->arena);
    block_config cfg = {.d = D, .heads = HEADS, .head_dim = HEAD_DIM, .causal = causal, .eta = 0.1f, .lambda = 0.1f,
                        .kind = kind, .expand = 2};
    int rc = declare(&f->stack, &f->ps, what, DEPTH, &cfg);
    if (rc == CRATE_OK) rc = param_store_alloc(&f->ps);
    if (rc == CRATE_OK) rc = block_stack_alloc(&f->stack, &f->arena, B, N);
    CHECK(rc == CRATE_OK, "%s: build failed: %s", what, crate_errmsg());
    /* Random weights of O(0.5); LayerNorm gains around 1 so the signal passes. */
    gradcheck_fill(f->ps.data, f->ps.total, 7, 0.5f);
    for (int id = 0; id < f->ps.count; id++)
        if ((f->ps.tensors[id].flags & PARAM_INIT_MASK) == PARAM_INIT_ONE)
            for (size_t i = 0; i < f->ps.tensors[id].numel; i++) param_data(&f->ps, id)[i] += 1.0f;
    keep_relu_away_from_kinks(&f->ps);
    gradcheck_fill(f->z, ELEMS, 11, 1.0f);
    gradcheck_fill(f->probe, ELEMS, 12, 1.0f);

    float *scratch = calloc(block_stack_scratch_floats(&f->stack, B, N), sizeof(float));
    float dz[ELEMS] = {0};
    stack_loss(f);
    block_stack_backward(&f->stack, &f->ps, dz, f->probe, f->z, scratch, B, N);

    /* CRATE-α's pre-activations η Y D − ηλ (over a random overcomplete D)
     * cannot be pushed off their kinks by LN₂'s bias as ISTA's are, so its
     * probes take a 5× smaller step, which straddles a kink 5× less often. */
    const float step = kind == BLOCK_CRATE ? 1e-2f : 2e-3f;
    char name[128];
    for (int id = 0; id < f->ps.count; id++) {
        snprintf(name, sizeof name, "%s%s %s", what, causal ? " (causal)" : "", f->ps.tensors[id].name);
        CHECK(gradcheck_tensor(name, param_data(&f->ps, id), param_grad(&f->ps, id), f->ps.tensors[id].numel,
                               stack_loss, f, step, 2e-2, 1e-3, 40),
              "%s", name);
    }
    snprintf(name, sizeof name, "%s%s input", what, causal ? " (causal)" : "");
    CHECK(gradcheck_tensor(name, f->z, dz, ELEMS, stack_loss, f, 1e-2f, 2e-2, 1e-3, 80), "%s", name);

    free(scratch);
    block_stack_destroy(&f->stack);
    arena_free(&f->arena);
    param_store_free(&f->ps);
    free(f);
}

int main(void) {
    check_stack("encoder", encoder_stack_declare, 0, BLOCK_CRATE);
    check_stack("encoder", encoder_stack_declare, 1, BLOCK_CRATE);
    check_stack("alpha", encoder_stack_declare, 0, BLOCK_CRATE_ALPHA);
    check_stack("alpha", encoder_stack_declare, 1, BLOCK_CRATE_ALPHA);
    check_stack("decoder", decoder_stack_declare, 0, BLOCK_CRATE);
    return check_finish();
}
