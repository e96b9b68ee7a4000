/* shard_write.c — the writers of shard.h and shard_io.h: shard_writer (one
 * shard file of either kind), shard_dir_writer (a directory of shards) and
 * their image front ends, shard_writer_open/_add and image_dataset_writer.
 *
 * Design. A shard is written front to back with a placeholder header: each
 * block is compressed and appended as soon as it is full, the index goes at
 * the end, and the real header (which knows the counts and the index offset)
 * is written last, so the writer never holds more than one raw block and a
 * crash leaves a file whose zero magic no reader accepts. Files are written as
 * PATH.tmp and datasets as DIR.partial, fsynced, then renamed: nothing
 * half-written ever carries the real name. The bytes of the header and index
 * come from shard_format.c. Nothing here knows what a record holds except
 * the image front ends at the end of each section; a directory writer only
 * deletes or replaces files its kind (shard_dir_kind) says are its own.
 */
#define _POSIX_C_SOURCE 200809L
#include "data/shard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/shard_format.h"
#include "data/shard_io.h"
#include "src/error.h"
#include "src/io/crc32.h"
#include "src/io/fs.h"

/* Writes all n bytes at offset, retrying short writes; a failure names path. */
static int pwrite_all(int fd, const void *buf, size_t n, uint64_t offset, const char *path) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pwrite(fd, p, n, (off_t)offset);
        if (k < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            return crate_fail(fs_errno_status(e), "%s: write failed: %s", path, strerror(e));
        }
        p += k;
        n -= (size_t)k;
        offset += (uint64_t)k;
    }
    return CRATE_OK;
}

/* ---- one shard file ------------------------------------------------------------- */

struct shard_writer {
    char *path, *tmp_path;
    int fd;
    shard_header h;
    uint8_t *raw;          /* the block being filled */
    uint32_t raw_records;  /* records in raw */
    char *comp;
    int comp_cap;
    uint64_t offset;       /* where the next block goes */
    shard_block_entry *blocks;
    uint32_t blocks_cap;
};

static void shard_writer_free(shard_writer *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    free(w->path);
    free(w->tmp_path);
    free(w->raw);
    free(w->comp);
    free(w->blocks);
    free(w);
}

void shard_writer_abort(shard_writer *w) {
    if (!w) return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->tmp_path) unlink(w->tmp_path);
    shard_writer_free(w);
}

int shard_writer_start(shard_writer **out, const char *path, const shard_header *shape) {
    *out = NULL;
    uint64_t record_bytes = shape->record_bytes;
    if (record_bytes < 1 || shape->records_per_block < 1 ||
        (uint64_t)shape->records_per_block * record_bytes > LZ4_MAX_INPUT_SIZE)
        return crate_fail(CRATE_EINPUT,
                          "%s: records per block %u out of range (at least 1, at most %llu for %llu-byte records)",
                          path, shape->records_per_block,
                          (unsigned long long)(LZ4_MAX_INPUT_SIZE / (record_bytes ? record_bytes : 1)),
                          (unsigned long long)record_bytes);
    shard_writer *w = crate_calloc(1, sizeof *w, "shard writer");
    if (!w) return CRATE_EINTERNAL;
    w->fd = -1;
    w->h = (shard_header){.version = SHARD_VERSION, .kind = shape->kind, .record_bytes = shape->record_bytes,
                          .C = shape->C, .H = shape->H, .W = shape->W,
                          .records_per_block = shape->records_per_block};
    size_t raw_bytes = (size_t)shape->records_per_block * record_bytes;
    w->comp_cap = LZ4_compressBound((int)raw_bytes);
    w->path = shard_str_dup(path, "shard path");
    w->tmp_path = shard_str_join(path, ".tmp", "shard path");
    w->raw = crate_malloc(raw_bytes, "shard block");
    w->comp = crate_malloc((size_t)w->comp_cap, "compressed shard block");
    if (!w->path || !w->tmp_path || !w->raw || !w->comp) {
        shard_writer_free(w);
        return CRATE_EINTERNAL;
    }
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644); /* never through a link */
    if (w->fd < 0) {
        int e = errno;
        int st = crate_fail(fs_errno_status(e), "%s: cannot create: %s", w->tmp_path, strerror(e));
        shard_writer_free(w);
        return st;
    }
    w->offset = SHARD_HEADER_BYTES;
    /* A zero header until close: a crash leaves PATH.tmp with a bad magic. */
    uint8_t zero[SHARD_HEADER_BYTES] = {0};
    int st = pwrite_all(w->fd, zero, sizeof zero, 0, w->tmp_path);
    if (st) {
        shard_writer_abort(w);
        return st;
    }
    *out = w;
    return CRATE_OK;
}

