/* fs.h — small filesystem helpers shared by the tools. */
#ifndef CRATE_FS_H
#define CRATE_FS_H

/* mkdir -p: creates path and its missing parents (mode 0755). */
int fs_mkdir_p(const char *path);
/* Seconds on a monotonic clock. */
double fs_now(void);

#endif
