/* safetensors.h — writes float32 tensors as a safetensors file (the format of
 * Hugging Face's `safetensors`), so exported encoders and probes load in
 * Python without crate.
 *
 * Layout: u64 little-endian N; N bytes of UTF-8 JSON
 *   {"__metadata__":{"key":"value",...},
 *    "name":{"dtype":"F32","shape":[d0,d1,...],"data_offsets":[begin,end]},...}
 * padded with spaces to a multiple of 8 (so the data starts 8-byte aligned);
 * then the data section: every tensor's floats, C order, little-endian, in the
 * order given, back to back. Offsets are bytes from the start of the data
 * section, [begin, end) with end − begin = 4 · Π shape. "__metadata__" is left
 * out when there is no metadata. Names and metadata are JSON-escaped; they must
 * be valid UTF-8, tensor names non-empty, unique and not "__metadata__",
 * metadata keys unique.
 *
 * The file is written to PATH.tmp, fsynced and renamed over PATH. Errors name
 * the path and the system's reason, or the offending tensor or key.
 */
#ifndef CRATE_SAFETENSORS_H
#define CRATE_SAFETENSORS_H

#include <stdint.h>

typedef struct {
    const char *name;
    int ndim;             /* 0 (a scalar: one float) or more */
    const int64_t *shape; /* (ndim), each >= 0 */
    const float *data;    /* Π shape floats */
} safetensors_tensor;

typedef struct {
    const char *key, *value;
} safetensors_meta;

int safetensors_write(const char *path, const safetensors_tensor *tensors, int n_tensors,
                      const safetensors_meta *meta, int n_meta);

#endif
