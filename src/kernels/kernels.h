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
#include <stdint.h>

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
 * scratch holds B·K·N·N floats; causal as in the forward. */
void attention_backward(float *dw, float *scratch, const float *dout, const float *w,
                        const float *att, int B, int N, int K, int p, float scale, int causal);
/* Training FLOPs of forward + backward as executed: the symmetric scores'
 * lower block triangle, and with causal every product's (attention.c). */
double attention_flops(int B, int N, int K, int p, int causal);

/* ---- elementwise */
void relu_forward(float *out, const float *inp, size_t n);
/* dinp += dout ⊙ [out > 0] (uses the forward OUTPUT, so inp need not be kept) */
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);
/* g ⊙= [out > 0] in place: ReLU's backward where g already holds dout (overwrites, no accumulation) */
void relu_mask(float *g, const float *out, size_t n);
/* exact (erf) GELU as BERT: out = x·Φ(x) = ½x(1 + erf(x/√2)) */
void gelu_forward(float *out, const float *inp, size_t n);
/* dinp += dout ⊙ (Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π) (uses the forward INPUT x = inp) */
void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* out = a + b (out may alias a or b); backward of a residual is the identity: callers add dout. */
void add_forward(float *out, const float *a, const float *b, size_t n);
/* y += alpha · x */
void axpy(float *y, float alpha, const float *x, size_t n);

/* Label-smoothed cross-entropy of logits z (M,V) with targets y (M, each in
 * [0,V)): returns Σ_i ℓ_i, ℓ_i = −Σ_v q_iv log softmax(z_i)_v with
 * q_iv = (1 − smoothing)·[v = y_i] + smoothing/V; dz (M,V) = dloss·(p − q)
 * is written (not accumulated) unless NULL (softmax_ce.c). */
double softmax_cross_entropy(float *dz, const float *z, const int32_t *y, int M, int V, float smoothing,
                             float dloss);

/* ---- masked squared error over rows of width P, as a SUM over scored rows
 * of each row's mean (the objective's loss is (sum, count), objective.h):
 * loss = Σ_i w_i Σ_j (pred_ij − target_ij)² / P
 * row_weight (M) is e.g. the MAE mask (1 = masked patch, scored); count = Σ_i w_i. */
double mse_forward(const float *pred, const float *target, const float *row_weight, int M, int P);
/* dpred += dloss · 2 w_i (pred − target) / P */
void mse_backward(float *dpred, const float *pred, const float *target, const float *row_weight,
                  int M, int P, float dloss);

/* ---- token + learned-position embedding (text models), for B sequences of
 * T tokens; ids (B·T) int32, each in [0,V) (an id outside is a caller bug:
 * the data layer checks them; V itself is not needed):
 *   out (B·T, C) = wte[ids[b,t]] + wpe[t]        wte (V,C), wpe (T_max ≥ T, C) or NULL (no positions) */
void embedding_forward(float *out, const int32_t *ids, const float *wte, const float *wpe,
                       int B, int T, int C);
/* dwte[v] += Σ_{(b,t): ids[b,t] = v} dout[b,t];  dwpe[t] += Σ_b dout[b,t].
 * Deterministic: every element is summed in row order (b,t) by one thread,
 * so the result is bitwise the same for any OpenMP thread count. */
void embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids,
                        int B, int T, int C);

/* ---- fused softmax cross-entropy over a (tied) output matrix, never holding
 * all M×V logits: for rows h (M,C), E (V,C) (the token embedding) and bias b
 * (V) or NULL,  z_i = h_i Eᵀ + b,  and targets y (M) with y_i < 0 ignored
 * (−1 by convention; y_i ≥ V is a caller bug):
 *   returns  Σ_{i: y_i ≥ 0} −log softmax(z_i)[y_i]      (double; max-shifted logsumexp per row)
 *   *count = #{i: y_i ≥ 0}                               (count may be NULL)
 * and with g_i = dloss · (softmax(z_i) − onehot(y_i)), g_i = 0 for ignored rows:
 *   dh (M,C) += g E;   dE (V,C) += gᵀ h;   db (V) += Σ_i g_i      (each skipped if NULL)
 * All three NULL computes the loss only (validation). Rows go in blocks of at
 * most chunk_rows ≥ 1 (one GEMM for the block's logits in scratch, the row
 * softmax, then the two backward GEMMs); scratch holds
 * lm_cross_entropy_scratch_floats(chunk_rows, V) floats. A block starts and
 * ends at a scored row, so runs of ignored rows between blocks cost nothing;
 * ignored rows inside a block are computed and get g_i = 0 (their h must
 * still be finite: 0 · h_i enters dE's GEMM). Callers with sparse targets
 * (BERT's 15%) should gather the scored rows first.
 * Determinism: for a fixed chunk_rows the kernel's own sums (row softmax,
 * loss, db) run in a fixed order for any OpenMP thread count, so the result
 * is exactly as thread-independent as its GEMMs (gemm.h): the same bits whenever
 * the GEMMs run single-threaded (inside a parallel region, or below
 * OpenBLAS's threading threshold); threaded, OpenBLAS 0.3.21 changes the
 * rounding of some products with the thread count, so 1 and 2 threads then
 * agree to float rounding. Every run with the same threads gives the same
 * bits. Different chunk_rows agree to float rounding.
 * Logits of single rows (sampling) are linear_forward(out, h, E, b, rows, C, V). */
double lm_cross_entropy(float *dh, float *dE, float *db, const float *h, const float *E,
                        const float *bias, const int32_t *y, int M, int C, int V, float dloss,
                        float *scratch, int chunk_rows, double *count);
size_t lm_cross_entropy_scratch_floats(int chunk_rows, int V);
/* The same logits' argmax (masked-token accuracy): pred_i = argmax_v z_iv,
 * ties to the lowest id, for every row (no targets). Rows in blocks of
 * chunk_rows, one GEMM each, into the same scratch as lm_cross_entropy
 * (lm_cross_entropy_scratch_floats(chunk_rows, V) floats); bias may be NULL. */
void lm_argmax(int32_t *pred, const float *h, const float *E, const float *bias, int M, int C, int V,
               float *scratch, int chunk_rows);

#endif
