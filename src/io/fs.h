/* fs.h — small filesystem helpers shared by the tools. */
#ifndef CRATE_FS_H
#define CRATE_FS_H

#include <stddef.h>

/* "a/b" (malloc'd), or NULL with the failure recorded. */
char *fs_path_join(const char *a, const char *b);

/* mkdir -p: creates path and its missing parents (mode 0755). */
int fs_mkdir_p(const char *path);
/* Commits a fully written and fsynced file or folder: renames `from` to `to`
 * (atomic within a filesystem) and fsyncs the parent folder so the new name
 * itself survives a crash. On failure nothing under `to` changed and the
 * status is fs_errno_status of the cause. */
int fs_commit_rename(const char *from, const char *to);
/* Replaces path crash-safely: writes the parts in order to path.tmp, fsyncs
 * it and renames it over path (fs_commit_rename). On failure the previous
 * file, if any, is intact and path.tmp is gone. */
typedef struct {
    const void *p;
    size_t n;
} fs_part;
int fs_write_atomic(const char *path, const fs_part *parts, int nparts);
/* Writes len bytes to path (created or truncated) and fsyncs it; a failure
 * (a full disk) names the path and the cause. */
int fs_write_file_synced(const char *path, const void *data, size_t len);
/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
int fs_read_file(const char *path, char **data, size_t *len);
/* fsync of a folder, so entries created or renamed in it are durable. */
void fs_sync_dir(const char *path);
/* rm -r of path (a file or a folder tree; symlinks are not followed). */
int fs_remove_tree(const char *path);
/* Status for a failed system call: errors the user can fix (a missing or
 * misnamed folder, permissions, a read-only or full filesystem) are CRATE_EINPUT;
 * anything else is CRATE_EINTERNAL. */
int fs_errno_status(int e);
/* Seconds on a monotonic clock. */
double fs_now(void);

#endif
