/* shard.c — image shard files: writer, dataset writer, checked reader (see shard.h).
 *
 * Design. A shard is written front to back with a placeholder header: each
 * block is compressed and appended as soon as it is full, the index goes at
 * the end, and the real header (which knows the counts and the index offset)
 * is written last, so the writer never holds more than one raw block. Every
 * byte the reader trusts is covered by a checksum: the header by its own crc,
 * the index by the index crc, each block by the crc of its raw bytes, which
 * also catches a decompressor that "succeeds" on damaged input. Offsets and
 * sizes are cross-checked against each other and the file size when a shard is
 * opened, so a later pread never reads outside the file or past a buffer.
 *
 * The reader keeps decompressed blocks in an LRU list bounded by bytes. Blocks
 * are identified by a global number (shard's first block + block in shard), so
 * the cache is three arrays indexed by that number: no hashing.
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

#include "src/io/crc32.h"
#include "src/error.h"
#include "src/io/fs.h"

static const char SHARD_MAGIC[8] = {'C', 'R', 'A', 'T', 'E', 'S', 'H', 'D'};
static const char SHARD_END_MAGIC[8] = {'C', 'R', 'A', 'T', 'E', 'E', 'N', 'D'};
#define FIX "re-create it with crate-data"

/* ---- little-endian fields and checked I/O ------------------------------------ */

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32; }

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

/* Reads exactly n bytes at offset: 0, or -1 if the file ends first, or the
 * errno of a failed read. The caller words the message: it knows what it was
 * reading. */
static int pread_all(int fd, void *buf, size_t n, uint64_t offset) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, (off_t)offset);
        if (k < 0) {
            if (errno == EINTR) continue;
            return errno ? errno : EIO;
        }
        if (k == 0) return -1;
        p += k;
        n -= (size_t)k;
        offset += (uint64_t)k;
    }
    return CRATE_OK;
}

static char *str_dup(const char *s, const char *what) {
    size_t n = strlen(s) + 1;
    char *d = crate_malloc(n, what);
    if (d) memcpy(d, s, n);
    return d;
}

static char *str_join(const char *a, const char *b, const char *what) {
    size_t na = strlen(a), nb = strlen(b);
    char *d = crate_malloc(na + nb + 1, what);
    if (d) {
        memcpy(d, a, na);
        memcpy(d + na, b, nb + 1);
    }
    return d;
}

/* fsync the directory holding path so a rename in it is durable. Best effort:
 * some filesystems refuse fsync on directories, which is not worth failing. */
/* ---- the header -------------------------------------------------------------- */

typedef struct {
    uint32_t version, kind, record_bytes, C, H, W;
    uint64_t record_count;
    uint32_t records_per_block, block_count;
    uint64_t index_offset;
} shard_header;

static void header_encode(const shard_header *h, uint8_t out[SHARD_HEADER_BYTES]) {
    memset(out, 0, SHARD_HEADER_BYTES);
    memcpy(out, SHARD_MAGIC, 8);
    put_le32(out + 8, h->version);
    put_le32(out + 12, h->kind);
    put_le32(out + 16, h->record_bytes);
    put_le32(out + 20, h->C);
    put_le32(out + 24, h->H);
    put_le32(out + 28, h->W);
    put_le64(out + 32, h->record_count);
    put_le32(out + 40, h->records_per_block);
    put_le32(out + 44, h->block_count);
    put_le64(out + 48, h->index_offset);
    put_le32(out + 60, crc32_update(0, out, 60));
}

/* Largest record we accept: keeps C·H·W + 4 in a u32 and a one-record block
 * within what LZ4 can compress. */
#define SHARD_MAX_PIXELS (1u << 30)

static uint64_t records_in_block(uint64_t record_count, uint32_t rpb, uint32_t b) {
    uint64_t first = (uint64_t)b * rpb;
    uint64_t left = record_count - first;
    return left < rpb ? left : rpb;
}

/* ---- one shard file: writer ------------------------------------------------------ */

