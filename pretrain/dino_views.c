/* dino_views.c — see dino_views.h. The sheet is drawn cell by cell into one
 * (height, width, channels) byte buffer, views mapped back from the model's
 * scale (v·2/255 − 1) to bytes, then written with src/io/png.h. The views are
 * the very function the trainer's batch source calls (multicrop_view with
 * the sample's id, epoch 0 and run.seed), so the sheet shows what training
 * sees for those samples in their first epoch. */
#include "pretrain/dino_views.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard.h"
#include "src/error.h"
#include "src/io/png.h"

multicrop_config dino_multicrop_config(const train_config *cfg) {
    const train_dino_config *d = &cfg->dino;
    return (multicrop_config){
        .global_crops = (int)d->global_crops, .local_crops = (int)d->local_crops,
        .global_size = (int)d->global_size, .local_size = (int)d->local_size,
        .global_scale = {(float)d->global_scale_min, (float)d->global_scale_max},
        .local_scale = {(float)d->local_scale_min, (float)d->local_scale_max},
        .ratio = {(float)d->ratio_min, (float)d->ratio_max},
        .flip_prob = (float)d->flip_prob, .jitter_prob = (float)d->jitter_prob,
        .brightness = (float)d->brightness, .contrast = (float)d->contrast, .blur_prob = (float)d->blur_prob,
        .blur_sigma = {(float)d->blur_sigma_min, (float)d->blur_sigma_max},
        .solarize_prob = (float)d->solarize_prob,
    };
}

typedef struct {
    uint8_t *px;
    int width, height, channels, cell;
} sheet;

/* Top-left pixel of the centre-aligned w×h box in cell (row, col). */
static uint8_t *cell_origin(const sheet *s, int row, int col, int w, int h) {
    int x = DINO_SHEET_MARGIN + col * (s->cell + DINO_SHEET_MARGIN) + (s->cell - w) / 2;
    int y = DINO_SHEET_MARGIN + row * (s->cell + DINO_SHEET_MARGIN) + (s->cell - h) / 2;
    return s->px + ((size_t)y * s->width + x) * s->channels;
}

/* The original image (C, H, W) bytes, nearest-neighbour to dw×dh. */
static void draw_original(sheet *s, int row, const uint8_t *img, int C, int H, int W, int dw, int dh) {
    uint8_t *o = cell_origin(s, row, 0, dw, dh);
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            int sy = (int)((int64_t)y * H / dh), sx = (int)((int64_t)x * W / dw);
            for (int c = 0; c < s->channels; c++)
                o[((size_t)y * s->width + x) * s->channels + c] = img[((size_t)c * H + sy) * W + sx];
        }
}

/* A view (C, S, S) floats on the model's scale. */
static void draw_view(sheet *s, int row, int col, const float *v, int S) {
    uint8_t *o = cell_origin(s, row, col, S, S);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < s->channels; c++) {
                float b = roundf((v[((size_t)c * S + y) * S + x] + 1.0f) * 127.5f);
                o[((size_t)y * s->width + x) * s->channels + c] = (uint8_t)(b < 0 ? 0 : b > 255 ? 255 : b);
            }
}

static void report_view(FILE *f, int view, int global_crops, const multicrop_draw *d) {
    int g = view < global_crops;
    fprintf(f, "%s%c%d: crop %.1fx%.1f at (%.1f,%.1f)", view ? " | " : " ", g ? 'g' : 'l',
            g ? view : view - global_crops, d->w, d->h, d->x, d->y);
    if (d->flipped) fprintf(f, ", flip");
    if (d->jittered) fprintf(f, ", jitter b %.2f c %.2f", d->brightness, d->contrast);
    if (d->blurred) fprintf(f, ", blur sigma %.2f", d->sigma);
    if (d->solarized) fprintf(f, ", solarize");
}

