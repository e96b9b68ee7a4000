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
 * file, if any, is intact and path.tmp is gone. Only a regular file (or
 * nothing) at path is replaced: a folder, link, device, FIFO or socket there
 * is refused. path.tmp is created exclusively (O_EXCL, O_NOFOLLOW) after a
 * stale file or link of that name is unlinked, so no link is followed. */
typedef struct {
    const void *p;
    size_t n;
} fs_part;
int fs_write_atomic(const char *path, const fs_part *parts, int nparts);
/* Writes len bytes to a new file path and fsyncs it; path must not exist
 * (created with O_EXCL | O_NOFOLLOW: a planted file or link there is an
 * error, never written through). A failure (a full disk) names the path and
 * the cause. For files inside a folder being built, before it is committed. */
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