typedef struct {
    uint64_t offset;
    uint32_t comp_bytes, raw_bytes, crc;
} block_entry;

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
    block_entry *blocks;
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
    w->path = str_dup(path, "shard path");
    w->tmp_path = str_join(path, ".tmp", "shard path");
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
        block_entry *nb = realloc(w->blocks, (size_t)cap * sizeof *nb);
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
    w->blocks[w->h.block_count++] = (block_entry){.offset = w->offset, .comp_bytes = (uint32_t)comp_bytes,
                                                   .raw_bytes = (uint32_t)raw_bytes,
                                                   .crc = crc32_update(0, w->raw, (size_t)raw_bytes)};
    w->offset += (uint64_t)comp_bytes;
    w->raw_records = 0;
    return CRATE_OK;
}

int shard_writer_add(shard_writer *w, const uint8_t *pixels, int32_t label) {
    uint8_t *rec = w->raw + (size_t)w->raw_records * w->h.record_bytes;
    memcpy(rec, pixels, w->pixel_bytes);
    put_le32(rec + w->pixel_bytes, (uint32_t)label);
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
    size_t n = (size_t)w->h.block_count * SHARD_INDEX_ENTRY_BYTES;
    uint8_t *index = crate_malloc(n + SHARD_INDEX_TRAILER_BYTES, "shard index");
    if (!index) {
        shard_writer_abort(w);
        return CRATE_EINTERNAL;
    }
    for (uint32_t b = 0; b < w->h.block_count; b++) {
        uint8_t *e = index + (size_t)b * SHARD_INDEX_ENTRY_BYTES;
        put_le64(e, w->blocks[b].offset);
        put_le32(e + 8, w->blocks[b].comp_bytes);
        put_le32(e + 12, w->blocks[b].raw_bytes);
        put_le32(e + 16, w->blocks[b].crc);
        put_le32(e + 20, 0);
    }
    put_le32(index + n, crc32_update(0, index, n));
    put_le32(index + n + 4, 0);
    memcpy(index + n + 8, SHARD_END_MAGIC, 8);
    w->h.index_offset = w->offset;
    st = pwrite_all(w->fd, index, n + SHARD_INDEX_TRAILER_BYTES, w->offset, w->tmp_path);
    free(index);
    /* The header, last: until now the file could not pass for a shard. */
    uint8_t header[SHARD_HEADER_BYTES];
    header_encode(&w->h, header);
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
    if (file_bytes) *file_bytes = w->offset + n + SHARD_INDEX_TRAILER_BYTES;
    shard_writer_free(w);
    return CRATE_OK;
}

/* ---- a directory of shards: writer ----------------------------------------------- */

/* Parses "shard-NNNNN.crs" (at least five digits, no extra leading zeros
 * beyond the %05 padding); 1 and the number if name is one. */
static int shard_name_parse(const char *name, uint64_t *number) {
    if (strncmp(name, "shard-", 6) != 0) return 0;
    const char *p = name + 6;
    uint64_t v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (digits < 5 || strcmp(p, ".crs") != 0) return 0;
    char canon[64];
    snprintf(canon, sizeof canon, "shard-%05llu.crs", (unsigned long long)v);
    if (strcmp(canon, name) != 0) return 0;
    *number = v;
    return 1;
}

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
    char *p = str_join(w->partial, name, "shard path");
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
        w->partial = str_join(w->dir, ".partial", "dataset path");
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

/* ---- the reader -------------------------------------------------------------------- */

typedef struct {
    char *path;
    int fd;
    shard_header h;
    uint64_t first_record; /* global number of record 0 */
    uint64_t first_block;  /* global number of block 0 */
    uint64_t file_bytes;
    block_entry *blocks;
} shard_file;

struct image_dataset {
    int nshards;
    shard_file *shards;
    uint32_t C, H, W, pixel_bytes, record_bytes;
    uint64_t count, total_blocks;
    /* LRU cache of decompressed blocks, by global block number. */
    size_t cache_cap, cache_used;
    uint8_t **cached;       /* NULL if not resident */
    uint32_t *cached_bytes; /* size of each resident block */
    int64_t *lru_prev, *lru_next;
    int64_t lru_head, lru_tail; /* most / least recently used, -1 if empty */
    char *comp;             /* compressed bytes of the block being read */
    size_t comp_cap;
    int last_shard;         /* where the previous read was: the usual next one */
};

