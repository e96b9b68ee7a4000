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
#define SHARD_VERSION 1u
#define CHUNK (4u << 20) /* bytes fed to lz4 per call */

typedef struct {
    char magic[8];
    uint32_t version, sections;
    uint64_t lo, hi;
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

static int write_frame(shard_writer *w, uint64_t lo, uint64_t hi, const float *const section[], int level) {
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
    shard_header h = {SHARD_MAGIC, SHARD_VERSION, CKPT_SECTIONS, lo, hi};
    memcpy(h.magic, SHARD_MAGIC, 8);
    if (rc == CRATE_OK) rc = compress(w, &h, sizeof h);
    for (int s = 0; s < CKPT_SECTIONS && rc == CRATE_OK; s++)
        rc = compress(w, section[s], (size_t)(hi - lo) * sizeof(float));
    if (rc != CRATE_OK) return rc;
    k = LZ4F_compressEnd(w->ctx, w->out, w->out_cap, NULL);
    if (LZ4F_isError(k)) return crate_fail(CRATE_EINTERNAL, "lz4: %s", LZ4F_getErrorName(k));
    return put_bytes(w, w->out, k);
}

int ckpt_shard_write(const char *path, uint64_t lo, uint64_t hi, const float *const section[CKPT_SECTIONS],
                     int level, ckpt_shard_info *info) {
    memset(info, 0, sizeof *info);
    shard_writer w = {.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), .path = path, .info = info};
    if (w.fd < 0)
        return crate_fail(fs_errno_status(errno), "cannot create checkpoint shard '%s': %s", path, strerror(errno));
    int rc = LZ4F_isError(LZ4F_createCompressionContext(&w.ctx, LZ4F_VERSION))
                 ? crate_fail(CRATE_EINTERNAL, "lz4: cannot create a compression context")
                 : write_frame(&w, lo, hi, section, level);
    if (rc == CRATE_OK && fsync(w.fd) != 0)
        rc = crate_fail(fs_errno_status(errno), "syncing checkpoint shard '%s': %s", path, strerror(errno));
    if (close(w.fd) != 0 && rc == CRATE_OK)
        rc = crate_fail(fs_errno_status(errno), "closing checkpoint shard '%s': %s", path, strerror(errno));
    LZ4F_freeCompressionContext(w.ctx);
    free(w.out);
    return rc;
}

/* ---- reading ---- */

/* Where the decompressed bytes go: the header first, then each section's
 * wanted part into dst. `pos` counts decompressed bytes seen so far. */
typedef struct {
    shard_header header;
    uint64_t pos, section_bytes, want_lo, want_hi, lo;
    float *const *dst;
} shard_sink;

static void sink_bytes(shard_sink *k, const char *p, size_t n) {
    while (n > 0) {
        if (k->pos < sizeof k->header) { /* header */
            size_t take = sizeof k->header - (size_t)k->pos < n ? sizeof k->header - (size_t)k->pos : n;
            memcpy((char *)&k->header + k->pos, p, take);
            k->pos += take, p += take, n -= take;
            continue;
        }
        uint64_t body = k->pos - sizeof k->header;
        uint64_t s = body / k->section_bytes, at = body % k->section_bytes;
        size_t take = k->section_bytes - at < n ? (size_t)(k->section_bytes - at) : n;
        if (s >= CKPT_SECTIONS) { /* bytes past the last section: counted, so the length check fails */
            k->pos += n;
            return;
        }
        /* Byte range of this section that the caller wants, in section-relative
         * bytes (negative or empty when the ranges do not meet). */
        int64_t a = ((int64_t)k->want_lo - (int64_t)k->lo) * (int64_t)sizeof(float);
        int64_t b = ((int64_t)k->want_hi - (int64_t)k->lo) * (int64_t)sizeof(float);
        int64_t from = (int64_t)at > a ? (int64_t)at : a, to = (int64_t)(at + take) < b ? (int64_t)(at + take) : b;
        if (from < to)
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

int ckpt_shard_read(const char *path, const ckpt_shard_info *expect, uint64_t lo, uint64_t hi, uint64_t want_lo,
                    uint64_t want_hi, float *const dst[CKPT_SECTIONS]) {
    FILE *f = fopen(path, "rb");
    if (!f) return crate_fail(CRATE_EINPUT, "cannot open '%s': %s", path, strerror(errno));
    shard_sink k = {.section_bytes = (hi - lo) * sizeof(float), .want_lo = want_lo, .want_hi = want_hi, .lo = lo,
                    .dst = dst};
    if (k.section_bytes == 0) k.section_bytes = 1; /* an empty range: no body bytes ever arrive */
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
    if (memcmp(k.header.magic, SHARD_MAGIC, 8) || k.header.version != SHARD_VERSION ||
        k.header.sections != CKPT_SECTIONS || k.header.lo != lo || k.header.hi != hi ||
        k.pos != sizeof k.header + CKPT_SECTIONS * (hi - lo) * sizeof(float))
        return crate_fail(CRATE_EINPUT, "'%s' does not hold the range [%llu, %llu) the manifest gives it", path,
                          (unsigned long long)lo, (unsigned long long)hi);
    return CRATE_OK;
}
