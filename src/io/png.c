/* png.c — see png.h. libpng reports errors by calling our error function,
 * which records the message and longjmps back to the setjmp in png_encode;
 * the encoder's output goes to a growable memory buffer through our write
 * function, so the file itself is written in one piece by fs_write_atomic. */
#include "src/io/png.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/io/fs.h"

#define PNG_MAX_SIDE (1 << 20)

typedef struct {
    uint8_t *data;
    size_t len, cap;
    char msg[256]; /* libpng's error message */
} png_buffer;

static void on_error(png_structp png, png_const_charp msg) {
    png_buffer *b = png_get_error_ptr(png);
    snprintf(b->msg, sizeof b->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {}

static void on_write(png_structp png, png_bytep data, size_t n) {
    png_buffer *b = png_get_io_ptr(png);
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) png_error(png, "out of memory for the encoded image");
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void on_flush(png_structp png) {}

/* Encodes into *b; 0 on success, else b->msg says why. The locals are not
 * changed after setjmp, so they are intact after the longjmp. */
static int png_encode(png_buffer *b, const uint8_t *pixels, int width, int height, int channels) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, b, on_error, on_warning);
    if (!png) {
        snprintf(b->msg, sizeof b->msg, "libpng could not start (out of memory?)");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        snprintf(b->msg, sizeof b->msg, "libpng could not start (out of memory?)");
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, b, on_write, on_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * width * channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int crate_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels) {
    if (width < 1 || height < 1 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE || (channels != 1 && channels != 3))
        return crate_fail(CRATE_EINPUT, "'%s': cannot write a %dx%d PNG of %d channels (sides 1 to %d, 1 or 3 "
                          "channels)", path, width, height, channels, PNG_MAX_SIDE);
    png_buffer b = {0};
    if (png_encode(&b, pixels, width, height, channels) != 0) {
        free(b.data);
        return crate_fail(CRATE_EINTERNAL, "'%s': encoding the PNG failed: %s", path, b.msg);
    }
    fs_part part = {b.data, b.len};
    int st = fs_write_atomic(path, &part, 1);
    free(b.data);
    return st;
}
