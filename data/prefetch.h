/* prefetch.h — a ring of batches filled ahead by a worker thread, for any
 * batch source (the image loader, the token source).
 *
 * Defines prefetch: the ring protocol, the worker and the hand-over of its
 * failures, with the batches themselves left to the source. The source owns
 * prefetch_slots(depth) batch buffers and a fill callback that computes the
 * batch of a global step into one of them; prefetch says which slot holds
 * the next batch. Batches are a pure function of the step (DESIGN §5), so
 * moving their computation onto a thread changes nothing that is served.
 *
 * With depth 0 there is no thread: prefetch_next fills slot 0 on the
 * caller's thread. With depth > 0 the worker is the only thread that calls
 * fill (and so the only one that touches the source's dataset); the caller
 * holds one slot (the batch prefetch_next returned, until its next call)
 * while up to depth batches are prepared ahead. A fill failure is handed to
 * the prefetch_next that needs the failed batch: it returns the worker's
 * status with its message on the caller's thread, after the batches prepared
 * before the failure have been served. Failures are sticky.
 */
#ifndef CRATE_DATA_PREFETCH_H
#define CRATE_DATA_PREFETCH_H

#include <stdint.h>

/* Computes the batch of global step `step` into ring slot `slot`; a failure
 * returns a crate status with the message set (crate_fail). */
typedef int (*prefetch_fill_fn)(void *ctx, int64_t step, int slot);

typedef struct prefetch prefetch;

/* The deepest ring: batches ahead cost memory, and more than a few never help. */
#define PREFETCH_MAX_DEPTH 1024

/* Batch buffers a source allocates for a ring of depth. */
static inline int prefetch_slots(int depth) { return depth + 1; }

/* Serves steps first_step, first_step + 1, …; 0 <= depth <= PREFETCH_MAX_DEPTH
 * batches ahead.
 * With depth > 0 the worker starts at once (the slots must be ready); what
 * names the source in a thread failure. */
int prefetch_open(prefetch **out, int depth, int64_t first_step, prefetch_fill_fn fill, void *ctx, const char *what);
/* The slot of the next step's batch, valid until the next call or close. */
int prefetch_next(prefetch *p, int *slot);
/* Stops and joins the worker (also mid-failure), before the caller frees
 * what fill uses. NULL is a no-op. */
void prefetch_close(prefetch *p);

#endif
