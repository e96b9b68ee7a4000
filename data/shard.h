/* shard.h — the shard container (DESIGN §6), and its image datasets: the
 * writers and the reader.
 *
 * Defines: the file layout of a shard, for both record kinds (images here,
 * token ids in data/token_shard.h); shard_writer (one image shard file),
 * image_dataset_writer (a directory of image shards), image_dataset (the
 * reader of a file or a directory, with a bounded cache of decompressed
 * blocks).
 *
 * Implemented in data/shard_format.c (the bytes of the header and the index,
 * and their checks), shard_write.c (the writers), shard_read.c (the reader)
 * and shard_cache.c (the block cache); the kind-independent parts of the
 * writer and the reader are declared in data/shard_io.h, which the token
 * datasets (data/token_shard.c) share.
 *
 * A dataset PATH is a directory holding shard-00000.crs, shard-00001.crs, …
 * (numbered without gaps; other names are ignored) or one shard file. Records
 * are numbered globally across the shards in file-number order.
 *
 * One shard file, every integer little-endian:
 *
 *   header, 64 bytes
 *     0  char[8]  magic "CRATESHD"
 *     8  u32      version (1)
 *    12  u32      kind (1 = image, 2 = tokens; others rejected)
 *    16  u32      record_bytes (image: C·H·W + 4; tokens: 2 or 4)
 *    20  u32      C (tokens: the id width in bytes, = record_bytes)
 *    24  u32      H (tokens: the vocabulary size V)
 *    28  u32      W (tokens: 1)
 *    32  u64      record_count
 *    40  u32      records_per_block
 *    44  u32      block_count = ceil(record_count / records_per_block)
 *    48  u64      index_offset (= 64 + sum of compressed block sizes)
 *    56  u32      documents (tokens: documents starting in this shard, = the
 *                 bos ids in it; images: 0)
 *    60  u32      crc32 of header bytes [0, 60)
 *   blocks, back to back from offset 64
 *     block b: LZ4 block (LZ4_compress_default) of records
 *     [b·records_per_block, min((b+1)·records_per_block, record_count))
 *   index at index_offset, block_count·24 + 16 bytes; it ends the file
 *     per block: u64 file offset, u32 compressed bytes, u32 raw bytes,
 *                u32 crc32 of the RAW (decompressed) bytes, u32 reserved (0)
 *     u32 crc32 of the per-block entries
 *     u32 reserved (0)
 *     char[8] end magic "CRATEEND"
 *
 *   image record: C·H·W uint8 pixels in C×H×W order, then an int32 label.
 *   token record: one token id, u16 when V <= 65536, else u32 (so the width
 *   follows from V and is checked against it); ids are < V. The stream of a
 *   token dataset is its documents back to back, each starting with the bos
 *   id, so the boundaries are in the checksummed blocks (data/token_shard.h).
 *
 * Opening a shard checks the header (magic, version, kind, crc, sizes against
 * the file size), the index (crc, end magic, every entry against the header).
 * A block is checked (decompressed size, crc32 of the raw bytes) each time it
 * is read from disk, before any of its records is served. Every failure is
 * CRATE_EINPUT with a message naming the file (and block), what is wrong and
 * the fix. Reads use pread, so a reader touches only the blocks it needs.
 *
 * Writers write PATH.tmp (a shard) or DIR.partial (a dataset), fsync, then
 * rename: a crash never leaves a half-written file or dataset under the real
 * name.
 */
#ifndef CRATE_DATA_SHARD_H
#define CRATE_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_VERSION 1
#define SHARD_KIND_IMAGE 1
#define SHARD_KIND_TOKENS 2
#define SHARD_HEADER_BYTES 64
#define SHARD_INDEX_ENTRY_BYTES 24
#define SHARD_INDEX_TRAILER_BYTES 16

#define SHARD_DEFAULT_RECORDS_PER_BLOCK 256
#define SHARD_DEFAULT_RECORDS_PER_SHARD 16384

/* ---- one shard file -------------------------------------------------------- */

typedef struct shard_writer shard_writer;

/* Starts PATH.tmp for records of C×H×W pixels; records_per_block >= 1
 * (0 picks SHARD_DEFAULT_RECORDS_PER_BLOCK). */
