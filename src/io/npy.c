/* npy.c — see npy.h. */
#include "src/io/npy.h"

#include <stdio.h>
#include <string.h>

#include "src/error.h"
#include "src/io/fs.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c writes host memory as little-endian data: port it before building on a big-endian host"
#endif

#define NPY_ALIGN 64
#define NPY_PREAMBLE 10 /* magic (6) + version (2) + HEADER_LEN (2) */

/* The preamble and padded header for descr and shape text, into out
 * (at least 256 bytes: the dict is under 128 for any int64 shape of <= 2 dims).
 * Returns its length, a multiple of NPY_ALIGN. */
static size_t npy_header(char *out, size_t cap, const char *descr, const char *shape) {
    char dict[192];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t total = ((size_t)NPY_PREAMBLE + (size_t)len + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    if (total > cap) return 0;
    size_t header_len = total - NPY_PREAMBLE;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)(header_len & 0xff);
    out[9] = (char)(header_len >> 8);
    memcpy(out + NPY_PREAMBLE, dict, (size_t)len);
    memset(out + NPY_PREAMBLE + len, ' ', header_len - (size_t)len - 1);
    out[total - 1] = '\n';
    return total;
}

static int npy_write(const char *path, const char *descr, const char *shape, const void *data, size_t bytes) {
    char head[256];
    size_t head_len = npy_header(head, sizeof head, descr, shape);
    if (!head_len) return crate_fail(CRATE_EINTERNAL, "npy header for '%s' does not fit", path);
    fs_part parts[2] = {{head, head_len}, {data, bytes}};
    return fs_write_atomic(path, parts, 2);
}

int npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 0 || (rows && cols && (uint64_t)rows > SIZE_MAX / sizeof(float) / (uint64_t)cols))
        return crate_fail(CRATE_EINPUT, "'%s': bad array shape (%lld, %lld)", path, (long long)rows, (long long)cols);
    char shape[64];
    snprintf(shape, sizeof shape, "(%lld, %lld)", (long long)rows, (long long)cols);
    return npy_write(path, "<f4", shape, data, (size_t)rows * (size_t)cols * sizeof(float));
}

int npy_write_i64(const char *path, const int64_t *data, int64_t n) {
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(int64_t))
        return crate_fail(CRATE_EINPUT, "'%s': bad array length %lld", path, (long long)n);
    char shape[32];
    snprintf(shape, sizeof shape, "(%lld,)", (long long)n);
    return npy_write(path, "<i8", shape, data, (size_t)n * sizeof(int64_t));
}
