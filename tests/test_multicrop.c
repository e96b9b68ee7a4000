/* test_multicrop.c — DINO's multi-crop views (data/multicrop.h) and their
 * batch source (data/multicrop_source.h):
 *   (a) a view is a pure function of (seed, epoch, sample, view, image, config);
 *   (b) crops stay inside the image and, outside the fallback, their area
 *       fraction and ratio lie in range; the crop matches a reference of the
 *       documented draw layout written independently here, fallback included;
 *   (c) a full-image crop at the image's size is patchify_images' scaling of
 *       the image bit for bit, flip mirrors it, solarize, jitter and blur match
 *       hand computations, a constant image stays constant;
 *   (d) through the source: 1 rank = 2 ranks concatenated, prefetch 0 = 2, a
 *       resumed source = an uninterrupted one, every view = multicrop_view of
 *       its (sample, epoch), micro() slices without copying;
 *   and multicrop_check names the dino.* key; the contact sheet of an RGB
 *   dataset (pretrain/dino_views.h) is an RGB PNG of the layout's size. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/multicrop.h"
#include "data/multicrop_source.h"
#include "data/shard.h"
#include "encoders/patch_embed.h"
#include "pretrain/dino_views.h"
#include "src/error.h"
#include "src/nn/rng.h"
#include "tests/check.h"

static char tmpdir[] = "/tmp/crate-test-multicrop-XXXXXX";

/* Every augmentation on, DINO-like ranges. */
static multicrop_config base_config(void) {
    return (multicrop_config){.global_crops = 2, .local_crops = 4, .global_size = 16, .local_size = 8,
                              .global_scale = {0.4f, 1}, .local_scale = {0.05f, 0.4f}, .ratio = {0.75f, 4.0f / 3},
                              .flip_prob = 0.5f, .jitter_prob = 0.8f, .brightness = 0.4f, .contrast = 0.4f,
                              .blur_prob = 0.5f, .blur_sigma = {0.1f, 2}, .solarize_prob = 0.5f};
}

/* No augmentation but a crop of the whole image at size S. */
static multicrop_config identity_config(int S) {
    return (multicrop_config){.global_crops = 2, .local_crops = 1, .global_size = S, .local_size = S,
                              .global_scale = {1, 1}, .local_scale = {1, 1}, .ratio = {1, 1},
                              .blur_sigma = {1, 1}};
}

