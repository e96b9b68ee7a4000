/* fs.c — see fs.h. */
#include "src/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/error.h"

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
    return (e == ENOENT || e == ENOTDIR || e == EACCES || e == EROFS || e == EISDIR || e == EEXIST)
               ? CRATE_EINPUT
               : CRATE_EINTERNAL;
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
    int fd = open(d, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int fs_commit_rename(const char *from, const char *to) {
    if (rename(from, to) != 0) {
        int e = errno;
        return crate_fail(fs_errno_status(e), "cannot rename %s to %s: %s", from, to, strerror(e));
    }
    fsync_parent(to);
    return CRATE_OK;
}

double fs_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
