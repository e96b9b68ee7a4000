/* ista.c — the ISTA sparsification step (see ista.h for the math). */
#include "encoders/ista.h"

#include "src/kernels/gemm.h"
#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"
#include "src/nn/layers.h"

int ista_declare(ista_layer *l, param_store *ps, const char *prefix, int d, float eta, float lambda) {
    char buf[PARAM_NAME_MAX];
    l->d = d;
    l->eta = eta;
    l->lambda = lambda;
    l->dict = param_store_add2(ps, layer_name(buf, prefix, "dict"), d, d, PARAM_MATRIX);
    return l->dict < 0 ? CRATE_EINTERNAL : CRATE_OK;
}

int ista_alloc(ista_layer *l, arena *a, int M) {
    l->resid = arena_floats(a, (size_t)M * l->d);
    l->out = arena_floats(a, (size_t)M * l->d);
    return l->resid && l->out ? CRATE_OK : CRATE_EINTERNAL;
}

void ista_forward(ista_layer *l, const param_store *ps, const float *y, int M) {
    const int d = l->d;
    const size_t n = (size_t)M * d;
    const float *D = param_data(ps, l->dict);
    const float shift = l->eta * l->lambda;
    /* R = Y − Y Dᵀ, in fp32 whatever the precision: Y Dᵀ nearly cancels Y (gemm.h) */
    memcpy(l->resid, y, n * sizeof(float));
    gemm_fp32(GEMM_N, GEMM_T, M, d, d, -1.0f, y, d, D, d, 1.0f, l->resid, d);
    /* P = (Y − ηλ) + η R D, then Z⁺ = ReLU(P) in place */
    for (size_t i = 0; i < n; i++) l->out[i] = y[i] - shift;
    gemm(GEMM_N, GEMM_N, M, d, d, l->eta, l->resid, d, D, d, 1.0f, l->out, d);
    relu_forward(l->out, l->out, n);
}

size_t ista_scratch_floats(const ista_layer *l, int M) { return 2 * (size_t)M * l->d; }

void ista_backward(ista_layer *l, param_store *ps, float *dy, const float *dout, const float *y,
                   float *scratch, int M) {
    const int d = l->d;
    const size_t n = (size_t)M * d;
    const float *D = param_data(ps, l->dict);
    float *dD = param_grad(ps, l->dict);
    float *dP = scratch, *dR = scratch + n;
    memset(dP, 0, n * sizeof(float));
    relu_backward(dP, dout, l->out, n);
    /* dR = η dP Dᵀ */
    gemm(GEMM_N, GEMM_T, M, d, d, l->eta, dP, d, D, d, 0.0f, dR, d);
    /* dY += dP + dR − dR D */
    for (size_t i = 0; i < n; i++) dy[i] += dP[i] + dR[i];
    gemm(GEMM_N, GEMM_N, M, d, d, -1.0f, dR, d, D, d, 1.0f, dy, d);
    /* dD += η Rᵀ dP − dRᵀ Y */
    gemm(GEMM_T, GEMM_N, d, d, M, l->eta, l->resid, d, dP, d, 1.0f, dD, d);
    gemm(GEMM_T, GEMM_N, d, d, M, -1.0f, dR, d, y, d, 1.0f, dD, d);
}

double ista_flops(const ista_layer *l, int M) { return 3.0 * 2.0 * 2.0 * M * (double)l->d * l->d; }
