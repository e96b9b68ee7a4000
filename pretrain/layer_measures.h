/* layer_measures.h — the white-box measures (src/eval/whitebox.h) of every
 * layer of a saved image or text encoder, over a set of samples: for layer ℓ
 *   R^c    of the layer's shared projection W = LN₁(Z^ℓ) Uᵀ (mssa.proj_u.out)
 *   sparsity of its sparse code (CRATE: the ISTA output Z^{ℓ+1}; CRATE-α: A₂)
 *   R(Z) of the layer's output Z^{ℓ+1}
 * per sample (an image: N = 1 + patches tokens, the cls token counted; a
 * text window: the model's context of N = T tokens), then the mean and
 * standard deviation over the samples.
 */
#ifndef CRATE_LAYER_MEASURES_H
#define CRATE_LAYER_MEASURES_H

#include "data/shard.h"
#include "data/token_shard.h"
#include "pretrain/frozen_encoder.h"
#include "pretrain/frozen_text.h"

typedef struct {
    double rc_mean, rc_std, sparsity_mean, sparsity_std, rate_mean, rate_std;
} layer_measure;

typedef struct {
    int depth, images, tokens, heads, head_dim, d; /* images: the samples measured */
    double rc_bound;        /* ½·p·ln(1 + 1/ε²)·K */
    layer_measure *layers;  /* depth entries, owned */
} encoder_measures;

/* The first `images` images of ds (all if fewer) through fe's encoder. The
 * images must have fe's shape (the caller opened fe for ds's shape). */
int layer_measures_images(frozen_encoder *fe, image_dataset *ds, int images, encoder_measures *out);
/* The first `windows` windows of T = the model's context tokens of ds (window
 * i: tokens [i·T, (i+1)·T) of the concatenated documents, bos ids between
 * them, as the model trained on them) through ft's encoder. */
int layer_measures_texts(frozen_text *ft, token_dataset *ds, int windows, encoder_measures *out);
void encoder_measures_free(encoder_measures *m);

#endif
