/* spm_charsmap.h — a check of the normalization tables inside SentencePiece
 * model bytes, before the library loads them (data/spm.cc).
 *
 * A model's normalizer_spec and denormalizer_spec (ModelProto fields 3 and
 * 5) each may hold a precompiled_charsmap (NormalizerSpec field 2): a
 * little-endian uint32 T, then a darts-clone double array of T bytes (uint32
 * units), then the replacement strings, each NUL-terminated. The library
 * checks only T against the blob size and then follows the array's offsets
 * and values unchecked: a damaged array makes encoding or decoding read far
 * outside the model (found by fuzzing: a denormalizer charsmap that crashes
 * Decode). Every lookup path stays inside when, for every unit u at index i
 * of the n units:
 *   - u is a value unit (bit 31 set): its value u & 0x7fffffff < the strings' size;
 *   - else, with offset o = (u >> 10) << ((u & (1 << 9)) >> 6):
 *       (i ^ o) | 0xff < n   (the next node, i ^ o ^ byte, for any byte)
 *       and if u has a leaf (bit 8), the unit at i ^ o holds a value < the
 *       strings' size;
 * and the strings end with a NUL. darts-clone builds arrays of whole 256-unit
 * blocks with unused units zero, so real models pass.
 */
#ifndef CRATE_SPM_CHARSMAP_H
#define CRATE_SPM_CHARSMAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRATE_OK, or CRATE_EINPUT naming the spec whose table is damaged, or the
 * byte where the message stops being one the scan can read (a group, a
 * truncated field: the library's parser might reach a table behind it). The
 * root unit 0 is checked as a node whatever its bits, and a table needs at
 * least one unit. */
int spm_check_charsmaps(const void *model, size_t len);

#ifdef __cplusplus
}
#endif

#endif
