/* attention_maps.h — a picture of where a saved image encoder's cls token
 * looks: for each image a row of 1 + K cells, the image and then, for each
 * of the K heads of the chosen layer's MSSA, the cls token's attention over
 * the patches, A_k[cls, patch j] = softmax_j(w_cls · w_j / √p) (mssa.h),
 * scaled so that the head's largest weight is 1 and bilinearly upsampled
 * over the image as a heat map. In CRATE these maps segment objects
 * (Yu et al. 2023, "Emergence of segmentation with minimalistic white-box
 * transformers"); a map concentrated on a few patches means a head that
 * compresses the cls token onto them.
 */
#ifndef CRATE_ATTENTION_MAPS_H
#define CRATE_ATTENTION_MAPS_H

#include <stdint.h>

#include "data/shard.h"

enum { ATTENTION_MAPS_MAX = 256 };

/* Images first … first + n − 1 of ds (n ≤ ATTENTION_MAPS_MAX) through the
 * image encoder of checkpoint ckpt (section weights: params or teacher);
 * layer counts from 1, 0 = the last. Writes the PNG at path; *layer_out and
 * *heads_out say what it shows. Fails naming --layer when the encoder has
 * no such layer. */
int attention_maps_picture(const char *ckpt, const char *weights, image_dataset *ds, uint64_t first, int n,
                           int layer, const char *path, int *layer_out, int *heads_out);

#endif