static void fill_image(uint8_t *px, size_t n, uint64_t id) {
    rng_stream s = rng_stream_make(77, 0, id, RNG_INIT);
    for (size_t k = 0; k < n; k++) px[k] = (uint8_t)rng_below(&s, 256);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

/* ---- (a) purity ------------------------------------------------------------ */

static void test_pure(void) {
    enum { C = 3, H = 20, W = 24 };
    static uint8_t img[C * H * W];
    fill_image(img, sizeof img, 1);
    multicrop_config mc = base_config();
    size_t nf = (size_t)multicrop_view_floats(&mc, C, 1);
    float *a = malloc(nf * sizeof *a), *b = malloc(nf * sizeof *b);
    int same = 1, differ = 1;
    for (int v = 0; v < 2; v++)
        for (uint64_t id = 0; id < 20; id++) {
            multicrop_draw da, db;
            multicrop_view(&mc, 5, 3, id, v, img, C, H, W, a, &da);
            multicrop_view(&mc, 5, 4, id, 1 - v, img, C, H, W, b, NULL); /* something else in between */
            multicrop_view(&mc, 5, 3, id, v, img, C, H, W, b, &db);
            same &= !memcmp(a, b, nf * sizeof *a) && !memcmp(&da, &db, sizeof da);
            multicrop_view(&mc, 5, 3, id, 1 - v, img, C, H, W, b, NULL);
            differ &= memcmp(a, b, nf * sizeof *a) != 0;
            multicrop_view(&mc, 5, 3, id + 100, v, img, C, H, W, b, NULL);
            differ &= memcmp(a, b, nf * sizeof *a) != 0;
            multicrop_view(&mc, 5, 4, id, v, img, C, H, W, b, NULL);
            differ &= memcmp(a, b, nf * sizeof *a) != 0;
            multicrop_view(&mc, 6, 3, id, v, img, C, H, W, b, NULL);
            differ &= memcmp(a, b, nf * sizeof *a) != 0;
        }
    CHECK(same, "the same (seed, epoch, sample, view) gives bit-identical views and draws");
    CHECK(differ, "another view, sample, epoch or seed gives another view");
    free(a);
    free(b);
}

/* ---- (b) crops -------------------------------------------------------------- */

/* The crop of the documented draw layout, in double: fallback or not and w, h. */
static int ref_crop(const multicrop_config *mc, uint64_t seed, uint64_t id, int view, int H, int W, double *w,
                    double *h) {
    rng_stream s = rng_stream_view(seed, 0, id, RNG_AUGMENT, (uint32_t)view);
    float u[MULTICROP_DRAWS];
    for (int k = 0; k < MULTICROP_DRAWS; k++) u[k] = rng_uniform(&s);
    const float *sc = view < mc->global_crops ? mc->global_scale : mc->local_scale;
    for (int k = 0; k < 10; k++) {
        double a = (sc[0] + u[2 * k] * (double)(sc[1] - sc[0])) * H * W;
        double r = exp(log(mc->ratio[0]) + u[2 * k + 1] * (log(mc->ratio[1]) - log(mc->ratio[0])));
        *w = sqrt(a * r);
        *h = sqrt(a / r);
        if (*w <= W * (1 + 1e-6) && *h <= H * (1 + 1e-6)) return 0;
    }
    double in = (double)W / H;
    if (in < mc->ratio[0]) *w = W, *h = W / (double)mc->ratio[0];
    else if (in > mc->ratio[1]) *h = H, *w = H * (double)mc->ratio[1];
    else *w = W, *h = H;
    return 1;
}

static int near(double a, double b, double rel) { return fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + 1e-6; }

static void crops_in_range(const char *name, multicrop_config mc, int H, int W, int want_fallback) {
    uint8_t *img = calloc((size_t)H * W, 1);
    float *out = malloc((size_t)multicrop_view_floats(&mc, 1, 1) * sizeof *out);
    int outside = 0, off_range = 0, off_ref = 0, fallbacks = 0, draws = 0, ambiguous = 0;
    for (uint64_t id = 0; id < 300; id++)
        for (int v = 0; v < mc.global_crops + mc.local_crops; v++, draws++) {
            multicrop_draw d;
            multicrop_view(&mc, 11, 0, id, v, img, 1, H, W, out, &d);
            if (!(d.x >= 0 && d.y >= 0 && d.w > 0 && d.h > 0 && d.x + d.w <= (float)W && d.y + d.h <= (float)H))
                outside++;
            double rw, rh;
            int fb = ref_crop(&mc, 11, id, v, H, W, &rw, &rh);
            fallbacks += fb;
            if (!near(d.w, rw, 1e-4) || !near(d.h, rh, 1e-4)) {
                /* a try that fits within float rounding of an edge may go either way */
                if (fabs(rw - W) < 1e-3 * W || fabs(rh - H) < 1e-3 * H) ambiguous++;
                else off_ref++;
                continue;
            }
            const float *sc = v < mc.global_crops ? mc.global_scale : mc.local_scale;
            double area = (double)d.w * d.h / ((double)H * W), ratio = (double)d.w / d.h;
            double rlo = mc.ratio[0] * (1 - 1e-5), rhi = mc.ratio[1] * (1 + 1e-5);
            if (!fb && (area < sc[0] * (1 - 1e-5) || area > sc[1] * (1 + 1e-5) || ratio < rlo || ratio > rhi))
                off_range++;
            if (fb && (!near(d.x, (W - d.w) / 2.0, 1e-4) || !near(d.y, (H - d.h) / 2.0, 1e-4) ||
                       !(near(d.w, W, 1e-6) || near(d.h, H, 1e-6))))
                off_range++; /* the fallback is centred with a full side */
        }
    CHECK(outside == 0, "%s: %d of %d crops leave the %dx%d image", name, outside, draws, H, W);
    CHECK(off_range == 0, "%s: %d crops off the scale/ratio range or the centred fallback", name, off_range);
    CHECK(off_ref == 0 && ambiguous < draws / 100 + 1, "%s: %d crops (%d at an edge) differ from the reference",
          name, off_ref, ambiguous);
    if (want_fallback > 0) CHECK(fallbacks == draws, "%s: all %d crops fall back, got %d", name, draws, fallbacks);
    if (want_fallback < 0) CHECK(fallbacks < draws / 10, "%s: few fallbacks, got %d of %d", name, fallbacks, draws);
    free(img);
    free(out);
}

static void test_crops(void) {
    crops_in_range("defaults, square", base_config(), 28, 28, -1);
    crops_in_range("defaults, wide", base_config(), 12, 40, 0);
    multicrop_config mc = base_config();
    mc.global_scale[0] = mc.global_scale[1] = 1; /* whole area at ratio 3..4: never fits */
    mc.local_scale[0] = 0.9f, mc.local_scale[1] = 1;
    mc.ratio[0] = 3, mc.ratio[1] = 4;
    crops_in_range("fallback, too wide", mc, 28, 28, 1);
    mc.ratio[0] = 0.1f, mc.ratio[1] = 0.2f;
    crops_in_range("fallback, too tall", mc, 28, 28, 1);
    mc = base_config();
    mc.global_scale[0] = mc.global_scale[1] = 1;
    mc.local_scale[0] = mc.local_scale[1] = 1;
    crops_in_range("fallback, ratio inside", mc, 10, 40, 1);
    mc = base_config();
    mc.local_scale[0] = mc.local_scale[1] = 0.001f; /* sub-pixel crops */
    mc.ratio[0] = 0.01f, mc.ratio[1] = 100;
    crops_in_range("tiny, extreme ratios", mc, 28, 28, 0);
}

/* ---- (c) the pixels ------------------------------------------------------------ */

static void test_pixels(void) {
    enum { S = 12, N1 = S * S, C3 = 3 };
    uint8_t img[C3 * N1];
    fill_image(img, sizeof img, 9);
    /* The whole image at its own size is v·2/255 − 1 rounded once, bit for
     * bit, and patchify_images' scaling within its rounding (one channel,
     * 1×1 patches: the same layout; whether the compiler contracts its
     * v·c − 1 into one rounding varies with the build and the position). */
    multicrop_config mc = identity_config(S);
    float ref[N1], out[C3 * N1], flip[C3 * N1], full[C3 * N1];
    patchify_images(ref, img, 1, 1, S, S, 1);
    multicrop_draw d;
    int exact = 1;
    float worst_pe = 0;
    for (int v = 0; v < 3; v++) {
        multicrop_view(&mc, 1, 0, 7, v, img, 1, S, S, out, &d);
        exact &= d.x == 0 && d.y == 0 && d.w == S && d.h == S && !d.flipped && !d.jittered && !d.blurred &&
                 !d.solarized;
        for (int k = 0; k < N1; k++) {
            exact &= out[k] == fmaf(img[k], 2.0f / 255.0f, -1.0f);
            worst_pe = fmaxf(worst_pe, fabsf(out[k] - ref[k]));
        }
    }
    CHECK(exact, "full-image crop at the same size = v*2/255 - 1 exactly, nothing else drawn");
    /* Two roundings of a product below 2 and a difference below 1: 2^-23. */
    CHECK(worst_pe <= 0x1p-23f, "full-image crop = patchify_images within 2^-23 (off by %g)", worst_pe);

    /* Flip mirrors the columns, per channel. */
    multicrop_view(&mc, 1, 0, 7, 0, img, C3, S, S, full, NULL);
    mc.flip_prob = 1;
    multicrop_view(&mc, 1, 0, 7, 0, img, C3, S, S, flip, &d);
    int mirrored = d.flipped;
    for (int c = 0; c < C3; c++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) mirrored &= flip[(c * S + i) * S + j] == full[(c * S + i) * S + S - 1 - j];
    CHECK(mirrored, "flip mirrors the view");

    /* Solarize: v >= 128 -> 255 - v, on global views other than view 0 only. */
    mc = identity_config(S);
    mc.solarize_prob = 1;
    int sol_ok = 1;
    for (int v = 0; v < 3; v++) {
        multicrop_view(&mc, 1, 0, 7, v, img, C3, S, S, out, &d);
        sol_ok &= d.solarized == (v == 1);
        for (int k = 0; k < C3 * N1; k++) {
            float p = img[k], want = v == 1 && p >= 128 ? 255 - p : p;
            sol_ok &= fabsf(out[k] - (want * (2.0f / 255.0f) - 1.0f)) <= 1e-6f;
        }
    }
    CHECK(sol_ok, "solarize maps v >= 128 to 255 - v on view 1 only");

    /* Jitter by hand: brightness, clamp, contrast about the mean, clamp. */
    mc = identity_config(S);
    mc.jitter_prob = 1, mc.brightness = 0.4f, mc.contrast = 0.4f;
    double worst = 0;
    int jittered = 1;
    for (uint64_t id = 0; id < 20; id++) {
        multicrop_view(&mc, 1, 0, id, 0, img, C3, S, S, out, &d);
        jittered &= d.jittered && d.brightness >= 0.6f && d.brightness <= 1.4f && d.contrast >= 0.6f &&
                    d.contrast <= 1.4f;
        double v[C3 * N1], m = 0;
        for (int k = 0; k < C3 * N1; k++) m += v[k] = fmin(255, img[k] * (double)d.brightness);
        m /= C3 * N1;
        for (int k = 0; k < C3 * N1; k++) {
            double want = fmin(255, fmax(0, m + d.contrast * (v[k] - m))) * 2 / 255 - 1;
            worst = fmax(worst, fabs(out[k] - want));
        }
    }
    CHECK(jittered && worst < 1e-5, "jitter = brightness then contrast by hand (worst %.2g)", worst);

    /* Blur by hand: a 2-D sum of the separable normalized kernel, edges clamped. */
    mc = identity_config(S);
    mc.blur_prob = 1, mc.blur_sigma[0] = 0.5f, mc.blur_sigma[1] = 2.5f;
    worst = 0;
    for (uint64_t id = 0; id < 10; id++) {
        multicrop_view(&mc, 1, 0, id, 0, img, 1, S, S, out, &d);
        int R = (int)ceil(3 * d.sigma);
        double k[64], tot = 0;
        for (int o = -R; o <= R; o++) tot += k[o + R] = exp(-o * o / (2.0 * d.sigma * d.sigma));
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                double acc = 0;
                for (int a = -R; a <= R; a++)
                    for (int b = -R; b <= R; b++) {
                        int y = i + a < 0 ? 0 : i + a >= S ? S - 1 : i + a, x = j + b < 0 ? 0 : j + b >= S ? S - 1 : j + b;
                        acc += k[a + R] * k[b + R] / (tot * tot) * img[y * S + x];
                    }
                worst = fmax(worst, fabs(out[i * S + j] - (acc * 2 / 255 - 1)));
            }
        CHECK(d.blurred && d.sigma >= 0.5f && d.sigma <= 2.5f, "blur drawn with sigma %g in range", d.sigma);
    }
    CHECK(worst < 1e-5, "blur = the 2-D Gaussian by hand (worst %.2g)", worst);

    /* A constant image under every augmentation: constant, at 200·β (clamped),
     * solarized to 255 − that when ≥ 128; blur and crops keep it. */
    enum { HC = 20, WC = 26 };
    static uint8_t flat[C3 * HC * WC];
    memset(flat, 200, sizeof flat);
    mc = base_config();
    mc.jitter_prob = 0.5f, mc.blur_prob = 0.5f, mc.solarize_prob = 0.5f;
    worst = 0;
    int seen_j = 0, seen_b = 0, seen_s = 0;
    float *o = malloc((size_t)multicrop_view_floats(&mc, C3, 1) * sizeof *o);
    for (uint64_t id = 0; id < 50; id++)
        for (int v = 0; v < mc.global_crops + mc.local_crops; v++) {
            multicrop_view(&mc, 3, 1, id, v, flat, C3, HC, WC, o, &d);
            float want = 200;
            if (d.jittered) want = fminf(255, want * d.brightness);
            if (d.solarized && want >= 128) want = 255 - want;
            double wf = want * 2.0 / 255 - 1;
            for (int k = 0; k < multicrop_view_floats(&mc, C3, v < mc.global_crops); k++)
                worst = fmax(worst, fabs(o[k] - wf));
            seen_j += d.jittered, seen_b += d.blurred, seen_s += d.solarized;
        }
    free(o);
    CHECK(worst < 1e-5 && seen_j && seen_b && seen_s, "constant image stays constant (worst %.2g; %d jittered, %d "
          "blurred, %d solarized)", worst, seen_j, seen_b, seen_s);
}

