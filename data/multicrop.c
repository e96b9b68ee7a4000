/* multicrop.c — DINO's multi-crop views (see multicrop.h).
 *
 * A view is computed in place in its output buffer: the crop is resampled
 * into out as values in [0, 255], the photometric steps rewrite out, and the
 * last pass maps v to v·2/255 − 1. All the randomness is read up front into
 * MULTICROP_DRAWS uniforms, one slot per choice (the layout is in the
 * header), so the code below is a pure function of (draws, image, config).
 * The blur needs one line of scratch and its kernel; both live on the stack,
 * bounded by MULTICROP_MAX_SIZE and MULTICROP_MAX_SIGMA, so a view allocates
 * nothing and can run on any thread.
 */
#include "data/multicrop.h"

#include <math.h>
#include <stddef.h>

#include "src/error.h"
#include "src/nn/rng.h"

enum {
    U_TRY = 0,       /* u[2k], u[2k+1]: scale and log-ratio of try k */
    CROP_TRIES = 10,
    U_CORNER = 20,   /* x, y */
    U_FLIP = 22,
    U_JITTER = 23,   /* gate, β, γ */
    U_BLUR = 26,     /* gate, σ */
    U_SOLARIZE = 28,
};
#define BLUR_MAX_RADIUS 300 /* ⌈3·MULTICROP_MAX_SIGMA⌉ */

/* ---- the config ------------------------------------------------------------ */

static int check_prob(const char *key, float p) {
    if (p >= 0 && p <= 1) return CRATE_OK;
    return crate_fail(CRATE_EINPUT, "dino.%s = %g is not in [0, 1]", key, p);
}

/* A [min, max] range: 0 < min ≤ max ≤ hi. */
static int check_range(const char *what, const float r[2], float hi) {
    if (!(r[0] > 0))
        return crate_fail(CRATE_EINPUT, "dino.%s_min = %g must be positive", what, r[0]);
    if (!(r[0] <= r[1]))
        return crate_fail(CRATE_EINPUT, "dino.%s_min = %g is above dino.%s_max = %g: the range is [min, max]", what,
                          r[0], what, r[1]);
    if (!(r[1] <= hi)) return crate_fail(CRATE_EINPUT, "dino.%s_max = %g is above %g", what, r[1], hi);
    return CRATE_OK;
}

static int check_size(const char *key, int v) {
    if (v >= 1 && v <= MULTICROP_MAX_SIZE) return CRATE_OK;
    return crate_fail(CRATE_EINPUT, "dino.%s = %d is not in [1, %d] (pixels of a view's side)", key, v,
                      MULTICROP_MAX_SIZE);
}

int multicrop_check(const multicrop_config *c) {
    if (c->global_crops < 1)
        return crate_fail(CRATE_EINPUT, "dino.global_crops = %d: DINO needs at least 1 global view (the teacher's)",
                          c->global_crops);
    if (c->local_crops < 0) return crate_fail(CRATE_EINPUT, "dino.local_crops = %d is negative", c->local_crops);
    if (c->global_crops + c->local_crops >= 1 << 24) /* the view index has 24 bits of the stream's purpose word */
        return crate_fail(CRATE_EINPUT, "dino.global_crops + dino.local_crops = %d views: at most %d",
                          c->global_crops + c->local_crops, (1 << 24) - 1);
    int st = check_size("global_size", c->global_size);
    if (!st) st = check_size("local_size", c->local_size);
    if (!st) st = check_range("global_scale", c->global_scale, 1.0f);
    if (!st) st = check_range("local_scale", c->local_scale, 1.0f);
    if (!st) st = check_range("ratio", c->ratio, INFINITY);
    if (!st) st = check_range("blur_sigma", c->blur_sigma, MULTICROP_MAX_SIGMA);
    if (!st) st = check_prob("flip_prob", c->flip_prob);
    if (!st) st = check_prob("jitter_prob", c->jitter_prob);
    if (!st) st = check_prob("brightness", c->brightness);
    if (!st) st = check_prob("contrast", c->contrast);
    if (!st) st = check_prob("blur_prob", c->blur_prob);
    if (!st) st = check_prob("solarize_prob", c->solarize_prob);
    return st;
}

