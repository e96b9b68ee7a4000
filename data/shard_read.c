/* shard_read.c — the reader of shard.h: image_dataset opens a shard file or a
 * directory of shards, validates every header and index, and serves records
 * by global number through a cache of decompressed blocks.
 *
 * Design. Opening does all the cross-checks (shard_format.c), so that later
 * reads can trust offsets and sizes; a block is still checked (decompressed
 * size, crc32 of the raw bytes) every time it comes from disk, which also
 * catches a decompressor that "succeeds" on damaged input. Reads use pread on
 * one descriptor per shard, so a reader touches only the blocks it needs.
 * Blocks get a global number (shard's first block + block in shard), the key
 * of the block cache (shard_cache.c).
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

#include "data/shard_cache.h"
#include "data/shard_format.h"
#include "src/error.h"
#include "src/io/crc32.h"

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

/* ---- one shard file ----------------------------------------------------------------- */

typedef struct {
    char *path;
    int fd;
    shard_header h;
    uint64_t first_record; /* global number of record 0 */
    uint64_t first_block;  /* global number of block 0 */
    uint64_t file_bytes;
    shard_block_entry *blocks;
} shard_file;

/* The open dataset: its shards in file-number order. */
struct image_dataset {
    int nshards;
    shard_file *shards;
    uint32_t C, H, W, pixel_bytes, record_bytes;
    uint64_t count, total_blocks;
    shard_cache cache;      /* decompressed blocks, by global block number */
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
    s->path = shard_str_dup(path, "shard path");
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
        return crate_fail(CRATE_EINPUT, "%s: %llu bytes is too short for a shard (truncated?); " SHARD_FIX, path,
                          (unsigned long long)s->file_bytes);
    int st = pread_all(s->fd, hb, sizeof hb, 0);
    if (st) return crate_fail(CRATE_EINPUT, "%s: cannot read the header: %s", path,
                              st < 0 ? "the file shrank while being read" : strerror(st));
    if ((st = shard_header_decode(hb, path, &s->h)) || (st = shard_header_check_image(&s->h, path)) ||
        (st = shard_header_check_layout(&s->h, s->file_bytes, path)))
        return st;
    /* The index. */
    const shard_header *h = &s->h;
    uint64_t index_bytes = shard_index_bytes(h->block_count);
    uint8_t *ib = crate_malloc((size_t)index_bytes, "shard index");
    if (!ib) return CRATE_EINTERNAL;
    st = pread_all(s->fd, ib, (size_t)index_bytes, h->index_offset);
    if (st) {
        free(ib);
        return crate_fail(CRATE_EINPUT, "%s: cannot read the block index: %s", path,
                          st < 0 ? "the file shrank while being read" : strerror(st));
    }
    st = shard_index_decode(ib, h, path, &s->blocks);
    free(ib);
    return st;
}

/* Reads block b of shard s from disk into raw (its raw_bytes), checked. */
static int shard_load_block(image_dataset *ds, const shard_file *s, uint32_t b, uint8_t *raw) {
    const shard_block_entry *be = &s->blocks[b];
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
                          SHARD_FIX, s->path, b);
    int got = LZ4_decompress_safe(ds->comp, (char *)raw, (int)be->comp_bytes, (int)be->raw_bytes);
    if (got < 0)
        return crate_fail(CRATE_EINPUT, "%s: block %u: LZ4 data is corrupt (decoder error %d): the block is damaged; "
                          SHARD_FIX, s->path, b, got);
    if ((uint32_t)got != be->raw_bytes)
        return crate_fail(CRATE_EINPUT, "%s: block %u: decompressed to %d bytes, the index says %u: the block is "
                          "damaged; " SHARD_FIX, s->path, b, got, be->raw_bytes);
    uint32_t crc = crc32_update(0, raw, be->raw_bytes);
    if (crc != be->crc)
        return crate_fail(CRATE_EINPUT, "%s: block %u: checksum mismatch (stored %08x, computed %08x): the block is "
                          "damaged; " SHARD_FIX, s->path, b, be->crc, crc);
    return CRATE_OK;
}

/* ---- the dataset ----------------------------------------------------------------------- */

void image_dataset_close(image_dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < ds->nshards; i++) shard_file_close(&ds->shards[i]);
    free(ds->shards);
    shard_cache_free(&ds->cache);
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
                                "shard-%05llu.crs); the dataset is incomplete; " SHARD_FIX, dir, i, n,
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
                            "are mixed; " SHARD_FIX, s->path, s->h.C, s->h.H, s->h.W, ds->shards[0].path, ds->C, ds->H,
                            ds->W);
            break;
        }
        s->first_record = ds->count;
        s->first_block = ds->total_blocks;
        ds->count += s->h.record_count;
        ds->total_blocks += s->h.block_count;
    }
    if (!st) st = shard_cache_init(&ds->cache, ds->total_blocks, cache_bytes);
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

/* The decompressed block b of shard si, from the cache or from disk. */
static int dataset_get_block(image_dataset *ds, int si, uint32_t b, const uint8_t **data) {
    const shard_file *s = &ds->shards[si];
    uint64_t g = s->first_block + b;
    if ((*data = shard_cache_get(&ds->cache, g))) return CRATE_OK;
    size_t raw = s->blocks[b].raw_bytes;
    uint8_t *buf = crate_malloc(raw, "decompressed block");
    if (!buf) return CRATE_EINTERNAL;
    int st = shard_load_block(ds, s, b, buf);
    if (st) {
        free(buf);
        return st;
    }
    shard_cache_put(&ds->cache, g, buf, raw);
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
    if (label) *label = (int32_t)shard_get_le32(rec + ds->pixel_bytes);
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
            uint64_t n = shard_records_in_block(s->h.record_count, s->h.records_per_block, b);
            for (uint64_t r = 0; r < n; r++) {
                int32_t label = (int32_t)shard_get_le32(raw + r * ds->record_bytes + ds->pixel_bytes);
                if (label >= 0 && label < label_slots) label_counts[label]++;
                else if (labels_out_of_range) (*labels_out_of_range)++;
            }
        }
    }
    free(raw);
    return CRATE_OK;
}