static void test_check(void) {
    static const char *const keys[] = {"dino.global_crops", "dino.local_size",   "dino.global_scale_min",
                                       "dino.local_scale_max", "dino.ratio_min",   "dino.blur_sigma_max",
                                       "dino.flip_prob",       "dino.brightness",  "dino.solarize_prob"};
    int n = (int)(sizeof keys / sizeof keys[0]);
    multicrop_config ok = base_config();
    CHECK(multicrop_check(&ok) == CRATE_OK, "base config passes: %s", crate_errmsg());
    for (int t = 0; t < n; t++) {
        multicrop_config c = base_config();
        switch (t) {
        case 0: c.global_crops = 0; break;
        case 1: c.local_size = 0; break;
        case 2: c.global_scale[0] = 0.9f, c.global_scale[1] = 0.5f; break;
        case 3: c.local_scale[1] = 1.5f; break;
        case 4: c.ratio[0] = 0; break;
        case 5: c.blur_sigma[1] = 1000; break;
        case 6: c.flip_prob = 1.5f; break;
        case 7: c.brightness = -0.1f; break;
        case 8: c.solarize_prob = NAN; break;
        }
        int st = multicrop_check(&c);
        CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), keys[t]), "%s: status %d, message '%s'", keys[t], st,
              crate_errmsg());
    }
}

