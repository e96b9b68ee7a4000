/* ckpt_shard.c — see ckpt_shard.h. Both directions stream through buffers
 * of a few MiB, so a rank never holds a second copy of its range. */
#include "src/ckpt/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/io/crc32.h"
#include "src/error.h"
#include "src/io/fs.h"

#define SHARD_MAGIC "CRATESHD"
#define SHARD_VERSION 2u
#define CHUNK (4u << 20) /* bytes fed to lz4 per call */

/* The fixed part; version 2 follows it with S ranges, version 1 with one. */
typedef struct {
    char magic[8];
    uint32_t version, sections;
} shard_header;

/* ---- writing ---- */

typedef struct {
    int fd;
    const char *path;
    LZ4F_cctx *ctx;
    char *out;
    size_t out_cap;
    ckpt_shard_info *info;
} shard_writer;

static int put_bytes(shard_writer *w, const char *buf, size_t n) {
    w->info->crc32 = crc32_update(w->info->crc32, buf, n);
    w->info->bytes += n;
    while (n > 0) {
        ssize_t k = write(w->fd, buf, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0)
            return crate_fail(fs_errno_status(errno), "writing checkpoint shard '%s': %s", w->path, strerror(errno));
        buf += k;
        n -= (size_t)k;
    }
    return CRATE_OK;
}

static int compress(shard_writer *w, const void *src, size_t n) {
    const char *p = src;
    for (size_t done = 0; done < n;) {
        size_t take = n - done < CHUNK ? n - done : CHUNK;
        size_t k = LZ4F_compressUpdate(w->ctx, w->out, w->out_cap, p + done, take, NULL);
        if (LZ4F_isError(k)) return crate_fail(CRATE_EINTERNAL, "lz4: %s", LZ4F_getErrorName(k));
        int rc = put_bytes(w, w->out, k);
        if (rc != CRATE_OK) return rc;
        done += take;
    }
    return CRATE_OK;
}

static int write_frame(shard_writer *w, int nsections, const ckpt_range *range, const float *const *section,
                       int level) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.compressionLevel = level;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockSizeID = LZ4F_max4MB;
    w->out_cap = LZ4F_compressBound(CHUNK, &prefs) + LZ4F_HEADER_SIZE_MAX;
    w->out = crate_malloc(w->out_cap, "lz4 output buffer");
    if (!w->out) return CRATE_EINTERNAL;
    size_t k = LZ4F_compressBegin(w->ctx, w->out, w->out_cap, &prefs);
    if (LZ4F_isError(k)) return crate_fail(CRATE_EINTERNAL, "lz4: %s", LZ4F_getErrorName(k));
    int rc = put_bytes(w, w->out, k);
    shard_header h = {.version = SHARD_VERSION, .sections = (uint32_t)nsections};
    memcpy(h.magic, SHARD_MAGIC, 8);
    if (rc == CRATE_OK) rc = compress(w, &h, sizeof h);
    if (rc == CRATE_OK) rc = compress(w, range, (size_t)nsections * sizeof *range);
    for (int s = 0; s < nsections && rc == CRATE_OK; s++)
        rc = compress(w, section[s], (size_t)(range[s].hi - range[s].lo) * sizeof(float));
    if (rc != CRATE_OK) return rc;
    k = LZ4F_compressEnd(w->ctx, w->out, w->out_cap, NULL);
    if (LZ4F_isError(k)) return crate_fail(CRATE_EINTERNAL, "lz4: %s", LZ4F_getErrorName(k));
    return put_bytes(w, w->out, k);
}

