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

#include "data/token_source.h"
#include "pretrain/objective.h"
#include "pretrain/text_model.h"
#include "src/error.h"
#include "src/kernels/kernels.h"

typedef struct {
    text_model m;
    int32_t *ids, *targets; /* (B·T) */
    float *dh, *head_scratch;
    double flops;
    int64_t val_windows;   /* eval */
    int32_t *window;       /* T+1 */
} gpt2_state;

/* Splits a window x_0..x_T into row b of the inputs x_0..x_{T−1} and of the targets x_1..x_T. */
static void split_window(gpt2_state *g, const int32_t *window, int b) {
    size_t T = (size_t)g->m.T;
    memcpy(g->ids + (size_t)b * T, window, T * sizeof(int32_t));
    memcpy(g->targets + (size_t)b * T, window + 1, T * sizeof(int32_t));
}

/* Σ of the next-token losses of B windows already split; with grads, the
 * gradient of that sum accumulates into ps. */
static double gpt2_loss(gpt2_state *g, param_store *ps, int B, int with_grads, double *count) {
    text_model *m = &g->m;
    int M = B * m->T;
    const float *wte = param_data(ps, m->enc.wte);
    text_encoder_forward(&m->enc, ps, g->ids, B, m->T);
    const float *h = text_encoder_output(&m->enc);
    if (!with_grads)
        return lm_cross_entropy(NULL, NULL, NULL, h, wte, NULL, g->targets, M, m->d, m->V, 1.0f, g->head_scratch,
                                m->chunk, count);
    memset(g->dh, 0, (size_t)M * m->d * sizeof(float));
    double sum = lm_cross_entropy(g->dh, param_grad(ps, m->enc.wte), NULL, h, wte, NULL, g->targets, M, m->d,
                                  m->V, 1.0f, g->head_scratch, m->chunk, count);
    text_encoder_backward(&m->enc, ps, g->dh, g->ids, B, m->T, m->scratch);
    return sum;
}

static int gpt2_forward_backward(objective *o, param_store *ps, const void *batch_ptr, objective_arm *arm,
                                 objective_loss *loss) {
    gpt2_state *g = o->state;
    const token_batch *batch = batch_ptr;
    if (batch->n > g->m.B || batch->T != g->m.T || batch->width != g->m.T + 1)
        return crate_fail(CRATE_EINTERNAL, "gpt2: batch of %d windows of %d tokens; built for %d of %d", batch->n,
                          batch->width, g->m.B, g->m.T + 1);
    for (int b = 0; b < batch->n; b++) split_window(g, batch->tokens + (size_t)b * batch->width, b);
    /* The fused head starts the backward pass: arm before it. */
    objective_last_backward(arm);
    loss->sum = gpt2_loss(g, ps, batch->n, 1, &loss->count);
    return CRATE_OK;
}

static double gpt2_flops(const objective *o) { return ((const gpt2_state *)o->state)->flops; }

static int gpt2_open_source(objective *o, const batch_source_config *cfg, batch_source **out) {
    return token_source_open(out, cfg, ((gpt2_state *)o->state)->m.T, TOKEN_WINDOWS_STREAM, 1);
}

/* Scores windows [first, first + n) of data.val into (sum, count). */
static int score_windows(gpt2_state *g, const param_store *ps, int64_t first, int64_t n, double sum_count[2]) {
    int T = g->m.T;
    for (int64_t k = first; k < first + n; k += g->m.B) {
        int B = (int)(first + n - k < g->m.B ? first + n - k : g->m.B);
        for (int b = 0; b < B; b++) {
            int rc = token_dataset_read(g->m.val, (uint64_t)(k + b) * T, (size_t)T + 1, g->window);
            if (rc != CRATE_OK) return rc;
            split_window(g, g->window, b);
        }
        double count;
        sum_count[0] += gpt2_loss(g, (param_store *)ps, B, 0, &count);
        sum_count[1] += count;
    }
    return CRATE_OK;
}