/* The image shape checks of shard_writer_open and image_dataset_writer_open
 * (the block size is checked by shard_writer_start). */
static int check_image_shape(const char *path, int C, int H, int W, int records_per_block) {
    if (C < 1 || H < 1 || W < 1 || (uint64_t)C * (uint64_t)H * (uint64_t)W > SHARD_MAX_PIXELS)
        return crate_fail(CRATE_EINPUT, "%s: bad image shape %dx%dx%d (each at least 1, at most 2^30 pixels)",
                          path, C, H, W);
    if (records_per_block < 1)
        return crate_fail(CRATE_EINPUT, "%s: records per block must be at least 1 (got %d)", path,
                          records_per_block);
    return CRATE_OK;
}

static shard_header image_shape(int C, int H, int W, int records_per_block) {
    return (shard_header){.kind = SHARD_KIND_IMAGE, .record_bytes = (uint32_t)((uint64_t)C * H * W + 4),
                          .C = (uint32_t)C, .H = (uint32_t)H, .W = (uint32_t)W,
                          .records_per_block = (uint32_t)records_per_block};
}

int shard_writer_open(shard_writer **out, const char *path, int C, int H, int W, int records_per_block) {
    *out = NULL;
    if (records_per_block == 0) records_per_block = SHARD_DEFAULT_RECORDS_PER_BLOCK;
    int st = check_image_shape(path, C, H, W, records_per_block);
    if (st) return st;
    shard_header shape = image_shape(C, H, W, records_per_block);
    return shard_writer_start(out, path, &shape);
}

static int shard_writer_flush_block(shard_writer *w) {
    if (w->raw_records == 0) return CRATE_OK;
    if (w->h.block_count == UINT32_MAX)
        return crate_fail(CRATE_EINPUT, "%s: too many blocks for one shard; use more shards", w->tmp_path);
    if (w->h.block_count == w->blocks_cap) {
        uint32_t cap = w->blocks_cap ? w->blocks_cap * 2 : 64;
        shard_block_entry *nb = realloc(w->blocks, (size_t)cap * sizeof *nb);
        if (!nb) return crate_fail(CRATE_EINTERNAL, "out of memory growing the block index of %s", w->tmp_path);
        w->blocks = nb;
        w->blocks_cap = cap;
    }
    int raw_bytes = (int)(w->raw_records * w->h.record_bytes);
    int comp_bytes = LZ4_compress_default((const char *)w->raw, w->comp, raw_bytes, w->comp_cap);
    if (comp_bytes <= 0)
        return crate_fail(CRATE_EINTERNAL, "%s: LZ4 compression of block %u failed", w->tmp_path, w->h.block_count);
    int st = pwrite_all(w->fd, w->comp, (size_t)comp_bytes, w->offset, w->tmp_path);
    if (st) return st;
    w->blocks[w->h.block_count++] = (shard_block_entry){.offset = w->offset, .comp_bytes = (uint32_t)comp_bytes,
                                                   .raw_bytes = (uint32_t)raw_bytes,
                                                   .crc = crc32_update(0, w->raw, (size_t)raw_bytes)};
    w->offset += (uint64_t)comp_bytes;
    w->raw_records = 0;
    return CRATE_OK;
}

/* Room for the next record: a block still full after a failed flush is
 * flushed again before anything is written into it. */
static int writer_make_room(shard_writer *w) {
    return w->raw_records == w->h.records_per_block ? shard_writer_flush_block(w) : CRATE_OK;
}

/* Counts k records just placed in the block; flushes it when full. */
static int writer_advance(shard_writer *w, uint32_t k) {
    w->raw_records += k;
    w->h.record_count += k;
    return w->raw_records == w->h.records_per_block ? shard_writer_flush_block(w) : CRATE_OK;
}

int shard_writer_append(shard_writer *w, const void *records, uint64_t n) {
    const uint8_t *p = records;
    while (n > 0) {
        int st = writer_make_room(w);
        if (st) return st;
        uint32_t room = w->h.records_per_block - w->raw_records;
        uint32_t k = n < room ? (uint32_t)n : room;
        size_t bytes = (size_t)k * w->h.record_bytes;
        memcpy(w->raw + (size_t)w->raw_records * w->h.record_bytes, p, bytes);
        p += bytes;
        n -= k;
        if ((st = writer_advance(w, k))) return st;
    }
    return CRATE_OK;
}

