/* shard_format.c — the header and the block index of a shard file: encoding,
 * and the checked decoding the reader relies on (see shard_format.h; the byte
 * layout is in shard.h).
 *
 * Design. Every byte the reader trusts is covered by a checksum: the header by
 * its own crc, the index by the index crc (each block's raw bytes by the crc
 * in its index entry, checked by the reader). A crc only proves the bytes are
 * the ones written, so offsets and sizes are also cross-checked against each
 * other and the file size here, when a shard is opened: a later pread never
 * reads outside the file or past a buffer. The checks are split so that the
 * kind-specific ones (shard_header_check_image, shard_header_check_tokens)
 * are the only part that differs between the two record kinds.
 */
#include "data/shard_format.h"

#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/io/crc32.h"

static const char SHARD_MAGIC[8] = {'C', 'R', 'A', 'T', 'E', 'S', 'H', 'D'};
static const char SHARD_END_MAGIC[8] = {'C', 'R', 'A', 'T', 'E', 'E', 'N', 'D'};

/* The most an LZ4 block decompresses to per compressed byte. */
#define SHARD_LZ4_MAX_RATIO 255

/* ---- the header -------------------------------------------------------------- */

void shard_header_encode(const shard_header *h, uint8_t out[SHARD_HEADER_BYTES]) {
    memset(out, 0, SHARD_HEADER_BYTES);
    memcpy(out, SHARD_MAGIC, 8);
    shard_put_le32(out + 8, h->version);
    shard_put_le32(out + 12, h->kind);
    shard_put_le32(out + 16, h->record_bytes);
    shard_put_le32(out + 20, h->C);
    shard_put_le32(out + 24, h->H);
    shard_put_le32(out + 28, h->W);
    shard_put_le64(out + 32, h->record_count);
    shard_put_le32(out + 40, h->records_per_block);
    shard_put_le32(out + 44, h->block_count);
    shard_put_le64(out + 48, h->index_offset);
    shard_put_le32(out + 56, h->documents);
    shard_put_le32(out + 60, crc32_update(0, out, 60));
}

int shard_header_decode(const uint8_t hb[SHARD_HEADER_BYTES], const char *path, shard_header *h) {
    if (memcmp(hb, SHARD_MAGIC, 8) != 0)
        return crate_fail(CRATE_EINPUT, "%s: not a crate shard (bad magic; a zero magic is an unfinished write); "
                          SHARD_FIX, path);
    uint32_t stored = shard_get_le32(hb + 60), computed = crc32_update(0, hb, 60);
    if (stored != computed)
        return crate_fail(CRATE_EINPUT, "%s: header checksum mismatch (stored %08x, computed %08x): the header is "
                          "damaged; " SHARD_FIX, path, stored, computed);
    h->version = shard_get_le32(hb + 8);
    h->kind = shard_get_le32(hb + 12);
    h->record_bytes = shard_get_le32(hb + 16);
    h->C = shard_get_le32(hb + 20);
    h->H = shard_get_le32(hb + 24);
    h->W = shard_get_le32(hb + 28);
    h->record_count = shard_get_le64(hb + 32);
    h->records_per_block = shard_get_le32(hb + 40);
    h->block_count = shard_get_le32(hb + 44);
    h->index_offset = shard_get_le64(hb + 48);
    h->documents = shard_get_le32(hb + 56);
    if (h->version != SHARD_VERSION)
        return crate_fail(CRATE_EINPUT, "%s: shard format version %u, this build reads version %d; " SHARD_FIX, path,
                          h->version, SHARD_VERSION);
    return CRATE_OK;
}

int shard_header_check_image(const shard_header *h, const char *path) {
    if (h->kind == SHARD_KIND_TOKENS)
        return crate_fail(CRATE_EINPUT, "%s: a token shard where an image shard was expected; check the data path",
                          path);
    if (h->kind != SHARD_KIND_IMAGE)
        return crate_fail(CRATE_EINPUT, "%s: unknown shard kind %u; " SHARD_FIX, path, h->kind);
    uint64_t pixels = (uint64_t)h->C * h->H * h->W;
    if (h->C < 1 || h->H < 1 || h->W < 1 || pixels > SHARD_MAX_PIXELS || h->record_bytes != pixels + 4)
        return crate_fail(CRATE_EINPUT, "%s: inconsistent record shape %ux%ux%u with %u-byte records; " SHARD_FIX,
                          path, h->C, h->H, h->W, h->record_bytes);
    if (h->documents != 0)
        return crate_fail(CRATE_EINPUT, "%s: an image shard with a document count (%u); " SHARD_FIX, path,
                          h->documents);
    return CRATE_OK;
}

