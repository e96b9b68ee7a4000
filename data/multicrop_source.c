/* multicrop_source.c — see multicrop_source.h.
 *
 * The image loader owns the ring of image batches; this source owns, for
 * each of its prefetch_slots(depth) slots, the global and local view buffers
 * and the multicrop_batch that points at them. The loader's after_fill hook
 * (data/loader.h) computes the views of every sample of a freshly filled
 * image batch into the buffers of the same slot, on the loader's worker
 * thread; next() finds the slot of the batch it was served with
 * image_loader_slot. The ring's hand-over orders the worker's writes before
 * the caller's reads, as it does for the pixels. A micro-batch is a view:
 * the slot's multicrop_batch and image_batch with their arrays offset.
 */
#include "data/multicrop_source.h"

#include <stdlib.h>

#include "data/image_source.h"
#include "data/prefetch.h"
#include "data/sample_order.h"
#include "src/error.h"

/* One ring slot: the batch served and the buffers it points at. */
typedef struct {
    multicrop_batch batch;
    float *global, *local;
} views_slot;

typedef struct {
    batch_source base;
    image_loader *loader;
    multicrop_config mc;
    uint64_t seed;
    int C, H, W, nslots;
    size_t global_floats, local_floats; /* of one view */
    views_slot *slots;
    multicrop_batch view;
    image_batch view_images;
} multicrop_source;

/* after_fill: the views of slot `slot`'s images, sample by sample. */
static int views_fill(void *ctx, const image_batch *b, int slot) {
    multicrop_source *ms = ctx;
    if (b->C != ms->C || b->H != ms->H || b->W != ms->W)
        return crate_fail(CRATE_EINPUT, "images of %dx%dx%d where the views were sized for %dx%dx%d: did the "
                          "dataset change while it was opened?", b->C, b->H, b->W, ms->C, ms->H, ms->W);
    views_slot *vs = &ms->slots[slot];
    const multicrop_config *mc = &ms->mc;
    size_t image_bytes = (size_t)b->C * b->H * b->W;
    for (int i = 0; i < b->n; i++) {
        const uint8_t *px = b->pixels + (size_t)i * image_bytes;
        float *g = vs->global + (size_t)i * mc->global_crops * ms->global_floats;
        float *l = vs->local ? vs->local + (size_t)i * mc->local_crops * ms->local_floats : NULL;
        for (int v = 0; v < mc->global_crops; v++)
            multicrop_view(mc, ms->seed, b->epochs[i], b->sample_ids[i], v, px, b->C, b->H, b->W,
                           g + (size_t)v * ms->global_floats, NULL);
        for (int v = 0; v < mc->local_crops; v++)
            multicrop_view(mc, ms->seed, b->epochs[i], b->sample_ids[i], mc->global_crops + v, px, b->C, b->H,
                           b->W, l + (size_t)v * ms->local_floats, NULL);
    }
    return CRATE_OK;
}

static int multicrop_source_next(batch_source *s, const void **batch) {
    multicrop_source *ms = s->impl;
    const image_batch *b;
    *batch = NULL;
    int rc = image_loader_next(ms->loader, &b);
    if (rc != CRATE_OK) return rc;
    multicrop_batch *mb = &ms->slots[image_loader_slot(ms->loader, b)].batch;
    mb->images = b;
    *batch = mb;
    return CRATE_OK;
}

static const void *multicrop_source_micro(batch_source *s, const void *batch, int first, int n) {
    multicrop_source *ms = s->impl;
    const multicrop_batch *mb = batch;
    const image_batch *b = mb->images;
    ms->view_images = *b;
    ms->view_images.n = n;
    ms->view_images.pixels += (size_t)first * b->C * b->H * b->W;
    if (b->labels) ms->view_images.labels += first;
    ms->view_images.sample_ids += first;
    ms->view_images.epochs += first;
    ms->view = *mb;
    ms->view.images = &ms->view_images;
    ms->view.n = n;
    ms->view.global += (size_t)first * mb->global_crops * ms->global_floats;
    if (mb->local) ms->view.local += (size_t)first * mb->local_crops * ms->local_floats;
    return &ms->view;
}

static void multicrop_source_free(multicrop_source *ms) {
    image_loader_close(ms->loader); /* joins the worker before its buffers go */
    if (ms->slots)
        for (int k = 0; k < ms->nslots; k++) {
            free(ms->slots[k].global);
            free(ms->slots[k].local);
        }
    free(ms->slots);
    free(ms);
}

static void multicrop_source_close(batch_source *s) { multicrop_source_free(s->impl); }

static const batch_source_ops multicrop_source_ops = {multicrop_source_next, multicrop_source_micro,
                                                      multicrop_source_close};

int multicrop_source_open(batch_source **out, const batch_source_config *cfg, const multicrop_config *mc) {
    *out = NULL;
    /* The slice is checked before the buffers it sizes are allocated. */
    int rc = multicrop_check(mc);
    if (rc == CRATE_OK)
        rc = sample_order_check_slice(cfg->path, cfg->global_batch, cfg->rank_offset, cfg->local_batch,
                                      cfg->first_step, cfg->prefetch);
    int C, H, W;
    if (rc == CRATE_OK) rc = image_source_shape(cfg->path, &C, &H, &W);
    if (rc != CRATE_OK) return rc;
    multicrop_source *ms = crate_calloc(1, sizeof *ms, "multi-crop source");
    if (!ms) return CRATE_EINTERNAL;
    ms->mc = *mc;
    ms->seed = cfg->seed;
    ms->C = C, ms->H = H, ms->W = W;
    ms->global_floats = (size_t)multicrop_view_floats(mc, C, 1);
    ms->local_floats = (size_t)multicrop_view_floats(mc, C, 0);
    ms->nslots = prefetch_slots(cfg->prefetch);
    ms->slots = crate_calloc((size_t)ms->nslots, sizeof *ms->slots, "view ring");
    if (!ms->slots) rc = CRATE_EINTERNAL;
    size_t n = (size_t)cfg->local_batch;
    for (int k = 0; rc == CRATE_OK && k < ms->nslots; k++) {
        views_slot *vs = &ms->slots[k];
        vs->global = crate_aligned_zalloc(n * mc->global_crops * ms->global_floats * sizeof(float), "global views");
        if (mc->local_crops)
            vs->local = crate_aligned_zalloc(n * mc->local_crops * ms->local_floats * sizeof(float), "local views");
        if (!vs->global || (mc->local_crops && !vs->local)) rc = CRATE_EINTERNAL;
        vs->batch = (multicrop_batch){.n = cfg->local_batch, .C = C, .global_crops = mc->global_crops,
                                      .local_crops = mc->local_crops, .global_size = mc->global_size,
                                      .local_size = mc->local_size, .global = vs->global, .local = vs->local};
    }
    image_loader_config lc = {
        .seed = cfg->seed, .global_batch = cfg->global_batch, .rank_offset = cfg->rank_offset,
        .local_batch = cfg->local_batch, .first_step = cfg->first_step, .prefetch = cfg->prefetch, .shuffle = 1,
        .cache_bytes = cfg->cache_bytes, .after_fill = views_fill, .after_fill_ctx = ms,
    };
    if (rc == CRATE_OK) rc = image_loader_open(&ms->loader, cfg->path, &lc);
    if (rc != CRATE_OK) {
        multicrop_source_free(ms);
        return rc;
    }
    ms->base = (batch_source){&multicrop_source_ops, ms, image_loader_dataset_size(ms->loader), "img", 1.0};
    *out = &ms->base;
    return CRATE_OK;
}
