/* decoder_block.h — one CRATE decoder layer, the inverse step derived from
 * denoising ("structured diffusion", DESIGN §2): where the encoder layer
 * sparsifies then compresses, the decoder layer undoes both:
 *   Y  = LN₁(Z) Eᵀ                 E ∈ R^{d×d}, no bias: learned inverse of the sparse code
 *   Z⁺ = Y − MSSA(LN₂(Y))           subtracting the compression step expands the tokens again
 */
#ifndef CRATE_DECODER_BLOCK_H
#define CRATE_DECODER_BLOCK_H

#include "encoders/block_stack.h"
#include "encoders/mssa.h"
#include "src/nn/layers.h"

typedef struct {
    int d;
    ln_layer ln1;
    linear_layer proj_e; /* out = Y */
    ln_layer ln2;
    mssa_layer mssa;
    float *out;          /* Z⁺ (M, d) */
} decoder_block;

/* Uses cfg->d, heads, head_dim (never causal: the decoder sees every token). */
int decoder_block_declare(decoder_block *b, param_store *ps, const char *prefix, const block_config *cfg);
int decoder_block_alloc(decoder_block *b, arena *a, int B, int N);
void decoder_block_forward(decoder_block *b, const param_store *ps, const float *z, int B, int N);
void decoder_block_backward(decoder_block *b, param_store *ps, float *dz, const float *dout, const float *z,
                            float *scratch, int B, int N);
size_t decoder_block_scratch_floats(const decoder_block *b, int B, int N);

/* The CRATE decoder: `depth` blocks named <prefix>.<i>, closed by <prefix>.norm. */
int decoder_stack_declare(block_stack *s, param_store *ps, const char *prefix, int depth, const block_config *cfg);

#endif
