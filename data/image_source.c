/* image_source.c — see image_source.h. A micro-batch is a view: the same
 * image_batch with its arrays offset, so slicing copies no pixels. */
#include "data/image_source.h"

#include <stdlib.h>

#include "data/loader.h"
#include "data/shard.h"
#include "src/error.h"

typedef struct {
    batch_source base;
    image_loader *loader;
    image_batch view;
} image_source;

static int image_source_next(batch_source *s, const void **batch) {
    const image_batch *b;
    int rc = image_loader_next(((image_source *)s->impl)->loader, &b);
    *batch = rc == CRATE_OK ? b : NULL;
    return rc;
}

static const void *image_source_micro(batch_source *s, const void *batch, int first, int n) {
    image_source *is = s->impl;
    const image_batch *b = batch;
    is->view = *b;
    is->view.n = n;
    is->view.pixels += (size_t)first * b->C * b->H * b->W;
    if (b->labels) is->view.labels += first;
    is->view.sample_ids += first;
    is->view.epochs += first;
    return &is->view;
}

static void image_source_close(batch_source *s) {
    image_source *is = s->impl;
    image_loader_close(is->loader);
    free(is);
}

static const batch_source_ops image_source_ops = {image_source_next, image_source_micro, image_source_close};

int image_source_open(batch_source **out, const batch_source_config *cfg) {
    *out = NULL;
    image_source *is = crate_calloc(1, sizeof *is, "image source");
    if (!is) return CRATE_EINTERNAL;
    image_loader_config lc = {
        .seed = cfg->seed, .global_batch = cfg->global_batch, .rank_offset = cfg->rank_offset,
        .local_batch = cfg->local_batch, .first_step = cfg->first_step, .prefetch = cfg->prefetch, .shuffle = 1,
        .cache_bytes = cfg->cache_bytes,
    };
    int rc = image_loader_open(&is->loader, cfg->path, &lc);
    if (rc != CRATE_OK) {
        free(is);
        return rc;
    }
    is->base = (batch_source){&image_source_ops, is, image_loader_dataset_size(is->loader), "img", 1.0};
    *out = &is->base;
    return CRATE_OK;
}

int image_source_shape(const char *path, int *C, int *H, int *W) {
    image_dataset *ds;
    int rc = image_dataset_open(&ds, path, 0);
    if (rc != CRATE_OK) return rc;
    image_dataset_shape(ds, C, H, W);
    image_dataset_close(ds);
    return CRATE_OK;
}
