/* fs.h — small filesystem helpers shared by the tools. */
#ifndef CRATE_FS_H
#define CRATE_FS_H

/* mkdir -p: creates path and its missing parents (mode 0755). */
int fs_mkdir_p(const char *path);
/* Commits a fully written and fsynced file or folder: renames `from` to `to`
 * (atomic within a filesystem) and fsyncs the parent folder so the new name
 * itself survives a crash. On failure nothing under `to` changed and the
 * status is fs_errno_status of the cause. */
int fs_commit_rename(const char *from, const char *to);
/* Status for a failed system call: errors the user can fix (a missing or
 * misnamed folder, permissions, a read-only filesystem) are CRATE_EINPUT;
 * anything else is CRATE_EINTERNAL. */
int fs_errno_status(int e);
/* Seconds on a monotonic clock. */
double fs_now(void);

#endif
