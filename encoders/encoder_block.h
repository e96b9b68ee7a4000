/* encoder_block.h — one CRATE encoder layer: an MSSA compression step then a
 * sparsification step, both pre-norm (DESIGN §2). model.block chooses it:
 *   crate:        Z½ = Z + MSSA(LN₁(Z))
 *                 Z⁺ = ISTA(LN₂(Z½)) = ReLU(Y + η(Y − YDᵀ)D − ηλ),  Y = LN₂(Z½)
 *                 (one GEMM on the gain H = η(D − DᵀD), ista.h)
 *   crate-alpha:  Z½ = Z + MSSA(LN₁(Z))               (O without bias)
 *                 Z⁺ = Z½ + A₂ D₁ᵀ,  A₂ two ISTA steps over an overcomplete D
 *                 (ista_alpha.h)
 * Both kinds share the struct so that tools reading a layer's activations
 * (the decoding cache, crate-analyze) see one shape; `kind` says which of
 * ista / alpha is in use.
 */
#ifndef CRATE_ENCODER_BLOCK_H
#define CRATE_ENCODER_BLOCK_H

#include "encoders/block_stack.h"
#include "encoders/ista.h"
#include "encoders/ista_alpha.h"
#include "encoders/mssa.h"
#include "src/nn/layers.h"

typedef struct {
    int d;
    block_kind kind;
    ln_layer ln1;
    mssa_layer mssa;
    float *z_half; /* (M, d) */
    ln_layer ln2;
    ista_layer ista;        /* crate: ista.out is Z⁺ */
    ista_alpha_layer alpha; /* crate-alpha: Z⁺ = Z½ + alpha.out */
    float *out;             /* Z⁺ (M, d): ista.out, or a buffer of its own (crate-alpha) */
} encoder_block;

int encoder_block_declare(encoder_block *b, param_store *ps, const char *prefix, const block_config *cfg);
int encoder_block_alloc(encoder_block *b, arena *a, int B, int N);
/* z (B·N, d) → b->out */
void encoder_block_forward(encoder_block *b, const param_store *ps, const float *z, int B, int N);
/* dz += ∂⟨dout, Z⁺⟩/∂z */
void encoder_block_backward(encoder_block *b, param_store *ps, float *dz, const float *dout, const float *z,
                            float *scratch, int B, int N);
size_t encoder_block_scratch_floats(const encoder_block *b, int B, int N);
/* The sparse code of the last forward, (B·N, *width): Z⁺ itself for crate
 * (width d), A₂ for crate-alpha (width expand·d). */
const float *encoder_block_code(const encoder_block *b, int *width);
/* What the sparsification step derives from the parameters alone (ISTA's
 * gain H; nothing for crate-alpha), formed by every forward before its
 * sparsify. The decoding cache forms it once per sequence. */
void encoder_block_prepare(encoder_block *b, const param_store *ps);
/* The sparsification step on rows y = LN₂(Z½) (M, d), given Z½ → b->out (Z⁺),
 * with the block prepared for the current parameters. The decoding cache runs
 * it on a copy of the block aimed at one-row buffers. */
void encoder_block_sparsify(encoder_block *b, const param_store *ps, const float *y, const float *z_half, int M);

/* The CRATE encoder: `depth` blocks named <prefix>.<i>, closed by <prefix>.norm. */
int encoder_stack_declare(block_stack *s, param_store *ps, const char *prefix, int depth, const block_config *cfg);

#endif
