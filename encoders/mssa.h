/* mssa.h — multi-head subspace self-attention (MSSA), the compression step of
 * a CRATE layer (DESIGN §2; Yu et al. 2023, eq. for ∇ of the coding rate).
 *
 * For tokens X̃ (M = B·N rows, d columns) and K heads of width p:
 *   W   = X̃ Uᵀ                     U ∈ R^{Kp×d}, no bias — one projection serves as Q, K and V
 *   A_k = softmax(W_k W_kᵀ / √p)     per sample, per head (causal mask optional)
 *   out = [A_1W_1 … A_KW_K] Oᵀ + b_O  O ∈ R^{d×Kp} (CRATE-α: no b_O)
 * The encoder adds out to its residual stream; the decoder subtracts it.
 * Because U plays all three roles, dU collects three contributions (see
 * attention_backward).
 */
#ifndef CRATE_MSSA_H
#define CRATE_MSSA_H

#include <stddef.h>

#include "src/nn/layers.h"

typedef struct {
    int d, K, p, causal;
    float scale;          /* 1/√p */
    linear_layer proj_u;  /* out = W (M, Kp) */
    float *heads;         /* (M, Kp) = [A_k W_k] */
    float *att;           /* (B, K, N, N) */
    linear_layer proj_o;  /* out = MSSA(X̃) (M, d) */
} mssa_layer;

/* out_bias 0: O without a bias (CRATE-α). */
int mssa_declare(mssa_layer *l, param_store *ps, const char *prefix, int d, int K, int p, int causal, int out_bias);
int mssa_alloc(mssa_layer *l, arena *a, int B, int N);
/* x (B·N, d) → l->proj_o.out (B·N, d) */
void mssa_forward(mssa_layer *l, const param_store *ps, const float *x, int B, int N);
/* dx += ∂/∂x of ⟨dout, MSSA(x)⟩; parameter gradients accumulate. */
void mssa_backward(mssa_layer *l, param_store *ps, float *dx, const float *dout, const float *x,
                   float *scratch, int B, int N);
size_t mssa_scratch_floats(const mssa_layer *l, int B, int N);
/* U and O, and W Wᵀ and A W per head (3× forward, layers.h). */
double mssa_flops(const mssa_layer *l, int B, int N);

#endif
