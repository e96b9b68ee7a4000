/* shard_write.c — the writers of shard.h: shard_writer (one shard file) and
 * image_dataset_writer (a directory of shards).
 *
 * Design. A shard is written front to back with a placeholder header: each
 * block is compressed and appended as soon as it is full, the index goes at
 * the end, and the real header (which knows the counts and the index offset)
 * is written last, so the writer never holds more than one raw block and a
 * crash leaves a file whose zero magic no reader accepts. Files are written as
 * PATH.tmp and datasets as DIR.partial, fsynced, then renamed: nothing
 * half-written ever carries the real name. The bytes of the header and index
 * come from shard_format.c.
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
    uint32_t pixel_bytes;
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

int shard_writer_open(shard_writer **out, const char *path, int C, int H, int W, int records_per_block) {
    *out = NULL;
    if (records_per_block == 0) records_per_block = SHARD_DEFAULT_RECORDS_PER_BLOCK;
    if (C < 1 || H < 1 || W < 1 || (uint64_t)C * (uint64_t)H * (uint64_t)W > SHARD_MAX_PIXELS)
        return crate_fail(CRATE_EINPUT, "%s: bad image shape %dx%dx%d (each at least 1, at most 2^30 pixels)",
                          path, C, H, W);
    uint64_t pixel_bytes = (uint64_t)C * H * W, record_bytes = pixel_bytes + 4;
    if (records_per_block < 1 || (uint64_t)records_per_block * record_bytes > LZ4_MAX_INPUT_SIZE)
        return crate_fail(CRATE_EINPUT,
                          "%s: records per block %d out of range (at least 1, at most %llu for %llu-byte records)",
                          path, records_per_block, (unsigned long long)(LZ4_MAX_INPUT_SIZE / record_bytes),
                          (unsigned long long)record_bytes);
    shard_writer *w = crate_calloc(1, sizeof *w, "shard writer");
    if (!w) return CRATE_EINTERNAL;
    w->fd = -1;
    w->h = (shard_header){.version = SHARD_VERSION, .kind = SHARD_KIND_IMAGE, .record_bytes = (uint32_t)record_bytes,
                          .C = (uint32_t)C, .H = (uint32_t)H, .W = (uint32_t)W,
                          .records_per_block = (uint32_t)records_per_block};
    w->pixel_bytes = (uint32_t)pixel_bytes;
    size_t raw_bytes = (size_t)records_per_block * record_bytes;
    w->comp_cap = LZ4_compressBound((int)raw_bytes);
    w->path = shard_str_dup(path, "shard path");
    w->tmp_path = shard_str_join(path, ".tmp", "shard path");
    w->raw = crate_malloc(raw_bytes, "shard block");
    w->comp = crate_malloc((size_t)w->comp_cap, "compressed shard block");
    if (!w->path || !w->tmp_path || !w->raw || !w->comp) {
        shard_writer_free(w);
        return CRATE_EINTERNAL;
    }
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
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

int shard_writer_add(shard_writer *w, const uint8_t *pixels, int32_t label) {
    uint8_t *rec = w->raw + (size_t)w->raw_records * w->h.record_bytes;
    memcpy(rec, pixels, w->pixel_bytes);
    shard_put_le32(rec + w->pixel_bytes, (uint32_t)label);
    w->raw_records++;
    w->h.record_count++;
    if (w->raw_records == w->h.records_per_block) return shard_writer_flush_block(w);
    return CRATE_OK;
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

/* A file a dataset writer may delete: a shard, or the .tmp of one. */
static int is_shard_file_name(const char *name) {
    uint64_t number;
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".tmp") == 0) {
        char base[256];
        if (n - 4 >= sizeof base) return 0;
        memcpy(base, name, n - 4);
        base[n - 4] = '\0';
        return shard_name_parse(base, &number);
    }
    return shard_name_parse(name, &number);
}

/* Removes the shard files of dir, but only if it holds nothing else: a
 * directory with other files in it is not ours to empty. */
static int clear_shard_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return crate_fail(fs_errno_status(e), "%s: cannot list: %s", dir, strerror(e));
    }
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        if (!is_shard_file_name(ent->d_name)) {
            int st = crate_fail(CRATE_EINPUT,
                                "%s exists and holds %s, which is not a shard file; remove it or choose another "
                                "output directory",
                                dir, ent->d_name);
            closedir(d);
            return st;
        }
    }
    rewinddir(d);
    int st = CRATE_OK;
    size_t dn = strlen(dir);
    while ((ent = readdir(d))) {
        if (!is_shard_file_name(ent->d_name)) continue;
        size_t nn = strlen(ent->d_name);
        char *p = crate_malloc(dn + nn + 2, "path");
        if (!p) {
            st = CRATE_EINTERNAL;
            break;
        }
        memcpy(p, dir, dn);
        p[dn] = '/';
        memcpy(p + dn + 1, ent->d_name, nn + 1);
        if (unlink(p) != 0 && errno != ENOENT) {
            int e = errno;
            st = crate_fail(fs_errno_status(e), "cannot remove %s: %s", p, strerror(e));
        }
        free(p);
        if (st) break;
    }
    closedir(d);
    return st;
}