static void shard_file_close(shard_file *s) {
    if (s->fd >= 0) close(s->fd);
    free(s->path);
    free(s->blocks);
}

/* Opens and validates one shard file: header, sizes, index. */
static int shard_file_open(shard_file *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->path = str_dup(path, "shard path");
    if (!s->path) return CRATE_EINTERNAL;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        int e = errno;
        return crate_fail(CRATE_EINPUT, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(s->fd, &sb) != 0) {
        int e = errno;
        return crate_fail(CRATE_EINTERNAL, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) return crate_fail(CRATE_EINPUT, "%s: not a regular file", path);
    s->file_bytes = (uint64_t)sb.st_size;
    uint8_t hb[SHARD_HEADER_BYTES];
    if (s->file_bytes < SHARD_HEADER_BYTES + SHARD_INDEX_TRAILER_BYTES)
        return crate_fail(CRATE_EINPUT, "%s: %llu bytes is too short for a shard (truncated?); " FIX, path,
                          (unsigned long long)s->file_bytes);
    int st = pread_all(s->fd, hb, sizeof hb, 0);
    if (st) return crate_fail(CRATE_EINPUT, "%s: cannot read the header: %s", path,
                              st < 0 ? "the file shrank while being read" : strerror(st));
    if (memcmp(hb, SHARD_MAGIC, 8) != 0)
        return crate_fail(CRATE_EINPUT, "%s: not a crate shard (bad magic; a zero magic is an unfinished write); " FIX,
                          path);
    uint32_t stored = get_le32(hb + 60), computed = crc32_update(0, hb, 60);
    if (stored != computed)
        return crate_fail(CRATE_EINPUT, "%s: header checksum mismatch (stored %08x, computed %08x): the header is "
                          "damaged; " FIX, path, stored, computed);
    shard_header *h = &s->h;
    h->version = get_le32(hb + 8);
    h->kind = get_le32(hb + 12);
    h->record_bytes = get_le32(hb + 16);
    h->C = get_le32(hb + 20);
    h->H = get_le32(hb + 24);
    h->W = get_le32(hb + 28);
    h->record_count = get_le64(hb + 32);
    h->records_per_block = get_le32(hb + 40);
    h->block_count = get_le32(hb + 44);
    h->index_offset = get_le64(hb + 48);
    if (h->version != SHARD_VERSION)
        return crate_fail(CRATE_EINPUT, "%s: shard format version %u, this build reads version %d; " FIX, path,
                          h->version, SHARD_VERSION);
    if (h->kind == SHARD_KIND_TOKENS)
        return crate_fail(CRATE_EINPUT, "%s: a token shard where an image shard was expected; check the data path",
                          path);
    if (h->kind != SHARD_KIND_IMAGE)
        return crate_fail(CRATE_EINPUT, "%s: unknown shard kind %u; " FIX, path, h->kind);
    uint64_t pixels = (uint64_t)h->C * h->H * h->W;
    if (h->C < 1 || h->H < 1 || h->W < 1 || pixels > SHARD_MAX_PIXELS || h->record_bytes != pixels + 4)
        return crate_fail(CRATE_EINPUT, "%s: inconsistent record shape %ux%ux%u with %u-byte records; " FIX, path,
                          h->C, h->H, h->W, h->record_bytes);
    if (h->records_per_block < 1 || (uint64_t)h->records_per_block * h->record_bytes > LZ4_MAX_INPUT_SIZE)
        return crate_fail(CRATE_EINPUT, "%s: bad records per block %u; " FIX, path, h->records_per_block);
    uint64_t want_blocks = h->record_count / h->records_per_block + (h->record_count % h->records_per_block != 0);
    if (want_blocks != h->block_count)
        return crate_fail(CRATE_EINPUT, "%s: header says %u blocks but %llu records of %u per block need %llu; " FIX,
                          path, h->block_count, (unsigned long long)h->record_count, h->records_per_block,
                          (unsigned long long)want_blocks);
    uint64_t index_bytes = (uint64_t)h->block_count * SHARD_INDEX_ENTRY_BYTES + SHARD_INDEX_TRAILER_BYTES;
    if (h->index_offset < SHARD_HEADER_BYTES || h->index_offset > s->file_bytes ||
        s->file_bytes - h->index_offset != index_bytes)
        return crate_fail(CRATE_EINPUT, "%s: file is %llu bytes but its header says %llu (index at %llu + %llu); "
                          "the file is truncated or damaged; " FIX, path, (unsigned long long)s->file_bytes,
                          (unsigned long long)(h->index_offset + index_bytes), (unsigned long long)h->index_offset,
                          (unsigned long long)index_bytes);
    /* The index. */
    uint8_t *ib = crate_malloc((size_t)index_bytes, "shard index");
    if (!ib) return CRATE_EINTERNAL;
    st = pread_all(s->fd, ib, (size_t)index_bytes, h->index_offset);
    if (st) {
        free(ib);
        return crate_fail(CRATE_EINPUT, "%s: cannot read the block index: %s", path,
                          st < 0 ? "the file shrank while being read" : strerror(st));
    }
    size_t n = (size_t)h->block_count * SHARD_INDEX_ENTRY_BYTES;
    if (memcmp(ib + n + 8, SHARD_END_MAGIC, 8) != 0 || get_le32(ib + n + 4) != 0) {
        free(ib);
        return crate_fail(CRATE_EINPUT, "%s: the block index trailer is damaged (bad end marker or reserved field); " FIX, path);
    }
    stored = get_le32(ib + n);
    computed = crc32_update(0, ib, n);
    if (stored != computed) {
        free(ib);
        return crate_fail(CRATE_EINPUT, "%s: block index checksum mismatch (stored %08x, computed %08x): the index is "
                          "damaged; " FIX, path, stored, computed);
    }
    s->blocks = crate_calloc(h->block_count ? h->block_count : 1, sizeof *s->blocks, "shard index");
    if (!s->blocks) {
        free(ib);
        return CRATE_EINTERNAL;
    }
    /* Blocks lie back to back from the header to the index; each holds the
     * records the header assigns it. A consistent index (crc passed) that
     * breaks this was written by something that is not our writer. */
    uint64_t expect = SHARD_HEADER_BYTES;
    for (uint32_t b = 0; b < h->block_count; b++) {
        const uint8_t *e = ib + (size_t)b * SHARD_INDEX_ENTRY_BYTES;
        block_entry be = {.offset = get_le64(e), .comp_bytes = get_le32(e + 8), .raw_bytes = get_le32(e + 12),
                          .crc = get_le32(e + 16)};
        uint64_t raw = records_in_block(h->record_count, h->records_per_block, b) * h->record_bytes;
        if (be.offset != expect || be.raw_bytes != raw || be.comp_bytes < 1 ||
            be.comp_bytes > (uint32_t)LZ4_compressBound((int)raw) || be.offset + be.comp_bytes > h->index_offset) {
            free(ib);
            return crate_fail(CRATE_EINPUT, "%s: block %u: index entry inconsistent with the header (offset %llu, %u "
                              "compressed, %u raw bytes); " FIX, path, b, (unsigned long long)be.offset,
                              be.comp_bytes, be.raw_bytes);
        }
        s->blocks[b] = be;
        expect += be.comp_bytes;
    }
    free(ib);
    if (expect != h->index_offset)
        return crate_fail(CRATE_EINPUT, "%s: blocks end at %llu but the index starts at %llu; " FIX, path,
                          (unsigned long long)expect, (unsigned long long)h->index_offset);
    return CRATE_OK;
}

/* Reads block b of shard s from disk into raw (its raw_bytes), checked. */
static int shard_load_block(image_dataset *ds, const shard_file *s, uint32_t b, uint8_t *raw) {
    const block_entry *be = &s->blocks[b];
    if (be->comp_bytes > ds->comp_cap) {
        char *nc = realloc(ds->comp, be->comp_bytes);
        if (!nc) return crate_fail(CRATE_EINTERNAL, "out of memory reading %s block %u", s->path, b);
        ds->comp = nc;
        ds->comp_cap = be->comp_bytes;
    }
    int st = pread_all(s->fd, ds->comp, be->comp_bytes, be->offset);
    if (st > 0) return crate_fail(CRATE_EINPUT, "%s: block %u: read failed: %s", s->path, b, strerror(st));
    if (st < 0)
        return crate_fail(CRATE_EINPUT, "%s: block %u: the file ends inside the block (truncated since it was opened); "
                          FIX, s->path, b);
    int got = LZ4_decompress_safe(ds->comp, (char *)raw, (int)be->comp_bytes, (int)be->raw_bytes);
    if (got < 0)
        return crate_fail(CRATE_EINPUT, "%s: block %u: LZ4 data is corrupt (decoder error %d): the block is damaged; "
                          FIX, s->path, b, got);
    if ((uint32_t)got != be->raw_bytes)
        return crate_fail(CRATE_EINPUT, "%s: block %u: decompressed to %d bytes, the index says %u: the block is "
                          "damaged; " FIX, s->path, b, got, be->raw_bytes);
    uint32_t crc = crc32_update(0, raw, be->raw_bytes);
    if (crc != be->crc)
        return crate_fail(CRATE_EINPUT, "%s: block %u: checksum mismatch (stored %08x, computed %08x): the block is "
                          "damaged; " FIX, s->path, b, be->crc, crc);
    return CRATE_OK;
}

void image_dataset_close(image_dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < ds->nshards; i++) shard_file_close(&ds->shards[i]);
    free(ds->shards);
    if (ds->cached)
        for (uint64_t g = 0; g < ds->total_blocks; g++) free(ds->cached[g]);
    free(ds->cached);
    free(ds->cached_bytes);
    free(ds->lru_prev);
    free(ds->lru_next);
    free(ds->comp);
    free(ds);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The shard numbers in dir, sorted, checked to be 0..n-1. */
static int list_shards(const char *dir, uint64_t **numbers, int *count) {
    *numbers = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return crate_fail(CRATE_EINPUT, "%s: cannot list: %s", dir, strerror(e));
    }
    uint64_t *v = NULL;
    int n = 0, cap = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        uint64_t num;
        if (!shard_name_parse(ent->d_name, &num)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                free(v);
                closedir(d);
                return crate_fail(CRATE_EINTERNAL, "out of memory listing %s", dir);
            }
            v = nv;
        }
        v[n++] = num;
    }
    closedir(d);
    if (n == 0) {
        free(v);
        return crate_fail(CRATE_EINPUT, "%s: no shard files (shard-00000.crs, ...) in this directory; create the "
                          "dataset with crate-data", dir);
    }
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    for (int i = 0; i < n; i++)
        if (v[i] != (uint64_t)i) {
            int st = crate_fail(CRATE_EINPUT, "%s: shard-%05d.crs is missing (found %d shard files up to "
                                "shard-%05llu.crs); the dataset is incomplete; " FIX, dir, i, n,
                                (unsigned long long)v[n - 1]);
            free(v);
            return st;
        }
    *numbers = v;
    *count = n;
    return CRATE_OK;
}