/* ---- (d) the source ------------------------------------------------------------ */

enum { SN = 40, SC = 3, SH = 10, SW = 12, SG = 8, STEPS = 12 };

static int write_shard(const char *path) {
    image_dataset_writer *w;
    int st = image_dataset_writer_open(&w, path, SC, SH, SW, 16, 8); /* 3 shards */
    uint8_t px[SC * SH * SW];
    for (uint64_t i = 0; !st && i < SN; i++) {
        fill_image(px, sizeof px, i);
        st = image_dataset_writer_add(w, px, (int32_t)i);
    }
    return st ? st : image_dataset_writer_close(w, NULL);
}

typedef struct {
    float *global, *local; /* [STEPS][SG] samples */
    uint64_t ids[STEPS][SG];
    uint32_t epochs[STEPS][SG];
} views_run;

static size_t per_global(const multicrop_config *mc) { return (size_t)mc->global_crops * multicrop_view_floats(mc, SC, 1); }
static size_t per_local(const multicrop_config *mc) { return (size_t)mc->local_crops * multicrop_view_floats(mc, SC, 0); }

static void run_alloc(views_run *r, const multicrop_config *mc) {
    r->global = calloc((size_t)STEPS * SG * per_global(mc), sizeof(float));
    r->local = calloc((size_t)STEPS * SG * per_local(mc) + 1, sizeof(float));
}

