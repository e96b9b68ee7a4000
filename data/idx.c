/* idx.c — IDX files through `gzip -dc` (see idx.h).
 *
 * The data arrives on a pipe, so everything is read sequentially: header,
 * dimensions, exactly the announced number of bytes, then a check that nothing
 * follows and that gzip exited 0 (a truncated .gz makes gzip fail after it has
 * written a plausible prefix, so the exit status matters as much as the sizes).
 */
#define _POSIX_C_SOURCE 200809L
#include "data/idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/error.h"

#define IDX_FIX "reinstall it (apt-get install --reinstall dataset-fashion-mnist) or point --source at a good copy"
#define IDX_MAX_BYTES (1ull << 34) /* 16 GiB: more than any IDX file; bounds a damaged header */

typedef struct {
    FILE *f;
    int piped; /* opened with popen */
} idx_stream;

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int idx_open(idx_stream *st, const char *path) {
    st->f = NULL;
    st->piped = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = errno;
        return crate_fail(CRATE_EINPUT, "%s: %s; Fashion-MNIST ships in the Debian package dataset-fashion-mnist "
                          "(apt-get install dataset-fashion-mnist), or pass --source DIR", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) return crate_fail(CRATE_EINPUT, "%s: not a regular file", path);
    if (access(path, R_OK) != 0) {
        int e = errno;
        return crate_fail(CRATE_EINPUT, "%s: cannot read: %s", path, strerror(e));
    }
    if (!ends_with(path, ".gz")) {
        st->f = fopen(path, "rb");
        if (!st->f) {
            int e = errno;
            return crate_fail(CRATE_EINPUT, "%s: cannot open: %s", path, strerror(e));
        }
        return CRATE_OK;
    }
    /* Single-quote the path for sh: ' becomes '\''. */
    size_t n = strlen(path);
    char *cmd = crate_malloc(4 * n + 64, "gzip command");
    if (!cmd) return CRATE_EINTERNAL;
    char *p = cmd;
    p += sprintf(p, "gzip -dc -- '");
    for (const char *s = path; *s; s++) {
        if (*s == '\'') {
            memcpy(p, "'\\''", 4);
            p += 4;
        } else {
            *p++ = *s;
        }
    }
    strcpy(p, "' 2>/dev/null");
    fflush(NULL); /* the child must not inherit and re-flush our buffers */
    st->f = popen(cmd, "r");
    free(cmd);
    if (!st->f) {
        int e = errno;
        return crate_fail(CRATE_EINTERNAL, "%s: cannot run gzip -dc: %s; gzip is an essential package, is PATH set?",
                          path, strerror(e));
    }
    st->piped = 1;
    return CRATE_OK;
}

/* Closes the stream; for a pipe, checks gzip's exit status (unless the read
 * already failed, when gzip may have died of SIGPIPE on our early close). */
static int idx_close(idx_stream *st, const char *path, int status) {
    if (!st->f) return status;
    if (!st->piped) {
        fclose(st->f);
        return status;
    }
    int ws = pclose(st->f);
    st->f = NULL;
    if (status) return status;
    if (ws == -1) return crate_fail(CRATE_EINTERNAL, "%s: waiting for gzip failed: %s", path, strerror(errno));
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127)
        return crate_fail(CRATE_EINTERNAL, "%s: gzip not found; install it (apt-get install gzip)", path);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        return crate_fail(CRATE_EINPUT, "%s: gzip -dc failed (%s %d): the file is not valid gzip or is truncated; "
                          IDX_FIX, path, WIFEXITED(ws) ? "exit status" : "signal",
                          WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
    return CRATE_OK;
}

/* Reads the header and dimensions, then all the data. */
static int idx_read(const char *path, uint32_t want_magic, int want_dims, uint32_t *dims, uint8_t **data,
                    uint64_t *bytes) {
    *data = NULL;
    idx_stream st;
    int status = idx_open(&st, path);
    if (status) return status;
    uint8_t head[4 + 4 * 3];
    size_t head_bytes = 4 + 4 * (size_t)want_dims;
    size_t got = fread(head, 1, head_bytes, st.f);
    uint8_t *buf = NULL;
    if (got != head_bytes) {
        status = crate_fail(CRATE_EINPUT, "%s: %zu bytes, too short for an IDX header (a truncated or empty file?); "
                            IDX_FIX, path, got);
    } else {
        uint32_t magic = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
        if (magic != want_magic)
            status = crate_fail(CRATE_EINPUT, "%s: IDX magic 0x%08x, expected 0x%08x (%s); wrong file or damaged; "
                                IDX_FIX, path, magic, want_magic,
                                want_magic == 0x803 ? "uint8 images, 3 dimensions" : "uint8 labels, 1 dimension");
    }
    uint64_t total = 1;
    for (int d = 0; !status && d < want_dims; d++) {
        const uint8_t *p = head + 4 + 4 * d;
        dims[d] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        total *= dims[d];
        if (dims[d] == 0 || total > IDX_MAX_BYTES)
            status = crate_fail(CRATE_EINPUT, "%s: implausible IDX dimension %u (dimension %d); " IDX_FIX, path,
                                dims[d], d);
    }
    if (!status) {
        buf = crate_malloc((size_t)total, "IDX data");
        if (!buf) status = CRATE_EINTERNAL;
    }
    if (!status) {
        got = fread(buf, 1, (size_t)total, st.f);
        if (got != total)
            status = crate_fail(CRATE_EINPUT, "%s: the header announces %llu data bytes but the file holds %zu "
                                "(truncated); " IDX_FIX, path, (unsigned long long)total, got);
        else if (fgetc(st.f) != EOF)
            status = crate_fail(CRATE_EINPUT, "%s: extra bytes after the %llu data bytes the header announces; "
                                "wrong or damaged file; " IDX_FIX, path, (unsigned long long)total);
        else if (ferror(st.f))
            status = crate_fail(CRATE_EINPUT, "%s: read error", path);
    }
    status = idx_close(&st, path, status);
    if (status) {
        free(buf);
        return status;
    }
    *data = buf;
    *bytes = total;
    return CRATE_OK;
}

int idx_read_images(const char *path, uint8_t **pixels, uint64_t *count, int *rows, int *cols) {
    uint32_t dims[3];
    uint64_t bytes;
    int st = idx_read(path, 0x00000803u, 3, dims, pixels, &bytes);
    if (st) return st;
    if (dims[1] > 65535 || dims[2] > 65535) {
        free(*pixels);
        *pixels = NULL;
        return crate_fail(CRATE_EINPUT, "%s: implausible image size %ux%u; " IDX_FIX, path, dims[1], dims[2]);
    }
    *count = dims[0];
    *rows = (int)dims[1];
    *cols = (int)dims[2];
    return CRATE_OK;
}

int idx_read_labels(const char *path, uint8_t **labels, uint64_t *count) {
    uint32_t dims[1];
    uint64_t bytes;
    int st = idx_read(path, 0x00000801u, 1, dims, labels, &bytes);
    if (st) return st;
    *count = dims[0];
    return CRATE_OK;
}
