/* png.h — writes 8-bit grayscale and RGB PNG files (crate-views' contact
 * sheets) through libpng (Debian's libpng-dev).
 *
 * The image is encoded in memory by libpng (its setjmp error protocol turned
 * into a crate status), then written to PATH.tmp, fsynced and renamed over
 * PATH (src/io/fs.h's fs_write_atomic): a crash or a full disk never leaves
 * a truncated PNG under the real name. Errors name the path.
 *
 * The functions are crate_png_* because libpng owns the png_* names.
 */
#ifndef CRATE_IO_PNG_H
#define CRATE_IO_PNG_H

#include <stdint.h>

/* pixels: (height, width, channels) bytes, rows top to bottom, channels 1
 * (gray) or 3 (R, G, B interleaved); 1 <= width, height <= 2^20. */
int crate_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels);

#endif
