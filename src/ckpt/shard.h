/* ckpt_shard.h — one rank's file of a checkpoint (DESIGN §7): of every
 * section it holds (parameters, AdamW moments, teacher, buffers, ...; the
 * manifest names them) a contiguous range, as ONE lz4 frame (the standard
 * frame format: `lz4 -d` opens it).
 *
 * Decompressed content, little-endian, version 2:
 *   "CRATESHD"  u32 version (2)  u32 sections S
 *   S × { u64 lo  u64 hi }                 each section's range
 *   float section_0[hi_0 − lo_0] … float section_{S−1}[hi_{S−1} − lo_{S−1}]
 * Version 1 (crate before named sections) had one range for three sections:
 *   "CRATESHD"  u32 version (1)  u32 sections (3)  u64 lo  u64 hi  then the three
 * and is still read. The frame carries lz4's own content checksum (xxhash32);
 * the manifest keeps the file's size and the crc32 of its bytes, which the
 * reader verifies before any value is used.
 *
 * Reading maps ranges: a reader asks for [want_lo, want_hi) of each section
 * and gets the part this file holds, so a checkpoint written by W ranks loads
 * on W' ranks.
 */
#ifndef CRATE_CKPT_SHARD_H
#define CRATE_CKPT_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_MAX_SECTIONS 8

typedef struct {
    uint64_t lo, hi;
} ckpt_range;

typedef struct {
    uint64_t bytes;   /* file size */
    uint32_t crc32;   /* of the file's bytes */
    uint32_t version; /* of the shard format (a version-1 manifest lists version-1 shards) */
} ckpt_shard_info;

/* Writes section[s][0, hi_s − lo_s) for s < nsections (version 2) to path
 * (created, then fsynced) and fills *info. lz4 level: 0 is lz4's fast default. */
int ckpt_shard_write(const char *path, int nsections, const ckpt_range *range, const float *const *section,
                     int level, ckpt_shard_info *info);

/* Reads the file the manifest says holds range[s] of each of nsections
 * sections, verifying its size, crc32, header and lz4 frame; copies the
 * overlap of range[s] and want[s] to dst[s][i − want[s].lo] (dst[s] NULL:
 * skipped, still checksummed). On failure nothing is promised about dst. */
int ckpt_shard_read(const char *path, const ckpt_shard_info *expect, int nsections, const ckpt_range *range,
                    const ckpt_range *want, float *const *dst);

#endif