static void run_free(views_run *r) {
    free(r->global);
    free(r->local);
}

/* Steps first … STEPS−1 of the slice [offset, offset + lb) into r's slots. */
static int run_source(const char *path, const multicrop_config *mc, int64_t first, int64_t offset, int lb,
                      int prefetch, views_run *r) {
    batch_source_config cfg = {.path = path, .seed = 42, .global_batch = SG, .rank_offset = offset,
                               .local_batch = lb, .first_step = first, .prefetch = prefetch};
    batch_source *s;
    int st = multicrop_source_open(&s, &cfg, mc);
    if (st) return st;
    size_t pg = per_global(mc), pl = per_local(mc);
    int shape_ok = s->samples == SN && !strcmp(s->unit, "img") && s->units_per_sample == 1;
    for (int64_t step = first; !st && step < STEPS; step++) {
        const void *p;
        if ((st = batch_source_next(s, &p))) break;
        const multicrop_batch *b = p;
        shape_ok &= b->n == lb && b->C == SC && b->images->n == lb && b->images->step == step &&
                    b->global_crops == mc->global_crops && b->local_crops == mc->local_crops &&
                    b->global_size == mc->global_size && b->local_size == mc->local_size &&
                    (mc->local_crops ? b->local != NULL : b->local == NULL);
        for (int i = 0; i < lb; i++) {
            int64_t g = offset + i;
            r->ids[step][g] = b->images->sample_ids[i];
            r->epochs[step][g] = b->images->epochs[i];
            memcpy(r->global + ((size_t)step * SG + g) * pg, b->global + i * pg, pg * sizeof(float));
            if (pl) memcpy(r->local + ((size_t)step * SG + g) * pl, b->local + i * pl, pl * sizeof(float));
        }
        /* micro(1, lb − 2): offsets into the same buffers. */
        if (lb >= 3) {
            const multicrop_batch *m = batch_source_micro(s, b, 1, lb - 2);
            shape_ok &= m->n == lb - 2 && m->images->n == lb - 2 && m->global == b->global + pg &&
                        (!pl || m->local == b->local + pl) && m->images->sample_ids == b->images->sample_ids + 1 &&
                        m->images->epochs == b->images->epochs + 1 && m->images->labels == b->images->labels + 1 &&
                        m->images->pixels == b->images->pixels + SC * SH * SW && m->global_size == b->global_size;
        }
    }
    batch_source_close(s);
    if (!st && !shape_ok) st = crate_fail(CRATE_EINTERNAL, "batch fields or micro-batch views are off");
    return st;
}

