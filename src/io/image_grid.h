/* image_grid.h — pictures made of equal cells in rows and columns (the
 * reconstructions and attention maps of crate-analyze): images and heat maps
 * drawn into cells of one byte buffer, then written as a PNG (src/io/png.h,
 * atomically).
 *
 * A grid of R rows and K columns of cw×ch cells with a margin m around and
 * between them is (m + K·(cw + m)) × (m + R·(ch + m)) pixels, on a gray
 * background, 1 (gray) or 3 (RGB) channels.
 */
#ifndef CRATE_IO_IMAGE_GRID_H
#define CRATE_IO_IMAGE_GRID_H

#include <stdint.h>

enum { IMAGE_GRID_MARGIN = 4, IMAGE_GRID_BACKGROUND = 96, IMAGE_GRID_MIN_SIDE = 112 };

typedef struct {
    uint8_t *px;
    int width, height, channels, cell_w, cell_h;
} image_grid;

/* The integer zoom that shows an H×W image at least IMAGE_GRID_MIN_SIDE
 * pixels on its longer side (1 for images that large). */
int image_grid_zoom(int H, int W);
/* Fails (nothing allocated) on a grid over 2^14 pixels a side. */
int image_grid_open(image_grid *g, int rows, int cols, int cell_w, int cell_h, int channels);
/* img (C, H, W) floats, lo → 0 and hi → 255 (clamped), nearest-neighbour
 * scaled to the cell (H, W ≤ the cell) and centred in it. C is 1 or the
 * grid's channels; a gray image in an RGB grid is drawn gray. */
void image_grid_put(image_grid *g, int row, int col, const float *img, int C, int H, int W, float lo, float hi);
/* map (h, w) values in [0, 1] drawn as a heat map (black–purple–orange–
 * yellow), bilinearly upsampled over the whole cell (the value at a cell
 * pixel is that of its centre in map coordinates). RGB grids only. */
void image_grid_put_heat(image_grid *g, int row, int col, const float *map, int h, int w);
int image_grid_write(const image_grid *g, const char *path);
void image_grid_free(image_grid *g);

#endif