int ckpt_shard_write(const char *path, int nsections, const ckpt_range *range, const float *const *section,
                     int level, ckpt_shard_info *info) {
    memset(info, 0, sizeof *info);
    info->version = SHARD_VERSION;
    if (nsections < 1 || nsections > CKPT_MAX_SECTIONS)
        return crate_fail(CRATE_EINTERNAL, "checkpoint shard '%s': %d sections", path, nsections);
    /* Into a folder made fresh for this save: exclusive, never through a link. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    shard_writer w = {.fd = fd, .path = path, .info = info};
    if (w.fd < 0)
        return crate_fail(fs_errno_status(errno), "cannot create checkpoint shard '%s': %s", path, strerror(errno));
    int rc = LZ4F_isError(LZ4F_createCompressionContext(&w.ctx, LZ4F_VERSION))
                 ? crate_fail(CRATE_EINTERNAL, "lz4: cannot create a compression context")
                 : write_frame(&w, nsections, range, section, level);
    if (rc == CRATE_OK && fsync(w.fd) != 0)
        rc = crate_fail(fs_errno_status(errno), "syncing checkpoint shard '%s': %s", path, strerror(errno));
    if (close(w.fd) != 0 && rc == CRATE_OK)
        rc = crate_fail(fs_errno_status(errno), "closing checkpoint shard '%s': %s", path, strerror(errno));
    LZ4F_freeCompressionContext(w.ctx);
    free(w.out);
    return rc;
}

/* ---- reading ---- */

/* Where the decompressed bytes go: the header and its ranges first (their
 * length known from the manifest: 16 bytes per section in version 2, 16 in
 * all in version 1), then each section's wanted part into dst. `pos` counts
 * decompressed bytes seen so far; header bytes beyond the buffer are counted
 * only, so a wrong header fails the checks after the frame. */
typedef struct {
    unsigned char head[sizeof(shard_header) + CKPT_MAX_SECTIONS * sizeof(ckpt_range)];
    uint64_t pos, head_bytes;
    int nsections;
    const ckpt_range *range, *want;
    float *const *dst;
} shard_sink;

static void sink_bytes(shard_sink *k, const char *p, size_t n) {
    while (n > 0) {
        if (k->pos < k->head_bytes) {
            size_t take = k->head_bytes - k->pos < n ? (size_t)(k->head_bytes - k->pos) : n;
            memcpy(k->head + k->pos, p, take);
            k->pos += take, p += take, n -= take;
            continue;
        }
        /* The section this byte falls in, and where in it. */
        uint64_t at = k->pos - k->head_bytes;
        int s = 0;
        for (; s < k->nsections; s++) {
            uint64_t bytes = (k->range[s].hi - k->range[s].lo) * sizeof(float);
            if (at < bytes) break;
            at -= bytes;
        }
        if (s == k->nsections) { /* bytes past the last section: counted, so the length check fails */
            k->pos += n;
            return;
        }
        uint64_t bytes = (k->range[s].hi - k->range[s].lo) * sizeof(float);
        size_t take = bytes - at < n ? (size_t)(bytes - at) : n;
        /* Byte range of this section that the caller wants, in section-relative
         * bytes (negative or empty when the ranges do not meet). */
        int64_t a = ((int64_t)k->want[s].lo - (int64_t)k->range[s].lo) * (int64_t)sizeof(float);
        int64_t b = ((int64_t)k->want[s].hi - (int64_t)k->range[s].lo) * (int64_t)sizeof(float);
        int64_t from = (int64_t)at > a ? (int64_t)at : a, to = (int64_t)(at + take) < b ? (int64_t)(at + take) : b;
        if (k->dst[s] && from < to)
            memcpy((char *)k->dst[s] + (from - a), p + (from - (int64_t)at), (size_t)(to - from));
        k->pos += take, p += take, n -= take;
    }
}

static int read_frame(FILE *f, const char *path, shard_sink *k, uint32_t *crc, uint64_t *bytes) {
    LZ4F_dctx *ctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION)))
        return crate_fail(CRATE_EINTERNAL, "lz4: cannot create a decompression context");
    char *in = crate_malloc(2 * (size_t)CHUNK, "lz4 buffers"), *out = in ? in + CHUNK : NULL;
    int rc = in ? CRATE_OK : CRATE_EINTERNAL;
    size_t hint = 1, got;
    while (rc == CRATE_OK && hint != 0 && (got = fread(in, 1, CHUNK, f)) > 0) {
        *crc = crc32_update(*crc, in, got);
        *bytes += got;
        for (size_t used = 0; used < got && rc == CRATE_OK && hint != 0;) {
            size_t src = got - used, dst = CHUNK;
            hint = LZ4F_decompress(ctx, out, &dst, in + used, &src, NULL);
            if (LZ4F_isError(hint))
                rc = crate_fail(CRATE_EINPUT, "'%s' is damaged: lz4: %s", path, LZ4F_getErrorName(hint));
            else
                sink_bytes(k, out, dst);
            used += src;
        }
    }
    if (rc == CRATE_OK && ferror(f)) rc = crate_fail(CRATE_EINPUT, "reading '%s': %s", path, strerror(errno));
    if (rc == CRATE_OK && hint != 0) rc = crate_fail(CRATE_EINPUT, "'%s' is truncated (the lz4 frame is incomplete)", path);
    /* Count any bytes after the frame too, so the size check sees them. */
    while (rc == CRATE_OK && (got = fread(in, 1, CHUNK, f)) > 0) {
        *crc = crc32_update(*crc, in, got);
        *bytes += got;
    }
    LZ4F_freeDecompressionContext(ctx);
    free(in);
    return rc;
}

