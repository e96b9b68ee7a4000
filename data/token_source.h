/* token_source.h — token windows as a batch_source (DESIGN §3, §5), for the
 * language objectives (gpt2, bert).
 *
 * Defines token_batch and token_source_open.
 *
 * Two layouts of the windows of a token dataset (data/token_shard.h) of N
 * tokens:
 *   TOKEN_WINDOWS_STREAM (gpt2): sample k is the window of T+1 tokens
 *     starting at token k·T, for k < floor((N − 1) / T): windows overlap by
 *     one token, so inputs x_0 … x_{T−1} and targets x_1 … x_T of
 *     consecutive windows tile the stream, and document boundaries (bos ids)
 *     fall wherever they are in it;
 *   TOKEN_WINDOWS_DOCUMENTS (bert): sample k is window k of data/doc_windows.h,
 *     T tokens led by a bos id, starting at document boundaries where they can. Which windows a step takes is the global
 * sample order of data/sample_order.h (the image loader's contract: step s
 * takes positions s·G + rank_offset + i; epoch permutations by Fisher–Yates
 * on rng_stream_make(seed, e, 0, RNG_PERMUTE); shuffle = 0 is the identity,
 * for evaluation), so a step's tokens do not depend on the number of ranks,
 * on prefetching, or on where the run resumed.
 *
 * The source's `samples` is the number of windows, its unit "tok" with T
 * units per sample. micro() returns a view of the batch (pointers offset by
 * the first window, no copying). With cfg->prefetch > 0 a worker thread
 * prepares batches ahead (data/prefetch.h) and is the only thread that reads
 * the dataset.
 */
#ifndef CRATE_DATA_TOKEN_SOURCE_H
#define CRATE_DATA_TOKEN_SOURCE_H

#include <stdint.h>

#include "data/batch_source.h"

typedef enum { TOKEN_WINDOWS_STREAM = 0, TOKEN_WINDOWS_DOCUMENTS = 1 } token_window_layout;

typedef struct {
    int n, T;                    /* windows in this rank's batch; the model's sequence length */
    int width;                   /* tokens per window: T + 1 (stream) or T (documents) */
    const int32_t *tokens;       /* n·width: window i is tokens[i·width … (i+1)·width) */
    const uint64_t *sample_ids;  /* window number k of each */
    const uint32_t *epochs;      /* epoch each was drawn in */
    int64_t step;
} token_batch;

/* Decompressed-block cache when cfg->cache_bytes is 0: shuffled windows touch
 * blocks at random, so the source is fast when the cache holds the dataset. */
#define TOKEN_SOURCE_DEFAULT_CACHE ((size_t)1 << 30)

/* Opens the token dataset cfg->path; batches are const token_batch *.
 * CRATE_EINPUT on a bad slice of the global batch (sample_order.h), T < 1
 * (T < 2 for documents), a dataset too short for one window or with more
 * than 2^32 − 1 windows, each naming the dataset and the fix. */
int token_source_open(batch_source **out, const batch_source_config *cfg, int T, token_window_layout layout,
                      int shuffle);

#endif
