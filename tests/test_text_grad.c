/* test_text_grad.c — the CRATE text models, whole, through their objectives:
 * token embedding, learned positions, MSSA (causal for gpt2, bidirectional
 * for bert) + ISTA layers, optional final LayerNorm, and the heads: gpt2's
 * tied LM head with the fused cross-entropy, bert's masked-token selection
 * and MLM head (tied decoder alone, or Dense, GELU, LayerNorm, tied decoder
 * and bias) — a finite-difference check of every parameter tensor (the loss
 * checked is sum/count of what the objective reports; the backward
 * accumulates the gradient of the sum, divided here by the count; an entry
 * next to an ISTA ReLU kink is skipped, tests/gradcheck.h). bert's masks are
 * keyed by (seed, epoch, window), so every perturbed forward masks the same
 * positions the same way. Then the decoding cache
 * (encoders/text_cache.h): its logits for every position equal the full
 * causal forward's, and the model is causal (changing a later token leaves
 * earlier logits bitwise unchanged).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/token_source.h"
#include "encoders/text_cache.h"
#include "pretrain/frozen_text.h"
#include "pretrain/objective.h"
#include "pretrain/text_data.h"
#include "src/error.h"
#include "src/kernels/kernels.h"
#include "tests/check.h"
#include "tests/gradcheck_store.h"

enum { BATCH = 2, VOCAB = 13 }; /* ids 0–4 are the special ones of a model without a tokenizer */

typedef struct {
    objective *obj;
    param_store ps;
    token_batch batch;
    double count;
} fixture;

static double model_loss(void *ctx) {
    fixture *f = ctx;
    objective_loss loss = {0, 0};
    f->obj->ops->forward_backward(f->obj, &f->ps, &f->batch, NULL, &loss);
    f->count = loss.count;
    return loss.sum / loss.count;
}

/* Random weights of O(1), LayerNorm gains around 1. */
static void fill_weights(param_store *ps) {
    gradcheck_fill(ps->data, ps->total, 3, 0.5f);
    for (int id = 0; id < ps->count; id++)
        if ((ps->tensors[id].flags & PARAM_INIT_MASK) == PARAM_INIT_ONE)
            for (size_t i = 0; i < ps->tensors[id].numel; i++) param_data(ps, id)[i] += 1.0f;
}

static void check_model(const char *label, int noverrides, char **overrides) {
    train_config cfg;
    config_sources src = {0};
    int rc = train_config_load(&cfg, &src, NULL, noverrides, overrides);
    CHECK(rc == CRATE_OK, "%s: config: %s", label, crate_errmsg());
    if (rc != CRATE_OK) return;
    fixture f;
    memset(&f, 0, sizeof f);
    param_store_init(&f.ps);
    text_data_info data = {.vocab = VOCAB};
    int bert = cfg.objective.name == TRAIN_OBJECTIVE_BERT, T = (int)cfg.model.context, width = bert ? T : T + 1;
    rc = bert ? bert_objective_create(&f.obj, &cfg, &data, BATCH, &f.ps)
              : gpt2_objective_create(&f.obj, &cfg, &data, BATCH, &f.ps);
    if (rc == CRATE_OK) rc = param_store_alloc(&f.ps);
    CHECK(rc == CRATE_OK, "%s: build: %s", label, crate_errmsg());
    if (rc != CRATE_OK) return;
    fill_weights(&f.ps);
    int32_t tokens[BATCH * 64];
    for (int i = 0; i < BATCH * width; i++) tokens[i] = 5 + (i * 7 + 3) % (VOCAB - 5);
    tokens[2] = tokens[4]; /* a repeated id: its embedding row gathers two gradients */
    if (bert)
        for (int b = 0; b < BATCH; b++) tokens[b * width] = 2; /* windows lead with bos */
    uint64_t ids[BATCH] = {0, 1};
    uint32_t epochs[BATCH] = {0, 0};
    f.batch = (token_batch){.n = BATCH, .T = T, .width = width, .tokens = tokens, .sample_ids = ids, .epochs = epochs};

    param_store_zero_grad(&f.ps);
    model_loss(&f);
    if (bert) CHECK(f.count >= 2 && f.count < BATCH * (T - 1), "%s: %g tokens selected", label, f.count);
    else CHECK(f.count == BATCH * T, "%s: count %g, expected %d", label, f.count, BATCH * T);
    char name[64];
    snprintf(name, sizeof name, "%s %s", bert ? "bert" : "gpt2", label);
    CHECK(gradcheck_store(name, &f.ps, f.count, model_loss, &f, 1), "%s: a gradient check failed", label);
    CHECK(gradcheck_store_bf16(name, &f.ps, f.count, model_loss, &f), "%s: the bf16 gradient is off", label);
    objective_destroy(f.obj);
    param_store_free(&f.ps);
    config_sources_free(&src);
}

/* Full-forward logits (T, V) of one sequence. */
static void full_logits(frozen_text *ft, const int32_t *ids, int T, float *logits) {
    text_encoder_forward(&ft->enc, &ft->ps, ids, 1, T);
    linear_forward(logits, text_encoder_output(&ft->enc), param_data(&ft->ps, ft->enc.wte), NULL, T, ft->enc.d,
                   ft->enc.V);
}