/* The header the manifest's ranges imply, checked against what the file held. */
static int check_header(const shard_sink *k, const char *path, uint32_t version, uint64_t body_bytes) {
    shard_header h;
    memcpy(&h, k->head, sizeof h);
    int ok = memcmp(h.magic, SHARD_MAGIC, 8) == 0 && h.sections == (uint32_t)k->nsections &&
             h.version == version && k->pos == k->head_bytes + body_bytes;
    const unsigned char *ranges = k->head + sizeof h;
    if (ok && h.version == 1) { /* one range for all three sections */
        ckpt_range r;
        memcpy(&r, ranges, sizeof r);
        for (int s = 0; s < k->nsections; s++) ok &= r.lo == k->range[s].lo && r.hi == k->range[s].hi;
    } else if (ok && h.version == SHARD_VERSION) {
        ok = memcmp(ranges, k->range, (size_t)k->nsections * sizeof *k->range) == 0;
    } else {
        ok = 0;
    }
    if (!ok)
        return crate_fail(CRATE_EINPUT, "'%s' does not hold the %d section ranges the manifest gives it (first "
                          "[%llu, %llu))", path, k->nsections, (unsigned long long)k->range[0].lo,
                          (unsigned long long)k->range[0].hi);
    return CRATE_OK;
}

int ckpt_shard_read(const char *path, const ckpt_shard_info *expect, int nsections, const ckpt_range *range,
                    const ckpt_range *want, float *const *dst) {
    if (nsections < 1 || nsections > CKPT_MAX_SECTIONS)
        return crate_fail(CRATE_EINPUT, "'%s': the manifest gives it %d sections (1 to %d)", path, nsections,
                          CKPT_MAX_SECTIONS);
    uint64_t body = 0;
    for (int s = 0; s < nsections; s++) {
        if (range[s].hi < range[s].lo)
            return crate_fail(CRATE_EINPUT, "'%s': section %d has the empty range [%llu, %llu)", path, s,
                              (unsigned long long)range[s].lo, (unsigned long long)range[s].hi);
        body += (range[s].hi - range[s].lo) * sizeof(float);
    }
    FILE *f = fopen(path, "rb");
    if (!f) return crate_fail(CRATE_EINPUT, "cannot open '%s': %s", path, strerror(errno));
    shard_sink k = {.nsections = nsections, .range = range, .want = want, .dst = dst};
    k.head_bytes = sizeof(shard_header) + (uint64_t)(expect->version == 1 ? 1 : nsections) * sizeof(ckpt_range);
    uint32_t crc = 0;
    uint64_t bytes = 0;
    int rc = read_frame(f, path, &k, &crc, &bytes);
    fclose(f);
    if (rc != CRATE_OK) return rc;
    if (bytes != expect->bytes)
        return crate_fail(CRATE_EINPUT, "'%s' has %llu bytes, the manifest says %llu (truncated or replaced)", path,
                          (unsigned long long)bytes, (unsigned long long)expect->bytes);
    if (crc != expect->crc32)
        return crate_fail(CRATE_EINPUT, "'%s' is damaged: crc32 %08x, the manifest says %08x", path, crc,
                          expect->crc32);
    return check_header(&k, path, expect->version, body);
}