/* Draws row `row` (sample id) into s; one report line. */
static int draw_row(sheet *s, int row, image_dataset *ds, uint64_t id, const multicrop_config *mc, uint64_t seed,
                    uint8_t *img, float *view, int C, int H, int W, int dw, int dh, FILE *report) {
    int32_t label;
    int st = image_dataset_read(ds, id, img, &label);
    if (st) return st;
    draw_original(s, row, img, C, H, W, dw, dh);
    if (report) fprintf(report, "image %d (sample %llu, label %d):", row, (unsigned long long)id, label);
    for (int v = 0; v < mc->global_crops + mc->local_crops; v++) {
        multicrop_draw d;
        multicrop_view(mc, seed, 0, id, v, img, C, H, W, view, &d);
        draw_view(s, row, 1 + v, view, v < mc->global_crops ? mc->global_size : mc->local_size);
        if (report) report_view(report, v, mc->global_crops, &d);
    }
    if (report) fputc('\n', report);
    return CRATE_OK;
}

int dino_views_sheet(const train_config *cfg, uint64_t first, int images, const char *path, FILE *report,
                     int *width, int *height) {
    multicrop_config mc = dino_multicrop_config(cfg);
    int st = multicrop_check(&mc);
    if (st) return st;
    if (images < 1) return crate_fail(CRATE_EINPUT, "a contact sheet needs at least 1 image, got %d", images);
    image_dataset *ds;
    if ((st = image_dataset_open(&ds, cfg->data.train, (size_t)cfg->data.cache_mb << 20)))
        return crate_fail_context(st, "data.train");
    char what[CONFIG_STRING_MAX + 16];
    snprintf(what, sizeof what, "data.train = %s", cfg->data.train);
    if ((st = image_dataset_check_span(ds, first, (uint64_t)images, what))) {
        image_dataset_close(ds);
        return st;
    }
    int C, H, W;
    image_dataset_shape(ds, &C, &H, &W);
    int side = H > W ? H : W, dw = W, dh = H; /* the original as shown */
    if (side < mc.global_size) {
        dw = (int)((int64_t)W * mc.global_size / side);
        dh = (int)((int64_t)H * mc.global_size / side);
    }
    int cell = mc.global_size > mc.local_size ? mc.global_size : mc.local_size;
    if (dw > cell) cell = dw;
    if (dh > cell) cell = dh;
    int cols = 1 + mc.global_crops + mc.local_crops;
    int64_t w64 = DINO_SHEET_MARGIN + (int64_t)cols * (cell + DINO_SHEET_MARGIN);
    int64_t h64 = DINO_SHEET_MARGIN + (int64_t)images * (cell + DINO_SHEET_MARGIN);
    if (w64 > (1 << 20) || h64 > (1 << 20)) {
        image_dataset_close(ds);
        return crate_fail(CRATE_EINPUT, "a sheet of %lldx%lld pixels is too large: show fewer images or views",
                          (long long)w64, (long long)h64);
    }
    sheet s = {.width = (int)w64, .height = (int)h64, .channels = C >= 3 ? 3 : 1, .cell = cell};
    s.px = crate_malloc((size_t)s.width * s.height * s.channels, "contact sheet");
    uint8_t *img = crate_malloc((size_t)C * H * W, "image");
    int gs = multicrop_view_floats(&mc, C, 1), ls = multicrop_view_floats(&mc, C, 0);
    float *view = crate_malloc((size_t)(gs > ls ? gs : ls) * sizeof(float), "view");
    if (!s.px || !img || !view) st = CRATE_EINTERNAL;
    if (!st) memset(s.px, DINO_SHEET_GRAY, (size_t)s.width * s.height * s.channels);
    for (int r = 0; !st && r < images; r++)
        st = draw_row(&s, r, ds, first + (uint64_t)r, &mc, (uint64_t)cfg->run.seed, img, view, C, H, W, dw, dh,
                      report);
    if (!st) st = crate_png_write(path, s.px, s.width, s.height, s.channels);
    if (!st && width) *width = s.width;
    if (!st && height) *height = s.height;
    free(view);
    free(img);
    free(s.px);
    image_dataset_close(ds);
    return st;
}
