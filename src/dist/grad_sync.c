/* grad_sync.c — see grad_sync.h. */
#include "src/dist/grad_sync.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/io/fs.h"
#include "src/kernels/gemm.h"

enum { MIN_BUCKETS = 8 };

int grad_sync_init(grad_sync *s, const param_store *ps, const comm_info *comm, int zero, int overlap,
                   size_t bucket_floats) {
    memset(s, 0, sizeof *s);
    s->rank = comm->rank;
    s->world = comm->world;
    s->zero = zero && comm->world > 1;
    s->overlap = overlap;
    s->total = ps->total;
    s->chunk = ps->total / (size_t)comm->world;
    /* At least MIN_BUCKETS buckets: the first is launched only when backward
     * has finalised a whole bucket of gradients, so one 4 MiB bucket of a
     * 4.5 MB model starts near the end of backward and nothing completes
     * before it ends (measured at 8 ranks: 0% of the floats summed early
     * with one bucket, 39–41% with eight, 84–87% with eight and the tests
     * after every GEMM; launch/SCALING.md). */
    size_t floor_size = (s->total + MIN_BUCKETS - 1) / MIN_BUCKETS;
    if (bucket_floats > floor_size) bucket_floats = floor_size;
    s->bucket = bucket_floats < 1 ? 1 : bucket_floats > (size_t)INT_MAX ? (size_t)INT_MAX : bucket_floats;
    /* A sharded bucket meets at most ⌈bucket/chunk⌉ + 1 owner ranges. */
    size_t buckets = (s->total + s->bucket - 1) / s->bucket;
    size_t per_bucket = s->zero ? s->bucket / (s->chunk ? s->chunk : 1) + 2 : 1;
    if (buckets * per_bucket > (size_t)INT_MAX)
        return crate_fail(CRATE_EINPUT, "dist.bucket_mb: %zu buckets are too many; raise it", buckets);
    s->max_requests = (int)(buckets * per_bucket);
    s->requests = crate_malloc((size_t)s->max_requests * sizeof(MPI_Request), "gradient requests");
    s->counts = crate_malloc((size_t)s->max_requests * sizeof(int), "gradient requests");
    s->indices = crate_malloc((size_t)s->max_requests * sizeof(int), "gradient requests");
    if (!s->requests || !s->counts || !s->indices) return CRATE_EINTERNAL;
#ifdef CRATE_CHECK_GRAD_SYNC
    s->sent = crate_aligned_zalloc(s->total * sizeof(float), "gradient snapshots");
    s->received = crate_aligned_zalloc(s->total * sizeof(float), "gradient sums");
    if (!s->sent || !s->received) return CRATE_EINTERNAL;
#endif
    return CRATE_OK;
}

static void post(grad_sync *s, MPI_Request r, int count) {
    s->counts[s->nrequests] = count;
    ((MPI_Request *)s->requests)[s->nrequests++] = r;
}

/* Send and receive buffers of floats [a, b): in place, or (checking builds)
 * from a snapshot of them into the separate sums. */
static void buffers(grad_sync *s, size_t a, size_t b, const float **send, float **recv) {
    if (!s->sent) {
        *send = MPI_IN_PLACE;
        *recv = s->grad + a;
        return;
    }
    memcpy(s->sent + a, s->grad + a, (b - a) * sizeof(float));
    *send = s->sent + a;
    *recv = s->received + a;
}

/* Starts the collective of gradient floats [a, b). */
static void launch(grad_sync *s, size_t a, size_t b) {
    MPI_Request r;
    const float *send;
    float *recv;
    if (!s->zero) {
        buffers(s, a, b, &send, &recv);
        MPI_Iallreduce(send, recv, (int)(b - a), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r);
        post(s, r, (int)(b - a));
        return;
    }
    for (size_t owner = a / s->chunk; owner < (size_t)s->world && owner * s->chunk < b; owner++) {
        size_t lo = owner * s->chunk > a ? owner * s->chunk : a;
        size_t hi = (owner + 1) * s->chunk < b ? (owner + 1) * s->chunk : b;
        int root = (int)owner;
        buffers(s, lo, hi, &send, &recv);
        /* In place, only the root may pass MPI_IN_PLACE; the others send their piece. */
        if (send == MPI_IN_PLACE && root != s->rank) send = recv;
        MPI_Ireduce(send, recv, (int)(hi - lo), MPI_FLOAT, MPI_SUM, root, MPI_COMM_WORLD, &r);
        post(s, r, (int)(hi - lo));
    }
}