struct image_dataset_writer {
    char *dir, *partial;
    int C, H, W, records_per_shard, records_per_block;
    shard_writer *cur;
    int cur_records;
    image_dataset_stats stats;
};

static int dataset_writer_next_shard(image_dataset_writer *w) {
    char name[64];
    snprintf(name, sizeof name, "/shard-%05d.crs", w->stats.shards);
    char *p = shard_str_join(w->partial, name, "shard path");
    if (!p) return CRATE_EINTERNAL;
    int st = shard_writer_open(&w->cur, p, w->C, w->H, w->W, w->records_per_block);
    free(p);
    w->cur_records = 0;
    return st;
}

static int dataset_writer_close_shard(image_dataset_writer *w) {
    uint64_t bytes = 0;
    shard_writer *cur = w->cur;
    w->cur = NULL;
    int st = shard_writer_close(cur, &bytes);
    if (st) return st;
    w->stats.shards++;
    w->stats.blocks += ((uint64_t)w->cur_records + (uint64_t)w->records_per_block - 1) / (uint64_t)w->records_per_block;
    w->stats.file_bytes += bytes;
    return CRATE_OK;
}

void image_dataset_writer_abort(image_dataset_writer *w) {
    if (!w) return;
    shard_writer_abort(w->cur);
    if (w->partial && clear_shard_dir(w->partial) == CRATE_OK) rmdir(w->partial);
    free(w->dir);
    free(w->partial);
    free(w);
}

int image_dataset_writer_open(image_dataset_writer **out, const char *dir, int C, int H, int W,
                              int records_per_shard, int records_per_block) {
    *out = NULL;
    if (records_per_shard == 0) records_per_shard = SHARD_DEFAULT_RECORDS_PER_SHARD;
    if (records_per_block == 0) records_per_block = SHARD_DEFAULT_RECORDS_PER_BLOCK;
    if (records_per_shard < 1)
        return crate_fail(CRATE_EINPUT, "%s: records per shard must be at least 1 (got %d)", dir, records_per_shard);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (n == 0 || (n == 1 && dir[0] == '/'))
        return crate_fail(CRATE_EINPUT, "'%s' is not a usable dataset directory name", dir);
    image_dataset_writer *w = crate_calloc(1, sizeof *w, "dataset writer");
    if (!w) return CRATE_EINTERNAL;
    w->dir = crate_malloc(n + 1, "dataset path");
    if (w->dir) {
        memcpy(w->dir, dir, n);
        w->dir[n] = '\0';
        w->partial = shard_str_join(w->dir, ".partial", "dataset path");
    }
    if (!w->dir || !w->partial) {
        image_dataset_writer_abort(w);
        return CRATE_EINTERNAL;
    }
    w->C = C;
    w->H = H;
    w->W = W;
    w->records_per_shard = records_per_shard;
    w->records_per_block = records_per_block;
    int st = CRATE_OK;
    if (mkdir(w->partial, 0755) != 0) {
        int e = errno;
        if (e == EEXIST) st = clear_shard_dir(w->partial); /* left by a crash */
        else st = crate_fail(fs_errno_status(e), "cannot create %s: %s", w->partial, strerror(e));
    }
    if (!st) st = dataset_writer_next_shard(w); /* also validates shape and block size */
    if (st) {
        char *partial = w->partial;
        w->partial = NULL; /* keep a directory we failed to clear */
        image_dataset_writer_abort(w);
        if (partial) rmdir(partial); /* only succeeds if empty */
        free(partial);
        return st;
    }
    *out = w;
    return CRATE_OK;
}

int image_dataset_writer_add(image_dataset_writer *w, const uint8_t *pixels, int32_t label) {
    if (!w->cur) {
        int st = dataset_writer_next_shard(w);
        if (st) return st;
    }
    int st = shard_writer_add(w->cur, pixels, label);
    if (st) return st;
    w->cur_records++;
    w->stats.records++;
    if (w->cur_records == w->records_per_shard) return dataset_writer_close_shard(w);
    return CRATE_OK;
}

int image_dataset_writer_close(image_dataset_writer *w, image_dataset_stats *stats) {
    int st = CRATE_OK;
    /* The open shard holds records, or it is shard 0 of an empty dataset. */
    if (w->cur) st = dataset_writer_close_shard(w);
    w->stats.raw_bytes = w->stats.records * ((uint64_t)w->C * w->H * w->W + 4);
    struct stat sb;
    if (!st && stat(w->dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            st = crate_fail(CRATE_EINPUT, "%s exists and is not a directory; remove it or choose another output", w->dir);
        else if (!(st = clear_shard_dir(w->dir)) && rmdir(w->dir) != 0) {
            int e = errno;
            st = crate_fail(fs_errno_status(e), "cannot replace %s: %s", w->dir, strerror(e));
        }
    }
    if (!st) st = fs_commit_rename(w->partial, w->dir);
    if (st) {
        image_dataset_writer_abort(w);
        return st;
    }
    if (stats) *stats = w->stats;
    free(w->dir);
    free(w->partial);
    free(w);
    return CRATE_OK;
}