static int views_equal(const views_run *a, const views_run *b, const multicrop_config *mc, int64_t from) {
    size_t pg = per_global(mc), pl = per_local(mc), off = (size_t)from * SG;
    return !memcmp(a->ids[from], b->ids[from], (STEPS - from) * sizeof a->ids[0]) &&
           !memcmp(a->epochs[from], b->epochs[from], (STEPS - from) * sizeof a->epochs[0]) &&
           !memcmp(a->global + off * pg, b->global + off * pg, (STEPS - from) * SG * pg * sizeof(float)) &&
           !memcmp(a->local + off * pl, b->local + off * pl, (STEPS - from) * SG * pl * sizeof(float));
}

static void test_source(const char *path, multicrop_config mc) {
    views_run one, pre, parts, resumed;
    run_alloc(&one, &mc), run_alloc(&pre, &mc), run_alloc(&parts, &mc), run_alloc(&resumed, &mc);
    int st = run_source(path, &mc, 0, 0, SG, 0, &one);
    CHECK(st == CRATE_OK, "one rank, prefetch 0: %s", crate_errmsg());
    st = run_source(path, &mc, 0, 0, SG, 2, &pre);
    CHECK(st == CRATE_OK && views_equal(&one, &pre, &mc, 0), "prefetch 2 = prefetch 0: %s", crate_errmsg());
    st = run_source(path, &mc, 0, 0, SG / 2, 0, &parts);
    if (!st) st = run_source(path, &mc, 0, SG / 2, SG / 2, 2, &parts);
    CHECK(st == CRATE_OK && views_equal(&one, &parts, &mc, 0), "2 ranks (prefetch 0 and 2) = 1 rank: %s",
          crate_errmsg());
    st = run_source(path, &mc, 5, 0, SG, 2, &resumed);
    CHECK(st == CRATE_OK && views_equal(&one, &resumed, &mc, 5), "resumed at step 5 = uninterrupted: %s",
          crate_errmsg());

    /* Every view is multicrop_view of its (sample, epoch); epochs advance. */
    size_t pg = per_global(&mc), pl = per_local(&mc), gf = multicrop_view_floats(&mc, SC, 1),
           lf = multicrop_view_floats(&mc, SC, 0);
    float *v = malloc(gf * sizeof *v);
    uint8_t px[SC * SH * SW];
    int match = 1;
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < SG; i++) {
            fill_image(px, sizeof px, one.ids[s][i]);
            match &= one.epochs[s][i] == (uint32_t)((s * SG + i) / SN);
            for (int k = 0; k < mc.global_crops + mc.local_crops; k++) {
                multicrop_view(&mc, 42, one.epochs[s][i], one.ids[s][i], k, px, SC, SH, SW, v, NULL);
                const float *got = k < mc.global_crops
                                       ? one.global + ((size_t)s * SG + i) * pg + (size_t)k * gf
                                       : one.local + ((size_t)s * SG + i) * pl + (size_t)(k - mc.global_crops) * lf;
                match &= !memcmp(got, v, (k < mc.global_crops ? gf : lf) * sizeof(float));
            }
        }
    CHECK(match, "the source's views are multicrop_view of each sample's (id, epoch)");
    free(v);
    run_free(&one), run_free(&pre), run_free(&parts), run_free(&resumed);
}

