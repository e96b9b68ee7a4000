/* loader.c — deterministic image batches and the prefetch worker (see loader.h).
 *
 * Batches are a pure function of (seed, G, step, rank_offset, local_batch),
 * computed position by position (batch_fill), so prefetching, resuming and
 * splitting across ranks cannot change what is served; the worker only moves
 * that computation onto another thread.
 *
 * Ring protocol (all counters under mu). Batch k (the k-th served, step
 * first_step + k) lives in slot k mod nslots, nslots = prefetch + 1.
 *   produced  batches the worker has finished;
 *   consumed  batches handed to the caller;
 *   released  batches the caller is done with (it holds batch consumed − 1
 *             until its next call).
 * The worker may fill batch `produced` once produced < released + nslots: its
 * slot then holds no batch the caller can still see. It writes the slot
 * without the lock, then publishes it by incrementing produced. The caller
 * waits on `filled`, the worker on `can_fill`: nobody spins.
 */
#include "data/loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard.h"
#include "src/error.h"
#include "src/nn/rng.h"

#define LOADER_ERRMSG_CAP 2048

struct image_loader {
    image_loader_config cfg;
    image_dataset *ds;
    uint64_t n_data;
    int C, H, W;
    size_t pixel_bytes;
    /* The permutations of two epochs: the current one and the next. */
    uint32_t *perm[2];
    int64_t perm_epoch[2]; /* -1: not computed */
    int nslots;
    image_batch *slots;
    /* Ring state, under mu when the worker runs. */
    pthread_mutex_t mu;
    pthread_cond_t can_fill, filled;
    pthread_t worker;
    int worker_started;
    uint64_t produced, consumed, released;
    int stop;
    int fail_status; /* CRATE_OK until a batch fails */
    char fail_msg[LOADER_ERRMSG_CAP];
};

/* perm_e for epoch e, from one of the two slots or computed into the older. */
static int loader_perm(image_loader *ld, uint64_t e, const uint32_t **perm) {
    for (int k = 0; k < 2; k++)
        if (ld->perm_epoch[k] == (int64_t)e) {
            *perm = ld->perm[k];
            return CRATE_OK;
        }
    int k = ld->perm_epoch[0] <= ld->perm_epoch[1] ? 0 : 1; /* older or empty */
    if (!ld->perm[k]) {
        ld->perm[k] = crate_malloc((size_t)ld->n_data * sizeof(uint32_t), "epoch permutation");
        if (!ld->perm[k]) return CRATE_EINTERNAL;
    }
    uint32_t *p = ld->perm[k];
    uint32_t n = (uint32_t)ld->n_data;
    for (uint32_t i = 0; i < n; i++) p[i] = i;
    rng_stream rs = rng_stream_make(ld->cfg.seed, e, 0, RNG_PERMUTE);
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(&rs, i + 1);
        uint32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    ld->perm_epoch[k] = (int64_t)e;
    *perm = p;
    return CRATE_OK;
}

/* Fills b with the samples of global step `step` for this rank. */
static int batch_fill(image_loader *ld, int64_t step, image_batch *b) {
    uint64_t G = (uint64_t)ld->cfg.global_batch, N = ld->n_data;
    if ((uint64_t)step > (UINT64_MAX - G) / G)
        return crate_fail(CRATE_EINPUT, "step %lld with a global batch of %llu overflows the sample counter",
                          (long long)step, (unsigned long long)G);
    b->step = step;
    uint64_t base = (uint64_t)step * G + (uint64_t)ld->cfg.rank_offset;
    const uint32_t *perm = NULL;
    uint64_t perm_e = UINT64_MAX;
    for (int i = 0; i < b->n; i++) {
        uint64_t g = base + (uint64_t)i, e = g / N, pos = g % N;
        if (e > UINT32_MAX)
            return crate_fail(CRATE_EINPUT, "step %lld reaches epoch %llu, beyond the 2^32 epochs a batch records",
                              (long long)step, (unsigned long long)e);
        uint64_t id = pos;
        if (ld->cfg.shuffle) {
            if (e != perm_e) {
                int st = loader_perm(ld, e, &perm);
                if (st) return st;
                perm_e = e;
            }
            id = perm[pos];
        }
        int st = image_dataset_read(ld->ds, id, b->pixels + (size_t)i * ld->pixel_bytes, &b->labels[i]);
        if (st) return st;
        b->sample_ids[i] = id;
        b->epochs[i] = (uint32_t)e;
    }
    return CRATE_OK;
}

