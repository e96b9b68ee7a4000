/* image_grid.c — see image_grid.h. */
#include "src/io/image_grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/io/png.h"

enum { MAX_SIDE = 1 << 14 };

int image_grid_zoom(int H, int W) {
    int side = H > W ? H : W;
    return side >= IMAGE_GRID_MIN_SIDE ? 1 : (IMAGE_GRID_MIN_SIDE + side - 1) / side;
}

int image_grid_open(image_grid *g, int rows, int cols, int cell_w, int cell_h, int channels) {
    memset(g, 0, sizeof *g);
    int64_t w = IMAGE_GRID_MARGIN + (int64_t)cols * (cell_w + IMAGE_GRID_MARGIN);
    int64_t h = IMAGE_GRID_MARGIN + (int64_t)rows * (cell_h + IMAGE_GRID_MARGIN);
    if (rows < 1 || cols < 1 || cell_w < 1 || cell_h < 1 || w > MAX_SIDE || h > MAX_SIDE)
        return crate_fail(CRATE_EINPUT, "a picture of %d x %d cells of %dx%d pixels is too large (over %d pixels a "
                          "side): show fewer images", rows, cols, cell_w, cell_h, MAX_SIDE);
    *g = (image_grid){NULL, (int)w, (int)h, channels, cell_w, cell_h};
    g->px = crate_malloc((size_t)w * h * channels, "picture");
    if (!g->px) return CRATE_EINTERNAL;
    memset(g->px, IMAGE_GRID_BACKGROUND, (size_t)w * h * channels);
    return CRATE_OK;
}

/* Pixel (x, y) of cell (row, col), its first channel. */
static uint8_t *at(const image_grid *g, int row, int col, int x, int y) {
    int gx = IMAGE_GRID_MARGIN + col * (g->cell_w + IMAGE_GRID_MARGIN) + x;
    int gy = IMAGE_GRID_MARGIN + row * (g->cell_h + IMAGE_GRID_MARGIN) + y;
    return g->px + ((size_t)gy * g->width + gx) * g->channels;
}

static uint8_t to_byte(float v, float lo, float hi) {
    float b = roundf((v - lo) * 255.0f / (hi - lo));
    return (uint8_t)(b > 255.0f ? 255 : b > 0.0f ? b : 0); /* NaN → 0 */
}

void image_grid_put(image_grid *g, int row, int col, const float *img, int C, int H, int W, float lo, float hi) {
    int s = g->cell_w / W < g->cell_h / H ? g->cell_w / W : g->cell_h / H;
    if (s < 1) s = 1;
    int ox = (g->cell_w - s * W) / 2, oy = (g->cell_h - s * H) / 2;
    for (int y = 0; y < s * H && oy + y < g->cell_h; y++)
        for (int x = 0; x < s * W && ox + x < g->cell_w; x++) {
            uint8_t *p = at(g, row, col, ox + x, oy + y);
            for (int c = 0; c < g->channels; c++)
                p[c] = to_byte(img[((size_t)(C == 1 ? 0 : c) * H + y / s) * W + x / s], lo, hi);
        }
}

/* A perceptually ordered ramp through five anchors (close to matplotlib's
 * "inferno"): t = 0 black, 1 pale yellow. */
static void heat_color(float t, uint8_t *rgb) {
    static const float anchor[5][3] = {{0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
    t = t > 1.0f ? 1.0f : t > 0.0f ? t : 0.0f;
    float u = t * 4.0f;
    int k = u >= 4.0f ? 3 : (int)u;
    float f = u - (float)k;
    for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)lroundf(anchor[k][c] + f * (anchor[k + 1][c] - anchor[k][c]));
}

/* Linear interpolation index pair and weight of cell coordinate i of n over m map cells. */
static void sample_at(int i, int n, int m, int *i0, int *i1, float *f) {
    float u = ((float)i + 0.5f) * (float)m / (float)n - 0.5f;
    if (u < 0) u = 0;
    if (u > (float)(m - 1)) u = (float)(m - 1);
    *i0 = (int)u;
    *i1 = *i0 + 1 < m ? *i0 + 1 : *i0;
    *f = u - (float)*i0;
}

void image_grid_put_heat(image_grid *g, int row, int col, const float *map, int h, int w) {
    for (int y = 0; y < g->cell_h; y++) {
        int y0, y1;
        float fy;
        sample_at(y, g->cell_h, h, &y0, &y1, &fy);
        for (int x = 0; x < g->cell_w; x++) {
            int x0, x1;
            float fx;
            sample_at(x, g->cell_w, w, &x0, &x1, &fx);
            float top = map[y0 * w + x0] + fx * (map[y0 * w + x1] - map[y0 * w + x0]);
            float bottom = map[y1 * w + x0] + fx * (map[y1 * w + x1] - map[y1 * w + x0]);
            heat_color(top + fy * (bottom - top), at(g, row, col, x, y));
        }
    }
}

int image_grid_write(const image_grid *g, const char *path) {
    return crate_png_write(path, g->px, g->width, g->height, g->channels);
}

void image_grid_free(image_grid *g) {
    free(g->px);
    memset(g, 0, sizeof *g);
}
