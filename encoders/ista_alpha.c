/* ista_alpha.c — the CRATE-α sparse-coding step (see ista_alpha.h for the math). */
#include "encoders/ista_alpha.h"

#include "src/kernels/gemm.h"
#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"
#include "src/nn/layers.h"

int ista_alpha_declare(ista_alpha_layer *l, param_store *ps, const char *prefix, int d, int expand, float eta,
                       float lambda) {
    char buf[PARAM_NAME_MAX];
    l->d = d;
    l->n = expand * d;
    l->eta = eta;
    l->lambda = lambda;
    l->dict = param_store_add2(ps, layer_name(buf, prefix, "dict"), d, l->n, PARAM_MATRIX);
    l->out_dict = param_store_add2(ps, layer_name(buf, prefix, "out_dict"), d, l->n, PARAM_MATRIX);
    return l->dict < 0 || l->out_dict < 0 ? CRATE_EINTERNAL : CRATE_OK;
}

int ista_alpha_alloc(ista_alpha_layer *l, arena *a, int M) {
    l->code1 = arena_floats(a, (size_t)M * l->n);
    l->code2 = arena_floats(a, (size_t)M * l->n);
    l->resid = arena_floats(a, (size_t)M * l->d);
    l->out = arena_floats(a, (size_t)M * l->d);
    return l->code1 && l->code2 && l->resid && l->out ? CRATE_OK : CRATE_EINTERNAL;
}

void ista_alpha_forward(ista_alpha_layer *l, const param_store *ps, const float *y, int M) {
    const int d = l->d, n = l->n;
    const size_t mn = (size_t)M * n;
    const float *D = param_data(ps, l->dict), *D1 = param_data(ps, l->out_dict);
    const float shift = l->eta * l->lambda;
    /* A₁ = ReLU(η Y D − ηλ) */
    for (size_t i = 0; i < mn; i++) l->code1[i] = -shift;
    gemm(GEMM_N, GEMM_N, M, n, d, l->eta, y, d, D, n, 1.0f, l->code1, n);
    relu_forward(l->code1, l->code1, mn);
    /* R = A₁ Dᵀ − Y, in fp32 whatever the precision: the reconstruction nearly cancels Y (gemm.h) */
    memcpy(l->resid, y, (size_t)M * d * sizeof(float));
    gemm_fp32(GEMM_N, GEMM_T, M, d, n, 1.0f, l->code1, n, D, n, -1.0f, l->resid, d);
    /* A₂ = ReLU((A₁ − ηλ) − η R D) */
    for (size_t i = 0; i < mn; i++) l->code2[i] = l->code1[i] - shift;
    gemm(GEMM_N, GEMM_N, M, n, d, -l->eta, l->resid, d, D, n, 1.0f, l->code2, n);
    relu_forward(l->code2, l->code2, mn);
    /* out = A₂ D₁ᵀ */
    gemm(GEMM_N, GEMM_T, M, d, n, 1.0f, l->code2, n, D1, n, 0.0f, l->out, d);
}

size_t ista_alpha_scratch_floats(const ista_alpha_layer *l, int M) { return (size_t)M * (2 * l->n + l->d); }

void ista_alpha_backward(ista_alpha_layer *l, param_store *ps, float *dy, const float *dout, const float *y,
                         float *scratch, int M) {
    const int d = l->d, n = l->n;
    const size_t mn = (size_t)M * n;
    const float *D = param_data(ps, l->dict), *D1 = param_data(ps, l->out_dict);
    float *dD = param_grad(ps, l->dict), *dD1 = param_grad(ps, l->out_dict);
    float *dP2 = scratch, *dP1 = scratch + mn, *dR = scratch + 2 * mn;
    /* dD₁ += doutᵀ A₂;  dP₂ = (dout D₁) ⊙ [A₂ > 0] */
    gemm(GEMM_T, GEMM_N, d, n, M, 1.0f, dout, d, l->code2, n, 1.0f, dD1, n);
    gemm(GEMM_N, GEMM_N, M, n, d, 1.0f, dout, d, D1, n, 0.0f, dP2, n);
    relu_mask(dP2, l->code2, mn);
    /* dR = −η dP₂ Dᵀ;  dD += −η Rᵀ dP₂ */
    gemm(GEMM_N, GEMM_T, M, d, n, -l->eta, dP2, n, D, n, 0.0f, dR, d);
    gemm(GEMM_T, GEMM_N, d, n, M, -l->eta, l->resid, d, dP2, n, 1.0f, dD, n);
    /* dP₁ = (dP₂ + dR D) ⊙ [A₁ > 0];  dD += dRᵀ A₁ (R's use of D);  dY −= dR (R's use of Y) */
    memcpy(dP1, dP2, mn * sizeof(float));
    gemm(GEMM_N, GEMM_N, M, n, d, 1.0f, dR, d, D, n, 1.0f, dP1, n);
    relu_mask(dP1, l->code1, mn);
    gemm(GEMM_T, GEMM_N, d, n, M, 1.0f, dR, d, l->code1, n, 1.0f, dD, n);
    axpy(dy, -1.0f, dR, (size_t)M * d);
    /* the first step, η Y D: dY += η dP₁ Dᵀ, dD += η Yᵀ dP₁ */
    gemm(GEMM_N, GEMM_T, M, d, n, l->eta, dP1, n, D, n, 1.0f, dy, d);
    gemm(GEMM_T, GEMM_N, d, n, M, l->eta, y, d, dP1, n, 1.0f, dD, n);
}

double ista_alpha_flops(const ista_alpha_layer *l, int M) { return 3.0 * 4.0 * 2.0 * M * (double)l->d * l->n; }
