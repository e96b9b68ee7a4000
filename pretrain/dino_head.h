/* dino_head.h — DINO's projection head as a layer (Caron et al. 2021, §3.1
 * and its reference code), on the cls encodings x (M, d) of M views:
 *
 *   h₁ = GELU(x W₁ᵀ + b₁)          d → hidden      (<prefix>.fc1)
 *   h₂ = GELU(h₁ W₂ᵀ + b₂)         hidden → hidden (<prefix>.fc2)
 *   y  = h₂ W₃ᵀ + b₃               hidden → bottleneck (<prefix>.fc3)
 *   u  = y / max(‖y‖₂, 1e-12)      L2 normalization per row
 *   z  = u Ŵᵀ,  Ŵ_k = V_k / ‖V_k‖₂  weight-normalized prototypes (K, bottleneck),
 *                                    the gain fixed to 1 (DINO's norm_last_layer;
 *                                    ‖V_k‖ floored at 1e-12 too, so a zero row stays finite)
 *
 * z (M, K) are the logits the loss (pretrain/dino_loss.h) turns into
 * distributions. GELU is the exact erf one (kernels.h). Backward, in reverse:
 *   ∂Ŵ = ∂zᵀ u,  ∂V_k = (∂Ŵ_k − (∂Ŵ_k·Ŵ_k) Ŵ_k) / ‖V_k‖   (skipped while frozen)
 *   ∂u = ∂z Ŵ,   ∂y = (∂u − (∂u·u) u) / ‖y‖
 * then the three Linear layers and GELUs. Where a norm is at its floor the
 * floor is a constant: ∂y = ∂u / 1e-12 (likewise for V_k), as F.normalize.
 *
 * Tensors: fc1..fc3 weight (Xavier, decayed) and bias (zero); <prefix>.prototypes
 * V (K, bottleneck), Xavier, decayed (DINO decays it too). The head is one
 * model for student and teacher: forward reads whichever store it is given
 * (the teacher store has the student's layout, src/nn/teacher.h). Every
 * forward overwrites the activations below, so a teacher forward through the
 * same dino_head must come before the student's forward, not between it and
 * its backward.
 *
 * Gradient bucketing (params.h): dino_head_backward ends with
 * param_store_grads_final_from(ps, first head tensor): the head's tensors
 * must be the last declared, and its backward must come before the encoder's.
 */
#ifndef CRATE_DINO_HEAD_H
#define CRATE_DINO_HEAD_H

#include <stddef.h>

#include "src/nn/arena.h"
#include "src/nn/layers.h"
#include "src/nn/params.h"

typedef struct {
    int d, hidden, bottleneck, K;
    linear_layer fc1, fc2, fc3;
    int prototypes;    /* param id of V (K, bottleneck) */
    float *h1, *h2;    /* GELU outputs (M_max, hidden); their inputs are fc1.out, fc2.out */
    float *u;          /* normalized bottleneck (M_max, bottleneck) */
    float *ynorm;      /* max(‖y‖, 1e-12) per row (M_max); y itself is fc3.out */
    float *w_hat;      /* normalized prototypes (K, bottleneck), from the last forward */
    float *v_norm;     /* max(‖V_k‖, 1e-12) (K) */
    float *logits;     /* z (M_max, K) */
} dino_head;

int dino_head_declare(dino_head *h, param_store *ps, const char *prefix, int d, int hidden, int bottleneck, int K);
int dino_head_alloc(dino_head *h, arena *a, int M_max);
/* x (M, d), M ≤ M_max → h->logits (M, K). */
void dino_head_forward(dino_head *h, const param_store *ps, const float *x, int M);
/* After dino_head_forward on the same x and ps: dx (M, d) += ∂⟨dlogits, z⟩/∂x
 * (dx may be NULL), the head's parameter gradients accumulate, except V's
 * when train_prototypes is 0 (DINO's freeze_last_layer: V's gradient stays
 * untouched). scratch: dino_head_scratch_floats(h, M) floats. */
void dino_head_backward(dino_head *h, param_store *ps, float *dx, const float *dlogits, const float *x, int M,
                        int train_prototypes, float *scratch);
size_t dino_head_scratch_floats(const dino_head *h, int M);
/* Training FLOPs of M rows (3× the forward GEMMs, layers.h). */
double dino_head_flops(const dino_head *h, int M);

#endif
