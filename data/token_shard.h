/* token_shard.h — token datasets for language pretraining (DESIGN §6): a
 * directory of token shards with the tokenizer that made them; the writer and
 * the reader.
 *
 * Defines token_dataset_writer, token_dataset (the reader), token_dataset_stats
 * and the metadata file's format.
 *
 * A token dataset DIR holds
 *   shard-00000.crs, …   the token stream in the shard container of shard.h,
 *                        kind 2: one record per token id (u16 when the
 *                        vocabulary V <= 65536, else u32), header C = id
 *                        width in bytes, H = V, W = 1, and the documents
 *                        starting in the shard; blocks of 65536 tokens;
 *   tokenizer.model      the serialized SentencePiece model (data/spm.h), as
 *                        the writer was given it;
 *   tokens.meta          what the shards and the tokenizer must agree on.
 *
 * The stream is the documents back to back, each starting with the bos id
 * (TOKEN_BOS_ID): document boundaries travel with the tokens, inside the
 * checksummed blocks, and the bos id occurs nowhere else. Token k of the
 * dataset is token k of this stream, across shards in file-number order.
 *
 * tokens.meta is text, one "key value" line each, exactly these keys in this
 * order, decimal numbers without sign or leading zeros, hex in lower case:
 *
 *   crate-tokens 1            format version
 *   vocab 4096                V: every id is < V
 *   id_bytes 2                2 (V <= 65536) or 4
 *   bos 2                     the id that starts every document
 *   documents 1130            documents in the stream (= bos ids)
 *   tokens 951481             tokens in the stream, bos ids included
 *   text_bytes 3934685        UTF-8 bytes of the text that was encoded
 *                             (bits per byte = nats·tokens / text_bytes / ln 2)
 *   shards 1                  shard files
 *   tokenizer_bytes 240139    size of tokenizer.model
 *   tokenizer_crc32 0a1b2c3d  its crc32 (src/io/crc32.h)
 *   crc32 89abcdef            crc32 of every byte of the file before this line
 *
 * Opening checks the meta (strictly: anything else is an error), the
 * tokenizer's size and crc, every shard header and index (shard.h), and the
 * shards against the meta: vocabulary and id width of each, the total of
 * tokens and of documents, the number of shards; and that the stream starts
 * with bos. Blocks are checked each time they are read from disk, and every
 * id read is checked < V. token_dataset_verify reads everything and also
 * counts each shard's bos ids against its header. Every failure is
 * CRATE_EINPUT naming the file (and block) and the fix.
 *
 * The writer writes DIR.partial/ and renames it to DIR when complete
 * (shard.h's crash-safe scheme); an existing DIR is replaced only if it is a
 * token dataset. The tokenizer is opaque bytes here: crate-data (and the
 * objectives) load it with data/spm.h.
 */
#ifndef CRATE_DATA_TOKEN_SHARD_H
#define CRATE_DATA_TOKEN_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_BOS_ID 2 /* spm_train_options_default's bos id */
#define TOKEN_META_VERSION 1
#define TOKEN_META_FILE "tokens.meta"
#define TOKEN_TOKENIZER_FILE "tokenizer.model"
#define TOKEN_MAX_TOKENIZER_BYTES ((size_t)1 << 28)
#define TOKEN_DEFAULT_TOKENS_PER_BLOCK 65536
#define TOKEN_DEFAULT_TOKENS_PER_SHARD ((uint64_t)1 << 26)

typedef struct {
    uint64_t documents;
    uint64_t tokens;      /* bos ids included */
    uint64_t text_bytes;  /* UTF-8 bytes of the encoded text */
    int shards;
    uint64_t blocks;
    uint64_t file_bytes;  /* shards on disk */
    uint64_t raw_bytes;   /* tokens · id bytes */
} token_dataset_stats;

/* ---- the writer ------------------------------------------------------------------ */

typedef struct token_dataset_writer token_dataset_writer;

/* Starts the token dataset DIR for ids < vocab (3 <= vocab <= 2^31 − 1):
 * creates DIR.partial and writes the tokenizer (1 to
 * TOKEN_MAX_TOKENIZER_BYTES bytes) into it. Shards hold at most
 * tokens_per_shard tokens (0: TOKEN_DEFAULT_TOKENS_PER_SHARD) in blocks of
 * tokens_per_block (0: TOKEN_DEFAULT_TOKENS_PER_BLOCK). */
int token_dataset_writer_open(token_dataset_writer **out, const char *dir, int vocab, const void *tokenizer,
                              size_t tokenizer_bytes, uint64_t tokens_per_shard, uint32_t tokens_per_block);
/* Appends one document: the bos id, then ids[0..n) (each in [0, vocab), none
 * the bos id); text_bytes is the size of the text they encode. */
int token_dataset_writer_add_document(token_dataset_writer *w, const int32_t *ids, size_t n, uint64_t text_bytes);
/* Closes the last shard, writes tokens.meta, and renames DIR.partial to DIR
 * (replacing an existing token dataset; anything else there is an error and
 * is left alone). Frees w whatever the outcome; stats may be NULL. */
int token_dataset_writer_close(token_dataset_writer *w, token_dataset_stats *stats);
/* Discards DIR.partial, frees w. NULL is a no-op. */
void token_dataset_writer_abort(token_dataset_writer *w);

/* OK if a token dataset writer may write dir: it does not exist, or it is
 * empty, or it holds a token dataset. Otherwise CRATE_EINPUT naming what is
 * in the way (checked before a long tokenization, so that it fails early). */
int token_dataset_check_output(const char *dir);

/* ---- the reader ------------------------------------------------------------------ */

/* Not thread-safe, like image_dataset: reads update the block cache. */
typedef struct token_dataset token_dataset;

/* Opens the token dataset directory dir, checked as above; decompressed
 * blocks are cached up to cache_bytes (0 works, slowly). */
int token_dataset_open(token_dataset **out, const char *dir, size_t cache_bytes);
/* NULL is a no-op. */
void token_dataset_close(token_dataset *ds);

uint64_t token_dataset_tokens(const token_dataset *ds);
uint64_t token_dataset_documents(const token_dataset *ds);
uint64_t token_dataset_text_bytes(const token_dataset *ds);
int token_dataset_vocab(const token_dataset *ds);
void token_dataset_get_stats(const token_dataset *ds, token_dataset_stats *stats);
/* The serialized tokenizer (checked against the meta's size and crc), owned
 * by ds. */
const void *token_dataset_tokenizer(const token_dataset *ds, size_t *bytes);

/* ids[0..n) = tokens [first, first + n) of the stream; first + n <= tokens
 * (else CRATE_EINTERNAL, a caller bug). An id >= vocab is CRATE_EINPUT naming
 * the shard and block; on failure ids may be partly written. */
int token_dataset_read(token_dataset *ds, uint64_t first, size_t n, int32_t *ids);

/* Reads every block from disk and checks it (crc, ids < vocab, each shard's
 * bos ids = its document count, the stream starting with bos). */
int token_dataset_verify(token_dataset *ds);

#endif
