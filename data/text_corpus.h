/* text_corpus.h — documents of text, and their tokenization into a train and
 * a val token dataset (what `crate-data text` and `crate-data kjv` do).
 *
 * Defines text_corpus (documents in memory, in order), the paragraph reader
 * of text files, and text_corpus_write_split, the pipeline from documents to
 * OUT_DIR/train and OUT_DIR/val (data/token_shard.h).
 *
 * Paragraphs. A text file is UTF-8 (a leading byte-order mark is dropped; a
 * NUL byte or an invalid sequence is an error naming the file, line and
 * byte). Its lines (ended by \n; a \r before it is dropped) are grouped into
 * documents: a blank line (empty, or only spaces and tabs) ends a document,
 * so a document is a maximal run of non-blank lines, its text those lines
 * joined by \n. The end of a file ends a document; documents never span
 * files.
 *
 * The split. Documents are numbered 1, 2, … in input order; document i goes
 * to val when i is a multiple of val_every (every val_every-th document),
 * to train otherwise; documents past the first train_only_from (when it is
 * not 0) all go to train (extra training text that leaves val unchanged). The tokenizer (SentencePiece, data/spm.h) is trained on
 * the train documents only, one sentence per line, or loaded from a model
 * file; it must have bos id TOKEN_BOS_ID. Each document is encoded as a whole
 * (SentencePiece's normalization turns its line breaks into spaces) and
 * written as bos + ids, its text bytes counted for bits per byte. Both
 * datasets get the tokenizer. OUT_DIR/train and OUT_DIR/val are checked
 * before the tokenizer is trained: each must be absent, empty or a token
 * dataset (which is replaced).
 */
#ifndef CRATE_DATA_TEXT_CORPUS_H
#define CRATE_DATA_TEXT_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "data/spm.h"
#include "data/token_shard.h"

typedef struct {
    char *text;         /* the documents back to back */
    size_t bytes, cap;
    size_t *start, *len; /* (count) where each document is in text */
    uint64_t count, cap_docs;
} text_corpus;

/* An empty corpus (a zeroed one is empty too). */
void text_corpus_init(text_corpus *c);
void text_corpus_free(text_corpus *c);

/* Appends one document, text[0, len). */
int text_corpus_add(text_corpus *c, const char *text, size_t len);
/* Appends the paragraphs of path (see above) as documents; a file without
 * any (empty or blank) is CRATE_EINPUT naming it. */
int text_corpus_add_file(text_corpus *c, const char *path);

typedef struct {
    const char *source;      /* what the documents came from, for messages (e.g. the inputs) */
    int vocab;               /* > 0: train a tokenizer of this many pieces */
    const char *vocab_flag;  /* the option that set it, for messages ("--spm-train") */
    spm_type type;           /* its kind */
    const char *spm_model;   /* else: load this model file */
    int val_every;           /* >= 2 */
    uint64_t train_only_from; /* > 0: documents from this index on go to train only */
    uint64_t tokens_per_shard;  /* 0: the token_shard.h defaults */
    uint32_t tokens_per_block;
} text_split_options;

typedef struct {
    token_dataset_stats train, val;
    int vocab;                 /* pieces of the tokenizer used */
    uint64_t tokenizer_lines;  /* sentences it was trained on (0: loaded) */
    double tokenizer_seconds;  /* training or loading */
    double encode_seconds;     /* encoding and writing both datasets */
} text_split_stats;

/* Tokenizes the corpus into out_dir/train and out_dir/val (created, or
 * replaced if they hold token datasets), as described above. CRATE_EINPUT,
 * with the fix, for: fewer documents than needed to put one in each split,
 * an output in the way, a missing or unusable model, a corpus too small for
 * the vocabulary (SentencePiece's error, wrapped). */
int text_corpus_write_split(const text_corpus *c, const char *out_dir, const text_split_options *o,
                            text_split_stats *stats);

#endif
