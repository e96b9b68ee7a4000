/* text_features.h — labelled texts (data/labelled_text.h) as features for the
 * probes: the frozen text model's encodings (pretrain/frozen_text.h),
 * computed by all ranks and gathered on rank 0, and the bag-of-words
 * baselines on the same tokens.
 *
 * Tokens. A text is [bos] + spm_encode(text) under the checkpoint's own
 * tokenizer (how the token shards the model trained on hold a document),
 * cut to the model's context T. The prepared folders stay text, so one
 * folder serves every checkpoint and never mismatches its tokenizer.
 *
 * Features of a text: each layer's output H (T, d) pooled over positions,
 *   mean   (1/T) Σ_t H_t, bos included
 *   first  H_0, the bos token (a cls-like token for a bidirectional bert
 *          encoder; in a causal one it has seen only itself: a constant)
 *   last   H_{T−1}, the last token (all a causal gpt2 encoder has read)
 * and with `layers` = k the pools of the last k layers concatenated, last
 * first (f = k·d): the last layer's output is text_encoder_output (after the
 * final LayerNorm when the model has one), earlier ones are the raw layer
 * outputs, as frozen_encoder does for images.
 *
 * Batches. The encoder has no padding mask (a bidirectional encoder would
 * attend to padding), so only texts of equal token count share a forward
 * pass: texts are ordered by (length, index), and that order is cut at every
 * change of length and after every `batch` texts; each batch runs with T its
 * length. Rank r encodes batches [r·nb/W, (r+1)·nb/W), a contiguous range of
 * the order, which rank 0 gathers and puts back in the set's order. Every
 * batch holds the same texts whatever the rank count W, so the features, and
 * the probes' results, do not depend on it.
 *
 * Baselines (rank 0), over the V ids of the tokens above, bos excluded:
 *   counts   c_ij = occurrences of id j in text i
 *   tf-idf   x_ij = c_ij · idf_j / ‖(c_i· idf)‖₂,  idf_j = ln((1 + n)/(1 + df_j)) + 1
 * with n the train texts and df_j how many contain id j (scikit-learn's
 * smoothed idf and l2 norm); test rows use train's idf.
 */
#ifndef CRATE_TEXT_FEATURES_H
#define CRATE_TEXT_FEATURES_H

#include <stdint.h>

#include "data/labelled_text.h"
#include "pretrain/frozen_text.h"
#include "pretrain/probe_features.h"
#include "src/dist/comm.h"

typedef enum { TEXT_POOL_MEAN = 0, TEXT_POOL_FIRST = 1, TEXT_POOL_LAST = 2 } text_pool;

/* A labelled set and its tokens. */
typedef struct {
    labelled_text text;
    int n;            /* texts */
    int32_t *ids;     /* every text's tokens back to back */
    int64_t *start;   /* (n) where text i's are */
    int *len;         /* (n) how many, 1 … T (bos first) */
    int truncated;    /* texts cut to T */
} text_set;

/* Reads the labelled text folder dir and tokenizes it for ft. */
int text_set_read(text_set *s, const char *dir, const frozen_text *ft);
void text_set_free(text_set *s);

/* Floats per feature row. */
int text_features_dim(const frozen_text *ft, int layers);
/* The encodings of every text of s (on rank 0). Collective. */
int text_features_encode(const comm_info *c, frozen_text *ft, const text_set *s, text_pool pool, int layers,
                         feature_set *out);
/* Rank 0: the token counts of every text of s over V ids. */
int text_features_counts(const text_set *s, int V, feature_set *out);
/* Count rows of train and test → their tf-idf rows, in place. */
int text_features_tfidf(feature_set *train, feature_set *test);

#endif
