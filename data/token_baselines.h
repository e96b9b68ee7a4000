/* token_baselines.h — count-based reference losses of a validation token
 * stream under a training stream, the numbers a language model has to beat
 * (DESIGN §12).
 *
 * Defines token_baselines and the functions that compute them.
 *
 * Counts come from every token of train (unigram) and every pair of
 * consecutive train tokens (bigram). The scored positions are val tokens
 * 1 … N−1 (each has a predecessor; document-start bos ids included, as a
 * causal LM over the stream scores them), under
 *   unigram  p(b)     = (c(b) + 1) / (N_train + V)
 *   bigram   p(b | a) = (c(a b) + 1) / (c(a ·) + V)      (add-one smoothing)
 * with V the vocabulary; both are smoothed so no val token has probability 0.
 * For a masked LM (bert), which predicts a sample of the ordinary tokens
 * from both sides, the references are over every val token that is not a
 * bos id (crate-data's tokenizers emit no other special id for text):
 *   masked_mode_acc       the fraction equal to train's most frequent
 *                         non-bos id (the best constant guess),
 *   masked_unigram_nats   −log of (c(b) + 1) / (N'_train + V − 1), the
 *                         add-one unigram over non-bos ids (N'_train of them).
 * Cross-entropies are in nats per scored token; bits per byte are
 * nats · scored / text_bytes(val) / ln 2 (NAN when val records no text).
 * Pair counts live in a hash table sized by the distinct pairs seen, so any
 * vocabulary up to TOKEN_BASELINES_MAX_VOCAB works.
 */
#ifndef CRATE_DATA_TOKEN_BASELINES_H
#define CRATE_DATA_TOKEN_BASELINES_H

#include <stdint.h>
#include <stdio.h>

#include "data/token_shard.h"

#define TOKEN_BASELINES_MAX_VOCAB (1 << 24)

typedef struct {
    int vocab;
    uint64_t train_tokens, val_tokens;
    uint64_t scored;           /* val tokens scored: val_tokens − 1 */
    uint64_t val_text_bytes;
    uint64_t distinct_pairs;   /* in train */
    double unigram_nats, bigram_nats;  /* per scored token */
    double unigram_bpb, bigram_bpb;    /* bits per byte of val text */
    uint64_t masked_scored;            /* val tokens that are not bos */
    int32_t mode_id;                   /* train's most frequent non-bos id */
    double masked_mode_acc, masked_unigram_nats;
} token_baselines;

/* Baselines of val under train. Both must use the same tokenizer (same
 * bytes) and val must hold at least 2 tokens, else CRATE_EINPUT. */
int token_baselines_compute(token_dataset *train, token_dataset *val, token_baselines *out);
/* The same for the token datasets at train_dir and val_dir (opened, read,
 * closed); a failure names both. */
int token_baselines_compute_paths(const char *train_dir, const char *val_dir, token_baselines *out);

/* Prints the baselines as text lines, each prefixed by indent. */
void token_baselines_print(FILE *f, const char *indent, const token_baselines *b);
/* Prints one JSON line {"baselines": name, ...}; name is escaped. */
void token_baselines_print_json(FILE *f, const char *name, const token_baselines *b);

#endif
