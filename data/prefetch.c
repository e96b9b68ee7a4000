/* prefetch.c — the batch ring and its worker (see prefetch.h); moved out of
 * the image loader so that every batch source shares one implementation.
 *
 * Ring protocol (all counters under mu). Batch k (the k-th served, step
 * first_step + k) lives in slot k mod nslots, nslots = depth + 1.
 *   produced  batches the worker has finished;
 *   consumed  batches handed to the caller;
 *   released  batches the caller is done with (it holds batch consumed − 1
 *             until its next call).
 * The worker may fill batch `produced` once produced < released + nslots: its
 * slot then holds no batch the caller can still see. It writes the slot
 * without the lock, then publishes it by incrementing produced. The caller
 * waits on `filled`, the worker on `can_fill`: nobody spins.
 */
#include "data/prefetch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"

#define PREFETCH_ERRMSG_CAP 2048

struct prefetch {
    prefetch_fill_fn fill;
    void *ctx;
    int64_t first_step;
    int nslots;
    /* Ring state, under mu when the worker runs. */
    pthread_mutex_t mu;
    pthread_cond_t can_fill, filled;
    pthread_t worker;
    int worker_started;
    uint64_t produced, consumed, released;
    int stop;
    int fail_status; /* CRATE_OK until a batch fails */
    char fail_msg[PREFETCH_ERRMSG_CAP];
};

static void *prefetch_worker(void *arg) {
    prefetch *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->produced >= p->released + (uint64_t)p->nslots)
            pthread_cond_wait(&p->can_fill, &p->mu);
        if (p->stop) break;
        uint64_t k = p->produced;
        pthread_mutex_unlock(&p->mu);
        int st = p->fill(p->ctx, p->first_step + (int64_t)k, (int)(k % (uint64_t)p->nslots));
        pthread_mutex_lock(&p->mu);
        if (st) {
            p->fail_status = st;
            snprintf(p->fail_msg, sizeof p->fail_msg, "%s", crate_errmsg());
            pthread_cond_broadcast(&p->filled);
            break;
        }
        p->produced = k + 1;
        pthread_cond_broadcast(&p->filled);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int prefetch_open(prefetch **out, int depth, int64_t first_step, prefetch_fill_fn fill, void *ctx, const char *what) {
    *out = NULL;
    if (depth < 0 || depth > PREFETCH_MAX_DEPTH)
        return crate_fail(CRATE_EINPUT, "%s: prefetch depth %d out of range (0 to %d)", what, depth,
                          PREFETCH_MAX_DEPTH);
    prefetch *p = crate_calloc(1, sizeof *p, "prefetch ring");
    if (!p) return CRATE_EINTERNAL;
    p->fill = fill;
    p->ctx = ctx;
    p->first_step = first_step;
    p->nslots = prefetch_slots(depth);
    if (depth > 0) {
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->can_fill, NULL);
        pthread_cond_init(&p->filled, NULL);
        int e = pthread_create(&p->worker, NULL, prefetch_worker, p);
        if (e != 0) {
            pthread_cond_destroy(&p->filled);
            pthread_cond_destroy(&p->can_fill);
            pthread_mutex_destroy(&p->mu);
            free(p);
            return crate_fail(CRATE_EINTERNAL, "%s: cannot start the prefetch thread: %s", what, strerror(e));
        }
        p->worker_started = 1;
    }
    *out = p;
    return CRATE_OK;
}

int prefetch_next(prefetch *p, int *slot) {
    *slot = -1;
    if (!p->worker_started) {
        if (p->fail_status) {
            crate_errmsg_set(p->fail_msg);
            return p->fail_status;
        }
        int st = p->fill(p->ctx, p->first_step + (int64_t)p->consumed, 0);
        if (st) {
            p->fail_status = st;
            snprintf(p->fail_msg, sizeof p->fail_msg, "%s", crate_errmsg());
            return st;
        }
        p->consumed++;
        *slot = 0;
        return CRATE_OK;
    }
    pthread_mutex_lock(&p->mu);
    if (p->consumed > p->released) { /* the caller is done with the batch it held */
        p->released = p->consumed;
        pthread_cond_signal(&p->can_fill);
    }
    while (p->produced <= p->consumed && !p->fail_status) pthread_cond_wait(&p->filled, &p->mu);
    if (p->produced > p->consumed) {
        *slot = (int)(p->consumed % (uint64_t)p->nslots);
        p->consumed++;
        pthread_mutex_unlock(&p->mu);
        return CRATE_OK;
    }
    int st = p->fail_status;
    char msg[PREFETCH_ERRMSG_CAP];
    memcpy(msg, p->fail_msg, sizeof msg);
    pthread_mutex_unlock(&p->mu);
    crate_errmsg_set(msg);
    return st;
}

void prefetch_close(prefetch *p) {
    if (!p) return;
    if (p->worker_started) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->can_fill);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->worker, NULL);
        pthread_cond_destroy(&p->filled);
        pthread_cond_destroy(&p->can_fill);
        pthread_mutex_destroy(&p->mu);
    }
    free(p);
}
