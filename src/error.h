/* error.h — status codes and the per-thread error message.
 *
 * Library code never exits. A function that can fail returns an int status
 * (CRATE_OK, or the code of crate_fail) after recording a message that names
 * the thing that was wrong and what to do about it. The top level (a tool's
 * main) prints crate_errmsg() and decides: exit status, or MPI_Abort on a
 * multi-rank job. The message is thread-local so a prefetch thread can fail
 * without racing the trainer; such threads hand their message over explicitly.
 */
#ifndef CRATE_ERROR_H
#define CRATE_ERROR_H

#include <stddef.h>

enum crate_status {
    CRATE_OK = 0,
    CRATE_EINTERNAL = 1, /* a bug, an I/O or system failure: exit status 1 */
    CRATE_EINPUT = 2,    /* bad usage, config or data: exit status 2 */
};

/* Records the formatted message and returns code, so callers write
 * `return crate_fail(CRATE_EINPUT, "%s:%d: ...", file, line);`. */
int crate_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("loading X: <old>"). */
int crate_fail_context(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" if none). */
const char *crate_errmsg(void);

/* Sets this thread's message verbatim (hand-over from a worker thread). */
void crate_errmsg_set(const char *msg);

/* Allocation that reports failure through crate_fail instead of returning NULL
 * silently; callers still check for NULL. */
void *crate_malloc(size_t bytes, const char *what);
void *crate_calloc(size_t count, size_t size, const char *what);
/* 64-byte aligned, zeroed; free with free(). */
void *crate_aligned_zalloc(size_t bytes, const char *what);

#endif