int image_dataset_open(image_dataset **out, const char *path, size_t cache_bytes) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = errno;
        return crate_fail(CRATE_EINPUT, "%s: cannot open dataset: %s; create it with crate-data", path, strerror(e));
    }
    image_dataset *ds = crate_calloc(1, sizeof *ds, "image dataset");
    if (!ds) return CRATE_EINTERNAL;
    ds->lru_head = ds->lru_tail = -1;
    ds->cache_cap = cache_bytes;
    int st = CRATE_OK;
    if (S_ISDIR(sb.st_mode)) {
        uint64_t *numbers;
        int n;
        st = list_shards(path, &numbers, &n);
        if (!st) {
            free(numbers); /* 0..n-1 */
            ds->shards = crate_calloc((size_t)n, sizeof *ds->shards, "shard table");
            if (!ds->shards) st = CRATE_EINTERNAL;
            size_t pn = strlen(path) + 64;
            char *p = st ? NULL : crate_malloc(pn, "shard path");
            if (!st && !p) st = CRATE_EINTERNAL;
            for (int i = 0; !st && i < n; i++) {
                snprintf(p, pn, "%s/shard-%05d.crs", path, i);
                st = shard_file_open(&ds->shards[i], p);
                ds->nshards = i + 1; /* closed by image_dataset_close even if partly opened */
            }
            free(p);
        }
    } else {
        ds->shards = crate_calloc(1, sizeof *ds->shards, "shard table");
        if (!ds->shards) st = CRATE_EINTERNAL;
        else {
            ds->nshards = 1;
            st = shard_file_open(&ds->shards[0], path);
        }
    }
    for (int i = 0; !st && i < ds->nshards; i++) {
        shard_file *s = &ds->shards[i];
        if (i == 0) {
            ds->C = s->h.C;
            ds->H = s->h.H;
            ds->W = s->h.W;
            ds->record_bytes = s->h.record_bytes;
            ds->pixel_bytes = s->h.record_bytes - 4;
        } else if (s->h.C != ds->C || s->h.H != ds->H || s->h.W != ds->W) {
            st = crate_fail(CRATE_EINPUT, "%s: images are %ux%ux%u but %s has %ux%ux%u: shards of different datasets "
                            "are mixed; " FIX, s->path, s->h.C, s->h.H, s->h.W, ds->shards[0].path, ds->C, ds->H,
                            ds->W);
            break;
        }
        s->first_record = ds->count;
        s->first_block = ds->total_blocks;
        ds->count += s->h.record_count;
        ds->total_blocks += s->h.block_count;
    }
    if (!st) {
        size_t nb = ds->total_blocks ? (size_t)ds->total_blocks : 1;
        ds->cached = crate_calloc(nb, sizeof *ds->cached, "block cache");
        ds->cached_bytes = crate_calloc(nb, sizeof *ds->cached_bytes, "block cache");
        ds->lru_prev = crate_malloc(nb * sizeof *ds->lru_prev, "block cache");
        ds->lru_next = crate_malloc(nb * sizeof *ds->lru_next, "block cache");
        if (!ds->cached || !ds->cached_bytes || !ds->lru_prev || !ds->lru_next) st = CRATE_EINTERNAL;
    }
    if (st) {
        image_dataset_close(ds);
        return st;
    }
    *out = ds;
    return CRATE_OK;
}

