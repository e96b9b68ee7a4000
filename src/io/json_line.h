/* json_line.h — one JSON object built as text, in a buffer that grows as
 * needed (a line can hold a path of any length); strings are escaped as JSON
 * requires. An allocation failure marks the line failed rather than cutting
 * it short: check `failed` before using `s`. Free s when done. */
#ifndef CRATE_IO_JSON_LINE_H
#define CRATE_IO_JSON_LINE_H

#include <stddef.h>

typedef struct {
    char *s;       /* NUL-terminated (once anything was written) */
    size_t len, cap;
    int failed;
} json_line;

/* Appends printf-formatted text. */
void json_printf(json_line *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends v as a JSON string: quoted; \" \\ \n \t \r escaped, other control
 * characters as \u00XX; other bytes (UTF-8 included) as they are. */
void json_string(json_line *j, const char *v);

#endif
