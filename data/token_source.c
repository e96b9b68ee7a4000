/* token_source.c — see token_source.h. A batch is filled window by window:
 * the global position gives the window number through the shared sample
 * order, and the window is one token_dataset_read of T+1 ids (at most a block
 * boundary or two), or of a document window's T − 1 ids after its bos. The
 * ring and its worker are data/prefetch.c, as for images; a micro-batch is
 * the same token_batch with its arrays offset.
 */
#include "data/token_source.h"

#include <stdlib.h>
#include <string.h>

#include "data/doc_windows.h"
#include "data/prefetch.h"
#include "data/sample_order.h"
#include "data/token_shard.h"
#include "src/error.h"

/* One ring slot: the arrays it owns and the const view handed out. */
typedef struct {
    int32_t *tokens;
    uint64_t *sample_ids;
    uint32_t *epochs;
    token_batch batch;
} token_slot;

typedef struct {
    batch_source base;
    batch_source_config cfg;
    int T, width;
    token_window_layout layout;
    token_dataset *ds;
    doc_windows docs; /* TOKEN_WINDOWS_DOCUMENTS */
    sample_order order;
    int nslots;
    token_slot *slots;
    prefetch *ring;
    token_batch view;
} token_source;

static int token_fill(void *arg, int64_t step, int slot) {
    token_source *ts = arg;
    token_slot *s = &ts->slots[slot];
    uint64_t base;
    int st = sample_order_base(step, ts->cfg.global_batch, ts->cfg.rank_offset, &base);
    if (st) return st;
    size_t w = (size_t)ts->width;
    for (int i = 0; i < ts->cfg.local_batch; i++) {
        uint64_t k;
        uint32_t e;
        if ((st = sample_order_at(&ts->order, base + (uint64_t)i, &k, &e))) return st;
        int32_t *ids = s->tokens + (size_t)i * w;
        st = ts->layout == TOKEN_WINDOWS_DOCUMENTS ? doc_windows_read(ts->ds, &ts->docs, k, ids)
                                                   : token_dataset_read(ts->ds, k * (uint64_t)ts->T, w, ids);
        if (st) return st;
        s->sample_ids[i] = k;
        s->epochs[i] = e;
    }
    s->batch.step = step;
    return CRATE_OK;
}

static int token_source_next(batch_source *src, const void **batch) {
    token_source *ts = src->impl;
    *batch = NULL;
    int slot;
    int st = prefetch_next(ts->ring, &slot);
    if (st) return st;
    *batch = &ts->slots[slot].batch;
    return CRATE_OK;
}

static const void *token_source_micro(batch_source *src, const void *batch, int first, int n) {
    token_source *ts = src->impl;
    const token_batch *b = batch;
    ts->view = *b;
    ts->view.n = n;
    ts->view.tokens += (size_t)first * (size_t)b->width;
    ts->view.sample_ids += first;
    ts->view.epochs += first;
    return &ts->view;
}

static void token_source_free(token_source *ts) {
    if (ts->slots)
        for (int k = 0; k < ts->nslots; k++) {
            free(ts->slots[k].tokens);
            free(ts->slots[k].sample_ids);
            free(ts->slots[k].epochs);
        }
    free(ts->slots);
    sample_order_free(&ts->order);
    doc_windows_free(&ts->docs);
    token_dataset_close(ts->ds);
    free(ts);
}

static void token_source_close(batch_source *src) {
    token_source *ts = src->impl;
    prefetch_close(ts->ring); /* joins the worker before what it uses is freed */
    token_source_free(ts);
}

static const batch_source_ops token_source_ops = {token_source_next, token_source_micro, token_source_close};

/* The stream windows of the dataset, or CRATE_EINPUT if it is too short for T. */
static int count_windows(const char *path, uint64_t tokens, int T, uint64_t *windows) {
    if (tokens < (uint64_t)T + 2)
        return crate_fail(CRATE_EINPUT, "%s: %llu tokens, fewer than the T + 2 = %lld a source of windows of "
                          "T + 1 = %d tokens needs; use a smaller T or a bigger dataset", path,
                          (unsigned long long)tokens, (long long)T + 2, T + 1);
    *windows = (tokens - 1) / (uint64_t)T;
    return CRATE_OK;
}

int token_source_open(batch_source **out, const batch_source_config *cfg, int T, token_window_layout layout,
                      int shuffle) {
    *out = NULL;
    const char *path = cfg->path ? cfg->path : "(no path)";
    int st = sample_order_check_slice(path, cfg->global_batch, cfg->rank_offset, cfg->local_batch, cfg->first_step,
                                      cfg->prefetch);
    if (st) return st;
    if (T < 1 || T > (1 << 24))
        return crate_fail(CRATE_EINPUT, "%s: window length T = %d; T must be 1 to 2^24 tokens", path, T);
    token_source *ts = crate_calloc(1, sizeof *ts, "token source");
    if (!ts) return CRATE_EINTERNAL;
    ts->cfg = *cfg;
    ts->T = T;
    ts->layout = layout;
    ts->width = layout == TOKEN_WINDOWS_DOCUMENTS ? T : T + 1;
    uint64_t windows = 0;
    st = token_dataset_open(&ts->ds, path, cfg->cache_bytes ? cfg->cache_bytes : TOKEN_SOURCE_DEFAULT_CACHE);
    if (!st && layout == TOKEN_WINDOWS_DOCUMENTS) {
        st = doc_windows_build(&ts->docs, ts->ds, T, path);
        windows = ts->docs.count;
    } else if (!st) {
        st = count_windows(path, token_dataset_tokens(ts->ds), T, &windows);
    }
    if (!st) st = sample_order_init(&ts->order, path, cfg->seed, windows, shuffle);
    ts->nslots = prefetch_slots(cfg->prefetch);
    if (!st && !(ts->slots = crate_calloc((size_t)ts->nslots, sizeof *ts->slots, "batch ring"))) st = CRATE_EINTERNAL;
    size_t n = (size_t)cfg->local_batch;
    for (int k = 0; !st && k < ts->nslots; k++) {
        token_slot *s = &ts->slots[k];
        s->tokens = crate_aligned_zalloc(n * (size_t)ts->width * sizeof *s->tokens, "batch tokens");
        s->sample_ids = crate_malloc(n * sizeof *s->sample_ids, "batch sample ids");
        s->epochs = crate_malloc(n * sizeof *s->epochs, "batch epochs");
        if (!s->tokens || !s->sample_ids || !s->epochs) st = CRATE_EINTERNAL;
        s->batch = (token_batch){.n = cfg->local_batch, .T = T, .width = ts->width, .tokens = s->tokens,
                                 .sample_ids = s->sample_ids,
                                 .epochs = s->epochs, .step = -1};
    }
    if (!st) st = prefetch_open(&ts->ring, cfg->prefetch, cfg->first_step, token_fill, ts, path);
    if (st) {
        token_source_free(ts);
        return st;
    }
    ts->base = (batch_source){&token_source_ops, ts, windows, "tok", (double)T};
    *out = &ts->base;
    return CRATE_OK;
}
