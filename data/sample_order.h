/* sample_order.h — the global sample order of the determinism contract
 * (DESIGN §5), shared by every batch source (data/loader.h for images,
 * data/token_source.h for token windows).
 *
 * Defines sample_order and the checks of a rank's slice of the global batch.
 *
 * Global step s consumes the global positions g = s·G + rank_offset + i,
 * i < local_batch, of an endless stream; position g lies in epoch e = g / N
 * (N samples) and is the sample perm_e[g mod N]. perm_e is a Fisher–Yates
 * shuffle of [0, N): perm = identity, then for i = N−1 down to 1,
 * j = rng_below(i+1) and swap perm[i], perm[j], on
 * rng_stream_make(seed, e, 0, RNG_PERMUTE); with shuffle = 0 it is the
 * identity (evaluation order). The permutations of the two most recent epochs
 * are kept, so a batch that straddles an epoch boundary computes each once.
 * Not thread-safe: use one per thread (a source's worker owns its own).
 */
#ifndef CRATE_DATA_SAMPLE_ORDER_H
#define CRATE_DATA_SAMPLE_ORDER_H

#include <stdint.h>

typedef struct {
    uint64_t seed;
    uint32_t n;            /* N */
    int shuffle;
    uint32_t *perm[2];     /* the permutations of two epochs */
    int64_t perm_epoch[2]; /* -1: not computed */
} sample_order;

/* An order of n samples (1 <= n <= 2^32 − 1, else CRATE_EINPUT naming what). */
int sample_order_init(sample_order *o, const char *what, uint64_t seed, uint64_t n, int shuffle);
/* Frees the permutations; a zeroed sample_order may be passed. */
void sample_order_free(sample_order *o);

/* OK if a rank's slice of the global batch is well formed: G >= 1,
 * local_batch >= 1, 0 <= rank_offset, rank_offset + local_batch <= G,
 * first_step >= 0, 0 <= prefetch <= PREFETCH_MAX_DEPTH; else CRATE_EINPUT naming what (the data
 * path) and every value. */
int sample_order_check_slice(const char *what, int64_t global_batch, int64_t rank_offset, int local_batch,
                             int64_t first_step, int prefetch);

/* base = step·G + rank_offset, the global position of this rank's first
 * sample of step; CRATE_EINPUT if it overflows. */
int sample_order_base(int64_t step, int64_t global_batch, int64_t rank_offset, uint64_t *base);

/* The sample at global position g and the epoch it is drawn in;
 * CRATE_EINPUT beyond 2^32 epochs. */
int sample_order_at(sample_order *o, uint64_t g, uint64_t *sample, uint32_t *epoch);

#endif
