/* spm_charsmap.c — see spm_charsmap.h. The protobuf wire format is read just
 * far enough to find the two specs' charsmaps: varint keys, fields skipped by
 * wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32). A spec or
 * charsmap that occurs more than once is checked every time (protobuf merges
 * repeated messages and keeps the last bytes). */
#include "data/spm_charsmap.h"

#include <stdint.h>
#include <string.h>

#include "src/error.h"

typedef struct {
    const uint8_t *p, *end;
} wire;

/* 0 at the end or on a malformed varint. */
static int varint(wire *w, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && w->p < w->end; shift += 7) {
        uint8_t b = *w->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

/* The next field: its number, and for wire type 2 its bytes. 0 at the end
 * or on bytes that are no protobuf (then the library's parser says so). */
static int next_field(wire *w, uint64_t *field, const uint8_t **bytes, size_t *len) {
    uint64_t key, n;
    if (w->p >= w->end || !varint(w, &key)) return 0;
    *field = key >> 3, *bytes = NULL, *len = 0;
    switch (key & 7) {
    case 0: return varint(w, &n);
    case 1: n = 8; break;
    case 5: n = 4; break;
    case 2:
        if (!varint(w, &n)) return 0;
        *bytes = w->p, *len = (size_t)n;
        break;
    default: return 0;
    }
    if (n > (uint64_t)(w->end - w->p)) return 0;
    w->p += n;
    return 1;
}

static uint32_t unit_at(const uint8_t *array, uint64_t i) {
    uint32_t u;
    memcpy(&u, array + 4 * i, 4); /* darts-clone's units, little-endian as the library reads them */
    return u;
}

/* 1 if the charsmap blob keeps every lookup inside (spm_charsmap.h). */
static int charsmap_ok(const uint8_t *blob, size_t len) {
    if (len == 0) return 1; /* no table: the identity */
    uint32_t t;
    if (len <= 4) return 0;
    memcpy(&t, blob, 4);
    if ((size_t)t >= len - 4 || t % 4) return 0;
    const uint8_t *array = blob + 4, *strings = array + t;
    uint64_t n = t / 4, size = len - 4 - t;
    if (n == 0 || size == 0 || strings[size - 1] != 0) return 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u = unit_at(array, i);
        if ((u >> 31) && i > 0) { /* unit 0 is the root, followed as a node whatever its bits */
            if ((u & 0x7fffffffu) >= size) return 0;
            continue;
        }
        uint64_t o = (uint64_t)(u >> 10) << ((u & (1u << 9)) >> 6);
        if (((i ^ o) | 0xff) >= n) return 0;
        if ((u >> 8 & 1) && (unit_at(array, i ^ o) & 0x7fffffffu) >= size) return 0;
    }
    return 1;
}

/* Every precompiled_charsmap (field 2) of one NormalizerSpec message; bytes
 * the scan cannot read to their end (a group, a truncated field) are refused:
 * the library's parser may still reach a table behind them. */
static int spec_ok(const uint8_t *msg, size_t len) {
    wire w = {msg, msg + len};
    uint64_t field;
    const uint8_t *bytes;
    size_t n;
    while (next_field(&w, &field, &bytes, &n))
        if (field == 2 && bytes && !charsmap_ok(bytes, n)) return 0;
    return w.p == w.end;
}

int spm_check_charsmaps(const void *model, size_t len) {
    wire w = {model, (const uint8_t *)model + len};
    uint64_t field;
    const uint8_t *bytes;
    size_t n;
    while (next_field(&w, &field, &bytes, &n))
        if ((field == 3 || field == 5) && bytes && !spec_ok(bytes, n))
            return crate_fail(CRATE_EINPUT, "sentencepiece: the model's %s table (precompiled_charsmap) is damaged: "
                              "its lookups would leave the model's bytes; make the tokenizer again (crate-data)",
                              field == 3 ? "normalization" : "denormalization");
    if (w.p != w.end)
        return crate_fail(CRATE_EINPUT, "sentencepiece: the model's bytes are not a well-formed protobuf message at "
                          "byte %zu of %zu (a group, or a truncated field): not a model crate-data wrote",
                          (size_t)(w.p - (const uint8_t *)model), len);
    return CRATE_OK;
}
