/* layers.h — LayerNorm and Linear as layers: a kernel plus the ids of its
 * tensors in the parameter store and the activations it keeps for backward.
 *
 * Every model block is a composition of these and the kernels of kernels.h.
 * A layer is declared (tensors named "<name>.weight" etc.), then given
 * activation buffers for its largest row count M from the arena; forward writes
 * l->out, backward accumulates into dinp (may be NULL) and the parameter
 * gradients, as all kernels do.
 */
#ifndef CRATE_LAYERS_H
#define CRATE_LAYERS_H

#include "src/nn/arena.h"
#include "src/nn/params.h"

typedef struct {
    int gamma, beta, C;
    float *out, *mean, *rstd; /* (M,C), (M), (M) */
} ln_layer;

int ln_layer_declare(ln_layer *l, param_store *ps, const char *name, int C);
int ln_layer_alloc(ln_layer *l, arena *a, int M);
void ln_layer_forward(ln_layer *l, const param_store *ps, const float *inp, int M);
void ln_layer_backward(const ln_layer *l, param_store *ps, float *dinp, const float *dout,
                       const float *inp, int M);

typedef struct {
    int weight, bias; /* weight (OC,C); bias (OC) or -1 */
    int C, OC;
    float *out;       /* (M,OC) */
} linear_layer;

int linear_layer_declare(linear_layer *l, param_store *ps, const char *name, int C, int OC, int with_bias);
int linear_layer_alloc(linear_layer *l, arena *a, int M);
void linear_layer_forward(linear_layer *l, const param_store *ps, const float *inp, int M);
void linear_layer_backward(const linear_layer *l, param_store *ps, float *dinp, const float *dout,
                           const float *inp, int M);

/* Training FLOPs of M rows: the forward GEMM and the two of backward (dinp,
 * dweight), 3 · 2·M·C·OC. Every layer and stack reports its FLOPs this way:
 * 3× its forward GEMMs, so an objective's figure is a sum of its parts. */
double linear_layer_flops(const linear_layer *l, int M);

/* "<prefix>.<suffix>" into buf (tensor names are built this way everywhere). */
const char *layer_name(char *buf, const char *prefix, const char *suffix);

#endif
