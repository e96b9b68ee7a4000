/* ista.c — the ISTA sparsification step (see ista.h for the math). */
#include "encoders/ista.h"

#include <string.h>

#include "src/error.h"
#include "src/kernels/gemm.h"
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
    l->gain = arena_floats(a, (size_t)l->d * l->d);
    l->out = arena_floats(a, (size_t)M * l->d);
    return l->gain && l->out ? CRATE_OK : CRATE_EINTERNAL;
}

void ista_form_gain(ista_layer *l, const param_store *ps) {
    const int d = l->d;
    const float *D = param_data(ps, l->dict);
    /* H = ηD − η DᵀD, in fp32 whatever the precision: the two terms nearly
     * cancel when D ≈ I (gemm.h) */
    for (size_t i = 0; i < (size_t)d * d; i++) l->gain[i] = l->eta * D[i];
    gemm_fp32(GEMM_T, GEMM_N, d, d, d, -l->eta, D, d, D, d, 1.0f, l->gain, d);
}

void ista_apply(ista_layer *l, const float *y, int M) {
    const int d = l->d;
    const size_t n = (size_t)M * d;
    const float shift = l->eta * l->lambda;
    /* P = (Y − ηλ) + Y H, then Z⁺ = ReLU(P) in place */
    for (size_t i = 0; i < n; i++) l->out[i] = y[i] - shift;
    gemm(GEMM_N, GEMM_N, M, d, d, 1.0f, y, d, l->gain, d, 1.0f, l->out, d);
    relu_forward(l->out, l->out, n);
}

void ista_forward(ista_layer *l, const param_store *ps, const float *y, int M) {
    ista_form_gain(l, ps);
    ista_apply(l, y, M);
}

size_t ista_scratch_floats(const ista_layer *l, int M) { return (size_t)M * l->d + 2 * (size_t)l->d * l->d; }

void ista_backward(ista_layer *l, param_store *ps, float *dy, const float *dout, const float *y,
                   float *scratch, int M) {
    const int d = l->d;
    const size_t n = (size_t)M * d, dd = (size_t)d * d;
    const float *D = param_data(ps, l->dict);
    float *dD = param_grad(ps, l->dict);
    float *dP = scratch, *dH = scratch + n, *sym = dH + dd;
    memset(dP, 0, n * sizeof(float));
    relu_backward(dP, dout, l->out, n);
    /* dY += dP + dP Hᵀ */
    axpy(dy, 1.0f, dP, n);
    gemm(GEMM_N, GEMM_T, M, d, d, 1.0f, dP, d, l->gain, d, 1.0f, dy, d);
    /* dH = Yᵀ dP, then dD += η dH − η D (dH + dHᵀ) */
    gemm(GEMM_T, GEMM_N, d, d, M, 1.0f, y, d, dP, d, 0.0f, dH, d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) sym[(size_t)i * d + j] = dH[(size_t)i * d + j] + dH[(size_t)j * d + i];
    axpy(dD, l->eta, dH, dd);
    gemm_fp32(GEMM_N, GEMM_N, d, d, d, -l->eta, D, d, sym, d, 1.0f, dD, d);
}

double ista_flops(const ista_layer *l, int M) {
    const double d = l->d;
    return 3.0 * 2.0 * M * d * d + 2.0 * 2.0 * d * d * d;
}
