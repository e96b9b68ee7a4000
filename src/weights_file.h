/* weights_file.h — a single-file copy of the parameter store (the final
 * weights of a run until sharded checkpoints replace it).
 *
 * Layout, little-endian: "CRATEWTS", u32 version (1), u32 tensor count; per
 * tensor: name[64], u32 ndim, i64 shape[4], u64 numel; then every tensor's
 * floats in table order (no padding); then u32 crc32 of all bytes before it.
 * Saving writes <path>.tmp, fsyncs it and renames it over <path>, so a crash
 * never leaves a half-written file under the real name.
 */
#ifndef CRATE_WEIGHTS_FILE_H
#define CRATE_WEIGHTS_FILE_H

#include "src/params.h"

int weights_save(const char *path, const param_store *ps);
/* Fills ps->data (already allocated) from the file; every tensor of ps must be
 * in the file with the same shape, or the load fails naming the tensor. */
int weights_load(const char *path, param_store *ps);

#endif
