/* mlm_head.h — the masked-LM head of CRATE-BERT as a layer (DESIGN §2, text
 * models): from the encoder outputs of the M selected (masked) positions,
 * hs (M, d), to the Σ of their cross-entropies against targets y (M), with
 * the decoder tied to the token embedding wte (V, d):
 *
 *   dense mode (BERT's):  x = hs Wᵀ + b          Dense d → d (fc)
 *                         g = GELU(x)            exact erf GELU (kernels.h)
 *                         n = LN(g)              γ, β (norm)
 *                         z = n wteᵀ + c         decoder bias c (V)
 *   tied mode:            z = hs wteᵀ            (no tensors of its own)
 *
 *   loss = Σ_{i: y_i ≥ 0} −log softmax(z_i)[y_i]     (y_i < 0 ignored, as lm_cross_entropy)
 *
 * The decoder runs fused and chunked (lm_cross_entropy, lm_argmax), so the
 * (M, V) logits never exist; chunk rows of them do, in the head's scratch.
 * Backward, in reverse: ∂n and ∂wte, ∂c from the fused decoder, then LN, GELU
 * and the Dense layer's backward give ∂hs, ∂γ, ∂β, ∂W, ∂b.
 *
 * Tensors (dense mode only): <prefix>.dense.weight (d, d) ~ N(0, 0.02²) as
 * the text encoder's projections, <prefix>.dense.bias = 0, <prefix>.norm.weight
 * (γ) = 1, <prefix>.norm.bias (β) = 0, <prefix>.bias (c, V) = 0.
 *
 * Gradient bucketing (params.h): in dense mode mlm_head_loss with gradients
 * ends with param_store_grads_final_from(ps, first head tensor), which says
 * every tensor from the head's first one to the END of the store is final.
 * So the head's tensors must be the last ones declared in ps, and there must
 * be one mlm_head_loss with gradients per backward pass, before the encoder's
 * backward (which then finalises the rest, wte included: wte's gradient is
 * not final after the head, the embedding's backward still adds to it).
 */
#ifndef CRATE_MLM_HEAD_H
#define CRATE_MLM_HEAD_H

#include <stdint.h>

#include "src/nn/arena.h"
#include "src/nn/layers.h"
#include "src/nn/params.h"

typedef struct {
    int dense;         /* 1: Dense + GELU + LN + decoder bias; 0: z = hs wteᵀ */
    linear_layer fc;   /* dense: out = x (M_max, d) */
    ln_layer norm;     /* dense: out = n (M_max, d) */
    int bias;          /* c (V): param id, or -1 in tied mode */
    int d, V, chunk;   /* chunk: rows of logits per block */
    float *g;          /* dense: GELU(x) (M_max, d) */
    float *dn, *dg;    /* dense backward (M_max, d): ∂n (then reused for ∂x), ∂g */
    float *ce_scratch; /* lm_cross_entropy_scratch_floats(chunk, V) */
} mlm_head;

/* Declares the head's tensors (dense mode; none in tied mode) under prefix;
 * CRATE_OK or an error with crate_fail set. */
int mlm_head_declare(mlm_head *h, param_store *ps, const char *prefix, int d, int V, int dense);
/* Buffers for up to M_max ≥ 1 rows, logits in blocks of min(chunk_rows, M_max) rows (chunk_rows ≥ 1). */
int mlm_head_alloc(mlm_head *h, arena *a, int M_max, int chunk_rows);
/* Σ of the CE over the M ≤ M_max rows hs (M, d) with targets y (M); *count =
 * #{i: y_i ≥ 0} (count may be NULL). wte is the id of the tied embedding
 * (V, d) in ps. With dhs non-NULL: dhs (M, d) += ∂loss/∂hs, and the gradients
 * of the sum (not the mean) of the head's tensors and of wte accumulate into
 * ps->grad (see the top for the grads-final call); NULL computes the loss only. */
double mlm_head_loss(mlm_head *h, param_store *ps, int wte, const float *hs, const int32_t *y, int M, float *dhs,
                     double *count);
/* pred (M) = argmax_v z_iv of the M ≤ M_max rows, ties to the lowest id (masked-token accuracy). */
void mlm_head_predict(mlm_head *h, const param_store *ps, int wte, const float *hs, int M, int32_t *pred);
/* Training FLOPs of M rows: 3× the forward GEMMs (layers.h), the Dense d×d
 * and the V-wide decoder: 3 · 2·M·d·(d + V) dense, 3 · 2·M·d·V tied. */
double mlm_head_flops(const mlm_head *h, int M);

#endif
