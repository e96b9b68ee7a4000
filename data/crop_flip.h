/* crop_flip.h — the supervised classifier's augmentation: a random crop of
 * the image padded with zeros by `pad` pixels on every side (a shift by
 * (dx, dy) ∈ [−pad, pad]², uniform), then a horizontal flip with
 * probability flip_prob. Every choice comes from the counter-based stream
 * (seed, epoch, sample id, RNG_AUGMENT) (DESIGN §5): a sample's view does not
 * depend on its rank, batch slot or resume.
 *
 *   out(c, i, j) = in(c, i + dy, j' + dx),  j' = W − 1 − j if flipped else j,
 *   0 where (i + dy, j' + dx) falls outside the image.
 */
#ifndef CRATE_DATA_CROP_FLIP_H
#define CRATE_DATA_CROP_FLIP_H

#include <stdint.h>

typedef struct {
    int dx, dy, flip;
} crop_flip_draw;

/* The draw of one sample. */
crop_flip_draw crop_flip_sample(uint64_t seed, uint64_t epoch, uint64_t sample, int pad, double flip_prob);
/* in, out (C, H, W) uint8, distinct. */
void crop_flip_apply(uint8_t *out, const uint8_t *in, int C, int H, int W, crop_flip_draw d);

#endif
