/* error.c — the per-thread error message behind crate_fail (see error.h). */
#include "src/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRMSG_CAP 2048
static _Thread_local char errmsg[ERRMSG_CAP];

int crate_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return code;
}

int crate_fail_context(int code, const char *fmt, ...) {
    char prefix[ERRMSG_CAP], old[ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errmsg, sizeof old);
    /* Both halves are bounded so the result always fits. */
    snprintf(errmsg, sizeof errmsg, "%.1000s: %.1000s", prefix, old);
    return code;
}

const char *crate_errmsg(void) { return errmsg; }

void crate_errmsg_set(const char *msg) { snprintf(errmsg, sizeof errmsg, "%s", msg); }

void *crate_malloc(size_t bytes, const char *what) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) crate_fail(CRATE_EINTERNAL, "out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *crate_calloc(size_t count, size_t size, const char *what) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) crate_fail(CRATE_EINTERNAL, "out of memory allocating %zu x %zu bytes for %s", count, size, what);
    return p;
}

void *crate_aligned_zalloc(size_t bytes, const char *what) {
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        crate_fail(CRATE_EINTERNAL, "out of memory allocating %zu bytes for %s", bytes, what);
        return NULL;
    }
    memset(p, 0, rounded ? rounded : 64);
    return p;
}
