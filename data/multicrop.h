/* multicrop.h — DINO's multi-crop views of an image (DESIGN §3, §5).
 *
 * An image (C,H,W uint8) becomes `global_crops` views of global_size² pixels
 * and `local_crops` views of local_size² pixels (views 0 … global_crops−1 are
 * the global ones). Each view is, in this order:
 *   1. a random resized crop: area fraction a ~ U(scale range) of H·W, aspect
 *      ratio r = w/h log-uniform in the ratio range, w = √(a·H·W·r),
 *      h = √(a·H·W/r); up to 10 draws until w ≤ W and h ≤ H, else the
 *      largest centred crop with r clamped into the range; its corner uniform
 *      over the positions that keep the crop inside the image. The crop is
 *      resampled bilinearly (pixel centres, edges clamped) to the view size;
 *   2. a horizontal flip with flip_prob;
 *   3. with jitter_prob, brightness then contrast in the order drawn:
 *      v ← v·β, β ~ U(1−b, 1+b);  v ← m + γ·(v − m), γ ~ U(1−c, 1+c), m the
 *      view's mean; clamped to [0, 255];
 *   4. with blur_prob, a separable Gaussian blur of σ ~ U(sigma range) view
 *      pixels (kernel radius ⌈3σ⌉, edges clamped, weights normalized);
 *   5. for global views other than view 0, with solarize_prob (DINO's second
 *      view), v ← 255 − v where v ≥ 128;
 * and is written as floats v·2/255 − 1 (the scale patchify_images uses),
 * rounded once (fmaf), so its bits do not depend on whether the compiler
 * contracts the expression; patchify_images' may differ by 1 ulp.
 *
 * Every draw comes from the counter-based stream (seed, epoch, sample id,
 * RNG_AUGMENT, view) (src/nn/rng.h), in a fixed order per view, so a view
 * depends on nothing but those keys and the image: not on the rank, the batch
 * slot, the prefetch thread or a resume.
 *
 * The draws. A view takes MULTICROP_DRAWS uniforms u[0..32) = rng_uniform of
 * its stream, all of them, up front, and each choice reads its own slot:
 *   u[2k], u[2k+1]  try k < 10 of the crop: a = s₀ + u·(s₁ − s₀) and
 *                   log r = log r₀ + u·(log r₁ − log r₀)
 *   u[20], u[21]    the corner: x = u·(W − w), y = u·(H − h)
 *   u[22]           flip if u < flip_prob
 *   u[23..25]       jitter if u[23] < jitter_prob; β = 1 − b + 2b·u[24],
 *                   γ = 1 − c + 2c·u[25]
 *   u[26], u[27]    blur if u[26] < blur_prob; σ = σ₀ + u[27]·(σ₁ − σ₀)
 *   u[28]           solarize if u[28] < solarize_prob (global views ≥ 1 only)
 *   u[29..31]       unused (a whole number of Philox blocks)
 * Numbers a view does not use are drawn anyway, so each choice keeps its
 * number when another augmentation is switched off or changes its range
 * (ablations move one thing at a time).
 *
 * Arithmetic. Values stay floats in [0, 255] through the pipeline (no
 * rounding to bytes between steps); brightness and contrast each clamp to
 * [0, 255]; m is the mean over all C·size² values of the view (torchvision
 * takes the grayscale mean, the same for one channel). Bilinear sampling at
 * output pixel (i, j) reads source (y + (i + ½)·h/size − ½, x + (j + ½)·w/size
 * − ½), clamped to [0, H−1] × [0, W−1], and interpolates as a + f·(b − a), so
 * a constant image stays bit-exact and a full-image crop at the image's size
 * reproduces it exactly. Flipping mirrors the output columns.
 */
#ifndef CRATE_DATA_MULTICROP_H
#define CRATE_DATA_MULTICROP_H

#include <stdint.h>

/* Uniforms drawn per view (see above). */
#define MULTICROP_DRAWS 32
/* Largest view side and blur σ multicrop_check accepts (dino.global_size
 * and dino.blur_sigma_max's limits in pretrain/train_config.c): the blur's
 * line and kernel buffers live on the stack. */
#define MULTICROP_MAX_SIZE 4096
#define MULTICROP_MAX_SIGMA 100.0f

typedef struct {
    int global_crops, local_crops, global_size, local_size;
    float global_scale[2], local_scale[2], ratio[2]; /* [min, max] */
    float flip_prob, jitter_prob, brightness, contrast, blur_prob, blur_sigma[2], solarize_prob;
} multicrop_config;

/* The crop rectangle a view drew, in source pixels (continuous coordinates:
 * the crop covers [x, x+w) × [y, y+h) of [0, W) × [0, H)), and what else it
 * drew; for tests and the contact sheet. brightness and contrast are 1 when
 * the view was not jittered, sigma 0 when it was not blurred. */
typedef struct {
    float x, y, w, h;
    int flipped, jittered, blurred, solarized;
    float brightness, contrast, sigma;
} multicrop_draw;

/* Checks the config: global_crops ≥ 1, local_crops ≥ 0, sizes in
 * [1, MULTICROP_MAX_SIZE], ranges positive and ordered, scales ≤ 1, σ ≤
 * MULTICROP_MAX_SIGMA, probabilities, brightness and contrast in [0, 1];
 * CRATE_EINPUT with a message naming the dino.* key. */
int multicrop_check(const multicrop_config *cfg);

/* Floats of one view of kind global (1) or local (0): C·size². */
int multicrop_view_floats(const multicrop_config *cfg, int C, int global);

/* View `view` (0 ≤ view < global_crops + local_crops) of one image (C, H, W)
 * → out (C, size, size) floats; draw (may be NULL) receives what was drawn.
 * cfg must have passed multicrop_check. Thread-safe, no allocation. */
void multicrop_view(const multicrop_config *cfg, uint64_t seed, uint32_t epoch, uint64_t sample, int view,
                    const uint8_t *image, int C, int H, int W, float *out, multicrop_draw *draw);

#endif
