/* gpt2.c — the CRATE-GPT objective: next-token prediction (DESIGN §3).
 *
 * A sample is a window of T+1 tokens x_0 … x_T (data/token_source.h); the
 * causal text encoder reads x_0 … x_{T−1} and row t of its output H predicts
 * x_{t+1} through the tied head:
 *   L = Σ_{b,t} −log softmax(H_bt wteᵀ)[x_{b,t+1}],   (sum, count) = (L, B·T).
 * The head and its softmax run fused and chunked over rows (lm_cross_entropy),
 * so the (B·T, V) logits never exist at once; its backward writes ∂L/∂H and
 * the head's share of ∂L/∂wte in the same pass.
 *
 * eval.every scores the first eval.val_windows windows of data.val (the same
 * ones every time, shared out over the ranks): val_loss in nats per token,
 * val_ppl = e^loss and val_bpb = loss · (tokens / UTF-8 bytes of the val set)
 * / ln 2, the unit in which tokenizers of different vocabularies compare.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/token_shard.h"
#include "data/token_source.h"
#include "encoders/text_encoder.h"
#include "pretrain/encoder_config.h"
#include "pretrain/objective.h"
#include "pretrain/text_data.h"
#include "src/error.h"
#include "src/kernels/kernels.h"

/* Rows of logits the fused head holds at once: chunk·V floats ≤ 8 MiB. */
#define GPT2_HEAD_FLOATS ((size_t)1 << 21)

typedef struct {
    int B, T, V, d, chunk;
    arena arena;
    text_encoder enc;
    int32_t *ids, *targets; /* (B·T) */
    float *dh, *scratch, *head_scratch;
    double flops;
    /* eval */
    token_dataset *val;
    int64_t val_windows;
    double val_tokens_per_byte;
    int32_t *window; /* T+1 */
    /* checkpointed with every save */
    text_data_info data;
    ckpt_file files[1];
} gpt2_state;

/* Splits each window of the batch into inputs x_0..x_{T−1} and targets x_1..x_T. */
static void split_windows(gpt2_state *g, const int32_t *tokens, int B) {
    int T = g->T;
    for (int b = 0; b < B; b++) {
        memcpy(g->ids + (size_t)b * T, tokens + (size_t)b * (T + 1), (size_t)T * sizeof(int32_t));
        memcpy(g->targets + (size_t)b * T, tokens + (size_t)b * (T + 1) + 1, (size_t)T * sizeof(int32_t));
    }
}

/* Σ of the next-token losses of B windows already split; with grads, the
 * gradient of that sum accumulates into ps. */
static double gpt2_loss(gpt2_state *g, param_store *ps, int B, int with_grads, double *count) {
    int M = B * g->T;
    const float *wte = param_data(ps, g->enc.wte);
    text_encoder_forward(&g->enc, ps, g->ids, B, g->T);
    const float *h = text_encoder_output(&g->enc);
    if (!with_grads)
        return lm_cross_entropy(NULL, NULL, NULL, h, wte, NULL, g->targets, M, g->d, g->V, 1.0f, g->head_scratch,
                                g->chunk, count);
    memset(g->dh, 0, (size_t)M * g->d * sizeof(float));
    double sum = lm_cross_entropy(g->dh, param_grad(ps, g->enc.wte), NULL, h, wte, NULL, g->targets, M, g->d,
                                  g->V, 1.0f, g->head_scratch, g->chunk, count);
    text_encoder_backward(&g->enc, ps, g->dh, g->ids, B, g->T, g->scratch);
    return sum;
}

static int gpt2_forward_backward(objective *o, param_store *ps, const void *batch_ptr, objective_arm *arm,
                                 objective_loss *loss) {
    gpt2_state *g = o->state;
    const token_batch *batch = batch_ptr;
    if (batch->n > g->B || batch->T != g->T)
        return crate_fail(CRATE_EINTERNAL, "gpt2: batch of %d windows of %d tokens; built for %d of %d", batch->n,
                          batch->T, g->B, g->T);
    split_windows(g, batch->tokens, batch->n);
    /* The fused head starts the backward pass: arm before it. */
    objective_last_backward(arm);
    loss->sum = gpt2_loss(g, ps, batch->n, 1, &loss->count);
    return CRATE_OK;
}

static double gpt2_flops(const objective *o) { return ((const gpt2_state *)o->state)->flops; }

static int gpt2_open_source(objective *o, const batch_source_config *cfg, batch_source **out) {
    return token_source_open(out, cfg, ((gpt2_state *)o->state)->T, 1);
}

/* Scores windows [first, first + n) of data.val into (sum, count). */
static int score_windows(gpt2_state *g, const param_store *ps, int64_t first, int64_t n, double sum_count[2]) {
    for (int64_t k = first; k < first + n; k += g->B) {
        int B = (int)(first + n - k < g->B ? first + n - k : g->B);
        for (int b = 0; b < B; b++) {
            int rc = token_dataset_read(g->val, (uint64_t)(k + b) * g->T, (size_t)g->T + 1, g->window);
            if (rc != CRATE_OK) return rc;
            memcpy(g->ids + (size_t)b * g->T, g->window, (size_t)g->T * sizeof(int32_t));
            memcpy(g->targets + (size_t)b * g->T, g->window + 1, (size_t)g->T * sizeof(int32_t));
        }
        double count;
        sum_count[0] += gpt2_loss(g, (param_store *)ps, B, 0, &count);
        sum_count[1] += count;
    }
    return CRATE_OK;
}

