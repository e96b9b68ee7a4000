/* shard_io.h — private to the shard code (data/shard_*.c, data/token_shard.c):
 * the parts of the writers and the reader that do not depend on what a
 * record holds, shared by the image datasets (shard.h) and the token datasets
 * (token_shard.h).
 *
 * Defines:
 *   shard_writer_start / _append / _begin_document — one shard file of any
 *     kind, records appended as bytes (the public shard_writer_open and
 *     shard_writer_add of shard.h are the image front end of the same writer);
 *   shard_dir_writer — a dataset directory: shards rotated every
 *     records_per_shard records, written into DIR.partial and renamed to DIR
 *     when complete, with the files a kind keeps beside its shards (a token
 *     dataset's tokenizer and metadata) written by a callback before the
 *     rename;
 *   shard_set — the reader of a file or a directory of shards of one
 *     expected kind: every header and index checked on open, records located
 *     by global number, blocks served checked through the LRU block cache.
 *
 * What a kind keeps in its directory is a shard_dir_kind: its extra file
 * names and the marker file a complete dataset of that kind holds. The same
 * description says which directories a writer may replace (only a dataset of
 * its own kind) and which stale files of a crash it may delete.
 */
#ifndef CRATE_DATA_SHARD_IO_H
#define CRATE_DATA_SHARD_IO_H

#include <stddef.h>
#include <stdint.h>

#include "data/shard.h"
#include "data/shard_format.h"

/* ---- one shard file ----------------------------------------------------------- */

/* Starts PATH.tmp for records of the shape in h (kind, record_bytes, C, H, W,
 * records_per_block; the counts are the writer's); the caller has checked the
 * shape. */
int shard_writer_start(shard_writer **out, const char *path, const shard_header *h);
/* Appends n records of h.record_bytes bytes each. */
int shard_writer_append(shard_writer *w, const void *records, uint64_t n);
/* Counts a document starting at the next record appended (token shards). */
int shard_writer_begin_document(shard_writer *w);

/* ---- a directory of shards ------------------------------------------------------- */

typedef struct {
    const char *name;               /* "image", "token": for messages */
    const char *const *extra_files; /* NULL-terminated names kept beside the shards, or NULL */
    const char *marker;             /* held by every complete dataset of this kind, or NULL */
} shard_dir_kind;

extern const shard_dir_kind shard_dir_kind_image;

typedef struct shard_dir_writer shard_dir_writer;

/* Starts DIR: creates DIR.partial (clearing the files of this kind a crash
 * left in it), opens its first shard of the given shape, at most
 * records_per_shard (>= 1) records each. */
int shard_dir_writer_open(shard_dir_writer **out, const char *dir, const shard_header *shape,
                          uint64_t records_per_shard, const shard_dir_kind *kind);
/* DIR.partial, where extra files go before close. */
const char *shard_dir_writer_partial(const shard_dir_writer *w);
int shard_dir_writer_append(shard_dir_writer *w, const void *records, uint64_t n);
/* A document starts at the next record appended: counted in its shard. */
int shard_dir_writer_begin_document(shard_dir_writer *w);
/* Closes the last shard, calls finish (may be NULL) to write the kind's extra
 * files into partial, fsyncs partial, replaces an existing DIR if it is a
 * dataset of this kind (shard_dir_check_replaceable), renames DIR.partial to
 * DIR. Frees w whatever the outcome; on failure DIR.partial is removed and
 * DIR left as it was. stats may be NULL. */
typedef int (*shard_dir_finish_fn)(void *ctx, const char *partial, const shard_dataset_stats *stats);
int shard_dir_writer_close(shard_dir_writer *w, shard_dataset_stats *stats, shard_dir_finish_fn finish, void *ctx);
/* Discards DIR.partial, frees w. NULL is a no-op. */
void shard_dir_writer_abort(shard_dir_writer *w);

/* OK if a writer of this kind may create or replace dir: it does not exist,
 * or it is a directory holding nothing but the files of a complete dataset of
 * this kind. Otherwise CRATE_EINPUT naming what is in the way. */
int shard_dir_check_replaceable(const char *dir, const shard_dir_kind *kind);

/* ---- the reader --------------------------------------------------------------------- */

typedef struct shard_set shard_set;

/* Opens path (a directory of shard-NNNNN.crs or one shard file); every shard
 * must be of `kind` and of the shape of the first. cache_bytes bounds the
 * decompressed blocks kept (shard_cache.h). */
int shard_set_open(shard_set **out, const char *path, uint32_t kind, size_t cache_bytes);
void shard_set_close(shard_set *s);

uint64_t shard_set_count(const shard_set *s);
int shard_set_shards(const shard_set *s);
const shard_header *shard_set_header(const shard_set *s, int shard);
const char *shard_set_path(const shard_set *s, int shard);
void shard_set_get_stats(const shard_set *s, shard_dataset_stats *stats);

/* The shard holding global record r (< count) and r's number in it. */
int shard_set_locate(shard_set *s, uint64_t r, uint64_t *local);
/* The decompressed, checked block b of a shard, from the cache or from disk;
 * valid until the next shard_set_block. */
int shard_set_block(shard_set *s, int shard, uint32_t b, const uint8_t **data);

/* Reads every block of every shard from disk (bypassing the cache), checks
 * it, and hands it to each (may be NULL) with its record count; a failure of
 * each stops the walk and is returned. */
typedef int (*shard_block_fn)(void *ctx, int shard, uint32_t b, const uint8_t *raw, uint64_t records);
int shard_set_verify(shard_set *s, shard_block_fn each, void *ctx);

#endif
