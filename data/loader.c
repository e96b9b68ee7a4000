/* loader.c — deterministic image batches (see loader.h).
 *
 * Batches are a pure function of (seed, G, step, rank_offset, local_batch),
 * computed position by position (batch_fill) from the global sample order of
 * data/sample_order.h, so prefetching, resuming and splitting across ranks
 * cannot change what is served; the prefetch ring of data/prefetch.h only
 * moves that computation onto a worker thread, which then owns the dataset
 * and the order. The optional after_fill hook runs at the end of batch_fill,
 * on the same thread, so what a source derives from a batch (a pure function
 * of it) is prepared ahead with it.
 */
#include "data/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/prefetch.h"
#include "data/sample_order.h"
#include "data/shard.h"
#include "src/error.h"

struct image_loader {
    image_loader_config cfg;
    image_dataset *ds;
    uint64_t n_data;
    int C, H, W;
    size_t pixel_bytes;
    sample_order order;
    int nslots;
    image_batch *slots;
    prefetch *ring;
};

/* Fills slot with the samples of global step `step` for this rank. */
static int batch_fill(void *arg, int64_t step, int slot) {
    image_loader *ld = arg;
    image_batch *b = &ld->slots[slot];
    uint64_t base;
    int st = sample_order_base(step, ld->cfg.global_batch, ld->cfg.rank_offset, &base);
    if (st) return st;
    b->step = step;
    for (int i = 0; i < b->n; i++) {
        uint64_t id;
        uint32_t e;
        if ((st = sample_order_at(&ld->order, base + (uint64_t)i, &id, &e))) return st;
        if ((st = image_dataset_read(ld->ds, id, b->pixels + (size_t)i * ld->pixel_bytes, &b->labels[i]))) return st;
        b->sample_ids[i] = id;
        b->epochs[i] = e;
    }
    return ld->cfg.after_fill ? ld->cfg.after_fill(ld->cfg.after_fill_ctx, b, slot) : CRATE_OK;
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
    sample_order_free(&ld->order);
    image_dataset_close(ld->ds);
    free(ld);
}

int image_loader_open(image_loader **out, const char *path, const image_loader_config *cfg) {
    *out = NULL;
    int st = sample_order_check_slice(path, cfg->global_batch, cfg->rank_offset, cfg->local_batch, cfg->first_step,
                                      cfg->prefetch);
    if (st) return st;
    image_loader *ld = crate_calloc(1, sizeof *ld, "image loader");
    if (!ld) return CRATE_EINTERNAL;
    ld->cfg = *cfg;
    st = image_dataset_open(&ld->ds, path, cfg->cache_bytes ? cfg->cache_bytes : IMAGE_LOADER_DEFAULT_CACHE);
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
    if ((st = sample_order_init(&ld->order, path, cfg->seed, ld->n_data, cfg->shuffle))) {
        loader_free(ld);
        return st;
    }
    image_dataset_shape(ld->ds, &ld->C, &ld->H, &ld->W);
    ld->pixel_bytes = (size_t)ld->C * ld->H * ld->W;
    ld->nslots = prefetch_slots(cfg->prefetch);
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
    if ((st = prefetch_open(&ld->ring, cfg->prefetch, cfg->first_step, batch_fill, ld, path))) {
        loader_free(ld);
        return st;
    }
    *out = ld;
    return CRATE_OK;
}

int image_loader_next(image_loader *ld, const image_batch **batch) {
    *batch = NULL;
    int slot;
    int st = prefetch_next(ld->ring, &slot);
    if (st) return st;
    *batch = &ld->slots[slot];
    return CRATE_OK;
}

int image_loader_slot(const image_loader *ld, const image_batch *batch) { return (int)(batch - ld->slots); }

uint64_t image_loader_dataset_size(const image_loader *ld) { return ld->n_data; }

void image_loader_close(image_loader *ld) {
    if (!ld) return;
    prefetch_close(ld->ring); /* joins the worker before what it uses is freed */
    loader_free(ld);
}