/* Launches every not-yet-launched bucket that starts at or after `from`. */
static void launch_tail(grad_sync *s, size_t from) {
    while (s->next_end > 0) {
        size_t start = s->next_end > s->bucket ? s->next_end - s->bucket : 0;
        if (start < from) break;
        launch(s, start, s->next_end);
        s->next_end = start;
    }
}

/* MPI_Testsome, not MPI_Testall: Testall leaves every request as it was
 * unless all are done, Testsome frees the completed ones (MPI_REQUEST_NULL),
 * which is what grad_sync_finish counts. */
static void progress(void *ctx) {
    grad_sync *s = ctx;
    int completed;
    MPI_Testsome(s->nrequests, s->requests, &completed, s->indices, MPI_STATUSES_IGNORE);
}

static void on_grads_final(void *ctx, size_t first_final) {
    grad_sync *s = ctx;
    launch_tail(s, first_final);
    /* Drive the progress of everything in flight: Open MPI moves the data of
     * non-blocking collectives only inside MPI calls on this thread. */
    progress(s);
}

void grad_sync_arm(grad_sync *s, param_store *ps) {
    s->grad = ps->grad;
    s->next_end = s->total;
    s->nrequests = 0;
    if (s->world > 1 && s->overlap) {
        ps->on_final = on_grads_final;
        ps->on_final_ctx = s;
        gemm_set_progress(progress, s);
    }
}

/* Checking builds: every float must still be what its bucket sent; then the
 * sums replace it (all of them, or the owner's range under ZeRO-1). */
static int check_and_take_sums(grad_sync *s) {
    for (size_t i = 0; i < s->total; i++)
        if (memcmp(&s->grad[i], &s->sent[i], sizeof(float)) != 0)
            return crate_fail(CRATE_EINTERNAL, "gradient float %zu changed after its bucket was launched (%g sent, "
                              "%g now): an objective armed the gradient sync before a backward pass that was not "
                              "its last", i, s->sent[i], s->grad[i]);
    size_t lo = s->zero ? (size_t)s->rank * s->chunk : 0, hi = s->zero ? lo + s->chunk : s->total;
    memcpy(s->grad + lo, s->received + lo, (hi - lo) * sizeof(float));
    return CRATE_OK;
}

int grad_sync_finish(grad_sync *s, param_store *ps) {
    ps->on_final = NULL;
    ps->on_final_ctx = NULL;
    gemm_set_progress(NULL, NULL);
    if (s->world == 1) return CRATE_OK;
    double t0 = fs_now();
    /* Backward has ended: the requests completed by now are MPI_REQUEST_NULL
     * after one more test; each gradient float is in exactly one request. */
    progress(s);
    const MPI_Request *req = s->requests;
    for (int i = 0; i < s->nrequests; i++)
        if (req[i] == MPI_REQUEST_NULL) s->floats_early += s->counts[i];
    s->floats_synced += (double)s->total;
    launch_tail(s, 0);
    MPI_Waitall(s->nrequests, s->requests, MPI_STATUSES_IGNORE);
    s->nrequests = 0;
    s->wait_s += fs_now() - t0;
    return s->sent ? check_and_take_sums(s) : CRATE_OK;
}

void grad_sync_free(grad_sync *s) {
    free(s->requests);
    free(s->counts);
    free(s->indices);
    free(s->sent);
    free(s->received);
    memset(s, 0, sizeof *s);
}
