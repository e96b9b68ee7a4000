/* json_scan.h — the tokens of strict JSON (RFC 8259) read from untrusted
 * bytes, for readers that know the exact shape of the document they expect
 * (safetensors_read.h) and so need no tree of values: the caller's own
 * recursive descent asks for "a string", "an integer", "this punctuation".
 * Anything else at that point is an error, which also bounds the nesting.
 *
 * Strings decode every JSON escape (\uXXXX with surrogate pairs to UTF-8) and
 * reject raw control characters, invalid UTF-8, lone surrogates and \u0000
 * (the result is a C string: an embedded NUL would cut it short and let two
 * different keys compare equal). Integers are unsigned, without sign, leading
 * zero, fraction or exponent, and at most 2^53 (exact in every JSON reader).
 * The scanner never reads outside [begin, end).
 *
 * Errors are CRATE_EINPUT with the message
 *   '<what>': bad JSON at byte B of the header[ (<context>)]: <problem>
 * where context (set by the caller, e.g. "tensor 'w'") may be NULL.
 */
#ifndef CRATE_IO_JSON_SCAN_H
#define CRATE_IO_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define JSON_SCAN_INT_MAX 9007199254740992ull /* 2^53 */

typedef struct {
    const unsigned char *begin, *p, *end;
    const char *what;    /* the source, for messages (a path) */
    const char *context; /* what is being read, for messages; may be NULL */
} json_scan;

void json_scan_init(json_scan *s, const void *text, size_t len, const char *what);

/* Skips JSON whitespace (space, tab, LF, CR); the next byte, or -1 at the end. */
int json_scan_peek(json_scan *s);
/* Consumes c (after whitespace) if it is next: 1 if it was, else 0. */
int json_scan_accept(json_scan *s, char c);
/* Consumes c (after whitespace) or fails saying `expected` ("':'", "',' or '}'"). */
int json_scan_expect(json_scan *s, char c, const char *expected);
/* A string into out[0..cap) NUL-terminated, its length (without NUL) in *len;
 * longer than cap − 1 bytes is an error. */
int json_scan_string(json_scan *s, char *out, size_t cap, size_t *len);
/* A non-negative integer ≤ JSON_SCAN_INT_MAX. */
int json_scan_uint(json_scan *s, uint64_t *v);

/* Records a message of the form above at the current position; returns CRATE_EINPUT. */
int json_scan_fail(const json_scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The current position: bytes from the start of the text. */
size_t json_scan_offset(const json_scan *s);

#endif