int shard_writer_begin_document(shard_writer *w) {
    if (w->h.documents == UINT32_MAX)
        return crate_fail(CRATE_EINPUT, "%s: more than 2^32 - 1 documents in one shard; use smaller shards",
                          w->tmp_path);
    w->h.documents++;
    return CRATE_OK;
}

int shard_writer_add(shard_writer *w, const uint8_t *pixels, int32_t label) {
    int st = writer_make_room(w);
    if (st) return st;
    uint32_t pixel_bytes = w->h.record_bytes - 4;
    uint8_t *rec = w->raw + (size_t)w->raw_records * w->h.record_bytes;
    memcpy(rec, pixels, pixel_bytes);
    shard_put_le32(rec + pixel_bytes, (uint32_t)label);
    return writer_advance(w, 1);
}

int shard_writer_close(shard_writer *w, uint64_t *file_bytes) {
    int st = shard_writer_flush_block(w);
    if (st) {
        shard_writer_abort(w);
        return st;
    }
    /* The index. */
    size_t n = (size_t)shard_index_bytes(w->h.block_count);
    uint8_t *index = crate_malloc(n, "shard index");
    if (!index) {
        shard_writer_abort(w);
        return CRATE_EINTERNAL;
    }
    shard_index_encode(w->blocks, w->h.block_count, index);
    w->h.index_offset = w->offset;
    st = pwrite_all(w->fd, index, n, w->offset, w->tmp_path);
    free(index);
    /* The header, last: until now the file could not pass for a shard. */
    uint8_t header[SHARD_HEADER_BYTES];
    shard_header_encode(&w->h, header);
    if (!st) st = pwrite_all(w->fd, header, sizeof header, 0, w->tmp_path);
    if (!st && fsync(w->fd) != 0) {
        int e = errno;
        st = crate_fail(fs_errno_status(e), "%s: fsync failed: %s", w->tmp_path, strerror(e));
    }
    if (!st) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) != 0) {
            int e = errno;
            st = crate_fail(fs_errno_status(e), "%s: close failed: %s", w->tmp_path, strerror(e));
        }
    }
    if (!st) st = fs_commit_rename(w->tmp_path, w->path);
    if (st) {
        shard_writer_abort(w);
        return st;
    }
    if (file_bytes) *file_bytes = w->offset + n;
    shard_writer_free(w);
    return CRATE_OK;
}

/* ---- a directory of shards -------------------------------------------------------- */

const shard_dir_kind shard_dir_kind_image = {"image", NULL, NULL};

/* A file a dataset writer of this kind may delete: a shard or one of the
 * kind's extra files, or the .tmp of one. */
static int is_dataset_file(const shard_dir_kind *kind, const char *name) {
    char base[256];
    size_t n = strlen(name);
    if (n >= sizeof base) return 0;
    memcpy(base, name, n + 1);
    if (n > 4 && strcmp(base + n - 4, ".tmp") == 0) base[n - 4] = '\0';
    uint64_t number;
    if (shard_name_parse(base, &number)) return 1;
    for (int i = 0; kind->extra_files && kind->extra_files[i]; i++)
        if (!strcmp(base, kind->extra_files[i])) return 1;
    return 0;
}

/* Checks that dir holds nothing but files of a dataset of this kind and, if
 * `complete` and it holds anything, the kind's marker; then, if `remove`,
 * deletes them. A directory with other files in it is not ours to empty. */
static int scan_dataset_dir(const char *dir, const shard_dir_kind *kind, int complete, int remove) {
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return crate_fail(fs_errno_status(e), "%s: cannot list: %s", dir, strerror(e));
    }
    struct dirent *ent;
    int any = 0, marked = 0;
    while ((ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        if (!is_dataset_file(kind, ent->d_name)) {
            int st = crate_fail(CRATE_EINPUT,
                                "%s exists and holds %s, which is not part of a dataset of %s shards; remove it or "
                                "choose another output directory",
                                dir, ent->d_name, kind->name);
            closedir(d);
            return st;
        }
        any = 1;
        if (kind->marker && !strcmp(ent->d_name, kind->marker)) marked = 1;
    }
    if (complete && any && kind->marker && !marked) {
        closedir(d);
        return crate_fail(CRATE_EINPUT, "%s exists and holds shard files but no %s, so it is not a %s dataset (an "
                          "image dataset?); remove it or choose another output directory", dir, kind->marker,
                          kind->name);
    }
    if (!remove) {
        closedir(d);
        return CRATE_OK;
    }
    rewinddir(d);
    int st = CRATE_OK;
    while ((ent = readdir(d))) {
        if (!is_dataset_file(kind, ent->d_name)) continue;
        char *p = shard_str_join(dir, "/", "path");
        char *q = p ? shard_str_join(p, ent->d_name, "path") : NULL;
        free(p);
        if (!q) {
            st = CRATE_EINTERNAL;
            break;
        }
        if (unlink(q) != 0 && errno != ENOENT) {
            int e = errno;
            st = crate_fail(fs_errno_status(e), "cannot remove %s: %s", q, strerror(e));
        }
        free(q);
        if (st) break;
    }
    closedir(d);
    return st;
}

