/* crop_flip.c — see crop_flip.h. */
#include "data/crop_flip.h"

#include <stddef.h>

#include "src/nn/rng.h"

crop_flip_draw crop_flip_sample(uint64_t seed, uint64_t epoch, uint64_t sample, int pad, double flip_prob) {
    rng_stream s = rng_stream_make(seed, epoch, sample, RNG_AUGMENT);
    crop_flip_draw d;
    d.dx = (int)rng_below(&s, 2u * (uint32_t)pad + 1) - pad;
    d.dy = (int)rng_below(&s, 2u * (uint32_t)pad + 1) - pad;
    d.flip = rng_uniform(&s) < flip_prob;
    return d;
}

void crop_flip_apply(uint8_t *out, const uint8_t *in, int C, int H, int W, crop_flip_draw d) {
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++) {
            int si = i + d.dy;
            for (int j = 0; j < W; j++) {
                int sj = (d.flip ? W - 1 - j : j) + d.dx;
                out[((size_t)c * H + i) * W + j] =
                    si >= 0 && si < H && sj >= 0 && sj < W ? in[((size_t)c * H + si) * W + sj] : 0;
            }
        }
}