uint64_t image_dataset_count(const image_dataset *ds) { return ds->count; }

void image_dataset_shape(const image_dataset *ds, int *C, int *H, int *W) {
    if (C) *C = (int)ds->C;
    if (H) *H = (int)ds->H;
    if (W) *W = (int)ds->W;
}

void image_dataset_get_stats(const image_dataset *ds, image_dataset_stats *stats) {
    memset(stats, 0, sizeof *stats);
    stats->records = ds->count;
    stats->shards = ds->nshards;
    stats->blocks = ds->total_blocks;
    for (int i = 0; i < ds->nshards; i++) stats->file_bytes += ds->shards[i].file_bytes;
    stats->raw_bytes = ds->count * ds->record_bytes;
}

static void lru_unlink(image_dataset *ds, int64_t g) {
    int64_t p = ds->lru_prev[g], n = ds->lru_next[g];
    if (p >= 0) ds->lru_next[p] = n;
    else ds->lru_head = n;
    if (n >= 0) ds->lru_prev[n] = p;
    else ds->lru_tail = p;
}

static void lru_push_front(image_dataset *ds, int64_t g) {
    ds->lru_prev[g] = -1;
    ds->lru_next[g] = ds->lru_head;
    if (ds->lru_head >= 0) ds->lru_prev[ds->lru_head] = g;
    ds->lru_head = g;
    if (ds->lru_tail < 0) ds->lru_tail = g;
}

