/* encoder_block.c — CRATE and CRATE-α encoder layers (see encoder_block.h). */
#include "encoders/encoder_block.h"

#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"

int encoder_block_declare(encoder_block *b, param_store *ps, const char *prefix, const block_config *cfg) {
    char buf[PARAM_NAME_MAX];
    b->d = cfg->d;
    b->kind = cfg->kind;
    const int alpha = cfg->kind == BLOCK_CRATE_ALPHA;
    int rc = ln_layer_declare(&b->ln1, ps, layer_name(buf, prefix, "ln1"), cfg->d);
    if (rc == CRATE_OK)
        rc = mssa_declare(&b->mssa, ps, layer_name(buf, prefix, "mssa"), cfg->d, cfg->heads, cfg->head_dim,
                          cfg->causal, !alpha);
    if (rc == CRATE_OK) rc = ln_layer_declare(&b->ln2, ps, layer_name(buf, prefix, "ln2"), cfg->d);
    if (rc != CRATE_OK) return rc;
    return alpha ? ista_alpha_declare(&b->alpha, ps, layer_name(buf, prefix, "ista"), cfg->d, cfg->expand, cfg->eta,
                                      cfg->lambda)
                 : ista_declare(&b->ista, ps, layer_name(buf, prefix, "ista"), cfg->d, cfg->eta, cfg->lambda);
}

int encoder_block_alloc(encoder_block *b, arena *a, int B, int N) {
    int M = B * N;
    b->z_half = arena_floats(a, (size_t)M * b->d);
    if (!b->z_half) return CRATE_EINTERNAL;
    int rc = ln_layer_alloc(&b->ln1, a, M);
    if (rc == CRATE_OK) rc = mssa_alloc(&b->mssa, a, B, N);
    if (rc == CRATE_OK) rc = ln_layer_alloc(&b->ln2, a, M);
    if (rc != CRATE_OK) return rc;
    if (b->kind == BLOCK_CRATE) {
        rc = ista_alloc(&b->ista, a, M);
        b->out = b->ista.out;
        return rc;
    }
    b->out = arena_floats(a, (size_t)M * b->d);
    return b->out ? ista_alpha_alloc(&b->alpha, a, M) : CRATE_EINTERNAL;
}

void encoder_block_prepare(encoder_block *b, const param_store *ps) {
    if (b->kind == BLOCK_CRATE) ista_form_gain(&b->ista, ps);
}

void encoder_block_sparsify(encoder_block *b, const param_store *ps, const float *y, const float *z_half, int M) {
    if (b->kind == BLOCK_CRATE) {
        ista_apply(&b->ista, y, M);
        return;
    }
    ista_alpha_forward(&b->alpha, ps, y, M);
    add_forward(b->out, z_half, b->alpha.out, (size_t)M * b->d);
}

void encoder_block_forward(encoder_block *b, const param_store *ps, const float *z, int B, int N) {
    int M = B * N;
    ln_layer_forward(&b->ln1, ps, z, M);
    mssa_forward(&b->mssa, ps, b->ln1.out, B, N);
    add_forward(b->z_half, z, b->mssa.proj_o.out, (size_t)M * b->d);
    ln_layer_forward(&b->ln2, ps, b->z_half, M);
    encoder_block_prepare(b, ps);
    encoder_block_sparsify(b, ps, b->ln2.out, b->z_half, M);
}

const float *encoder_block_code(const encoder_block *b, int *width) {
    *width = b->kind == BLOCK_CRATE ? b->d : b->alpha.n;
    return b->kind == BLOCK_CRATE ? b->out : b->alpha.code2;
}

size_t encoder_block_scratch_floats(const encoder_block *b, int B, int N) {
    size_t M = (size_t)B * N, inner = mssa_scratch_floats(&b->mssa, B, N);
    size_t sparse = b->kind == BLOCK_CRATE ? ista_scratch_floats(&b->ista, (int)M)
                                           : ista_alpha_scratch_floats(&b->alpha, (int)M);
    return 2 * M * b->d + (inner > sparse ? inner : sparse);
}

void encoder_block_backward(encoder_block *b, param_store *ps, float *dz, const float *dout, const float *z,
                            float *scratch, int B, int N) {
    int M = B * N;
    size_t n = (size_t)M * b->d;
    float *dy = scratch, *dz_half = scratch + n, *inner = scratch + 2 * n;
    memset(scratch, 0, 2 * n * sizeof(float));
    if (b->kind == BLOCK_CRATE) {
        ista_backward(&b->ista, ps, dy, dout, b->ln2.out, inner, M);
    } else {
        /* Z⁺ = Z½ + A₂D₁ᵀ: the residual passes dZ⁺ straight to dZ½. */
        axpy(dz_half, 1.0f, dout, n);
        ista_alpha_backward(&b->alpha, ps, dy, dout, b->ln2.out, inner, M);
    }
    ln_layer_backward(&b->ln2, ps, dz_half, dy, b->z_half, M);
    /* Z½ = Z + MSSA(LN₁(Z)): the residual passes dZ½ straight to dZ. */
    axpy(dz, 1.0f, dz_half, n);
    float *dx = dy;
    memset(dx, 0, n * sizeof(float));
    mssa_backward(&b->mssa, ps, dx, dz_half, b->ln1.out, inner, B, N);
    ln_layer_backward(&b->ln1, ps, dz, dx, z, M);
}

/* block_ops adapters: the stack sees blocks as void *. */
static int ops_declare(void *b, param_store *ps, const char *name, const block_config *cfg) {
    return encoder_block_declare(b, ps, name, cfg);
}
static int ops_alloc(void *b, arena *a, int B, int N) { return encoder_block_alloc(b, a, B, N); }
static void ops_forward(void *b, const param_store *ps, const float *z, int B, int N) {
    encoder_block_forward(b, ps, z, B, N);
}
static void ops_backward(void *b, param_store *ps, float *dz, const float *dout, const float *z,
                         float *scratch, int B, int N) {
    encoder_block_backward(b, ps, dz, dout, z, scratch, B, N);
}
static const float *ops_output(const void *b) { return ((const encoder_block *)b)->out; }
static size_t ops_scratch(const void *b, int B, int N) { return encoder_block_scratch_floats(b, B, N); }

static double ops_flops(const void *blk, int B, int N) {
    const encoder_block *b = blk;
    double sparse = b->kind == BLOCK_CRATE ? ista_flops(&b->ista, B * N) : ista_alpha_flops(&b->alpha, B * N);
    return mssa_flops(&b->mssa, B, N) + sparse;
}

static const block_ops encoder_block_ops = {ops_declare, ops_alloc,   ops_forward, ops_backward,
                                            ops_output,  ops_scratch, ops_flops};

int encoder_stack_declare(block_stack *s, param_store *ps, const char *prefix, int depth, const block_config *cfg) {
    return block_stack_declare(s, &encoder_block_ops, sizeof(encoder_block), depth, ps, prefix, cfg);
}
