/* grad_sync.h — summing gradients across ranks while backward still runs
 * (DESIGN §9).
 *
 * The flat gradient buffer is cut into buckets of about `bucket` floats
 * (dist.bucket_mb, but at least 8 buckets) taken from its END, because
 * backward finalises gradients from the end of the buffer towards its start
 * (params.h). While backward runs, the model reports through
 * param_store_grads_final_from that the tail [x, total) is final; every bucket
 * lying wholly inside that tail is launched at once as a non-blocking
 * collective. Open MPI (no progress thread) moves their data only inside MPI
 * calls, so the outstanding requests are tested there and after every GEMM of
 * backward (gemm_set_progress): a layer's backward is a handful of products,
 * and a test between layers only would leave the wire idle through them.
 * grad_sync_finish launches what is left (the first layers) and waits.
 *
 *   replicated (zero = 0): bucket [a, b)  → MPI_Iallreduce in place: every rank
 *                                           gets Σ_ranks g[a, b)
 *   sharded    (zero = 1): bucket ∩ owner r's range [r·c, (r+1)·c)
 *                                         → MPI_Ireduce to rank r in place: the
 *                                           owner alone gets the sum (ZeRO-1)
 * Both send each gradient float once per rank pair step, as a ring allreduce
 * or reduce-scatter would; the sums are left UNSCALED (the optimizer scales).
 * With overlap off, every bucket is launched only in grad_sync_finish: the
 * same arithmetic with all communication exposed, for measuring the overlap.
 * How much of it the overlap hides is measured, not assumed: grad_sync_finish
 * (called when backward has ended) first counts the floats whose collective
 * has already completed, before it launches or waits for anything.
 *
 * The rule for several backward passes per step (DESIGN §5): arm only before
 * the LAST one, because a bucket's floats must not change once launched.
 * Builds with CRATE_CHECK_GRAD_SYNC (the sanitizer and Debug builds) check
 * it: each bucket is sent from a snapshot taken at launch into a separate
 * receive buffer, and grad_sync_finish compares the gradient buffer with the
 * snapshot before copying the sums in: a float written after its launch is
 * an internal error naming its offset.
 */
#ifndef CRATE_GRAD_SYNC_H
#define CRATE_GRAD_SYNC_H

#include <stddef.h>

#include "src/dist/comm.h"
#include "src/nn/params.h"

typedef struct {
    int rank, world, zero, overlap;
    size_t total, bucket, chunk; /* floats: buffer, bucket, ZeRO owner range */
    size_t next_end;             /* buckets end at total, total−bucket, …; next to launch ends here */
    float *grad;
    void *requests;              /* MPI_Request[max_requests] */
    int nrequests, max_requests;
    int *counts;                 /* floats of each request */
    int *indices;                /* MPI_Testsome's output (max_requests) */
    double wait_s;               /* seconds blocked in grad_sync_finish, summed since the last reset */
    double floats_synced;        /* gradient floats summed, since the last reset */
    double floats_early;         /* of them, those whose collective completed before backward ended */
    float *sent, *received;      /* CRATE_CHECK_GRAD_SYNC: snapshot at launch, sums (total floats each) */
} grad_sync;

/* ps must be allocated and padded to a multiple of the world size. */
int grad_sync_init(grad_sync *s, const param_store *ps, const comm_info *comm, int zero, int overlap,
                   size_t bucket_floats);
/* Listen to the coming backward pass of ps (the last micro-step's). */
void grad_sync_arm(grad_sync *s, param_store *ps);
/* Launch the remaining buckets, wait for all, stop listening. Afterwards
 * replicated: ps->grad holds the sum over ranks; sharded: the owner's range
 * does. Fails only in checking builds, when a launched float changed. */
int grad_sync_finish(grad_sync *s, param_store *ps);
void grad_sync_free(grad_sync *s);

#endif
