/* safetensors.c — see safetensors.h. The JSON header is built in a growing
 * buffer; everything is checked before the file is created, so a rejected
 * call leaves no file behind. */
#include "src/io/safetensors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/io/fs.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c writes host memory as little-endian data: port it before building on a big-endian host"
#endif

#define ST_ALIGN 8
#define ST_HEADER_MAX 100000000 /* the reference reader's limit on N */

/* ---- JSON text ----------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} json_buf;

static void json_put(json_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void json_text(json_buf *b, const char *s) { json_put(b, s, strlen(s)); }

static void json_printf(json_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_printf(json_buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    json_put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal (RFC 8259 §7): '"' and '\' escaped, control
 * characters as \n-style or \u00XX escapes, UTF-8 passed through. */
static void json_string(json_buf *b, const char *s) {
    json_text(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *esc = NULL;
        switch (*c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        }
        if (esc) json_put(b, esc, 2);
        else if (*c < 0x20) json_printf(b, "\\u%04x", *c);
        else json_put(b, (const char *)c, 1);
    }
    json_text(b, "\"");
}

/* 1 if s is well-formed UTF-8 (no overlong forms, surrogates or code points
 * past U+10FFFF): JSON text must be, and safetensors' parser checks it. */
static int utf8_valid(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s, min;
        int len;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        for (int k = 1; k < len; k++) {
            if ((s[k] & 0xC0) != 0x80) return 0; /* also stops at the terminating NUL */
            c = (c << 6) | (s[k] & 0x3Fu);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        s += len;
    }
    return 1;
}

/* ---- validation ---------------------------------------------------------- */

/* Bytes of tensor t, or fails naming it. */
static int tensor_bytes(const char *path, const safetensors_tensor *t, size_t *bytes) {
    size_t n = sizeof(float);
    if (t->ndim < 0 || (t->ndim > 0 && !t->shape))
        return crate_fail(CRATE_EINPUT, "'%s': tensor '%s' has a bad rank %d", path, t->name, t->ndim);
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0 || (t->shape[d] > 0 && n > SIZE_MAX / (uint64_t)t->shape[d]))
            return crate_fail(CRATE_EINPUT, "'%s': tensor '%s' has a bad dimension %d: %lld", path, t->name, d,
                              (long long)t->shape[d]);
        n *= (size_t)t->shape[d];
    }
    if (n && !t->data) return crate_fail(CRATE_EINPUT, "'%s': tensor '%s' has no data", path, t->name);
    *bytes = n;
    return CRATE_OK;
}

static int check_names(const char *path, const safetensors_tensor *tensors, int n_tensors,
                        const safetensors_meta *meta, int n_meta) {
    for (int i = 0; i < n_tensors; i++) {
        const char *name = tensors[i].name;
        if (!name || !*name) return crate_fail(CRATE_EINPUT, "'%s': tensor %d has no name", path, i);
        if (!strcmp(name, "__metadata__"))
            return crate_fail(CRATE_EINPUT, "'%s': tensor %d is named \"__metadata__\", the key reserved for metadata",
                              path, i);
        if (!utf8_valid(name)) return crate_fail(CRATE_EINPUT, "'%s': the name of tensor %d is not UTF-8", path, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(tensors[j].name, name))
                return crate_fail(CRATE_EINPUT, "'%s': tensor name '%s' appears twice", path, name);
    }
    for (int i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value)
            return crate_fail(CRATE_EINPUT, "'%s': metadata entry %d lacks a key or a value", path, i);
        if (!utf8_valid(meta[i].key) || !utf8_valid(meta[i].value))
            return crate_fail(CRATE_EINPUT, "'%s': metadata entry %d is not UTF-8", path, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(meta[j].key, meta[i].key))
                return crate_fail(CRATE_EINPUT, "'%s': metadata key '%s' appears twice", path, meta[i].key);
    }
    return CRATE_OK;
}

/* ---- the file ------------------------------------------------------------ */

/* The header JSON, padded with spaces to a multiple of ST_ALIGN. */
static void build_header(json_buf *b, const safetensors_tensor *tensors, const size_t *bytes, int n_tensors,
                         const safetensors_meta *meta, int n_meta) {
    json_text(b, "{");
    if (n_meta > 0) {
        json_text(b, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) json_text(b, ",");
            json_string(b, meta[i].key);
            json_text(b, ":");
            json_string(b, meta[i].value);
        }
        json_text(b, "}");
    }
    size_t offset = 0;
    for (int i = 0; i < n_tensors; i++) {
        const safetensors_tensor *t = &tensors[i];
        if (i || n_meta > 0) json_text(b, ",");
        json_string(b, t->name);
        json_text(b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) json_printf(b, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        json_printf(b, "],\"data_offsets\":[%zu,%zu]}", offset, offset + bytes[i]);
        offset += bytes[i];
    }
    json_text(b, "}");
    while (b->len % ST_ALIGN) json_text(b, " ");
}

int safetensors_write(const char *path, const safetensors_tensor *tensors, int n_tensors,
                      const safetensors_meta *meta, int n_meta) {
    if (n_tensors < 0 || n_meta < 0 || (n_tensors && !tensors) || (n_meta && !meta))
        return crate_fail(CRATE_EINPUT, "'%s': bad tensor or metadata list", path);
    int st = check_names(path, tensors, n_tensors, meta, n_meta);
    if (st) return st;
    size_t *bytes = crate_calloc((size_t)n_tensors, sizeof *bytes, "safetensors sizes");
    fs_part *parts = crate_calloc((size_t)n_tensors + 2, sizeof *parts, "safetensors parts");
    json_buf header = {0};
    if (!bytes || !parts) st = CRATE_EINTERNAL;
    for (int i = 0; i < n_tensors && !st; i++) st = tensor_bytes(path, &tensors[i], &bytes[i]);
    if (!st) {
        build_header(&header, tensors, bytes, n_tensors, meta, n_meta);
        if (header.oom) st = crate_fail(CRATE_EINTERNAL, "'%s': out of memory building the header", path);
        else if (header.len > ST_HEADER_MAX)
            st = crate_fail(CRATE_EINPUT, "'%s': header of %zu bytes exceeds the %d readers accept (too many tensors?)",
                            path, header.len, ST_HEADER_MAX);
    }
    if (!st) {
        uint64_t n = header.len; /* little-endian on this host (checked above) */
        parts[0] = (fs_part){&n, sizeof n};
        parts[1] = (fs_part){header.p, header.len};
        for (int i = 0; i < n_tensors; i++) parts[i + 2] = (fs_part){tensors[i].data, bytes[i]};
        st = fs_write_atomic(path, parts, n_tensors + 2);
    }
    free(header.p);
    free(bytes);
    free(parts);
    return st;
}
