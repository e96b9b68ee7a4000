/* encoder_block.c — CRATE encoder layer (see encoder_block.h). */
#include "encoders/encoder_block.h"

#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"

int encoder_block_declare(encoder_block *b, param_store *ps, const char *prefix, const block_config *cfg) {
    char buf[PARAM_NAME_MAX];
    b->d = cfg->d;
    int rc = ln_layer_declare(&b->ln1, ps, layer_name(buf, prefix, "ln1"), cfg->d);
    if (rc == CRATE_OK)
        rc = mssa_declare(&b->mssa, ps, layer_name(buf, prefix, "mssa"), cfg->d, cfg->heads, cfg->head_dim, cfg->causal);
    if (rc == CRATE_OK) rc = ln_layer_declare(&b->ln2, ps, layer_name(buf, prefix, "ln2"), cfg->d);
    if (rc == CRATE_OK) rc = ista_declare(&b->ista, ps, layer_name(buf, prefix, "ista"), cfg->d, cfg->eta, cfg->lambda);
    return rc;
}

int encoder_block_alloc(encoder_block *b, arena *a, int B, int N) {
    int M = B * N;
    b->z_half = arena_floats(a, (size_t)M * b->d);
    if (!b->z_half) return CRATE_EINTERNAL;
    int rc = ln_layer_alloc(&b->ln1, a, M);
    if (rc == CRATE_OK) rc = mssa_alloc(&b->mssa, a, B, N);
    if (rc == CRATE_OK) rc = ln_layer_alloc(&b->ln2, a, M);
    if (rc == CRATE_OK) rc = ista_alloc(&b->ista, a, M);
    return rc;
}

void encoder_block_forward(encoder_block *b, const param_store *ps, const float *z, int B, int N) {
    int M = B * N;
    ln_layer_forward(&b->ln1, ps, z, M);
    mssa_forward(&b->mssa, ps, b->ln1.out, B, N);
    add_forward(b->z_half, z, b->mssa.proj_o.out, (size_t)M * b->d);
    ln_layer_forward(&b->ln2, ps, b->z_half, M);
    ista_forward(&b->ista, ps, b->ln2.out, M);
}

size_t encoder_block_scratch_floats(const encoder_block *b, int B, int N) {
    size_t M = (size_t)B * N, inner = mssa_scratch_floats(&b->mssa, B, N);
    size_t ista = ista_scratch_floats(&b->ista, (int)M);
    return 2 * M * b->d + (inner > ista ? inner : ista);
}

void encoder_block_backward(encoder_block *b, param_store *ps, float *dz, const float *dout, const float *z,
                            float *scratch, int B, int N) {
    int M = B * N;
    size_t n = (size_t)M * b->d;
    float *dy = scratch, *dz_half = scratch + n, *inner = scratch + 2 * n;
    memset(scratch, 0, 2 * n * sizeof(float));
    ista_backward(&b->ista, ps, dy, dout, b->ln2.out, inner, M);
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
static const float *ops_output(const void *b) { return ((const encoder_block *)b)->ista.out; }
static size_t ops_scratch(const void *b, int B, int N) { return encoder_block_scratch_floats(b, B, N); }

static double ops_flops(const void *blk, int B, int N) {
    const encoder_block *b = blk;
    return mssa_flops(&b->mssa, B, N) + ista_flops(&b->ista, B * N);
}

static const block_ops encoder_block_ops = {ops_declare, ops_alloc,   ops_forward, ops_backward,
                                            ops_output,  ops_scratch, ops_flops};

int encoder_stack_declare(block_stack *s, param_store *ps, const char *prefix, int depth, const block_config *cfg) {
    return block_stack_declare(s, &encoder_block_ops, sizeof(encoder_block), depth, ps, prefix, cfg);
}
