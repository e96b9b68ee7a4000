/* decoder_block.c — CRATE decoder layer (see decoder_block.h). */
#include "decoders/decoder_block.h"

#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"

int decoder_block_declare(decoder_block *b, param_store *ps, const char *prefix, const block_config *cfg) {
    char buf[PARAM_NAME_MAX];
    int d = cfg->d, heads = cfg->heads, head_dim = cfg->head_dim;
    b->d = d;
    int rc = ln_layer_declare(&b->ln1, ps, layer_name(buf, prefix, "ln1"), d);
    if (rc == CRATE_OK) rc = linear_layer_declare(&b->proj_e, ps, layer_name(buf, prefix, "inverse"), d, d, 0);
    if (rc == CRATE_OK) rc = ln_layer_declare(&b->ln2, ps, layer_name(buf, prefix, "ln2"), d);
    if (rc == CRATE_OK) rc = mssa_declare(&b->mssa, ps, layer_name(buf, prefix, "mssa"), d, heads, head_dim, 0, 1);
    return rc;
}

int decoder_block_alloc(decoder_block *b, arena *a, int B, int N) {
    int M = B * N;
    b->out = arena_floats(a, (size_t)M * b->d);
    if (!b->out) return CRATE_EINTERNAL;
    int rc = ln_layer_alloc(&b->ln1, a, M);
    if (rc == CRATE_OK) rc = linear_layer_alloc(&b->proj_e, a, M);
    if (rc == CRATE_OK) rc = ln_layer_alloc(&b->ln2, a, M);
    if (rc == CRATE_OK) rc = mssa_alloc(&b->mssa, a, B, N);
    return rc;
}

void decoder_block_forward(decoder_block *b, const param_store *ps, const float *z, int B, int N) {
    int M = B * N;
    size_t n = (size_t)M * b->d;
    ln_layer_forward(&b->ln1, ps, z, M);
    linear_layer_forward(&b->proj_e, ps, b->ln1.out, M);
    ln_layer_forward(&b->ln2, ps, b->proj_e.out, M);
    mssa_forward(&b->mssa, ps, b->ln2.out, B, N);
    const float *y = b->proj_e.out, *m = b->mssa.proj_o.out;
    for (size_t i = 0; i < n; i++) b->out[i] = y[i] - m[i];
}

size_t decoder_block_scratch_floats(const decoder_block *b, int B, int N) {
    return 2 * (size_t)B * N * b->d + mssa_scratch_floats(&b->mssa, B, N);
}

void decoder_block_backward(decoder_block *b, param_store *ps, float *dz, const float *dout, const float *z,
                            float *scratch, int B, int N) {
    int M = B * N;
    size_t n = (size_t)M * b->d;
    float *s1 = scratch, *s2 = scratch + n, *inner = scratch + 2 * n;
    /* Z⁺ = Y − MSSA(X₂): the MSSA branch sees −dZ⁺. */
    for (size_t i = 0; i < n; i++) s1[i] = -dout[i];
    float *dx2 = s2;
    memset(dx2, 0, n * sizeof(float));
    mssa_backward(&b->mssa, ps, dx2, s1, b->ln2.out, inner, B, N);
    /* dY = dZ⁺ (direct path) + LN₂ backward of dX₂ */
    float *dy = s1;
    memcpy(dy, dout, n * sizeof(float));
    ln_layer_backward(&b->ln2, ps, dy, dx2, b->proj_e.out, M);
    float *dx1 = s2;
    memset(dx1, 0, n * sizeof(float));
    linear_layer_backward(&b->proj_e, ps, dx1, dy, b->ln1.out, M);
    ln_layer_backward(&b->ln1, ps, dz, dx1, z, M);
}

/* block_ops adapters: the stack sees blocks as void *. */
static int ops_declare(void *b, param_store *ps, const char *name, const block_config *cfg) {
    return decoder_block_declare(b, ps, name, cfg);
}
static int ops_alloc(void *b, arena *a, int B, int N) { return decoder_block_alloc(b, a, B, N); }
static void ops_forward(void *b, const param_store *ps, const float *z, int B, int N) {
    decoder_block_forward(b, ps, z, B, N);
}
static void ops_backward(void *b, param_store *ps, float *dz, const float *dout, const float *z,
                         float *scratch, int B, int N) {
    decoder_block_backward(b, ps, dz, dout, z, scratch, B, N);
}
static const float *ops_output(const void *b) { return ((const decoder_block *)b)->out; }
static size_t ops_scratch(const void *b, int B, int N) { return decoder_block_scratch_floats(b, B, N); }

static double ops_flops(const void *blk, int B, int N) {
    const decoder_block *b = blk;
    return linear_layer_flops(&b->proj_e, B * N) + mssa_flops(&b->mssa, B, N);
}

static const block_ops decoder_block_ops = {ops_declare, ops_alloc,   ops_forward, ops_backward,
                                            ops_output,  ops_scratch, ops_flops};

int decoder_stack_declare(block_stack *s, param_store *ps, const char *prefix, int depth, const block_config *cfg) {
    return block_stack_declare(s, &decoder_block_ops, sizeof(decoder_block), depth, ps, prefix, cfg);
}