int shard_dir_check_replaceable(const char *dir, const shard_dir_kind *kind) {
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        int e = errno;
        if (e == ENOENT) return CRATE_OK;
        return crate_fail(fs_errno_status(e), "%s: cannot stat: %s", dir, strerror(e));
    }
    if (!S_ISDIR(sb.st_mode))
        return crate_fail(CRATE_EINPUT, "%s exists and is not a directory; remove it or choose another output", dir);
    return scan_dataset_dir(dir, kind, 1, 0);
}

struct shard_dir_writer {
    char *dir, *partial;
    shard_header shape;
    uint64_t records_per_shard;
    const shard_dir_kind *kind;
    shard_writer *cur;
    uint64_t cur_records;
    shard_dataset_stats stats;
};

static int dir_writer_next_shard(shard_dir_writer *w) {
    char name[64];
    snprintf(name, sizeof name, "/shard-%05d.crs", w->stats.shards);
    char *p = shard_str_join(w->partial, name, "shard path");
    if (!p) return CRATE_EINTERNAL;
    int st = shard_writer_start(&w->cur, p, &w->shape);
    free(p);
    w->cur_records = 0;
    return st;
}

static int dir_writer_close_shard(shard_dir_writer *w) {
    uint64_t bytes = 0;
    shard_writer *cur = w->cur;
    w->cur = NULL;
    int st = shard_writer_close(cur, &bytes);
    if (st) return st;
    w->stats.shards++;
    w->stats.blocks += (w->cur_records + w->shape.records_per_block - 1) / w->shape.records_per_block;
    w->stats.file_bytes += bytes;
    return CRATE_OK;
}

void shard_dir_writer_abort(shard_dir_writer *w) {
    if (!w) return;
    /* Clearing DIR.partial must not replace the message of the failure that
     * led here. */
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", crate_errmsg());
    shard_writer_abort(w->cur);
    if (w->partial && scan_dataset_dir(w->partial, w->kind, 0, 1) == CRATE_OK) rmdir(w->partial);
    crate_errmsg_set(msg);
    free(w->dir);
    free(w->partial);
    free(w);
}

int shard_dir_writer_open(shard_dir_writer **out, const char *dir, const shard_header *shape,
                          uint64_t records_per_shard, const shard_dir_kind *kind) {
    *out = NULL;
    if (records_per_shard < 1)
        return crate_fail(CRATE_EINPUT, "%s: records per shard must be at least 1", dir);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (n == 0 || (n == 1 && dir[0] == '/'))
        return crate_fail(CRATE_EINPUT, "'%s' is not a usable dataset directory name", dir);
    shard_dir_writer *w = crate_calloc(1, sizeof *w, "dataset writer");
    if (!w) return CRATE_EINTERNAL;
    w->kind = kind;
    w->dir = crate_malloc(n + 1, "dataset path");
    if (w->dir) {
        memcpy(w->dir, dir, n);
        w->dir[n] = '\0';
        w->partial = shard_str_join(w->dir, ".partial", "dataset path");
    }
    if (!w->dir || !w->partial) {
        shard_dir_writer_abort(w);
        return CRATE_EINTERNAL;
    }
    w->shape = *shape;
    w->records_per_shard = records_per_shard;
    int st = CRATE_OK;
    if (mkdir(w->partial, 0755) != 0) {
        int e = errno;
        if (e == EEXIST) st = scan_dataset_dir(w->partial, kind, 0, 1); /* left by a crash */
        else st = crate_fail(fs_errno_status(e), "cannot create %s: %s", w->partial, strerror(e));
    }
    if (!st) st = dir_writer_next_shard(w); /* also validates the block size */
    if (st) {
        char *partial = w->partial;
        w->partial = NULL; /* keep a directory we failed to clear */
        shard_dir_writer_abort(w);
        if (partial) rmdir(partial); /* only succeeds if empty */
        free(partial);
        return st;
    }
    *out = w;
    return CRATE_OK;
}