static void *loader_worker(void *arg) {
    image_loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        while (!ld->stop && ld->produced >= ld->released + (uint64_t)ld->nslots)
            pthread_cond_wait(&ld->can_fill, &ld->mu);
        if (ld->stop) break;
        uint64_t k = ld->produced;
        pthread_mutex_unlock(&ld->mu);
        int st = batch_fill(ld, ld->cfg.first_step + (int64_t)k, &ld->slots[k % (uint64_t)ld->nslots]);
        pthread_mutex_lock(&ld->mu);
        if (st) {
            ld->fail_status = st;
            snprintf(ld->fail_msg, sizeof ld->fail_msg, "%s", crate_errmsg());
            pthread_cond_broadcast(&ld->filled);
            break;
        }
        ld->produced = k + 1;
        pthread_cond_broadcast(&ld->filled);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

static void loader_free(image_loader *ld) {
    if (ld->slots)
        for (int k = 0; k < ld->nslots; k++) {
            free(ld->slots[k].pixels);
            free(ld->slots[k].labels);
            free(ld->slots[k].sample_ids);
            free(ld->slots[k].epochs);
        }
    free(ld->slots);
    free(ld->perm[0]);
    free(ld->perm[1]);
    image_dataset_close(ld->ds);
    free(ld);
}

int image_loader_open(image_loader **out, const char *path, const image_loader_config *cfg) {
    *out = NULL;
    if (cfg->global_batch < 1 || cfg->local_batch < 1 || cfg->rank_offset < 0 ||
        cfg->rank_offset + cfg->local_batch > cfg->global_batch || cfg->first_step < 0 || cfg->prefetch < 0)
        return crate_fail(CRATE_EINPUT, "%s: bad loader config: global batch %lld, rank offset %lld, local batch %d, "
                          "first step %lld, prefetch %d (need G >= 1, local >= 1, 0 <= offset, offset + local <= G, "
                          "first step >= 0, prefetch >= 0)", path, (long long)cfg->global_batch,
                          (long long)cfg->rank_offset, cfg->local_batch, (long long)cfg->first_step, cfg->prefetch);
    image_loader *ld = crate_calloc(1, sizeof *ld, "image loader");
    if (!ld) return CRATE_EINTERNAL;
    ld->cfg = *cfg;
    ld->perm_epoch[0] = ld->perm_epoch[1] = -1;
    int st = image_dataset_open(&ld->ds, path, cfg->cache_bytes ? cfg->cache_bytes : IMAGE_LOADER_DEFAULT_CACHE);
    if (st) {
        free(ld);
        return st;
    }
    ld->n_data = image_dataset_count(ld->ds);
    if (ld->n_data == 0 || ld->n_data > UINT32_MAX) {
        st = crate_fail(CRATE_EINPUT, "%s: %llu records; the loader needs 1 to 2^32 - 1", path,
                        (unsigned long long)ld->n_data);
        loader_free(ld);
        return st;
    }
    image_dataset_shape(ld->ds, &ld->C, &ld->H, &ld->W);
    ld->pixel_bytes = (size_t)ld->C * ld->H * ld->W;
    ld->nslots = cfg->prefetch + 1;
    ld->slots = crate_calloc((size_t)ld->nslots, sizeof *ld->slots, "batch ring");
    if (!ld->slots) {
        loader_free(ld);
        return CRATE_EINTERNAL;
    }
    size_t n = (size_t)cfg->local_batch;
    for (int k = 0; k < ld->nslots; k++) {
        image_batch *b = &ld->slots[k];
        *b = (image_batch){.n = cfg->local_batch, .C = ld->C, .H = ld->H, .W = ld->W, .step = -1};
        b->pixels = crate_aligned_zalloc(n * ld->pixel_bytes, "batch pixels");
        b->labels = crate_malloc(n * sizeof *b->labels, "batch labels");
        b->sample_ids = crate_malloc(n * sizeof *b->sample_ids, "batch sample ids");
        b->epochs = crate_malloc(n * sizeof *b->epochs, "batch epochs");
        if (!b->pixels || !b->labels || !b->sample_ids || !b->epochs) {
            loader_free(ld);
            return CRATE_EINTERNAL;
        }
    }
    if (cfg->prefetch > 0) {
        pthread_mutex_init(&ld->mu, NULL);
        pthread_cond_init(&ld->can_fill, NULL);
        pthread_cond_init(&ld->filled, NULL);
        int e = pthread_create(&ld->worker, NULL, loader_worker, ld);
        if (e != 0) {
            pthread_cond_destroy(&ld->filled);
            pthread_cond_destroy(&ld->can_fill);
            pthread_mutex_destroy(&ld->mu);
            loader_free(ld);
            return crate_fail(CRATE_EINTERNAL, "%s: cannot start the prefetch thread: %s", path, strerror(e));
        }
        ld->worker_started = 1;
    }
    *out = ld;
    return CRATE_OK;
}

int image_loader_next(image_loader *ld, const image_batch **batch) {
    *batch = NULL;
    if (!ld->worker_started) {
        if (ld->fail_status) {
            crate_errmsg_set(ld->fail_msg);
            return ld->fail_status;
        }
        image_batch *b = &ld->slots[0];
        int st = batch_fill(ld, ld->cfg.first_step + (int64_t)ld->consumed, b);
        if (st) {
            ld->fail_status = st;
            snprintf(ld->fail_msg, sizeof ld->fail_msg, "%s", crate_errmsg());
            return st;
        }
        ld->consumed++;
        *batch = b;
        return CRATE_OK;
    }
    pthread_mutex_lock(&ld->mu);
    if (ld->consumed > ld->released) { /* the caller is done with the batch it held */
        ld->released = ld->consumed;
        pthread_cond_signal(&ld->can_fill);
    }
    while (ld->produced <= ld->consumed && !ld->fail_status) pthread_cond_wait(&ld->filled, &ld->mu);
    if (ld->produced > ld->consumed) {
        *batch = &ld->slots[ld->consumed % (uint64_t)ld->nslots];
        ld->consumed++;
        pthread_mutex_unlock(&ld->mu);
        return CRATE_OK;
    }
    int st = ld->fail_status;
    char msg[LOADER_ERRMSG_CAP];
    memcpy(msg, ld->fail_msg, sizeof msg);
    pthread_mutex_unlock(&ld->mu);
    crate_errmsg_set(msg);
    return st;
}

uint64_t image_loader_dataset_size(const image_loader *ld) { return ld->n_data; }

void image_loader_close(image_loader *ld) {
    if (!ld) return;
    if (ld->worker_started) {
        pthread_mutex_lock(&ld->mu);
        ld->stop = 1;
        pthread_cond_broadcast(&ld->can_fill);
        pthread_mutex_unlock(&ld->mu);
        pthread_join(ld->worker, NULL);
        pthread_cond_destroy(&ld->filled);
        pthread_cond_destroy(&ld->can_fill);
        pthread_mutex_destroy(&ld->mu);
    }
    loader_free(ld);
}
