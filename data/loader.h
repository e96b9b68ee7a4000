/* loader.h — image batches by global step, with a prefetch thread (DESIGN §5).
 *
 * Defines image_batch, image_loader_config and image_loader.
 *
 * The determinism contract. Global step s consumes the global positions
 *     g = s·G + rank_offset + i,   i < local_batch
 * of an endless stream; position g lies in epoch e = g / N (N records) and is
 * the sample perm_e[g mod N]. perm_e is a Fisher–Yates shuffle of [0, N):
 * perm = identity, then for i = N−1 down to 1, j = rng_below(i+1) and swap
 * perm[i], perm[j], on rng_stream_make(seed, e, 0, RNG_PERMUTE). With
 * shuffle = 0, perm_e is the identity (evaluation order). So the samples of a
 * step depend only on (seed, G, s), never on how ranks split the global batch,
 * and a loader opened at first_step = s serves what an uninterrupted one would.
 * (The order is data/sample_order.h, which the token source shares.)
 *
 * Threads. With prefetch > 0 a worker thread prepares batches into a ring of
 * prefetch + 1 slots (one held by the caller, up to prefetch ready ahead) and
 * is the only thread that touches the dataset. A worker failure is handed to
 * the next image_loader_next that needs the failed batch: it returns the
 * worker's status with its message on the caller's thread; batches prepared
 * before the failure are still served first. Failures are sticky. (The ring
 * is data/prefetch.h, which the token source shares.)
 */
#ifndef CRATE_DATA_LOADER_H
#define CRATE_DATA_LOADER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n;                 /* samples in this rank's batch */
    int C, H, W;
    uint8_t *pixels;       /* n·C·H·W */
    int32_t *labels;       /* n */
    uint64_t *sample_ids;  /* dataset index of each sample */
    uint32_t *epochs;      /* epoch each sample was drawn in */
    int64_t step;
} image_batch;

typedef struct {
    uint64_t seed;
    int64_t global_batch;  /* G */
    int64_t rank_offset;   /* this rank's first slot in the global batch */
    int local_batch;       /* slots this rank takes */
    int64_t first_step;    /* step of the first batch served (resume) */
    int prefetch;          /* batches prepared ahead by the worker thread (0 = synchronous) */
    int shuffle;           /* 1: epoch permutations; 0: sequential order (evaluation) */
    size_t cache_bytes;    /* decompressed-block cache; 0: IMAGE_LOADER_DEFAULT_CACHE */
    /* Optional (NULL: none). Called on the thread that fills batches (the
     * worker with prefetch > 0, else the caller of image_loader_next) once
     * the batch of a step is in ring slot `slot` (0 … prefetch_slots(prefetch)
     * − 1), before it is served: a source computes what it derives from the
     * images there, into buffers of its own for that slot (data/multicrop_source.h:
     * DINO's views). A failure returns a crate status with the message set
     * (crate_fail) and is handed over like a read failure. */
    int (*after_fill)(void *ctx, const image_batch *b, int slot);
    void *after_fill_ctx;
} image_loader_config;

/* Shuffled reads touch blocks at random, so the loader is only fast when the
 * cache holds the dataset (Fashion-MNIST: 47 MB raw). */
#define IMAGE_LOADER_DEFAULT_CACHE ((size_t)1 << 30)

typedef struct image_loader image_loader;

/* Opens the dataset at path (see shard.h) and starts the worker. Fails with
 * CRATE_EINPUT on a bad config (G < 1, local_batch < 1, rank_offset +
 * local_batch > G, first_step < 0, prefetch < 0 or > PREFETCH_MAX_DEPTH), an
 * empty dataset, or one of more than 2^32 − 1 records. */
int image_loader_open(image_loader **out, const char *path, const image_loader_config *cfg);
/* The batch of the next step; valid until the next call or close. */
int image_loader_next(image_loader *ld, const image_batch **batch);
/* The ring slot of a batch image_loader_next returned (what after_fill was
 * told when it was filled). */
int image_loader_slot(const image_loader *ld, const image_batch *batch);
uint64_t image_loader_dataset_size(const image_loader *ld);
/* Stops and joins the worker (also mid-failure), frees everything. NULL is a no-op. */
void image_loader_close(image_loader *ld);

#endif
