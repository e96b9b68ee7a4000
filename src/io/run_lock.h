/* run_lock.h — one trainer per run folder. Two trainers on one run.dir (a
 * double launch, a requeued job that overlaps the one it replaces) would
 * prune each other's checkpoints and interleave metrics.jsonl, so the first
 * takes an exclusive flock(2) on <dir>/lock and keeps it until it exits
 * (the kernel drops it when the process dies, however it dies: no stale
 * lock after a SIGKILL or a lost node). The file holds who took it, so the
 * second one's error names the holder. */
#ifndef CRATE_RUN_LOCK_H
#define CRATE_RUN_LOCK_H

/* Takes the lock of dir (which must exist) for `tool`; *fd stays open for
 * the life of the process (run_lock_release closes it). Fails with
 * CRATE_EINPUT, naming the holder (tool, pid, host, start time, Slurm job),
 * when another process has it. */
int run_lock_take(const char *dir, const char *tool, int *fd);
void run_lock_release(int fd);

#endif