static void test_source_errors(const char *path) {
    multicrop_config mc = base_config();
    mc.ratio[0] = 2, mc.ratio[1] = 1;
    batch_source_config cfg = {.path = path, .seed = 1, .global_batch = SG, .local_batch = SG, .prefetch = 2};
    batch_source *s = (batch_source *)1;
    int st = multicrop_source_open(&s, &cfg, &mc);
    CHECK(st == CRATE_EINPUT && s == NULL && strstr(crate_errmsg(), "dino.ratio_min"), "bad views: %s",
          crate_errmsg());
    mc = base_config();
    cfg.local_batch = SG + 1;
    st = multicrop_source_open(&s, &cfg, &mc);
    CHECK(st == CRATE_EINPUT && s == NULL, "bad slice: %s", crate_errmsg());
    cfg.local_batch = SG;
    cfg.path = "/nonexistent/crate-views";
    st = multicrop_source_open(&s, &cfg, &mc);
    CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "/nonexistent/crate-views"), "missing data: %s",
          crate_errmsg());
}

/* The PNG's IHDR: width, height, color type (2: RGB). */
static int read_ihdr(const char *path, uint32_t *w, uint32_t *h, int *ctype) {
    uint8_t b[26];
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f) fclose(f);
    if (got != sizeof b || memcmp(b, "\x89PNG\r\n\x1a\n", 8) || memcmp(b + 12, "IHDR", 4)) return -1;
    *w = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    *h = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    *ctype = b[25];
    return 0;
}

static void test_sheet(const char *path) {
    train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dino = (train_dino_config){.global_crops = 2, .local_crops = 3, .global_size = 8, .local_size = 4,
                                   .global_scale_min = 0.4, .global_scale_max = 1, .local_scale_min = 0.05,
                                   .local_scale_max = 0.4, .ratio_min = 0.75, .ratio_max = 4.0 / 3,
                                   .flip_prob = 0.5, .jitter_prob = 0.8, .brightness = 0.4, .contrast = 0.4,
                                   .blur_prob = 0.5, .blur_sigma_min = 0.1, .blur_sigma_max = 1, .solarize_prob = 0.2};
    snprintf(cfg.data.train, sizeof cfg.data.train, "%s", path);
    char png[700];
    snprintf(png, sizeof png, "%s/sheet.png", tmpdir);
    int w = 0, h = 0, ctype = -1;
    int st = dino_views_sheet(&cfg, 3, 4, png, NULL, &w, &h);
    /* cells of max(global_size, the 12-pixel original): 6 columns, 4 rows */
    int want_w = DINO_SHEET_MARGIN + 6 * (12 + DINO_SHEET_MARGIN), want_h = DINO_SHEET_MARGIN + 4 * (12 + DINO_SHEET_MARGIN);
    uint32_t fw = 0, fh = 0;
    CHECK(st == CRATE_OK && w == want_w && h == want_h && !read_ihdr(png, &fw, &fh, &ctype) && fw == (uint32_t)w &&
              fh == (uint32_t)h && ctype == 2,
          "RGB sheet: status %d (%s), %dx%d, file %ux%u type %d, want %dx%d type 2", st, crate_errmsg(), w, h, fw, fh,
          ctype, want_w, want_h);
    st = dino_views_sheet(&cfg, SN - 2, 4, png, NULL, NULL, NULL);
    CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "data.train"), "samples past the end: %s", crate_errmsg());
}

int main(void) {
    test_pure();
    test_crops();
    test_pixels();
    test_check();
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/ds", tmpdir);
    int st = write_shard(path);
    CHECK(st == CRATE_OK, "write: %s", crate_errmsg());
    if (!st) {
        multicrop_config mc = base_config();
        mc.global_size = 8, mc.local_size = 4, mc.local_crops = 3;
        test_source(path, mc);
        mc.local_crops = 0;
        test_source(path, mc);
        test_source_errors(path);
        test_sheet(path);
    }
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish();
}
