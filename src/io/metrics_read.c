/* metrics_read.c — see metrics_read.h. */
#include "src/io/metrics_read.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/io/fs.h"

int metrics_table_column(const metrics_table *t, const char *key) {
    for (int c = 0; c < t->columns; c++)
        if (!strcmp(t->key[c], key)) return c;
    return -1;
}

/* The column of key, added if new (rows start all NaN, so earlier rows
 * read NaN there); -1 past METRICS_COLUMNS_MAX keys (ignored). */
static int column_of(metrics_table *t, const char *key) {
    int c = metrics_table_column(t, key);
    if (c >= 0 || t->columns == METRICS_COLUMNS_MAX) return c;
    c = t->columns++;
    snprintf(t->key[c], METRICS_KEY_MAX, "%s", key);
    return c;
}

static const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p;
}

/* One line [p, end) into row r; NULL, or what is wrong with it. */
static const char *parse_line(metrics_table *t, int r, const char *p, const char *end) {
    p = skip_space(p, end);
    if (p == end || *p++ != '{') return "not a JSON object";
    for (int first = 1;; first = 0) {
        p = skip_space(p, end);
        if (p < end && *p == '}' && first) return skip_space(p + 1, end) == end ? NULL : "text after the object";
        if (p == end || *p++ != '"') return "expected a key in double quotes";
        const char *k = p;
        while (p < end && *p != '"' && *p != '\\') p++;
        if (p == end || *p == '\\' || p - k >= METRICS_KEY_MAX) return "a key that is too long or has escapes";
        char key[METRICS_KEY_MAX];
        memcpy(key, k, (size_t)(p - k));
        key[p - k] = 0;
        p = skip_space(p + 1, end);
        if (p == end || *p++ != ':') return "expected ':'";
        p = skip_space(p, end);
        if (p < end && *p == '"') { /* a string value: skipped */
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\') p++;
            if (p >= end) return "an unterminated string";
            p++;
        } else {
            char num[64];
            size_t n = 0;
            while (p + n < end && n < sizeof num - 1 && p[n] && strchr("+-.0123456789eEaflnrstu", p[n])) n++;
            memcpy(num, p, n);
            num[n] = 0;
            char *stop;
            double v = strtod(num, &stop);
            if (!strcmp(num, "true") || !strcmp(num, "false") || !strcmp(num, "null")) v = NAN;
            else if (n == 0 || *stop) return "a value that is not a number";
            p += n;
            int c = column_of(t, key);
            if (c >= 0) t->value[(size_t)r * METRICS_COLUMNS_MAX + c] = v;
        }
        p = skip_space(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') return skip_space(p + 1, end) == end ? NULL : "text after the object";
        return "expected ',' or '}'";
    }
}

int metrics_table_read(const char *path, metrics_table *t) {
    memset(t, 0, sizeof *t);
    char *text;
    size_t len;
    int rc = fs_read_file(path, &text, &len);
    if (rc != CRATE_OK) return rc;
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    lines += len > 0 && text[len - 1] != '\n';
    /* Rows are stored METRICS_COLUMNS_MAX wide while reading and packed after. */
    t->value = crate_malloc(((size_t)lines + 1) * METRICS_COLUMNS_MAX * sizeof *t->value, "metrics");
    if (!t->value) rc = CRATE_EINTERNAL;
    int line = 0;
    for (const char *p = text, *end; rc == CRATE_OK && p < text + len; p = end + 1) {
        end = memchr(p, '\n', (size_t)(text + len - p));
        if (!end) end = text + len;
        line++;
        if (skip_space(p, end) == end) continue; /* a blank line */
        for (int c = 0; c < METRICS_COLUMNS_MAX; c++) t->value[(size_t)t->rows * METRICS_COLUMNS_MAX + c] = NAN;
        const char *why = parse_line(t, t->rows, p, end);
        if (why) rc = crate_fail(CRATE_EINPUT, "%s:%d: %s (each line must be one flat JSON object of numbers, as "
                                 "crate-pretrain writes)", path, line, why);
        else t->rows++;
    }
    free(text);
    if (rc == CRATE_OK) {
        for (int r = 0; r < t->rows; r++)
            memmove(t->value + (size_t)r * t->columns, t->value + (size_t)r * METRICS_COLUMNS_MAX,
                    (size_t)t->columns * sizeof *t->value);
    } else {
        metrics_table_free(t);
    }
    return rc;
}

void metrics_table_free(metrics_table *t) {
    free(t->value);
    memset(t, 0, sizeof *t);
}
