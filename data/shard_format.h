/* shard_format.h — private to the shard code (data/shard_*.c and
 * data/token_shard.c): the bytes of a shard file (layout in shard.h), shared
 * by the writer, the reader and both record kinds.
 *
 * Defines shard_header and shard_block_entry (the decoded header and index
 * entries), their encoders and checked decoders, the little-endian field
 * helpers, the shard file naming of a dataset directory, and two string
 * helpers the writer and reader both need. Everything that knows an offset
 * inside the header or the index is here, so a second record kind reuses the
 * same container and only adds its own record checks
 * (shard_header_check_image, shard_header_check_tokens).
 *
 * Every check fails with CRATE_EINPUT and a message naming the file, what is
 * wrong and SHARD_FIX; decoders read only the bytes they are given.
 */
#ifndef CRATE_DATA_SHARD_FORMAT_H
#define CRATE_DATA_SHARD_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "data/shard.h"

/* The fix every message about a damaged shard ends with. */
#define SHARD_FIX "re-create it with crate-data"

/* Largest image record we accept: keeps C·H·W + 4 in a u32 and a one-record
 * block within what LZ4 can compress. */
#define SHARD_MAX_PIXELS (1u << 30)

/* Largest vocabulary of a token shard: ids are int32 in memory. */
#define SHARD_MAX_VOCAB 0x7fffffffu

/* Bytes per token id for a vocabulary of V: u16 up to 65536 ids, else u32. */
static inline uint32_t shard_token_id_bytes(uint64_t vocab) { return vocab <= 65536 ? 2 : 4; }

/* ---- little-endian fields ----------------------------------------------------- */

static inline void shard_put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void shard_put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t shard_get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t shard_get_le64(const uint8_t *p) {
    return (uint64_t)shard_get_le32(p) | (uint64_t)shard_get_le32(p + 4) << 32;
}

/* ---- the header --------------------------------------------------------------- */

typedef struct {
    uint32_t version, kind, record_bytes, C, H, W;
    uint64_t record_count;
    uint32_t records_per_block, block_count;
    uint64_t index_offset;
    uint32_t documents; /* tokens: documents starting in the shard; images: 0 */
} shard_header;

/* The 64 header bytes of h, magic and crc included. */
void shard_header_encode(const shard_header *h, uint8_t out[SHARD_HEADER_BYTES]);

/* Opening a shard checks its header in three steps, in this order:
 *   shard_header_decode        magic, crc, then the fields into *h, version;
 *   shard_header_check_image   kind is image, C, H, W and record_bytes agree,
 *                              documents is 0;
 *   or shard_header_check_tokens  kind is tokens, record_bytes = C is the id
 *                              width of the vocabulary H, W = 1, documents
 *                              <= record_count;
 *   shard_header_check_layout  records per block, block count, and the index
 *                              ending exactly at file_bytes.
 * shard_header_check_kind calls the check of the kind expected (a shard of
 * the other kind is refused naming both). path only names the file in
 * messages. */
int shard_header_decode(const uint8_t hb[SHARD_HEADER_BYTES], const char *path, shard_header *h);
int shard_header_check_image(const shard_header *h, const char *path);
int shard_header_check_tokens(const shard_header *h, const char *path);
int shard_header_check_kind(const shard_header *h, uint32_t kind, const char *path);
int shard_header_check_layout(const shard_header *h, uint64_t file_bytes, const char *path);

/* Records in block b: records_per_block, or fewer in the last block. */
uint64_t shard_records_in_block(uint64_t record_count, uint32_t records_per_block, uint32_t b);

/* ---- the block index ---------------------------------------------------------- */

typedef struct {
    uint64_t offset;
    uint32_t comp_bytes, raw_bytes, crc; /* crc32 of the raw (decompressed) bytes */
} shard_block_entry;

/* Size of the index of block_count blocks: the entries and the trailer. */
static inline uint64_t shard_index_bytes(uint32_t block_count) {
    return (uint64_t)block_count * SHARD_INDEX_ENTRY_BYTES + SHARD_INDEX_TRAILER_BYTES;
}

/* Writes the index of h->block_count blocks (shard_index_bytes of it) to out. */
void shard_index_encode(const shard_block_entry *blocks, uint32_t block_count, uint8_t *out);

/* Checks the index bytes ib (shard_index_bytes(h->block_count) of them, read
 * at h->index_offset) against a header that passed the checks above: trailer,
 * crc, then every entry (blocks back to back from the header to the index,
 * each with the raw size the header assigns it). On success *blocks is a new
 * array of h->block_count entries (at least one slot) the caller frees. */
int shard_index_decode(const uint8_t *ib, const shard_header *h, const char *path, shard_block_entry **blocks);

/* ---- names and strings -------------------------------------------------------- */

/* Parses "shard-NNNNN.crs" (at least five digits, no extra leading zeros
 * beyond the %05 padding); 1 and the number if name is one. */
int shard_name_parse(const char *name, uint64_t *number);

/* Copies of s and of a followed by b, or NULL (reported, naming what). */
char *shard_str_dup(const char *s, const char *what);
char *shard_str_join(const char *a, const char *b, const char *what);

#endif
