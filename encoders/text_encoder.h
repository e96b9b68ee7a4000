/* text_encoder.h — the body of the CRATE text models, CRATE-GPT and CRATE-BERT
 * (DESIGN §2, text models):
 *
 *   Z⁰  = wte[ids] + wpe[0..T)     token embedding wte (V, d), learned positions wpe (T_max, d)
 *   Z^ℓ = CRATE layer ℓ (MSSA, causal for GPT, then ISTA; no outer residual)
 *   H   = LN(Z^L), or Z^L when block.skip_final_norm (CRATE-GPT's default)
 *
 * The LM head is tied to the embedding, logits = H wteᵀ; the objectives apply
 * it through lm_cross_entropy (src/kernels/kernels.h), which never holds all
 * (B·T, V) logits, and add its gradient to wte's before calling backward.
 *
 * Initialisation as CRATE-GPT (GPT-2's): wte, wpe and the shared projections
 * U ~ N(0, 0.02²); the output projections O ~ N(0, (0.02/√(2L))²), so the L
 * residual additions of MSSA keep the stream's variance; biases 0, LayerNorm
 * γ = 1; the ISTA dictionaries D keep the Xavier init of the image encoders
 * (they are not nn.Linear in CRATE-GPT either, so GPT-2's rule does not reach them).
 *
 * Tensors: <prefix>.wte, <prefix>.wpe, <prefix>.layers.<ℓ>.…, and
 * <prefix>.layers.norm when the final LayerNorm is on.
 */
#ifndef CRATE_TEXT_ENCODER_H
#define CRATE_TEXT_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "encoders/block_stack.h"

/* std of the GPT-2 initialisation of embeddings and projections */
#define TEXT_INIT_STD 0.02f

typedef struct {
    int vocab, context, depth; /* V, T_max, L */
    block_config block;        /* block.causal for GPT; block.skip_final_norm */
} text_encoder_config;

typedef struct {
    int wte, wpe;     /* parameter ids */
    int V, T_max, d;
    block_stack stack;
    float *tokens;    /* Z⁰ (B·T, d) */
} text_encoder;

int text_encoder_declare(text_encoder *e, param_store *ps, const char *prefix, const text_encoder_config *cfg);
/* Activations for B sequences of up to T ≤ T_max tokens. */
int text_encoder_alloc(text_encoder *e, arena *a, int B, int T);
void text_encoder_destroy(text_encoder *e);
/* ids (B, T), each in [0, V) (the data layer checks them) → text_encoder_output. */
void text_encoder_forward(text_encoder *e, const param_store *ps, const int32_t *ids, int B, int T);
/* H (B·T, d) of the last forward. */
const float *text_encoder_output(const text_encoder *e);
/* dout = ∂L/∂H (B·T, d) → parameter gradients (wte's accumulates on top of
 * the head's). scratch: text_encoder_scratch_floats floats. */
void text_encoder_backward(text_encoder *e, param_store *ps, const float *dout, const int32_t *ids, int B, int T,
                           float *scratch);
size_t text_encoder_scratch_floats(const text_encoder *e, int B, int T);
/* Training FLOPs of the layers over B·T tokens (the head is the objective's). */
double text_encoder_flops(const text_encoder *e, int B, int T);

#endif
