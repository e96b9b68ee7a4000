/* ckpt_shard.h — one rank's file of a checkpoint (DESIGN §7): a contiguous
 * range [lo, hi) of the flat parameter vector and of the two AdamW moment
 * vectors, as ONE lz4 frame (the standard frame format: `lz4 -d` opens it).
 *
 * Decompressed content, little-endian:
 *   "CRATESHD"  u32 version (1)  u32 sections (3)  u64 lo  u64 hi
 *   float params[hi−lo]  float exp_avg[hi−lo]  float exp_avg_sq[hi−lo]
 * The frame carries lz4's own content checksum (xxhash32); the manifest keeps
 * the file's size and the crc32 of its bytes, which the reader verifies
 * before any value is used.
 *
 * Reading maps ranges: a reader asks for [want_lo, want_hi) and gets the part
 * this file holds, so a checkpoint written by W ranks loads on W' ranks.
 */
#ifndef CRATE_CKPT_SHARD_H
#define CRATE_CKPT_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_SECTIONS 3 /* params, exp_avg, exp_avg_sq */

typedef struct {
    uint64_t bytes;  /* file size */
    uint32_t crc32;  /* of the file's bytes */
} ckpt_shard_info;

/* Writes section[s][0, hi−lo) for s < CKPT_SECTIONS to path (created, then
 * fsynced) and fills *info. lz4 level: 0 is lz4's fast default. */
int ckpt_shard_write(const char *path, uint64_t lo, uint64_t hi, const float *const section[CKPT_SECTIONS],
                     int level, ckpt_shard_info *info);

/* Reads the file written for [lo, hi), verifying its size, crc32, header and
 * lz4 frame; copies the overlap of [lo, hi) and [want_lo, want_hi) of every
 * section s to dst[s][i − want_lo]. On failure nothing is promised about dst. */
int ckpt_shard_read(const char *path, const ckpt_shard_info *expect, uint64_t lo, uint64_t hi, uint64_t want_lo,
                    uint64_t want_hi, float *const dst[CKPT_SECTIONS]);

#endif
