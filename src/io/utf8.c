/* utf8.c — see utf8.h. */
#include "src/io/utf8.h"

size_t utf8_sequence(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    if (c == 0) return 0;
    if (c < 0x80) return 1;
    /* The lead byte gives the length and the smallest code point that needs
     * it; a smaller value in that many bytes is an overlong form. (0xc0, 0xc1
     * only lead overlong 2-byte forms; above 0xf4 lies beyond U+10FFFF.) */
    size_t n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, min = 0x10000;
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    unsigned v = c & (0xffu >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    return n;
}

int utf8_valid_text(const char *data, size_t n, size_t *offset, uint64_t *line) {
    const unsigned char *p = (const unsigned char *)data, *end = p + n;
    uint64_t l = 1;
    while (p < end) {
        size_t k = utf8_sequence(p, end);
        if (k == 0) {
            *offset = (size_t)(p - (const unsigned char *)data);
            *line = l;
            return 0;
        }
        l += *p == '\n';
        p += k;
    }
    return 1;
}
