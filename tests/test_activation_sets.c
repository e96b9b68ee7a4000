/* test_activation_sets.c — one declared image encoder, two activation sets
 * of different shapes (encoders/image_encoder.h, DESIGN §4), as DINO runs
 * global and local crops: forward A, forward B, backward A, backward B must
 * give exactly (bitwise) the parameter gradients of forward A, backward A,
 * forward B, backward B — so set B's forward does not touch what set A keeps
 * for its backward — and set B alone must equal a separately allocated
 * encoder of B's shape with the same parameters. */
#include <stdlib.h>
#include <string.h>

#include "encoders/image_encoder.h"
#include "src/error.h"
#include "src/nn/param_init.h"
#include "tests/check.h"
#include "tests/gradcheck.h"

enum { SIDE = 12, PATCH = 4, NP = 9, P = PATCH * PATCH, D = 8, BA = 2, NA = 9, BB = 3, NB = 4 };

typedef struct {
    float patches[BB * NP * P], dout[BB * (1 + NP) * D], *scratch;
    int idx[BB * NP];
} pass_input;

static void make_input(pass_input *in, int Bn, int n_tok, uint64_t seed) {
    gradcheck_fill(in->patches, (size_t)Bn * NP * P, seed, 1.0f);
    gradcheck_fill(in->dout, (size_t)Bn * (1 + n_tok) * D, seed + 1, 1.0f);
    for (int b = 0; b < Bn; b++)
        for (int t = 0; t < n_tok; t++) in->idx[b * n_tok + t] = (t * 2 + b) % NP; /* a subset, as MAE's */
}

static void forward(image_encoder *e, const param_store *ps, const pass_input *in, int Bn, int n_tok) {
    image_encoder_forward(e, ps, in->patches, in->idx, NULL, Bn, n_tok);
}
static void backward(image_encoder *e, param_store *ps, pass_input *in, int Bn, int n_tok) {
    image_encoder_backward(e, ps, in->dout, in->idx, NULL, Bn, n_tok, in->scratch);
}

int main(void) {
    param_store ps;
    param_store_init(&ps);
    arena a;
    arena_init(&a);
    image_encoder_config cfg = {
        .embed = {1, SIDE, SIDE, PATCH, D, 0, 0}, .block = {D, 2, 4, 0, 0.1f, 0.1f}, .depth = 2};
    image_encoder enc_a, enc_b, enc_alone;
    int rc = image_encoder_declare(&enc_a, &ps, &a, "encoder", &cfg);
    if (rc == CRATE_OK) rc = param_store_alloc(&ps);
    if (rc == CRATE_OK) rc = image_encoder_alloc(&enc_a, &a, BA, NA);
    if (rc == CRATE_OK) rc = image_encoder_activation_set(&enc_b, &enc_a, &a, BB, NB);
    CHECK(rc == CRATE_OK, "build: %s", crate_errmsg());
    if (rc != CRATE_OK) return check_finish();
    param_store_initialize(&ps, 7, 0.02f);
    pass_input in_a, in_b;
    make_input(&in_a, BA, NA, 11);
    make_input(&in_b, BB, NB, 21);
    size_t sa = image_encoder_scratch_floats(&enc_a, BA, NA), sb = image_encoder_scratch_floats(&enc_b, BB, NB);
    in_a.scratch = arena_floats(&a, sa);
    in_b.scratch = arena_floats(&a, sb);
    float *reference = malloc(ps.total * sizeof(float));

    /* Reference: one pass at a time. */
    param_store_zero_grad(&ps);
    forward(&enc_a, &ps, &in_a, BA, NA);
    backward(&enc_a, &ps, &in_a, BA, NA);
    forward(&enc_b, &ps, &in_b, BB, NB);
    backward(&enc_b, &ps, &in_b, BB, NB);
    memcpy(reference, ps.grad, ps.total * sizeof(float));

    /* Both forwards first, then both backwards. */
    param_store_zero_grad(&ps);
    forward(&enc_a, &ps, &in_a, BA, NA);
    forward(&enc_b, &ps, &in_b, BB, NB);
    backward(&enc_a, &ps, &in_a, BA, NA);
    backward(&enc_b, &ps, &in_b, BB, NB);
    CHECK(memcmp(reference, ps.grad, ps.total * sizeof(float)) == 0,
          "interleaved passes of two activation sets change the gradients");

    /* Set B equals an encoder allocated for B's shape alone. */
    param_store_zero_grad(&ps);
    forward(&enc_b, &ps, &in_b, BB, NB);
    backward(&enc_b, &ps, &in_b, BB, NB);
    memcpy(reference, ps.grad, ps.total * sizeof(float));
    float *out_b = malloc((size_t)BB * (1 + NB) * D * sizeof(float));
    memcpy(out_b, enc_b.stack.final_ln.out, (size_t)BB * (1 + NB) * D * sizeof(float));
    rc = image_encoder_activation_set(&enc_alone, &enc_a, &a, BB, NB);
    CHECK(rc == CRATE_OK, "third set: %s", crate_errmsg());
    param_store_zero_grad(&ps);
    forward(&enc_alone, &ps, &in_b, BB, NB);
    backward(&enc_alone, &ps, &in_b, BB, NB);
    CHECK(memcmp(out_b, enc_alone.stack.final_ln.out, (size_t)BB * (1 + NB) * D * sizeof(float)) == 0,
          "two activation sets of one shape give different outputs");
    CHECK(memcmp(reference, ps.grad, ps.total * sizeof(float)) == 0,
          "two activation sets of one shape give different gradients");
    CHECK(enc_b.stack.final_ln.out != enc_a.stack.final_ln.out && enc_b.embed.tokens != enc_a.embed.tokens,
          "activation sets share buffers");

    free(out_b);
    free(reference);
    image_encoder_destroy(&enc_alone);
    image_encoder_destroy(&enc_b);
    image_encoder_destroy(&enc_a);
    arena_free(&a);
    param_store_free(&ps);
    return check_finish();
}
