/* frozen_encoder.h — the image encoder of a saved checkpoint, for evaluation
 * (crate-probe, and the k-NN monitor during pretraining): features of whole
 * images, no masking, no gradients.
 *
 * Built from the checkpoint's own stored config, so it needs nothing but the
 * checkpoint folder: the encoder's tensors ("encoder.*") are copied by name
 * from the full parameter vector (whatever rank count wrote it); everything
 * else (the MAE decoder, DINO's head) is ignored.
 *
 * Features of an image, each a row of f floats:
 *   cls       the cls token's encoding                        (f = d)
 *   mean      the mean of the patch tokens' encodings         (f = d)
 *   cls+mean  both, concatenated                              (f = 2d)
 * with `layers` = k > 1 the feature is taken from each of the last k layers
 * and concatenated (last layer first), as DINO does for ViT-S linear probes.
 * The last layer's encoding is after the stack's closing LayerNorm; earlier
 * layers' are the raw layer outputs.
 */
#ifndef CRATE_FROZEN_ENCODER_H
#define CRATE_FROZEN_ENCODER_H

#include <stdint.h>

#include "encoders/image_encoder.h"
#include "pretrain/train_config.h"
#include "src/nn/params.h"

typedef enum { FEATURE_CLS = 0, FEATURE_MEAN = 1, FEATURE_CLS_MEAN = 2 } feature_kind;

typedef struct {
    image_encoder enc;
    param_store ps;   /* the encoder's tensors only */
    arena arena;
    int batch, C, H, W, num_patches, patch_dim, depth, d;
    int64_t step;     /* the checkpoint's step */
    float *patches;
    int *idx;
} frozen_encoder;

/* Loads the encoder of checkpoint `path` (a step folder or a folder with
 * `latest`) for images of shape (C,H,W), in batches of up to `batch`, from
 * its section `weights`: "params" (the trained weights) or "teacher" (DINO's
 * EMA teacher, the same layout). Fails with a clear message if the
 * checkpoint has no image encoder, no such section, or an encoder made for
 * other images. */
int frozen_encoder_open(frozen_encoder *fe, const char *path, const char *weights, int C, int H, int W, int batch);
/* The same encoder for a training run's config, its tensors copied from the
 * training store with frozen_encoder_copy (the k-NN monitor, eval.every). */
int frozen_encoder_for_config(frozen_encoder *fe, const train_config *cfg, int C, int H, int W, int batch);
/* Copies every encoder tensor from `training` by name. Fails, naming the
 * tensor, if `training` has no tensor of that name or one of another shape
 * (a store of another model); fe's tensors are then partly copied. */
int frozen_encoder_copy(frozen_encoder *fe, const param_store *training);
/* Floats per feature row. */
int frozen_encoder_feature_dim(const frozen_encoder *fe, feature_kind kind, int layers);
/* images (n, C, H, W) uint8, n <= batch → out (n, feature_dim). */
void frozen_encoder_features(frozen_encoder *fe, const uint8_t *images, int n, feature_kind kind, int layers,
                             float *out);
void frozen_encoder_close(frozen_encoder *fe);

#endif
