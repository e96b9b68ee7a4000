/* fs.c — see fs.h. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "src/io/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/error.h"

char *fs_path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = crate_malloc(n, "path");
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

int fs_mkdir_p(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return crate_fail(CRATE_EINPUT, "path too long: '%s'", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char saved = *p;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return crate_fail(CRATE_EINPUT, "cannot create directory '%s': %s", buf, strerror(errno));
        *p = saved;
        if (!saved) break;
    }
    return CRATE_OK;
}

int fs_errno_status(int e) {
    return (e == ENOENT || e == ENOTDIR || e == EACCES || e == EROFS || e == EISDIR || e == EEXIST ||
            e == ENOSPC || e == EDQUOT)
               ? CRATE_EINPUT
               : CRATE_EINTERNAL;
}

void fs_sync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* fsync of the folder holding path, so a rename into it is durable. */
static void fsync_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir) {
        d = "/";
    } else if (slash) {
        *slash = '\0';
        d = dir;
    }
    fs_sync_dir(d);
}

/* Creates path for writing, exclusively: O_EXCL fails on anything already
 * there, a symlink included (even a dangling one), so a planted link is never
 * followed and no existing file is truncated. */
static int create_exclusive(const char *path, int *fd) {
    *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (*fd >= 0) return CRATE_OK;
    int e = errno;
    return crate_fail(fs_errno_status(e), "cannot create '%s': %s%s", path, strerror(e),
                      e == EEXIST ? " (something is already there; crate never writes through it)" : "");
}

/* write(2) of all len bytes, fsync, close; 0 or the errno of the failure. */
static int write_all_synced(int fd, const void *data, size_t len) {
    const char *p = data;
    int e = 0;
    while (len > 0 && !e) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno != EINTR) e = errno;
        if (k > 0) p += k, len -= (size_t)k;
    }
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    return e;
}

int fs_write_file_synced(const char *path, const void *data, size_t len) {
    int fd;
    int rc = create_exclusive(path, &fd);
    if (rc != CRATE_OK) return rc;
    int e = write_all_synced(fd, data, len);
    return e ? crate_fail(fs_errno_status(e), "writing '%s' failed: %s", path, strerror(e)) : CRATE_OK;
}

int fs_read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return crate_fail(CRATE_EINPUT, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = NULL;
    for (;;) {
        char *b = realloc(buf, cap + 1);
        if (!b) {
            free(buf);
            fclose(f);
            return crate_fail(CRATE_EINTERNAL, "out of memory reading '%s'", path);
        }
        buf = b;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return crate_fail(CRATE_EINPUT, "reading '%s' failed", path);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return CRATE_OK;
}

static int remove_entry(const char *path, const struct stat *st, int kind, struct FTW *ftw) {
    (void)st, (void)kind, (void)ftw;
    return remove(path) == 0 ? 0 : errno;
}

int fs_remove_tree(const char *path) {
    int e = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (e == 0 || (e < 0 && errno == ENOENT)) return CRATE_OK;
    return crate_fail(fs_errno_status(e > 0 ? e : errno), "cannot remove '%s': %s", path, strerror(e > 0 ? e : errno));
}

int fs_commit_rename(const char *from, const char *to) {
    if (rename(from, to) != 0) {
        int e = errno;
        return crate_fail(fs_errno_status(e), "cannot rename %s to %s: %s", from, to, strerror(e));
    }
    fsync_parent(to);
    return CRATE_OK;
}

/* What lstat says is at path: "a folder", "a symbolic link", ...; NULL for
 * a regular file or nothing. */
static const char *not_regular(const char *path, int *missing) {
    struct stat st;
    *missing = lstat(path, &st) != 0 && errno == ENOENT;
    if (*missing || S_ISREG(st.st_mode)) return NULL;
    if (S_ISDIR(st.st_mode)) return "a folder";
    if (S_ISLNK(st.st_mode)) return "a symbolic link";
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "a device";
    if (S_ISFIFO(st.st_mode)) return "a FIFO";
    if (S_ISSOCK(st.st_mode)) return "a socket";
    return "not a regular file";
}

int fs_write_atomic(const char *path, const fs_part *parts, int nparts) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return crate_fail(CRATE_EINPUT, "path too long: '%s'", path);
    /* Only a regular file is ever replaced: rename(2) would put a file in
     * place of a device node, a link or a FIFO someone else owns. */
    int missing;
    const char *kind = not_regular(path, &missing);
    if (kind)
        return crate_fail(CRATE_EINPUT, "refusing to replace '%s': it is %s, not a regular file (move it away or "
                          "write elsewhere)", path, kind);
    /* A regular file or a link left at path.tmp (a crash mid-write, or
     * planted) is unlinked, never written through; anything else is refused. */
    if ((kind = not_regular(tmp, &missing)) && strcmp(kind, "a symbolic link"))
        return crate_fail(CRATE_EINPUT, "cannot write '%s': its temporary '%s' is %s (remove it)", path, tmp, kind);
    if (!missing && unlink(tmp) != 0 && errno != ENOENT)
        return crate_fail(fs_errno_status(errno), "cannot remove the stale '%s': %s", tmp, strerror(errno));
    int fd;
    int st = create_exclusive(tmp, &fd);
    if (st != CRATE_OK) return st;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return crate_fail(CRATE_EINTERNAL, "cannot write '%s': %s", tmp, strerror(errno));
    }
    errno = 0;
    int e = 0;
    for (int k = 0; k < nparts && !e; k++)
        if (parts[k].n && fwrite(parts[k].p, 1, parts[k].n, f) != parts[k].n) e = errno ? errno : EIO;
    if (!e && (fflush(f) != 0 || fsync(fileno(f)) != 0)) e = errno ? errno : EIO;
    if (fclose(f) != 0 && !e) e = errno ? errno : EIO;
    if (e) {
        unlink(tmp);
        return crate_fail(fs_errno_status(e), "writing '%s' failed: %s (the previous file, if any, is intact)",
                          path, strerror(e));
    }
    st = fs_commit_rename(tmp, path);
    if (st) unlink(tmp);
    return st;
}

double fs_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
