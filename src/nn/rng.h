/* rng.h — counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
 *
 * The determinism contract (DESIGN §5) needs every random choice about a
 * sample to depend only on (seed, epoch, sample id, purpose), never on how many
 * numbers another sample or another rank drew before. Philox is a keyed
 * bijection on 128-bit counters: key = seed, counter = (n, purpose, sample,
 * epoch), so stream n-th block of any (epoch, sample, purpose) is computed
 * directly, on any rank, in any order.
 */
#ifndef CRATE_RNG_H
#define CRATE_RNG_H

#include <stdint.h>

enum rng_purpose {
    RNG_INIT = 1,      /* parameter initialisation: sample = tensor id */
    RNG_PERMUTE = 2,   /* the epoch's sample permutation: sample = 0 */
    RNG_MASK = 3,      /* MAE patch mask of one sample */
    RNG_AUGMENT = 4,   /* crops and flips of one sample */
    RNG_CORRUPT = 5,   /* BERT token corruption of one window */
    RNG_SAMPLE = 6,    /* crate-generate's draws: sample = 0 */
};

typedef struct {
    uint64_t seed;
    uint32_t purpose, sample_lo, epoch;
    uint32_t block;      /* next Philox block to compute */
    uint32_t buf[4];     /* current block's outputs */
    int used;            /* outputs of buf already handed out (4 = empty) */
} rng_stream;

/* A stream of the numbers of (seed, epoch, sample, purpose). Samples ids above
 * 2^32 fold their high half into the epoch word. */
rng_stream rng_stream_make(uint64_t seed, uint64_t epoch, uint64_t sample, uint32_t purpose);

/* The stream of one view of a sample (DINO's crops): the view index goes
 * into the purpose word's high 24 bits, purposes above use the low 8. */
static inline rng_stream rng_stream_view(uint64_t seed, uint64_t epoch, uint64_t sample, uint32_t purpose,
                                         uint32_t view) {
    return rng_stream_make(seed, epoch, sample, purpose | (view + 1u) << 8);
}

uint32_t rng_u32(rng_stream *s);
/* Uniform in [0, 1) with 24 random bits. */
float rng_uniform(rng_stream *s);
/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint32_t rng_below(rng_stream *s, uint32_t n);
/* Standard normal (Box–Muller). */
float rng_normal(rng_stream *s);
/* A uniform k-subset, in random order, into order[0..k) of the n ≥ k entries
 * of order: the first k steps of a Fisher–Yates shuffle (swap order[j] with
 * order[j + rng_below(n − j)] for j < k), k draws. */
void rng_partial_shuffle(rng_stream *s, int *order, int n, int k);

/* One Philox4x32-10 block: out = philox(key, ctr). Exposed for tests. */
void rng_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);

#endif