static int gpt2_evaluate(objective *o, const param_store *ps, const comm_info *c, objective_eval *out) {
    gpt2_state *g = o->state;
    int64_t lo, hi;
    text_model_eval_share(c, g->val_windows, &lo, &hi);
    double sc[2] = {0, 0};
    int rc = score_windows(g, ps, lo, hi - lo, sc);
    rc = comm_agree_message(c, rc);
    if (rc != CRATE_OK) return rc;
    comm_sum_doubles(sc, 2);
    double loss = sc[0] / sc[1], bpb = loss * g->m.val_tokens_per_byte / log(2.0);
    metrics_values_add(&out->values, "val_loss", loss);
    metrics_values_add(&out->values, "val_ppl", exp(loss));
    metrics_values_add(&out->values, "val_bpb", bpb);
    snprintf(out->summary, sizeof out->summary, "val loss %.4f nats/token, ppl %.2f, %.4f bits/byte (%lld windows)",
             loss, exp(loss), bpb, (long long)g->val_windows);
    return CRATE_OK;
}

static void gpt2_destroy(objective *o) {
    gpt2_state *g = o->state;
    text_model_free(&g->m);
    free(g);
    free(o);
}

static const objective_ops gpt2_ops = {
    .name = "gpt2", .open_source = gpt2_open_source, .forward_backward = gpt2_forward_backward,
    .flops_per_batch = gpt2_flops, .evaluate = gpt2_evaluate, .destroy = gpt2_destroy,
};

static int gpt2_alloc(gpt2_state *g) {
    text_model *m = &g->m;
    size_t M = (size_t)m->B * m->T;
    g->ids = (int32_t *)arena_ints(&m->arena, M);
    g->targets = (int32_t *)arena_ints(&m->arena, M);
    g->window = (int32_t *)arena_ints(&m->arena, (size_t)m->T + 1);
    g->dh = arena_floats(&m->arena, M * m->d);
    g->head_scratch = arena_floats(&m->arena, lm_cross_entropy_scratch_floats(m->chunk, m->V));
    return g->head_scratch ? CRATE_OK : CRATE_EINTERNAL;
}

/* eval.every: the first eval.val_windows windows of data.val (all of them
 * if it has fewer). */
static int gpt2_val_windows(gpt2_state *g, const train_config *cfg) {
    uint64_t tokens = token_dataset_tokens(g->m.val), windows = tokens > 0 ? (tokens - 1) / (uint64_t)g->m.T : 0;
    if (windows == 0)
        return crate_fail(CRATE_EINPUT, "data.val = %s: %llu tokens, less than one window of model.context + 1 = %d: "
                          "lower model.context or give more validation text", cfg->data.val,
                          (unsigned long long)tokens, g->m.T + 1);
    g->val_windows = cfg->eval.val_windows < (int64_t)windows ? cfg->eval.val_windows : (int64_t)windows;
    return CRATE_OK;
}

int gpt2_objective_create(objective **out, const train_config *cfg, text_data_info *data, int batch,
                          param_store *ps) {
    objective *o = objective_new(&gpt2_ops, sizeof(gpt2_state));
    if (!o) {
        text_data_info_free(data);
        return CRATE_EINTERNAL;
    }
    gpt2_state *g = o->state;
    int rc = text_model_init(&g->m, o, cfg, data, batch, ps);
    if (rc == CRATE_OK) {
        text_model *m = &g->m;
        g->flops = text_encoder_flops(&m->enc, m->B, m->T) + 3.0 * 2.0 * (double)m->B * m->T * m->d * m->V;
        rc = gpt2_alloc(g);
    }
    if (rc == CRATE_OK && g->m.val) rc = gpt2_val_windows(g, cfg);
    if (rc != CRATE_OK) {
        gpt2_destroy(o);
        return rc;
    }
    *out = o;
    return CRATE_OK;
}