int shard_writer_open(shard_writer **out, const char *path, int C, int H, int W, int records_per_block);
/* Appends one record: pixels holds C·H·W bytes. */
int shard_writer_add(shard_writer *w, const uint8_t *pixels, int32_t label);
/* Writes the last block, the index and the header, fsyncs and renames
 * PATH.tmp to PATH. Frees w whatever the outcome; on failure PATH.tmp is
 * removed and PATH untouched. file_bytes (may be NULL) gets the file's size. */
int shard_writer_close(shard_writer *w, uint64_t *file_bytes);
/* Discards the shard: removes PATH.tmp, frees w. NULL is a no-op. */
void shard_writer_abort(shard_writer *w);

/* ---- a directory of shards --------------------------------------------------- */

typedef struct image_dataset_writer image_dataset_writer;

/* What a directory of shards holds, of either kind. */
typedef struct {
    uint64_t records;
    int shards;
    uint64_t blocks;
    uint64_t file_bytes; /* on disk, all shards */
    uint64_t raw_bytes;  /* records · record_bytes */
} shard_dataset_stats;
typedef shard_dataset_stats image_dataset_stats;

/* Starts the dataset directory DIR: shards go to DIR.partial/ (created; stale
 * shard files of an earlier crash in it are removed), each holding at most
 * records_per_shard records (0: SHARD_DEFAULT_RECORDS_PER_SHARD) in blocks of
 * records_per_block (0: SHARD_DEFAULT_RECORDS_PER_BLOCK). */
int image_dataset_writer_open(image_dataset_writer **out, const char *dir, int C, int H, int W,
                              int records_per_shard, int records_per_block);
int image_dataset_writer_add(image_dataset_writer *w, const uint8_t *pixels, int32_t label);
/* Closes the last shard and renames DIR.partial to DIR. An existing DIR is
 * replaced if it holds nothing but shard files (a token dataset, which also
 * holds its tokenizer and metadata, is not); otherwise this fails with
 * CRATE_EINPUT and leaves it alone. A dataset without records is one empty
 * shard. Frees w whatever the outcome; stats may be NULL. */
int image_dataset_writer_close(image_dataset_writer *w, image_dataset_stats *stats);
/* Discards DIR.partial and frees w. NULL is a no-op. */
void image_dataset_writer_abort(image_dataset_writer *w);

/* ---- the reader ----------------------------------------------------------------- */

/* Not thread-safe: reads update the block cache. Use one image_dataset per
 * thread (the loader reads on its worker thread only). */
typedef struct image_dataset image_dataset;

/* Opens PATH (a shard directory or one shard file), validating every header
 * and index; token shards are refused (data/token_shard.h reads them).
 * Decompressed blocks are cached up to cache_bytes (least recently used
 * evicted first); the block in use is kept even if it alone is larger, so
 * cache_bytes = 0 works, slowly. One file descriptor stays open per shard. */
int image_dataset_open(image_dataset **out, const char *path, size_t cache_bytes);
void image_dataset_close(image_dataset *ds);

uint64_t image_dataset_count(const image_dataset *ds);
/* CRATE_OK if records first … first + n − 1 exist, else an input error
 * saying so, `what` naming the data set (an option or key). */
int image_dataset_check_span(const image_dataset *ds, uint64_t first, uint64_t n, const char *what);
void image_dataset_shape(const image_dataset *ds, int *C, int *H, int *W);
/* Totals of what the headers and indexes say (stats.file_bytes: all shards). */
void image_dataset_get_stats(const image_dataset *ds, image_dataset_stats *stats);

/* Copies record `index` (< count): C·H·W bytes to pixels, the label to *label
 * (either may be NULL). On failure neither is written. */
int image_dataset_read(image_dataset *ds, uint64_t index, uint8_t *pixels, int32_t *label);

/* Reads and checks every block of every shard from disk (bypassing the cache).
 * If label_counts is not NULL, counts labels in [0, label_slots) into it
 * (zero it first) and the others into *labels_out_of_range (may be NULL). */
int image_dataset_verify(image_dataset *ds, uint64_t *label_counts, int label_slots,
                         uint64_t *labels_out_of_range);

#endif
