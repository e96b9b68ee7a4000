/* encoder_block.h — one CRATE encoder layer: an MSSA compression step then an
 * ISTA sparsification step, both pre-norm (DESIGN §2):
 *   Z½ = Z + MSSA(LN₁(Z))
 *   Z⁺ = ISTA(LN₂(Z½)) = ReLU(Y + η(Y − YDᵀ)D − ηλ),  Y = LN₂(Z½)
 */
#ifndef CRATE_ENCODER_BLOCK_H
#define CRATE_ENCODER_BLOCK_H

#include "encoders/block_stack.h"
#include "encoders/ista.h"
#include "encoders/mssa.h"
#include "src/nn/layers.h"

typedef struct {
    int d;
    ln_layer ln1;
    mssa_layer mssa;
    float *z_half; /* (M, d) */
    ln_layer ln2;
    ista_layer ista; /* ista.out is the block's output Z⁺ */
} encoder_block;

int encoder_block_declare(encoder_block *b, param_store *ps, const char *prefix, const block_config *cfg);
int encoder_block_alloc(encoder_block *b, arena *a, int B, int N);
/* z (B·N, d) → b->ista.out */
void encoder_block_forward(encoder_block *b, const param_store *ps, const float *z, int B, int N);
/* dz += ∂⟨dout, Z⁺⟩/∂z */
void encoder_block_backward(encoder_block *b, param_store *ps, float *dz, const float *dout, const float *z,
                            float *scratch, int B, int N);
size_t encoder_block_scratch_floats(const encoder_block *b, int B, int N);

/* The CRATE encoder: `depth` blocks named <prefix>.<i>, closed by <prefix>.norm. */
int encoder_stack_declare(block_stack *s, param_store *ps, const char *prefix, int depth, const block_config *cfg);

#endif
