/* ista.h — the ISTA step of a CRATE encoder layer: one proximal-gradient step
 * on the sparse-coding objective ½‖Y − Z̃D‖² + λ‖Z̃‖₁ started at Z̃ = Y, with
 * the non-negative soft threshold (DESIGN §2, row convention):
 *   Z⁺ = ReLU(Y + η (Y − Y Dᵀ) D − ηλ)        (D d×d, no bias; no outer residual)
 * The step is linear in Y before the threshold, Y (I + ηD − ηDᵀD), so it runs
 * as ONE (M,d)·(d,d) GEMM per pass on the gain
 *   H  = η (D − DᵀD)                          (d×d, formed once per forward)
 *   P  = (Y − ηλ) + Y H,   Z⁺ = ReLU(P)
 * instead of two (Y Dᵀ, then R D with R = Y − Y Dᵀ): half the FLOPs whenever
 * the d³ of forming H is small beside M·d², i.e. M ≫ d. Y itself is added in
 * fp32 outside the product and H is formed in fp32 (D and DᵀD nearly cancel
 * when D ≈ I), so at bf16 only Y·H is rounded, relative to its own size.
 * Backward, with dP = dZ⁺ ⊙ [Z⁺ > 0]:
 *   dY += dP + dP Hᵀ,   dH = Yᵀ dP,   dD += η dH − η D (dH + dHᵀ)
 * (the last from ∂⟨dH, DᵀD⟩/∂D = D (dH + dHᵀ)).
 */
#ifndef CRATE_ISTA_H
#define CRATE_ISTA_H

#include <stddef.h>

#include "src/nn/arena.h"
#include "src/nn/params.h"

typedef struct {
    int dict, d;      /* D ∈ R^{d×d} */
    float eta, lambda;
    float *gain;      /* H (d, d), from the last ista_form_gain */
    float *out;       /* Z⁺ (M, d) */
} ista_layer;

int ista_declare(ista_layer *l, param_store *ps, const char *prefix, int d, float eta, float lambda);
int ista_alloc(ista_layer *l, arena *a, int M);
/* H = η(D − DᵀD) from the store's D into l->gain. */
void ista_form_gain(ista_layer *l, const param_store *ps);
/* Z⁺ = ReLU(Y − ηλ + Y H) for y (M, d) with the gain already formed. */
void ista_apply(ista_layer *l, const float *y, int M);
/* Both: the layer's forward. */
void ista_forward(ista_layer *l, const param_store *ps, const float *y, int M);
/* Needs the gain of the forward whose output it differentiates. */
void ista_backward(ista_layer *l, param_store *ps, float *dy, const float *dout, const float *y,
                   float *scratch, int M);
size_t ista_scratch_floats(const ista_layer *l, int M);
/* Y H forward, dP Hᵀ and Yᵀ dP backward (3 · 2·M·d²), plus the two d³
 * products DᵀD and D (dH + dHᵀ): the FLOPs the step executes. */
double ista_flops(const ista_layer *l, int M);

#endif
