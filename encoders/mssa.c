/* mssa.c — MSSA forward and backward (see mssa.h). */
#include "encoders/mssa.h"

#include <math.h>
#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"

int mssa_declare(mssa_layer *l, param_store *ps, const char *prefix, int d, int K, int p, int causal, int out_bias) {
    char buf[PARAM_NAME_MAX];
    l->d = d;
    l->K = K;
    l->p = p;
    l->causal = causal;
    l->scale = 1.0f / sqrtf((float)p);
    int rc = linear_layer_declare(&l->proj_u, ps, layer_name(buf, prefix, "qkv"), d, K * p, 0);
    if (rc == CRATE_OK) rc = linear_layer_declare(&l->proj_o, ps, layer_name(buf, prefix, "out"), K * p, d, out_bias);
    return rc;
}

int mssa_alloc(mssa_layer *l, arena *a, int B, int N) {
    int M = B * N;
    l->heads = arena_floats(a, (size_t)M * l->K * l->p);
    l->att = arena_floats(a, (size_t)B * l->K * N * N);
    if (!l->heads || !l->att) return CRATE_EINTERNAL;
    int rc = linear_layer_alloc(&l->proj_u, a, M);
    return rc == CRATE_OK ? linear_layer_alloc(&l->proj_o, a, M) : rc;
}

void mssa_forward(mssa_layer *l, const param_store *ps, const float *x, int B, int N) {
    int M = B * N;
    linear_layer_forward(&l->proj_u, ps, x, M);
    attention_forward(l->heads, l->att, l->proj_u.out, B, N, l->K, l->p, l->scale, l->causal);
    linear_layer_forward(&l->proj_o, ps, l->heads, M);
}

size_t mssa_scratch_floats(const mssa_layer *l, int B, int N) {
    return 2 * (size_t)B * N * l->K * l->p + (size_t)B * l->K * N * N;
}

void mssa_backward(mssa_layer *l, param_store *ps, float *dx, const float *dout, const float *x,
                   float *scratch, int B, int N) {
    int M = B * N;
    size_t width = (size_t)M * l->K * l->p;
    float *dheads = scratch, *dw = scratch + width, *att_scratch = scratch + 2 * width;
    memset(scratch, 0, 2 * width * sizeof(float));
    linear_layer_backward(&l->proj_o, ps, dheads, dout, l->heads, M);
    attention_backward(dw, att_scratch, dheads, l->proj_u.out, l->att, B, N, l->K, l->p, l->scale, l->causal);
    linear_layer_backward(&l->proj_u, ps, dx, dw, x, M);
}

double mssa_flops(const mssa_layer *l, int B, int N) {
    int M = B * N;
    return linear_layer_flops(&l->proj_u, M) + linear_layer_flops(&l->proj_o, M) +
           attention_flops(B, N, l->K, l->p, l->causal);
}
