/* json_line.c — see json_line.h. */
#include "src/io/json_line.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for `more` bytes and the closing NUL. */
static int json_reserve(json_line *j, size_t more) {
    if (j->failed) return 0;
    if (j->len + more < j->cap) return 1;
    size_t cap = j->cap ? j->cap : 512;
    while (cap <= j->len + more) cap *= 2;
    char *s = realloc(j->s, cap);
    if (!s) return j->failed = 1, 0;
    j->s = s, j->cap = cap;
    return 1;
}

void json_printf(json_line *j, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) j->failed = 1;
    if (n < 0 || !json_reserve(j, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(j->s + j->len, j->cap - j->len, fmt, ap);
    va_end(ap);
    j->len += (size_t)n;
}

void json_string(json_line *j, const char *v) {
    size_t n = strlen(v);
    if (!json_reserve(j, 6 * n + 2)) return; /* \u00XX is the longest escape */
    char *o = j->s + j->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') *o++ = '\\', *o++ = (char)*p;
        else if (*p == '\n') *o++ = '\\', *o++ = 'n';
        else if (*p == '\t') *o++ = '\\', *o++ = 't';
        else if (*p == '\r') *o++ = '\\', *o++ = 'r';
        else if (*p < 0x20) o += sprintf(o, "\\u%04x", *p);
        else *o++ = (char)*p;
    }
    *o++ = '"';
    *o = 0;
    j->len = (size_t)(o - j->s);
}
