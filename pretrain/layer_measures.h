/* layer_measures.h — the white-box measures (src/eval/whitebox.h) of every
 * layer of a saved image encoder, over a set of images: for layer ℓ
 *   R^c    of the layer's shared projection W = LN₁(Z^ℓ) Uᵀ (mssa.proj_u.out)
 *   sparsity of its sparse code (CRATE: the ISTA output Z^{ℓ+1}; CRATE-α: A₂)
 *   R(Z) of the layer's output Z^{ℓ+1}
 * per image (N = 1 + patches tokens, the cls token counted), then the mean
 * and standard deviation over the images.
 */
#ifndef CRATE_LAYER_MEASURES_H
#define CRATE_LAYER_MEASURES_H

#include "data/shard.h"
#include "pretrain/frozen_encoder.h"

typedef struct {
    double rc_mean, rc_std, sparsity_mean, sparsity_std, rate_mean, rate_std;
} layer_measure;

typedef struct {
    int depth, images, tokens, heads, head_dim, d;
    double rc_bound;        /* ½·p·ln(1 + 1/ε²)·K */
    layer_measure *layers;  /* depth entries, owned */
} encoder_measures;

/* The first `images` images of ds (all if fewer) through fe's encoder. The
 * images must have fe's shape (the caller opened fe for ds's shape). */
int layer_measures_images(frozen_encoder *fe, image_dataset *ds, int images, encoder_measures *out);
void encoder_measures_free(encoder_measures *m);

#endif
