/* ista.h — the ISTA step of a CRATE encoder layer: one proximal-gradient step
 * on the sparse-coding objective ½‖Y − Z̃D‖² + λ‖Z̃‖₁ started at Z̃ = Y, with
 * the non-negative soft threshold (DESIGN §2, row convention):
 *   R  = Y − Y Dᵀ                   residual of coding Y with dictionary D (d×d, no bias)
 *   P  = Y + η R D − ηλ
 *   Z⁺ = ReLU(P)                      (no outer residual)
 * Two GEMMs forward. Backward, with dP = dZ⁺ ⊙ [Z⁺ > 0] and dR = η dP Dᵀ:
 *   dY += dP + dR − dR D,   dD += η Rᵀ dP − dRᵀ Y
 */
#ifndef CRATE_ISTA_H
#define CRATE_ISTA_H

#include <stddef.h>

#include "src/nn/arena.h"
#include "src/nn/params.h"

typedef struct {
    int dict, d;      /* D ∈ R^{d×d} */
    float eta, lambda;
    float *resid;     /* R (M, d) */
    float *out;       /* Z⁺ (M, d) */
} ista_layer;

int ista_declare(ista_layer *l, param_store *ps, const char *prefix, int d, float eta, float lambda);
int ista_alloc(ista_layer *l, arena *a, int M);
void ista_forward(ista_layer *l, const param_store *ps, const float *y, int M);
void ista_backward(ista_layer *l, param_store *ps, float *dy, const float *dout, const float *y,
                   float *scratch, int M);
size_t ista_scratch_floats(const ista_layer *l, int M);
/* Y Dᵀ and R D, two (M,d)·(d,d) GEMMs (3× forward, layers.h). */
double ista_flops(const ista_layer *l, int M);

#endif
