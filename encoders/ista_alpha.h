/* ista_alpha.h — the sparse-coding step of a CRATE-α layer (arXiv 2405.20299,
 * DESIGN §2, row convention): an overcomplete dictionary D ∈ R^{d×n} (n = m·d
 * code width, m = model.ista_expand), two ISTA steps from A₀ = 0 on
 * ½‖Y − A Dᵀ‖² + λ‖A‖₁ with the non-negative soft threshold, and a decoupled
 * output dictionary D₁ ∈ R^{d×n} (both without bias):
 *   A₁  = ReLU(η Y D − ηλ)                      first step from A₀ = 0
 *   R   = A₁ Dᵀ − Y                             residual of coding Y with A₁
 *   A₂  = ReLU(A₁ − η R D − ηλ)                 second step
 *   out = A₂ D₁ᵀ                                the layer adds it: Z⁺ = Z½ + out
 * Y, R and out are (M, d); A₁ and A₂ (M, n): the sparse codes. Four
 * (M,d)·(d,n)-sized GEMMs forward. Backward, with dP₂ = (dout D₁) ⊙ [A₂ > 0],
 * dR = −η dP₂ Dᵀ and dP₁ = (dP₂ + dR D) ⊙ [A₁ > 0]:
 *   dD₁ += doutᵀ A₂
 *   dD  += −η Rᵀ dP₂ + dRᵀ A₁ + η Yᵀ dP₁
 *   dY  += −dR + η dP₁ Dᵀ
 */
#ifndef CRATE_ISTA_ALPHA_H
#define CRATE_ISTA_ALPHA_H

#include <stddef.h>

#include "src/nn/arena.h"
#include "src/nn/params.h"

typedef struct {
    int dict, out_dict; /* D, D₁ ∈ R^{d×n} */
    int d, n;
    float eta, lambda;
    float *code1;       /* A₁ (M, n) */
    float *code2;       /* A₂ (M, n): the layer's sparse code */
    float *resid;       /* R (M, d) */
    float *out;         /* A₂ D₁ᵀ (M, d) */
} ista_alpha_layer;

/* expand = m: the code is m·d wide. */
int ista_alpha_declare(ista_alpha_layer *l, param_store *ps, const char *prefix, int d, int expand, float eta,
                       float lambda);
int ista_alpha_alloc(ista_alpha_layer *l, arena *a, int M);
/* y (M, d) → l->out (M, d), l->code2 (M, n) */
void ista_alpha_forward(ista_alpha_layer *l, const param_store *ps, const float *y, int M);
/* dy += ∂⟨dout, out⟩/∂y; dD, dD₁ accumulate. */
void ista_alpha_backward(ista_alpha_layer *l, param_store *ps, float *dy, const float *dout, const float *y,
                         float *scratch, int M);
size_t ista_alpha_scratch_floats(const ista_alpha_layer *l, int M);
/* Y D, A₁ Dᵀ, R D and A₂ D₁ᵀ (3× forward, layers.h). */
double ista_alpha_flops(const ista_alpha_layer *l, int M);

#endif