int shard_header_check_tokens(const shard_header *h, const char *path) {
    if (h->kind == SHARD_KIND_IMAGE)
        return crate_fail(CRATE_EINPUT, "%s: an image shard where a token shard was expected; check the data path",
                          path);
    if (h->kind != SHARD_KIND_TOKENS)
        return crate_fail(CRATE_EINPUT, "%s: unknown shard kind %u; " SHARD_FIX, path, h->kind);
    if (h->H < 1 || h->H > SHARD_MAX_VOCAB || h->W != 1 || h->C != h->record_bytes ||
        h->record_bytes != shard_token_id_bytes(h->H))
        return crate_fail(CRATE_EINPUT, "%s: inconsistent token shard: vocabulary %u with %u-byte records (C %u, "
                          "W %u; ids of a vocabulary up to 65536 take 2 bytes, larger ones 4); " SHARD_FIX, path, h->H,
                          h->record_bytes, h->C, h->W);
    if (h->documents > h->record_count)
        return crate_fail(CRATE_EINPUT, "%s: %u documents in %llu tokens (each document starts with a bos token); "
                          SHARD_FIX, path, h->documents, (unsigned long long)h->record_count);
    return CRATE_OK;
}

int shard_header_check_kind(const shard_header *h, uint32_t kind, const char *path) {
    return kind == SHARD_KIND_TOKENS ? shard_header_check_tokens(h, path) : shard_header_check_image(h, path);
}

int shard_header_check_layout(const shard_header *h, uint64_t file_bytes, const char *path) {
    if (h->records_per_block < 1 || (uint64_t)h->records_per_block * h->record_bytes > LZ4_MAX_INPUT_SIZE)
        return crate_fail(CRATE_EINPUT, "%s: bad records per block %u; " SHARD_FIX, path, h->records_per_block);
    uint64_t want_blocks = h->record_count / h->records_per_block + (h->record_count % h->records_per_block != 0);
    if (want_blocks != h->block_count)
        return crate_fail(CRATE_EINPUT, "%s: header says %u blocks but %llu records of %u per block need %llu; "
                          SHARD_FIX, path, h->block_count, (unsigned long long)h->record_count, h->records_per_block,
                          (unsigned long long)want_blocks);
    uint64_t index_bytes = shard_index_bytes(h->block_count);
    if (h->index_offset < SHARD_HEADER_BYTES || h->index_offset > file_bytes ||
        file_bytes - h->index_offset != index_bytes)
        return crate_fail(CRATE_EINPUT, "%s: file is %llu bytes but its header says %llu (index at %llu + %llu); "
                          "the file is truncated or damaged; " SHARD_FIX, path, (unsigned long long)file_bytes,
                          (unsigned long long)(h->index_offset + index_bytes), (unsigned long long)h->index_offset,
                          (unsigned long long)index_bytes);
    return CRATE_OK;
}

uint64_t shard_records_in_block(uint64_t record_count, uint32_t records_per_block, uint32_t b) {
    uint64_t first = (uint64_t)b * records_per_block;
    uint64_t left = record_count - first;
    return left < records_per_block ? left : records_per_block;
}

/* ---- the block index ----------------------------------------------------------- */

void shard_index_encode(const shard_block_entry *blocks, uint32_t block_count, uint8_t *out) {
    size_t n = (size_t)block_count * SHARD_INDEX_ENTRY_BYTES;
    for (uint32_t b = 0; b < block_count; b++) {
        uint8_t *e = out + (size_t)b * SHARD_INDEX_ENTRY_BYTES;
        shard_put_le64(e, blocks[b].offset);
        shard_put_le32(e + 8, blocks[b].comp_bytes);
        shard_put_le32(e + 12, blocks[b].raw_bytes);
        shard_put_le32(e + 16, blocks[b].crc);
        shard_put_le32(e + 20, 0);
    }
    shard_put_le32(out + n, crc32_update(0, out, n));
    shard_put_le32(out + n + 4, 0);
    memcpy(out + n + 8, SHARD_END_MAGIC, 8);
}