/* The decompressed block b of shard si, from the cache or from disk. */
static int dataset_get_block(image_dataset *ds, int si, uint32_t b, const uint8_t **data) {
    const shard_file *s = &ds->shards[si];
    int64_t g = (int64_t)(s->first_block + b);
    if (ds->cached[g]) {
        if (ds->lru_head != g) {
            lru_unlink(ds, g);
            lru_push_front(ds, g);
        }
        *data = ds->cached[g];
        return CRATE_OK;
    }
    size_t raw = s->blocks[b].raw_bytes;
    uint8_t *buf = crate_malloc(raw, "decompressed block");
    if (!buf) return CRATE_EINTERNAL;
    int st = shard_load_block(ds, s, b, buf);
    if (st) {
        free(buf);
        return st;
    }
    /* Make room; the new block is admitted even if it alone exceeds the cap. */
    while (ds->lru_tail >= 0 && ds->cache_used + raw > ds->cache_cap) {
        int64_t t = ds->lru_tail;
        lru_unlink(ds, t);
        ds->cache_used -= ds->cached_bytes[t];
        free(ds->cached[t]);
        ds->cached[t] = NULL;
    }
    ds->cached[g] = buf;
    ds->cached_bytes[g] = (uint32_t)raw;
    ds->cache_used += raw;
    lru_push_front(ds, g);
    *data = buf;
    return CRATE_OK;
}

