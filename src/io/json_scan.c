/* json_scan.c — see json_scan.h. Every read of *p is preceded by a check
 * against end: the input is untrusted and not NUL-terminated. */
#include "src/io/json_scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "src/error.h"
#include "src/io/utf8.h"

void json_scan_init(json_scan *s, const void *text, size_t len, const char *what) {
    s->begin = s->p = text;
    s->end = s->begin + len;
    s->what = what;
    s->context = NULL;
}

size_t json_scan_offset(const json_scan *s) { return (size_t)(s->p - s->begin); }

int json_scan_fail(const json_scan *s, const char *fmt, ...) {
    char problem[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    return crate_fail(CRATE_EINPUT, "'%s': bad JSON at byte %zu of the header%s%s%s: %s", s->what,
                      json_scan_offset(s), s->context ? " (" : "", s->context ? s->context : "",
                      s->context ? ")" : "", problem);
}

int json_scan_peek(json_scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
    return s->p < s->end ? *s->p : -1;
}

int json_scan_accept(json_scan *s, char c) {
    if (json_scan_peek(s) != (unsigned char)c) return 0;
    s->p++;
    return 1;
}

/* The next byte for a message: printable ASCII as 'c', else its value. */
static const char *found(const json_scan *s, char buf[16]) {
    if (s->p >= s->end) return "the end of the header";
    if (*s->p >= 0x20 && *s->p < 0x7f) snprintf(buf, 16, "'%c'", *s->p);
    else snprintf(buf, 16, "byte 0x%02x", *s->p);
    return buf;
}

int json_scan_expect(json_scan *s, char c, const char *expected) {
    if (json_scan_accept(s, c)) return CRATE_OK;
    char buf[16];
    return json_scan_fail(s, "expected %s, found %s", expected, found(s, buf));
}

static int hex4(json_scan *s, unsigned *v) {
    *v = 0;
    if (s->end - s->p < 4) return json_scan_fail(s, "\\u needs 4 hex digits");
    for (int k = 0; k < 4; k++) {
        unsigned c = s->p[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return json_scan_fail(s, "\\u needs 4 hex digits");
        *v = *v << 4 | d;
    }
    s->p += 4;
    return CRATE_OK;
}

/* \uXXXX (s->p just past the 'u'), a surrogate pair taking a second one, as a
 * code point. */
static int unicode_escape(json_scan *s, unsigned *cp) {
    int st = hex4(s, cp);
    if (st) return st;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF) return json_scan_fail(s, "\\u%04X is a lone low surrogate", *cp);
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        unsigned lo = 0;
        if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
            return json_scan_fail(s, "\\u%04X (a high surrogate) is not followed by a \\u low surrogate", *cp);
        s->p += 2;
        if ((st = hex4(s, &lo))) return st;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return json_scan_fail(s, "\\u%04X (a high surrogate) is followed by \\u%04X, not a low surrogate", *cp, lo);
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (*cp == 0) return json_scan_fail(s, "\\u0000 (NUL) is not allowed in a name, key or value");
    return CRATE_OK;
}

static size_t utf8_encode(unsigned cp, unsigned char out[4]) {
    if (cp < 0x80) return out[0] = (unsigned char)cp, 1;
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The byte that \e stands for, or -1 if \e is not a one-letter escape. */
static int simple_escape(unsigned char e) {
    switch (e) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return -1;
    }
}

int json_scan_string(json_scan *s, char *out, size_t cap, size_t *len) {
    char buf[16];
    if (json_scan_peek(s) != '"') return json_scan_fail(s, "expected a string, found %s", found(s, buf));
    s->p++;
    size_t n = 0;
    for (;;) {
        if (s->p >= s->end) return json_scan_fail(s, "unterminated string");
        unsigned char c = *s->p, enc[4];
        const unsigned char *piece = enc;
        size_t k;
        if (c == '"') {
            s->p++;
            break;
        } else if (c == '\\') {
            if (s->end - s->p < 2) return json_scan_fail(s, "unterminated string");
            unsigned char e = s->p[1];
            int simple = simple_escape(e);
            s->p += 2;
            if (e == 'u') {
                unsigned cp = 0;
                int st = unicode_escape(s, &cp);
                if (st) return st;
                k = utf8_encode(cp, enc);
            } else if (simple >= 0) {
                enc[0] = (unsigned char)simple;
                k = 1;
            } else {
                s->p -= 2;
                return json_scan_fail(s, "unknown escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
            }
        } else if (c < 0x20) {
            return json_scan_fail(s, "control character 0x%02x inside a string (JSON requires it escaped)", c);
        } else {
            k = c < 0x80 ? 1 : utf8_sequence(s->p, s->end);
            if (k == 0) return json_scan_fail(s, "invalid UTF-8 inside a string");
            piece = s->p;
            s->p += k;
        }
        if (n + k + 1 > cap)
            return json_scan_fail(s, "string longer than the %zu bytes accepted for a name, key or value", cap - 1);
        memcpy(out + n, piece, k);
        n += k;
    }
    out[n] = '\0';
    if (len) *len = n;
    return CRATE_OK;
}

int json_scan_uint(json_scan *s, uint64_t *v) {
    char buf[16];
    int c = json_scan_peek(s);
    if (c < '0' || c > '9')
        return json_scan_fail(s, "expected a non-negative integer, found %s", found(s, buf));
    if (c == '0' && s->end - s->p > 1 && s->p[1] >= '0' && s->p[1] <= '9')
        return json_scan_fail(s, "integer with a leading zero");
    uint64_t x = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        unsigned d = *s->p - '0';
        if (x > (JSON_SCAN_INT_MAX - d) / 10) return json_scan_fail(s, "integer larger than 2^53");
        x = x * 10 + d;
        s->p++;
    }
    if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
        return json_scan_fail(s, "expected an integer, found a fraction or exponent");
    *v = x;
    return CRATE_OK;
}
