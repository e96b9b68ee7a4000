/* kernels.h — the layer kernels every model is built from, each a forward and
 * a backward with the same argument order (llm.c style).
 *
 * Conventions (DESIGN §2): a token is a row; M = rows (B·N tokens), C = input
 * channels, OC = output channels, B batch, N tokens per sample, K heads, p head
 * width. Matrices are row-major. Every backward ACCUMULATES (+=) into its
 * outputs (dinp and parameter gradients), so callers zero buffers once and
 * shared tensors or residual branches just add up; a NULL output is skipped.
 */
#ifndef CRATE_KERNELS_H
#define CRATE_KERNELS_H

#include <stddef.h>

/* ---- linear: out (M,OC) = inp (M,C) · Wᵀ + b;  W is (OC,C), b is (OC) or NULL */
void linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int M, int C, int OC);
/* dinp (M,C) += dout · W;  dweight (OC,C) += doutᵀ · inp;  dbias (OC) += Σ_rows dout */
void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int M, int C, int OC);

/* ---- layernorm over the last dimension, eps = 1e-5:
 * out (M,C) = (inp − μ) · rstd · γ + β;  saves mean (M) and rstd (M) for backward. */
#define LAYERNORM_EPS 1e-5f
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *gamma, const float *beta, int M, int C);
void layernorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *inp, const float *gamma, const float *mean,
                        const float *rstd, int M, int C);

/* ---- subspace self-attention core with the shared projection Q = K = V = W:
 * w is (B,N,K·p) (the output of Z̃Uᵀ); for every sample b and head k, with
 * W_bk the (N,p) slice (row stride K·p):
 *   A_bk = softmax(W_bk W_bkᵀ · scale)   (row-wise; if causal, j > i masked)
 *   out_bk = A_bk W_bk                    (written into the same slice of out (B,N,K·p))
 * att (B,K,N,N) keeps A for backward. */
void attention_forward(float *out, float *att, const float *w, int B, int N, int K, int p,
                       float scale, int causal);
/* dw (B,N,K·p) += the three contributions of W (value, query and key roles):
 *   dW += Aᵀ dOut + (dS + dSᵀ) W · scale,  dS = A ⊙ (dA − rowsum(dA ⊙ A)),  dA = dOut Wᵀ
 * scratch holds B·K·N·N floats. */
void attention_backward(float *dw, float *scratch, const float *dout, const float *w,
                        const float *att, int B, int N, int K, int p, float scale);

/* ---- elementwise */
void relu_forward(float *out, const float *inp, size_t n);
/* dinp += dout ⊙ [out > 0] (uses the forward OUTPUT, so inp need not be kept) */
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);
/* out = a + b (out may alias a or b); backward of a residual is the identity: callers add dout. */
void add_forward(float *out, const float *a, const float *b, size_t n);
/* y += alpha · x */
void axpy(float *y, float alpha, const float *x, size_t n);

/* ---- masked squared error over rows of width P, as a SUM over scored rows
 * of each row's mean (the objective's loss is (sum, count), objective.h):
 * loss = Σ_i w_i Σ_j (pred_ij − target_ij)² / P
 * row_weight (M) is e.g. the MAE mask (1 = masked patch, scored); count = Σ_i w_i. */
double mse_forward(const float *pred, const float *target, const float *row_weight, int M, int P);
/* dpred += dloss · 2 w_i (pred − target) / P */
void mse_backward(float *dpred, const float *pred, const float *target, const float *row_weight,
                  int M, int P, float dloss);

#endif