int multicrop_view_floats(const multicrop_config *cfg, int C, int global) {
    int s = global ? cfg->global_size : cfg->local_size;
    return C * s * s;
}

/* ---- 1. the random resized crop ---------------------------------------------- */

static float lerp_range(const float r[2], float u) { return r[0] + u * (r[1] - r[0]); }

/* The crop rectangle from the draws (multicrop.h, step 1). */
static void crop_rect(const float scale[2], const float ratio[2], const float *u, int H, int W, multicrop_draw *d) {
    float area = (float)H * (float)W, lr0 = logf(ratio[0]), lr1 = logf(ratio[1]);
    float w = 0, h = 0;
    int found = 0;
    for (int k = 0; k < CROP_TRIES && !found; k++) {
        float a = lerp_range(scale, u[U_TRY + 2 * k]) * area;
        float r = expf(lr0 + u[U_TRY + 2 * k + 1] * (lr1 - lr0));
        w = sqrtf(a * r);
        h = sqrtf(a / r);
        found = w <= (float)W && h <= (float)H;
    }
    if (!found) { /* the largest centred crop of the clamped ratio */
        float in_ratio = (float)W / (float)H;
        if (in_ratio < ratio[0]) w = (float)W, h = (float)W / ratio[0];
        else if (in_ratio > ratio[1]) h = (float)H, w = (float)H * ratio[1];
        else w = (float)W, h = (float)H;
        w = fminf(w, (float)W);
        h = fminf(h, (float)H);
        d->x = 0.5f * ((float)W - w);
        d->y = 0.5f * ((float)H - h);
    } else {
        d->x = u[U_CORNER] * ((float)W - w);
        d->y = u[U_CORNER + 1] * ((float)H - h);
    }
    /* Rounding must not push the far edge out of the image. */
    while (d->x > 0 && d->x + w > (float)W) d->x = nextafterf(d->x, 0);
    while (d->y > 0 && d->y + h > (float)H) d->y = nextafterf(d->y, 0);
    d->w = w;
    d->h = h;
}

/* Source coordinate of output pixel i of n across a crop [o, o + len) of an
 * axis of `side` pixels: index i0, its neighbour i1 and the weight f of i1. */
static inline void sample_at(float o, float len, int n, int side, int i, int *i0, int *i1, float *f) {
    float s = o + ((float)i + 0.5f) * (len / (float)n) - 0.5f;
    if (s < 0) s = 0;
    if (s > (float)(side - 1)) s = (float)(side - 1);
    int a = (int)s;
    *i0 = a;
    *i1 = a + 1 < side ? a + 1 : a;
    *f = s - (float)a;
}

/* Bilinear resampling of the crop (and the flip) → out (C, S, S) in [0, 255]. */
static void resample(const uint8_t *image, int C, int H, int W, const multicrop_draw *d, int S, float *out) {
    for (int i = 0; i < S; i++) {
        int y0, y1;
        float fy;
        sample_at(d->y, d->h, S, H, i, &y0, &y1, &fy);
        for (int j = 0; j < S; j++) {
            int x0, x1;
            float fx;
            sample_at(d->x, d->w, S, W, j, &x0, &x1, &fx);
            int oj = d->flipped ? S - 1 - j : j;
            for (int c = 0; c < C; c++) {
                const uint8_t *p = image + (size_t)c * H * W;
                float p00 = p[(size_t)y0 * W + x0], p01 = p[(size_t)y0 * W + x1];
                float p10 = p[(size_t)y1 * W + x0], p11 = p[(size_t)y1 * W + x1];
                float top = p00 + fx * (p01 - p00), bot = p10 + fx * (p11 - p10);
                out[((size_t)c * S + i) * S + oj] = top + fy * (bot - top);
            }
        }
    }
}

/* ---- 3. to 5. photometric steps ------------------------------------------------ */