static int gpt2_evaluate(objective *o, const param_store *ps, const comm_info *c, objective_eval *out) {
    gpt2_state *g = o->state;
    int64_t n = g->val_windows, lo = n * c->rank / c->world, hi = n * (c->rank + 1) / c->world;
    double sc[2] = {0, 0};
    int rc = score_windows(g, ps, lo, hi - lo, sc);
    rc = comm_agree_message(c, rc);
    if (rc != CRATE_OK) return rc;
    comm_sum_doubles(sc, 2);
    double loss = sc[0] / sc[1], bpb = loss * g->val_tokens_per_byte / log(2.0);
    metrics_values_add(&out->values, "val_loss", loss);
    metrics_values_add(&out->values, "val_ppl", exp(loss));
    metrics_values_add(&out->values, "val_bpb", bpb);
    snprintf(out->summary, sizeof out->summary, "val loss %.4f nats/token, ppl %.2f, %.4f bits/byte (%lld windows)",
             loss, exp(loss), bpb, (long long)n);
    return CRATE_OK;
}

static void gpt2_destroy(objective *o) {
    gpt2_state *g = o->state;
    text_encoder_destroy(&g->enc);
    token_dataset_close(g->val);
    text_data_info_free(&g->data);
    arena_free(&g->arena);
    free(g);
    free(o);
}

static const objective_ops gpt2_ops = {
    .name = "gpt2", .open_source = gpt2_open_source, .forward_backward = gpt2_forward_backward,
    .flops_per_batch = gpt2_flops, .evaluate = gpt2_evaluate, .destroy = gpt2_destroy,
};

static int gpt2_alloc(gpt2_state *g) {
    int rc = text_encoder_alloc(&g->enc, &g->arena, g->B, g->T);
    if (rc != CRATE_OK) return rc;
    size_t M = (size_t)g->B * g->T;
    arena *a = &g->arena;
    g->ids = (int32_t *)arena_ints(a, M);
    g->targets = (int32_t *)arena_ints(a, M);
    g->window = (int32_t *)arena_ints(a, (size_t)g->T + 1);
    g->dh = arena_floats(a, M * g->d);
    g->scratch = arena_floats(a, text_encoder_scratch_floats(&g->enc, g->B, g->T));
    g->head_scratch = arena_floats(a, lm_cross_entropy_scratch_floats(g->chunk, g->V));
    return g->head_scratch ? CRATE_OK : CRATE_EINTERNAL;
}

/* eval.every: data.val and its first eval.val_windows windows (all of them
 * if it has fewer). */
static int gpt2_open_val(gpt2_state *g, const train_config *cfg) {
    int rc = token_dataset_open(&g->val, cfg->data.val, 0);
    if (rc != CRATE_OK) return rc;
    uint64_t tokens = token_dataset_tokens(g->val), windows = tokens > 0 ? (tokens - 1) / (uint64_t)g->T : 0;
    if (windows == 0)
        return crate_fail(CRATE_EINPUT, "data.val = %s: %llu tokens, less than one window of model.context + 1 = %d: "
                          "lower model.context or give more validation text", cfg->data.val,
                          (unsigned long long)tokens, g->T + 1);
    g->val_windows = cfg->eval.val_windows < (int64_t)windows ? cfg->eval.val_windows : (int64_t)windows;
    g->val_tokens_per_byte = (double)tokens / (double)token_dataset_text_bytes(g->val);
    return CRATE_OK;
}

int gpt2_objective_create(objective **out, const train_config *cfg, text_data_info *data, int batch,
                          param_store *ps) {
    objective *o = crate_calloc(1, sizeof *o, "objective");
    gpt2_state *g = crate_calloc(1, sizeof *g, "gpt2 state");
    if (!o || !g) {
        free(o);
        free(g);
        text_data_info_free(data);
        return CRATE_EINTERNAL;
    }
    o->ops = &gpt2_ops;
    o->state = g;
    arena_init(&g->arena);
    g->data = *data; /* owned from here on */
    memset(data, 0, sizeof *data);
    g->B = batch;
    g->T = (int)cfg->model.context;
    g->V = g->data.vocab;
    g->d = (int)cfg->model.dim;
    size_t chunk = GPT2_HEAD_FLOATS / (size_t)g->V;
    size_t M = (size_t)g->B * g->T;
    g->chunk = (int)(chunk < 1 ? 1 : chunk > M ? M : chunk);
    text_encoder_config tc = encoder_config_for_text(cfg, g->V);
    int rc = text_encoder_declare(&g->enc, ps, "text", &tc);
    if (rc == CRATE_OK) {
        g->flops = text_encoder_flops(&g->enc, g->B, g->T) + 3.0 * 2.0 * (double)M * g->d * g->V;
        rc = gpt2_alloc(g);
    }
    if (rc == CRATE_OK && cfg->eval.every > 0) rc = gpt2_open_val(g, cfg);
    if (rc == CRATE_OK && g->data.tokenizer) {
        g->files[0] = (ckpt_file){TEXT_TOKENIZER_FILE, g->data.tokenizer, g->data.tokenizer_bytes};
        o->files = g->files;
        o->nfiles = 1;
    }
    if (rc != CRATE_OK) {
        gpt2_destroy(o);
        return rc;
    }
    *out = o;
    return CRATE_OK;
}