static void check_cache(const char *label, int noverrides, char **overrides) {
    enum { T = 12, V = 29 };
    train_config cfg;
    config_sources src = {0};
    int rc = train_config_load(&cfg, &src, NULL, noverrides, overrides);
    CHECK(rc == CRATE_OK, "%s: config: %s", label, crate_errmsg());
    if (rc != CRATE_OK) return;
    config_sources_free(&src);
    frozen_text ft;
    rc = frozen_text_for_config(&ft, &cfg, V, 1);
    CHECK(rc == CRATE_OK, "%s: build: %s", label, crate_errmsg());
    if (rc != CRATE_OK) return;
    fill_weights(&ft.ps);
    int32_t ids[T];
    for (int t = 0; t < T; t++) ids[t] = (t * 11 + 5) % V;
    static float full[T * V], other[T * V], step[V];
    full_logits(&ft, ids, T, full);
    /* Causality: a different last token changes no earlier row. */
    ids[T - 1] = (ids[T - 1] + 1) % V;
    full_logits(&ft, ids, T, other);
    CHECK(memcmp(full, other, (size_t)(T - 1) * V * sizeof(float)) == 0, "%s: a later token changed earlier logits",
          label);
    ids[T - 1] = (ids[T - 1] + V - 1) % V;
    text_cache cache;
    rc = text_cache_init(&cache, &ft.enc);
    CHECK(rc == CRATE_OK, "%s: cache: %s", label, crate_errmsg());
    double max_rel = 0;
    for (int t = 0; t < T && rc == CRATE_OK; t++) {
        text_cache_step(&cache, &ft.ps, ids[t], step);
        for (int v = 0; v < V; v++) {
            double a = full[t * V + v], b = step[v];
            max_rel = fmax(max_rel, fabs(a - b) / fmax(1.0, fabs(a)));
        }
    }
    printf("%s: cached decoding vs full forward over %d positions: max rel diff %.3g\n", label, T, max_rel);
    CHECK(max_rel <= 1e-4, "%s: cached logits differ from the full forward by %.3g (rel)", label, max_rel);
    text_cache_free(&cache);
    frozen_text_close(&ft);
}

/* bert's encoder is bidirectional: a later token changes the first row. */
static void check_bidirectional(void) {
    enum { T = 6, V = 17 };
    char *over[] = {"objective.name=bert", "data.train=unused", "model.dim=8", "model.heads=2", "model.depth=2",
                    "model.context=6"};
    train_config cfg;
    config_sources src = {0};
    frozen_text ft;
    int rc = train_config_load(&cfg, &src, NULL, 6, over);
    if (rc == CRATE_OK) config_sources_free(&src), rc = frozen_text_for_config(&ft, &cfg, V, 1);
    CHECK(rc == CRATE_OK, "bert encoder: %s", crate_errmsg());
    if (rc != CRATE_OK) return;
    fill_weights(&ft.ps);
    int32_t ids[T] = {2, 5, 6, 7, 8, 9};
    float first[8];
    text_encoder_forward(&ft.enc, &ft.ps, ids, 1, T);
    memcpy(first, text_encoder_output(&ft.enc), sizeof first);
    ids[T - 1] = 10;
    text_encoder_forward(&ft.enc, &ft.ps, ids, 1, T);
    CHECK(memcmp(first, text_encoder_output(&ft.enc), sizeof first) != 0, "bert: the last token does not reach the first");
    frozen_text_close(&ft);
}

int main(void) {
    char *plain[] = {"objective.name=gpt2", "data.train=unused", "model.dim=8", "model.heads=2", "model.depth=2",
                     "model.context=5"};
    char *norm[] = {"objective.name=gpt2", "data.train=unused", "model.dim=8", "model.heads=2", "model.depth=2",
                    "model.context=5", "gpt2.final_norm=true"};
    check_model("no final norm", 6, plain);
    check_model("final norm", 7, norm);
    char *bert_dense[] = {"objective.name=bert", "data.train=unused", "model.dim=8", "model.heads=2",
                          "model.depth=2", "model.context=9", "bert.mask_prob=0.4"};
    char *bert_tied[] = {"objective.name=bert", "data.train=unused", "model.dim=8", "model.heads=2",
                         "model.depth=2", "model.context=9", "bert.mask_prob=0.4", "bert.head=tied",
                         "bert.final_norm=false"};
    check_model("dense head", 7, bert_dense);
    check_model("tied head", 9, bert_tied);
    check_bidirectional();
    char *cache_plain[] = {"objective.name=gpt2", "data.train=unused", "model.dim=16", "model.heads=2",
                           "model.depth=3", "model.context=12"};
    char *cache_norm[] = {"objective.name=gpt2", "data.train=unused", "model.dim=16", "model.heads=4",
                          "model.depth=2", "model.context=12", "gpt2.final_norm=true"};
    check_cache("cache, no final norm", 6, cache_plain);
    check_cache("cache, final norm", 7, cache_norm);
    char *alpha[] = {"objective.name=gpt2", "data.train=unused", "model.dim=8", "model.heads=2", "model.depth=2",
                     "model.context=5", "model.block=crate-alpha", "model.ista_expand=2"};
    char *bert_alpha[] = {"objective.name=bert", "data.train=unused", "model.dim=8", "model.heads=2",
                          "model.depth=2", "model.context=9", "bert.mask_prob=0.4", "model.block=crate-alpha"};
    char *cache_alpha[] = {"objective.name=gpt2", "data.train=unused", "model.dim=16", "model.heads=2",
                           "model.depth=3", "model.context=12", "model.block=crate-alpha"};
    check_model("gpt2 crate-alpha", 8, alpha);
    check_model("bert crate-alpha", 8, bert_alpha);
    check_cache("cache, crate-alpha", 7, cache_alpha);
    return check_finish();
}