const char *shard_dir_writer_partial(const shard_dir_writer *w) { return w->partial; }

int shard_dir_writer_append(shard_dir_writer *w, const void *records, uint64_t n) {
    const uint8_t *p = records;
    while (n > 0) {
        if (!w->cur) {
            int st = dir_writer_next_shard(w);
            if (st) return st;
        }
        uint64_t room = w->records_per_shard - w->cur_records, k = n < room ? n : room;
        int st = shard_writer_append(w->cur, p, k);
        if (st) return st;
        p += k * w->shape.record_bytes;
        n -= k;
        w->cur_records += k;
        w->stats.records += k;
        if (w->cur_records == w->records_per_shard && (st = dir_writer_close_shard(w))) return st;
    }
    return CRATE_OK;
}

int shard_dir_writer_begin_document(shard_dir_writer *w) {
    if (!w->cur) {
        int st = dir_writer_next_shard(w);
        if (st) return st;
    }
    return shard_writer_begin_document(w->cur);
}

int shard_dir_writer_close(shard_dir_writer *w, shard_dataset_stats *stats, shard_dir_finish_fn finish, void *ctx) {
    int st = CRATE_OK;
    /* The open shard holds records, or it is shard 0 of an empty dataset. */
    if (w->cur) st = dir_writer_close_shard(w);
    w->stats.raw_bytes = w->stats.records * w->shape.record_bytes;
    if (!st && finish) st = finish(ctx, w->partial, &w->stats);
    if (!st) fs_sync_dir(w->partial);
    struct stat sb;
    if (!st && stat(w->dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            st = crate_fail(CRATE_EINPUT, "%s exists and is not a directory; remove it or choose another output",
                            w->dir);
        else if (!(st = scan_dataset_dir(w->dir, w->kind, 1, 1)) && rmdir(w->dir) != 0) {
            int e = errno;
            st = crate_fail(fs_errno_status(e), "cannot replace %s: %s", w->dir, strerror(e));
        }
    }
    if (!st) st = fs_commit_rename(w->partial, w->dir);
    if (st) {
        shard_dir_writer_abort(w);
        return st;
    }
    if (stats) *stats = w->stats;
    free(w->dir);
    free(w->partial);
    free(w);
    return CRATE_OK;
}

/* ---- the image front end ------------------------------------------------------------ */

struct image_dataset_writer {
    shard_dir_writer *d;
    uint32_t pixel_bytes;
    uint8_t *record; /* pixels then label, as appended */
};

void image_dataset_writer_abort(image_dataset_writer *w) {
    if (!w) return;
    shard_dir_writer_abort(w->d);
    free(w->record);
    free(w);
}

int image_dataset_writer_open(image_dataset_writer **out, const char *dir, int C, int H, int W,
                              int records_per_shard, int records_per_block) {
    *out = NULL;
    if (records_per_shard == 0) records_per_shard = SHARD_DEFAULT_RECORDS_PER_SHARD;
    if (records_per_block == 0) records_per_block = SHARD_DEFAULT_RECORDS_PER_BLOCK;
    if (records_per_shard < 1)
        return crate_fail(CRATE_EINPUT, "%s: records per shard must be at least 1 (got %d)", dir, records_per_shard);
    int st = check_image_shape(dir, C, H, W, records_per_block);
    if (st) return st;
    image_dataset_writer *w = crate_calloc(1, sizeof *w, "dataset writer");
    if (!w) return CRATE_EINTERNAL;
    shard_header shape = image_shape(C, H, W, records_per_block);
    w->pixel_bytes = shape.record_bytes - 4;
    w->record = crate_malloc(shape.record_bytes, "image record");
    if (!w->record) {
        free(w);
        return CRATE_EINTERNAL;
    }
    st = shard_dir_writer_open(&w->d, dir, &shape, (uint64_t)records_per_shard, &shard_dir_kind_image);
    if (st) {
        image_dataset_writer_abort(w);
        return st;
    }
    *out = w;
    return CRATE_OK;
}

int image_dataset_writer_add(image_dataset_writer *w, const uint8_t *pixels, int32_t label) {
    memcpy(w->record, pixels, w->pixel_bytes);
    shard_put_le32(w->record + w->pixel_bytes, (uint32_t)label);
    return shard_dir_writer_append(w->d, w->record, 1);
}

int image_dataset_writer_close(image_dataset_writer *w, image_dataset_stats *stats) {
    shard_dir_writer *d = w->d;
    free(w->record);
    free(w);
    return shard_dir_writer_close(d, stats, NULL, NULL);
}
