/* npy.h — writes NumPy .npy files (format version 1.0), the exchange format of
 * crate-probe's exported features and labels (numpy.load reads them).
 *
 * Layout (numpy.lib.format): the magic "\x93NUMPY", version bytes 1 0, a
 * little-endian u16 HEADER_LEN, then HEADER_LEN bytes of ASCII Python dict
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (n, f), }
 * padded with spaces and ended by '\n' so that 10 + HEADER_LEN is a multiple
 * of 64 (the data then starts 64-byte aligned, as numpy itself writes), then
 * the array's bytes in C order, little-endian.
 *
 * Each file is written to PATH.tmp, fsynced and renamed over PATH, so a crash
 * never leaves a truncated file under the real name. Errors name the path and
 * the system's reason.
 */
#ifndef CRATE_NPY_H
#define CRATE_NPY_H

#include <stdint.h>

/* A 2-D float32 array ('<f4', shape (rows, cols)), e.g. features (n,f). */
int npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols);
/* A 1-D int64 array ('<i8', shape (n,)), e.g. labels. */
int npy_write_i64(const char *path, const int64_t *data, int64_t n);

#endif