int shard_index_decode(const uint8_t *ib, const shard_header *h, const char *path, shard_block_entry **blocks) {
    *blocks = NULL;
    size_t n = (size_t)h->block_count * SHARD_INDEX_ENTRY_BYTES;
    if (memcmp(ib + n + 8, SHARD_END_MAGIC, 8) != 0 || shard_get_le32(ib + n + 4) != 0)
        return crate_fail(CRATE_EINPUT, "%s: the block index trailer is damaged (bad end marker or reserved field); "
                          SHARD_FIX, path);
    uint32_t stored = shard_get_le32(ib + n), computed = crc32_update(0, ib, n);
    if (stored != computed)
        return crate_fail(CRATE_EINPUT, "%s: block index checksum mismatch (stored %08x, computed %08x): the index is "
                          "damaged; " SHARD_FIX, path, stored, computed);
    shard_block_entry *v = crate_calloc(h->block_count ? h->block_count : 1, sizeof *v, "shard index");
    if (!v) return CRATE_EINTERNAL;
    /* Blocks lie back to back from the header to the index; each holds the
     * records the header assigns it. A consistent index (crc passed) that
     * breaks this was written by something that is not our writer. */
    uint64_t expect = SHARD_HEADER_BYTES;
    for (uint32_t b = 0; b < h->block_count; b++) {
        const uint8_t *e = ib + (size_t)b * SHARD_INDEX_ENTRY_BYTES;
        shard_block_entry be = {.offset = shard_get_le64(e), .comp_bytes = shard_get_le32(e + 8),
                                .raw_bytes = shard_get_le32(e + 12), .crc = shard_get_le32(e + 16)};
        uint64_t raw = shard_records_in_block(h->record_count, h->records_per_block, b) * h->record_bytes;
        if (be.offset != expect || be.raw_bytes != raw || be.comp_bytes < 1 ||
            be.comp_bytes > (uint32_t)LZ4_compressBound((int)raw) || be.offset + be.comp_bytes > h->index_offset) {
            free(v);
            return crate_fail(CRATE_EINPUT, "%s: block %u: index entry inconsistent with the header (offset %llu, %u "
                              "compressed, %u raw bytes); " SHARD_FIX, path, b, (unsigned long long)be.offset,
                              be.comp_bytes, be.raw_bytes);
        }
        /* LZ4 expands at most 255-fold (a match length grows by 255 per
         * input byte): a block claiming more is damaged, and must be refused
         * here, before a reader allocates its raw size. */
        if (be.raw_bytes / SHARD_LZ4_MAX_RATIO > be.comp_bytes) {
            free(v);
            return crate_fail(CRATE_EINPUT, "%s: block %u: %u compressed bytes cannot hold its %u raw bytes (LZ4 "
                              "expands at most %d-fold): the header or index is damaged; " SHARD_FIX, path, b,
                              be.comp_bytes, be.raw_bytes, SHARD_LZ4_MAX_RATIO);
        }
        v[b] = be;
        expect += be.comp_bytes;
    }
    if (expect != h->index_offset) {
        free(v);
        return crate_fail(CRATE_EINPUT, "%s: blocks end at %llu but the index starts at %llu; " SHARD_FIX, path,
                          (unsigned long long)expect, (unsigned long long)h->index_offset);
    }
    *blocks = v;
    return CRATE_OK;
}

/* ---- names and strings ----------------------------------------------------------- */

int shard_name_parse(const char *name, uint64_t *number) {
    if (strncmp(name, "shard-", 6) != 0) return 0;
    const char *p = name + 6;
    uint64_t v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (digits < 5 || strcmp(p, ".crs") != 0) return 0;
    char canon[64];
    snprintf(canon, sizeof canon, "shard-%05llu.crs", (unsigned long long)v);
    if (strcmp(canon, name) != 0) return 0;
    *number = v;
    return 1;
}

char *shard_str_dup(const char *s, const char *what) {
    size_t n = strlen(s) + 1;
    char *d = crate_malloc(n, what);
    if (d) memcpy(d, s, n);
    return d;
}

char *shard_str_join(const char *a, const char *b, const char *what) {
    size_t na = strlen(a), nb = strlen(b);
    char *d = crate_malloc(na + nb + 1, what);
    if (d) {
        memcpy(d, a, na);
        memcpy(d + na, b, nb + 1);
    }
    return d;
}