int image_dataset_read(image_dataset *ds, uint64_t index, uint8_t *pixels, int32_t *label) {
    if (index >= ds->count)
        return crate_fail(CRATE_EINTERNAL, "record %llu requested from a dataset of %llu (a caller bug)",
                          (unsigned long long)index, (unsigned long long)ds->count);
    int si = ds->last_shard;
    const shard_file *s = &ds->shards[si];
    if (index < s->first_record || index - s->first_record >= s->h.record_count) {
        int lo = 0, hi = ds->nshards - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (ds->shards[mid].first_record <= index) lo = mid;
            else hi = mid - 1;
        }
        /* The last shard starting at or before index: an empty shard shares
         * its first_record with the next, so it is never the last one. */
        si = ds->last_shard = lo;
        s = &ds->shards[si];
    }
    uint64_t local = index - s->first_record;
    uint32_t b = (uint32_t)(local / s->h.records_per_block);
    const uint8_t *data;
    int st = dataset_get_block(ds, si, b, &data);
    if (st) return st;
    const uint8_t *rec = data + (size_t)(local % s->h.records_per_block) * ds->record_bytes;
    if (pixels) memcpy(pixels, rec, ds->pixel_bytes);
    if (label) *label = (int32_t)get_le32(rec + ds->pixel_bytes);
    return CRATE_OK;
}

int image_dataset_verify(image_dataset *ds, uint64_t *label_counts, int label_slots, uint64_t *labels_out_of_range) {
    size_t max_raw = 0;
    for (int i = 0; i < ds->nshards; i++)
        for (uint32_t b = 0; b < ds->shards[i].h.block_count; b++)
            if (ds->shards[i].blocks[b].raw_bytes > max_raw) max_raw = ds->shards[i].blocks[b].raw_bytes;
    uint8_t *raw = crate_malloc(max_raw, "verify buffer");
    if (!raw) return CRATE_EINTERNAL;
    for (int i = 0; i < ds->nshards; i++) {
        const shard_file *s = &ds->shards[i];
        for (uint32_t b = 0; b < s->h.block_count; b++) {
            int st = shard_load_block(ds, s, b, raw);
            if (st) {
                free(raw);
                return st;
            }
            if (!label_counts) continue;
            uint64_t n = records_in_block(s->h.record_count, s->h.records_per_block, b);
            for (uint64_t r = 0; r < n; r++) {
                int32_t label = (int32_t)get_le32(raw + r * ds->record_bytes + ds->pixel_bytes);
                if (label >= 0 && label < label_slots) label_counts[label]++;
                else if (labels_out_of_range) (*labels_out_of_range)++;
            }
        }
    }
    free(raw);
    return CRATE_OK;
}
