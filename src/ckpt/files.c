/* files.c — see files.h. Reading checks in the order that keeps an
 * untrusted manifest harmless: the name (no path leaves the folder), then
 * the real file's size against the listed one (so a bogus size allocates
 * nothing), then the crc32 of the bytes read. */
#include "src/ckpt/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/error.h"
#include "src/io/crc32.h"
#include "src/io/fs.h"

const char *ckpt_file_name_problem(const char *name) {
    size_t n = strlen(name);
    if (n == 0) return "it is empty";
    if (n >= CKPT_FILE_MAX) return "it is longer than 63 characters";
    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") != n)
        return "it has a character other than A-Z a-z 0-9 . _ + - (a plain file name, no '/')";
    if (name[0] == '.') return "it starts with '.'";
    if (!strncmp(name, "manifest.", 9) || !strncmp(name, "shard-", 6))
        return "names starting with manifest. or shard- are the checkpoint's own";
    return NULL;
}

int ckpt_file_check(const ckpt_file *f) {
    const char *name = f->name ? f->name : "", *why = ckpt_file_name_problem(name);
    if (why)
        return crate_fail(CRATE_EINTERNAL, "cannot attach '%s' to a checkpoint: %s (the objective must give "
                          "another name)", name, why);
    if (f->bytes > CKPT_FILE_BYTES_MAX || (f->bytes > 0 && !f->data))
        return crate_fail(CRATE_EINTERNAL, "cannot attach '%s' to a checkpoint: %zu bytes%s (at most %u MiB of "
                          "data)", name, f->bytes, f->data ? "" : " without data", CKPT_FILE_BYTES_MAX >> 20);
    return CRATE_OK;
}

int ckpt_file_write(const char *dir, const ckpt_file *f, ckpt_file_entry *out) {
    memset(out, 0, sizeof *out);
    int rc = ckpt_file_check(f);
    if (rc != CRATE_OK) return rc;
    char path[2 * 4096];
    snprintf(path, sizeof path, "%s/%s", dir, f->name);
    rc = fs_write_file_synced(path, f->data ? f->data : "", f->bytes);
    if (rc != CRATE_OK) return rc;
    snprintf(out->name, sizeof out->name, "%s", f->name);
    out->bytes = f->bytes;
    out->crc32 = crc32_update(0, f->data ? f->data : "", f->bytes);
    return CRATE_OK;
}

/* Reads exactly want bytes of fd into buf (scratch of cap bytes reused when
 * keep is 0), adding them to *crc; *got counts what was read. */
static int read_all(int fd, const char *path, char *buf, size_t cap, int keep, uint64_t want, uint32_t *crc,
                    uint64_t *got) {
    while (*got < want) {
        size_t n = want - *got < cap ? (size_t)(want - *got) : cap;
        char *to = keep ? buf + *got : buf;
        ssize_t k = read(fd, to, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return crate_fail(CRATE_EINPUT, "reading '%s': %s", path, strerror(errno));
        if (k == 0) break; /* shorter than when it was measured: the size check reports it */
        *crc = crc32_update(*crc, to, (size_t)k);
        *got += (uint64_t)k;
    }
    return CRATE_OK;
}

int ckpt_file_read(const char *dir, const ckpt_file_entry *e, void **data) {
    if (data) *data = NULL;
    char path[2 * 4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->name);
    const char *why = ckpt_file_name_problem(e->name);
    if (why) return crate_fail(CRATE_EINPUT, "%s: the manifest names an attached file '%s': %s", dir, e->name, why);
    const char *fix = "restore it from a copy, or use an earlier checkpoint";
    /* O_NONBLOCK: a FIFO in its place must not hang the reader (regular
     * files ignore it). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return crate_fail(CRATE_EINPUT, "attached file '%s' %s: %s", path,
                          errno == ENOENT ? "is missing (the manifest lists it)" : strerror(errno), fix);
    struct stat st;
    int rc = CRATE_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = crate_fail(CRATE_EINPUT, "attached file '%s' is not a regular file: %s", path, fix);
    else if ((uint64_t)st.st_size != e->bytes)
        rc = crate_fail(CRATE_EINPUT, "attached file '%s' has %llu bytes, the manifest says %llu (truncated or "
                        "replaced): %s", path, (unsigned long long)st.st_size, (unsigned long long)e->bytes, fix);
    /* The size is now the real file's, so allocating it is safe. */
    char scratch[1 << 14], *buf = scratch;
    size_t cap = sizeof scratch;
    if (rc == CRATE_OK && data) {
        buf = crate_malloc((size_t)e->bytes + 1, "attached checkpoint file");
        cap = (size_t)e->bytes + 1;
        if (!buf) rc = CRATE_EINTERNAL;
    }
    uint32_t crc = 0;
    uint64_t got = 0, more = 0;
    uint32_t ignored = 0;
    if (rc == CRATE_OK) rc = read_all(fd, path, buf, cap, data != NULL, e->bytes, &crc, &got);
    /* One byte beyond the listed size means the file grew while being read. */
    if (rc == CRATE_OK) rc = read_all(fd, path, scratch, 1, 0, 1, &ignored, &more);
    close(fd);
    if (rc == CRATE_OK && (got != e->bytes || more != 0))
        rc = crate_fail(CRATE_EINPUT, "attached file '%s' changed size while being read: %s", path, fix);
    if (rc == CRATE_OK && crc != e->crc32)
        rc = crate_fail(CRATE_EINPUT, "attached file '%s' is damaged: crc32 %08x, the manifest says %08x: %s", path,
                        crc, e->crc32, fix);
    if (rc == CRATE_OK && data) {
        buf[e->bytes] = 0;
        *data = buf;
    } else if (buf != scratch) {
        free(buf);
    }
    return rc;
}
