/* block_stack.h — a depth-L stack of identical blocks closed by a LayerNorm.
 *
 * The CRATE encoder (MSSA+ISTA blocks) and decoder (inverse blocks) are both
 *   Z¹ = f₁(Z⁰), …, Z^L = f_L(Z^{L−1}),  out = LN(Z^L)
 * (CRATE-GPT leaves out the closing LN: out = Z^L, block_config.skip_final_norm), so the stack is written once over a small table of block operations; each
 * block kind provides its ops. Backward walks the layers in reverse with two
 * ping-pong gradient buffers from the scratch area.
 */
#ifndef CRATE_BLOCK_STACK_H
#define CRATE_BLOCK_STACK_H

#include <stddef.h>

#include "src/nn/layers.h"

/* Encoder layer kinds (model.block). */
typedef enum { BLOCK_CRATE = 0, BLOCK_CRATE_ALPHA = 1 } block_kind;

/* Hyper-parameters of one block (encoder or decoder). */
typedef struct {
    int d, heads, head_dim, causal;
    float eta, lambda; /* ISTA step and sparsity (encoder blocks) */
    block_kind kind;   /* encoder blocks: CRATE or CRATE-α */
    int expand;        /* CRATE-α: code width expand·d (model.ista_expand) */
    int skip_final_norm; /* the stack ends at Z^L, without <prefix>.norm (CRATE-GPT) */
} block_config;

typedef struct {
    int (*declare)(void *blk, param_store *ps, const char *name, const block_config *cfg);
    int (*alloc)(void *blk, arena *a, int B, int N);
    void (*forward)(void *blk, const param_store *ps, const float *z, int B, int N);
    void (*backward)(void *blk, param_store *ps, float *dz, const float *dout, const float *z,
                     float *scratch, int B, int N);
    const float *(*output)(const void *blk);
    size_t (*scratch_floats)(const void *blk, int B, int N);
    double (*flops)(const void *blk, int B, int N); /* training FLOPs (layers.h) */
} block_ops;

typedef struct {
    const block_ops *ops;
    unsigned char *blocks; /* depth blocks of `stride` bytes, owned */
    int *first_tensor;     /* id of each block's first tensor, owned */
    size_t stride;
    int depth, d;
    int final_norm;        /* 0: no closing LN (final_ln unused) */
    ln_layer final_ln;     /* final_ln.out is the stack's output when final_norm */
} block_stack;

/* Declares `depth` blocks named <prefix>.<i> and the closing <prefix>.norm
 * (unless cfg->skip_final_norm). */
int block_stack_declare(block_stack *s, const block_ops *ops, size_t stride, int depth, param_store *ps,
                        const char *prefix, const block_config *cfg);
static inline void *block_stack_at(const block_stack *s, int i) { return s->blocks + (size_t)i * s->stride; }
void block_stack_destroy(block_stack *s);

int block_stack_alloc(block_stack *s, arena *a, int B, int N);
/* Activation sets (DESIGN §4): a declared stack is its weights (parameter ids
 * and config, shared) plus the activations of one pass. dst becomes the same
 * weights with activations of its own for (B, N) from a, so two passes of
 * different shapes can both be kept for backward. Destroy dst as any stack. */
int block_stack_activation_set(block_stack *dst, const block_stack *src, arena *a, int B, int N);
/* z0 (B·N, d) → block_stack_output(s) */
void block_stack_forward(block_stack *s, const param_store *ps, const float *z0, int B, int N);
/* dz0 += ∂⟨dout, out⟩/∂z0 */
void block_stack_backward(block_stack *s, param_store *ps, float *dz0, const float *dout, const float *z0,
                          float *scratch, int B, int N);
size_t block_stack_scratch_floats(const block_stack *s, int B, int N);
/* Σ over the blocks of their training FLOPs (the closing LN has no GEMM). */
double block_stack_flops(const block_stack *s, int B, int N);
/* Output of layer i (0-based) before the closing LayerNorm. */
const float *block_stack_layer_output(const block_stack *s, int i);
/* The stack's output: LN(Z^L), or Z^L without a closing norm (z0 itself for
 * depth 0: pass it). */
const float *block_stack_output(const block_stack *s, const float *z0);

#endif
