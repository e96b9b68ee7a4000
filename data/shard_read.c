/* shard_read.c — the reader of shard_io.h and its image front end of
 * shard.h: shard_set opens a shard file or a directory of shards of one
 * expected kind, validates every header and index, locates records by global
 * number and serves blocks through a cache of decompressed blocks;
 * image_dataset reads image records through it (token_shard.c reads ids).
 *
 * Design. Opening does all the cross-checks (shard_format.c), so that later
 * reads can trust offsets and sizes; a block is still checked (decompressed
 * size, crc32 of the raw bytes) every time it comes from disk, which also
 * catches a decompressor that "succeeds" on damaged input. Reads use pread on
 * one descriptor per shard, so a reader touches only the blocks it needs.
 * Blocks get a global number (shard's first block + block in shard), the key
 * of the block cache (shard_cache.c). A set refuses shards of the other kind
 * at open, so an image reader never decodes token ids as pixels, nor the
 * reverse.
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
#include "data/shard_io.h"
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

/* The open set: its shards in file-number order. */
struct shard_set {
    int nshards;
    shard_file *shards;
    uint32_t kind;
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

/* Opens and validates one shard file of the expected kind: header, sizes, index. */
static int shard_file_open(shard_file *s, const char *path, uint32_t kind) {
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
    if ((st = shard_header_decode(hb, path, &s->h)) || (st = shard_header_check_kind(&s->h, kind, path)) ||
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
static int shard_load_block(shard_set *set, const shard_file *s, uint32_t b, uint8_t *raw) {
    const shard_block_entry *be = &s->blocks[b];
    if (be->comp_bytes > set->comp_cap) {
        char *nc = realloc(set->comp, be->comp_bytes);
        if (!nc) return crate_fail(CRATE_EINTERNAL, "out of memory reading %s block %u", s->path, b);
        set->comp = nc;
        set->comp_cap = be->comp_bytes;
    }
    int st = pread_all(s->fd, set->comp, be->comp_bytes, be->offset);
    if (st > 0) return crate_fail(CRATE_EINPUT, "%s: block %u: read failed: %s", s->path, b, strerror(st));
    if (st < 0)
        return crate_fail(CRATE_EINPUT, "%s: block %u: the file ends inside the block (truncated since it was opened); "
                          SHARD_FIX, s->path, b);
    int got = LZ4_decompress_safe(set->comp, (char *)raw, (int)be->comp_bytes, (int)be->raw_bytes);
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

/* ---- the set ----------------------------------------------------------------------------- */

void shard_set_close(shard_set *set) {
    if (!set) return;
    for (int i = 0; i < set->nshards; i++) shard_file_close(&set->shards[i]);
    free(set->shards);
    shard_cache_free(&set->cache);
    free(set->comp);
    free(set);
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

/* Shard s has the record shape of shard 0 (of a checked kind). */
static int check_same_shape(const shard_file *s, const shard_file *s0, uint32_t kind) {
    if (s->h.C == s0->h.C && s->h.H == s0->h.H && s->h.W == s0->h.W && s->h.record_bytes == s0->h.record_bytes)
        return CRATE_OK;
    if (kind == SHARD_KIND_TOKENS)
        return crate_fail(CRATE_EINPUT, "%s: token ids of a vocabulary of %u but %s has %u: shards of different "
                          "datasets are mixed; " SHARD_FIX, s->path, s->h.H, s0->path, s0->h.H);
    return crate_fail(CRATE_EINPUT, "%s: images are %ux%ux%u but %s has %ux%ux%u: shards of different datasets "
                      "are mixed; " SHARD_FIX, s->path, s->h.C, s->h.H, s->h.W, s0->path, s0->h.C, s0->h.H, s0->h.W);
}

int shard_set_open(shard_set **out, const char *path, uint32_t kind, size_t cache_bytes) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = errno;
        return crate_fail(CRATE_EINPUT, "%s: cannot open dataset: %s; create it with crate-data", path, strerror(e));
    }
    shard_set *set = crate_calloc(1, sizeof *set, "shard set");
    if (!set) return CRATE_EINTERNAL;
    set->kind = kind;
    int st = CRATE_OK;
    if (S_ISDIR(sb.st_mode)) {
        uint64_t *numbers;
        int n;
        st = list_shards(path, &numbers, &n);
        if (!st) {
            free(numbers); /* 0..n-1 */
            set->shards = crate_calloc((size_t)n, sizeof *set->shards, "shard table");
            if (!set->shards) st = CRATE_EINTERNAL;
            size_t pn = strlen(path) + 64;
            char *p = st ? NULL : crate_malloc(pn, "shard path");
            if (!st && !p) st = CRATE_EINTERNAL;
            for (int i = 0; !st && i < n; i++) {
                snprintf(p, pn, "%s/shard-%05d.crs", path, i);
                st = shard_file_open(&set->shards[i], p, kind);
                set->nshards = i + 1; /* closed by shard_set_close even if partly opened */
            }
            free(p);
        }
    } else {
        set->shards = crate_calloc(1, sizeof *set->shards, "shard table");
        if (!set->shards) st = CRATE_EINTERNAL;
        else {
            set->nshards = 1;
            st = shard_file_open(&set->shards[0], path, kind);
        }
    }
    for (int i = 0; !st && i < set->nshards; i++) {
        shard_file *s = &set->shards[i];
        if (i > 0 && (st = check_same_shape(s, &set->shards[0], kind))) break;
        s->first_record = set->count;
        s->first_block = set->total_blocks;
        set->count += s->h.record_count;
        set->total_blocks += s->h.block_count;
    }
    if (!st) st = shard_cache_init(&set->cache, set->total_blocks, cache_bytes);
    if (st) {
        shard_set_close(set);
        return st;
    }
    *out = set;
    return CRATE_OK;
}

uint64_t shard_set_count(const shard_set *set) { return set->count; }
int shard_set_shards(const shard_set *set) { return set->nshards; }
const shard_header *shard_set_header(const shard_set *set, int shard) { return &set->shards[shard].h; }
const char *shard_set_path(const shard_set *set, int shard) { return set->shards[shard].path; }

void shard_set_get_stats(const shard_set *set, shard_dataset_stats *stats) {
    memset(stats, 0, sizeof *stats);
    stats->records = set->count;
    stats->shards = set->nshards;
    stats->blocks = set->total_blocks;
    for (int i = 0; i < set->nshards; i++) stats->file_bytes += set->shards[i].file_bytes;
    stats->raw_bytes = set->nshards ? set->count * set->shards[0].h.record_bytes : 0;
}

int shard_set_locate(shard_set *set, uint64_t r, uint64_t *local) {
    int si = set->last_shard;
    const shard_file *s = &set->shards[si];
    if (r < s->first_record || r - s->first_record >= s->h.record_count) {
        int lo = 0, hi = set->nshards - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (set->shards[mid].first_record <= r) lo = mid;
            else hi = mid - 1;
        }
        /* The last shard starting at or before r: an empty shard shares its
         * first_record with the next, so it is never the last one. */
        si = set->last_shard = lo;
        s = &set->shards[si];
    }
    *local = r - s->first_record;
    return si;
}

int shard_set_block(shard_set *set, int shard, uint32_t b, const uint8_t **data) {
    const shard_file *s = &set->shards[shard];
    uint64_t g = s->first_block + b;
    if ((*data = shard_cache_get(&set->cache, g))) return CRATE_OK;
    size_t raw = s->blocks[b].raw_bytes;
    uint8_t *buf = crate_malloc(raw ? raw : 1, "decompressed block");
    if (!buf) return CRATE_EINTERNAL;
    int st = shard_load_block(set, s, b, buf);
    if (st) {
        free(buf);
        return st;
    }
    shard_cache_put(&set->cache, g, buf, raw);
    *data = buf;
    return CRATE_OK;
}

int shard_set_verify(shard_set *set, shard_block_fn each, void *ctx) {
    size_t max_raw = 1;
    for (int i = 0; i < set->nshards; i++)
        for (uint32_t b = 0; b < set->shards[i].h.block_count; b++)
            if (set->shards[i].blocks[b].raw_bytes > max_raw) max_raw = set->shards[i].blocks[b].raw_bytes;
    uint8_t *raw = crate_malloc(max_raw, "verify buffer");
    if (!raw) return CRATE_EINTERNAL;
    int st = CRATE_OK;
    for (int i = 0; !st && i < set->nshards; i++) {
        const shard_file *s = &set->shards[i];
        for (uint32_t b = 0; !st && b < s->h.block_count; b++) {
            st = shard_load_block(set, s, b, raw);
            if (!st && each)
                st = each(ctx, i, b, raw, shard_records_in_block(s->h.record_count, s->h.records_per_block, b));
        }
    }
    free(raw);
    return st;
}

/* ---- the image front end ------------------------------------------------------------------- */

struct image_dataset {
    shard_set *set;
    uint32_t C, H, W, pixel_bytes, record_bytes;
};

void image_dataset_close(image_dataset *ds) {
    if (!ds) return;
    shard_set_close(ds->set);
    free(ds);
}

int image_dataset_open(image_dataset **out, const char *path, size_t cache_bytes) {
    *out = NULL;
    image_dataset *ds = crate_calloc(1, sizeof *ds, "image dataset");
    if (!ds) return CRATE_EINTERNAL;
    int st = shard_set_open(&ds->set, path, SHARD_KIND_IMAGE, cache_bytes);
    if (st) {
        free(ds);
        return st;
    }
    const shard_header *h = shard_set_header(ds->set, 0);
    ds->C = h->C;
    ds->H = h->H;
    ds->W = h->W;
    ds->record_bytes = h->record_bytes;
    ds->pixel_bytes = h->record_bytes - 4;
    *out = ds;
    return CRATE_OK;
}

uint64_t image_dataset_count(const image_dataset *ds) { return shard_set_count(ds->set); }

int image_dataset_check_span(const image_dataset *ds, uint64_t first, uint64_t n, const char *what) {
    uint64_t count = image_dataset_count(ds);
    if (first < count && n <= count - first) return CRATE_OK;
    return crate_fail(CRATE_EINPUT, "%s holds %llu images: images %llu to %llu do not exist", what,
                      (unsigned long long)count, (unsigned long long)first, (unsigned long long)(first + n - 1));
}

void image_dataset_shape(const image_dataset *ds, int *C, int *H, int *W) {
    if (C) *C = (int)ds->C;
    if (H) *H = (int)ds->H;
    if (W) *W = (int)ds->W;
}

void image_dataset_get_stats(const image_dataset *ds, image_dataset_stats *stats) {
    shard_set_get_stats(ds->set, stats);
}

int image_dataset_read(image_dataset *ds, uint64_t index, uint8_t *pixels, int32_t *label) {
    uint64_t count = shard_set_count(ds->set);
    if (index >= count)
        return crate_fail(CRATE_EINTERNAL, "record %llu requested from a dataset of %llu (a caller bug)",
                          (unsigned long long)index, (unsigned long long)count);
    uint64_t local;
    int si = shard_set_locate(ds->set, index, &local);
    uint32_t rpb = shard_set_header(ds->set, si)->records_per_block;
    const uint8_t *data;
    int st = shard_set_block(ds->set, si, (uint32_t)(local / rpb), &data);
    if (st) return st;
    const uint8_t *rec = data + (size_t)(local % rpb) * ds->record_bytes;
    if (pixels) memcpy(pixels, rec, ds->pixel_bytes);
    if (label) *label = (int32_t)shard_get_le32(rec + ds->pixel_bytes);
    return CRATE_OK;
}

typedef struct {
    const image_dataset *ds;
    uint64_t *label_counts, *out_of_range;
    int label_slots;
} label_count_ctx;

static int count_labels(void *arg, int shard, uint32_t b, const uint8_t *raw, uint64_t records) {
    label_count_ctx *c = arg;
    for (uint64_t r = 0; r < records; r++) {
        int32_t label = (int32_t)shard_get_le32(raw + r * c->ds->record_bytes + c->ds->pixel_bytes);
        if (label >= 0 && label < c->label_slots) c->label_counts[label]++;
        else if (c->out_of_range) (*c->out_of_range)++;
    }
    return CRATE_OK;
}

int image_dataset_verify(image_dataset *ds, uint64_t *label_counts, int label_slots, uint64_t *labels_out_of_range) {
    label_count_ctx c = {ds, label_counts, labels_out_of_range, label_slots};
    return shard_set_verify(ds->set, label_counts ? count_labels : NULL, &c);
}
