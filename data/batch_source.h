/* batch_source.h — where an objective's batches come from (DESIGN §3, §5).
 *
 * The trainer knows batches only through this interface: it opens the source
 * the objective chooses once, at the global step it resumes from, takes one
 * batch per step, and cuts it into micro-batches without copying. What a batch
 * holds (images and labels, token windows, multi-crop views) is the business
 * of the source and of the objective that reads it; both follow the
 * determinism contract of DESIGN §5: global step s is the global positions
 * [s·G, (s+1)·G) of a seeded, rank-count-independent order, and this rank
 * takes the contiguous slots [rank_offset, rank_offset + local_batch).
 */
#ifndef CRATE_DATA_BATCH_SOURCE_H
#define CRATE_DATA_BATCH_SOURCE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *path;       /* the data (a shard folder or file) */
    uint64_t seed;
    int64_t global_batch;   /* G */
    int64_t rank_offset;    /* this rank's first slot in the global batch */
    int local_batch;        /* slots this rank takes */
    int64_t first_step;     /* step of the first batch served (the resumed step) */
    int prefetch;           /* batches prepared ahead by a worker thread (0: synchronous) */
    size_t cache_bytes;     /* decompressed-block cache (0: the source's default) */
} batch_source_config;

typedef struct batch_source batch_source;

typedef struct {
    /* The batch of the next step; valid until the next call or close. */
    int (*next)(batch_source *s, const void **batch);
    /* A view of samples [first, first + n) of a batch next() returned, valid
     * until the next micro() or next(); no sample data is copied. */
    const void *(*micro)(batch_source *s, const void *batch, int first, int n);
    void (*close)(batch_source *s);
} batch_source_ops;

struct batch_source {
    const batch_source_ops *ops;
    void *impl;
    uint64_t samples;       /* in the dataset (one epoch) */
    const char *unit;       /* what the progress line counts per second: "img", "tok" */
    double units_per_sample; /* e.g. 1 image, or T tokens per window */
};

static inline int batch_source_next(batch_source *s, const void **batch) { return s->ops->next(s, batch); }
static inline const void *batch_source_micro(batch_source *s, const void *batch, int first, int n) {
    return s->ops->micro(s, batch, first, n);
}
/* NULL is a no-op. */
static inline void batch_source_close(batch_source *s) {
    if (s) s->ops->close(s);
}

#endif
