/* run_lock.c — see run_lock.h. */
#define _GNU_SOURCE /* flock, gethostname */
#include "src/io/run_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "src/error.h"

/* "crate-pretrain pid 123 on node7 since 2026-12-02T21:40:00Z (Slurm job 42)" */
static int holder_line(char *out, size_t cap, const char *tool) {
    char host[256] = "?";
    (void)gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    struct tm utc;
    char when[32] = "?";
    if (gmtime_r(&now, &utc)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
    const char *job = getenv("SLURM_JOB_ID");
    return snprintf(out, cap, "%s pid %ld on %s since %s%s%s%s\n", tool, (long)getpid(), host, when,
                    job ? " (Slurm job " : "", job ? job : "", job ? ")" : "");
}

int run_lock_take(const char *dir, const char *tool, int *fd) {
    *fd = -1;
    char path[4200];
    if (snprintf(path, sizeof path, "%s/lock", dir) >= (int)sizeof path)
        return crate_fail(CRATE_EINPUT, "run.dir '%s' is too long", dir);
    int f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f < 0)
        return crate_fail(CRATE_EINPUT, "cannot open the run folder's lock '%s': %s", path, strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char held[512] = {0};
        ssize_t k = pread(f, held, sizeof held - 1, 0);
        close(f);
        if (e != EWOULDBLOCK)
            return crate_fail(CRATE_EINPUT, "cannot lock '%s': %s", path, strerror(e));
        if (k > 0) held[strcspn(held, "\n")] = 0;
        return crate_fail(CRATE_EINPUT, "run.dir %s is in use by %s: two trainers on one folder would delete each "
                          "other's checkpoints. Wait for it to end (or stop it), or choose another run.dir",
                          dir, k > 0 && held[0] ? held : "another process (it has not said which)");
    }
    char line[512];
    int n = holder_line(line, sizeof line, tool);
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    if (ftruncate(f, 0) != 0 || pwrite(f, line, (size_t)n, 0) != n) {
        /* The lock is held either way; only the holder's description is lost. */
        fprintf(stderr, "%s: note: could not record the holder in %s: %s\n", tool, path, strerror(errno));
    }
    *fd = f;
    return CRATE_OK;
}

void run_lock_release(int fd) {
    if (fd >= 0) close(fd);
}