static inline float clamp255(float v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

static void jitter(float *v, size_t n, float beta, float gamma) {
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
        v[k] = clamp255(v[k] * beta);
        sum += v[k];
    }
    float m = (float)(sum / (double)n);
    for (size_t k = 0; k < n; k++) v[k] = clamp255(m + gamma * (v[k] - m));
}

/* One pass of the kernel k[−R..R] along n values of stride `stride` of x,
 * edges clamped; line holds the n inputs while they are overwritten. */
static void blur_line(float *x, size_t stride, int n, const float *k, int R, float *line) {
    for (int t = 0; t < n; t++) line[t] = x[(size_t)t * stride];
    for (int t = 0; t < n; t++) {
        float acc = 0;
        for (int o = -R; o <= R; o++) {
            int q = t + o;
            q = q < 0 ? 0 : q >= n ? n - 1 : q;
            acc += k[o] * line[q];
        }
        x[(size_t)t * stride] = acc;
    }
}

/* Separable Gaussian blur of each S×S channel of v. */
static void blur(float *v, int C, int S, float sigma) {
    float kernel[2 * BLUR_MAX_RADIUS + 1], line[MULTICROP_MAX_SIZE];
    int R = (int)ceilf(3.0f * sigma);
    if (R > BLUR_MAX_RADIUS) R = BLUR_MAX_RADIUS;
    float *k = kernel + R, total = 0;
    for (int o = -R; o <= R; o++) total += k[o] = expf(-(float)(o * o) / (2.0f * sigma * sigma));
    for (int o = -R; o <= R; o++) k[o] /= total;
    for (int c = 0; c < C; c++) {
        float *p = v + (size_t)c * S * S;
        for (int i = 0; i < S; i++) blur_line(p + (size_t)i * S, 1, S, k, R, line);
        for (int j = 0; j < S; j++) blur_line(p + j, (size_t)S, S, k, R, line);
    }
}

/* ---- the view ------------------------------------------------------------------- */

void multicrop_view(const multicrop_config *cfg, uint64_t seed, uint32_t epoch, uint64_t sample, int view,
                    const uint8_t *image, int C, int H, int W, float *out, multicrop_draw *draw) {
    float u[MULTICROP_DRAWS];
    rng_stream s = rng_stream_view(seed, epoch, sample, RNG_AUGMENT, (uint32_t)view);
    for (int k = 0; k < MULTICROP_DRAWS; k++) u[k] = rng_uniform(&s);

    int global = view < cfg->global_crops, S = global ? cfg->global_size : cfg->local_size;
    multicrop_draw d = {.brightness = 1, .contrast = 1};
    crop_rect(global ? cfg->global_scale : cfg->local_scale, cfg->ratio, u, H, W, &d);
    d.flipped = u[U_FLIP] < cfg->flip_prob;
    d.jittered = u[U_JITTER] < cfg->jitter_prob;
    if (d.jittered) {
        d.brightness = 1 - cfg->brightness + 2 * cfg->brightness * u[U_JITTER + 1];
        d.contrast = 1 - cfg->contrast + 2 * cfg->contrast * u[U_JITTER + 2];
    }
    d.blurred = u[U_BLUR] < cfg->blur_prob;
    if (d.blurred) d.sigma = lerp_range(cfg->blur_sigma, u[U_BLUR + 1]);
    d.solarized = global && view > 0 && u[U_SOLARIZE] < cfg->solarize_prob;

    size_t n = (size_t)C * S * S;
    resample(image, C, H, W, &d, S, out);
    if (d.jittered) jitter(out, n, d.brightness, d.contrast);
    if (d.blurred) blur(out, C, S, d.sigma);
    if (d.solarized)
        for (size_t k = 0; k < n; k++)
            if (out[k] >= 128) out[k] = 255 - out[k];
    for (size_t k = 0; k < n; k++) out[k] = fmaf(out[k], 2.0f / 255.0f, -1.0f);
    if (draw) *draw = d;
}
