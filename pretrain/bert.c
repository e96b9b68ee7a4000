/* bert.c — the CRATE-BERT objective: masked-token prediction (DESIGN §3).
 *
 * A sample is a document window of T tokens led by a bos id
 * (data/doc_windows.h). bert_mask.h selects about bert.mask_prob of its
 * ordinary positions and corrupts the encoder's input there; the
 * bidirectional text encoder reads the corrupted window, and only the rows
 * of the selected positions go through the MLM head (gathered first: the
 * head's V-wide decoder is most of the FLOPs otherwise):
 *   L = Σ_{selected (b,t)} −log softmax(head(H_bt))[x_bt],   (sum, count) = (L, #selected)
 * so the trainer's 1/Σcount normalizes by the global number of selected
 * positions, whatever the micro-batch or the rank count.
 *
 * eval.every scores the first eval.val_windows windows of data.val with the
 * masks of (seed, epoch 0, window number): the same positions and
 * replacements every time. val_loss in nats per selected token,
 * val_masked_acc the fraction whose argmax is the original id.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/doc_windows.h"
#include "data/spm.h"
#include "data/token_source.h"
#include "pretrain/bert_mask.h"
#include "pretrain/mlm_head.h"
#include "pretrain/objective.h"
#include "pretrain/text_model.h"
#include "src/error.h"

/* The tokenizer's piece for the mask id (spm_train_options_default adds it). */
#define BERT_MASK_PIECE "[MASK]"

typedef struct {
    text_model m;
    bert_masker masker;
    mlm_head head;
    int32_t *inputs, *targets; /* (B·T) */
    int *rows;                 /* the selected rows of H, ascending */
    int32_t *row_targets, *pred;
    float *hs, *dhs, *dh;      /* gathered rows (M_sel, d), their gradient, ∂L/∂H (B·T, d) */
    double flops;
    doc_windows val_docs;      /* eval */
    int64_t val_windows;
    int32_t *window;           /* T */
} bert_state;

/* Masks window b (ids of sample (epoch, k)) into row b of inputs and targets. */
static void mask_row(bert_state *s, uint64_t epoch, uint64_t k, const int32_t *ids, int b) {
    size_t off = (size_t)b * s->m.T;
    bert_mask_window(&s->masker, epoch, k, ids, s->inputs + off, s->targets + off);
}

/* Encoder forward over B masked rows, then the head on the selected rows
 * only: returns Σ loss, *count = #selected; with grads, the gradient of the
 * sum accumulates into ps; with correct, the argmax hits. */
static double bert_loss(bert_state *s, param_store *ps, int B, int with_grads, double *count, double *correct) {
    text_model *m = &s->m;
    int M = B * m->T, n = 0;
    text_encoder_forward(&m->enc, ps, s->inputs, B, m->T);
    const float *h = text_encoder_output(&m->enc);
    for (int i = 0; i < M; i++)
        if (s->targets[i] >= 0) {
            memcpy(s->hs + (size_t)n * m->d, h + (size_t)i * m->d, (size_t)m->d * sizeof(float));
            s->row_targets[n] = s->targets[i];
            s->rows[n++] = i;
        }
    if (!with_grads) {
        double sum = mlm_head_loss(&s->head, ps, m->enc.wte, s->hs, s->row_targets, n, NULL, count);
        mlm_head_predict(&s->head, ps, m->enc.wte, s->hs, n, s->pred);
        for (int j = 0; j < n; j++) *correct += s->pred[j] == s->row_targets[j];
        return sum;
    }
    memset(s->dhs, 0, (size_t)n * m->d * sizeof(float));
    double sum = mlm_head_loss(&s->head, ps, m->enc.wte, s->hs, s->row_targets, n, s->dhs, count);
    memset(s->dh, 0, (size_t)M * m->d * sizeof(float));
    for (int j = 0; j < n; j++)
        memcpy(s->dh + (size_t)s->rows[j] * m->d, s->dhs + (size_t)j * m->d, (size_t)m->d * sizeof(float));
    text_encoder_backward(&m->enc, ps, s->dh, s->inputs, B, m->T, m->scratch);
    return sum;
}

static int bert_forward_backward(objective *o, param_store *ps, const void *batch_ptr, objective_arm *arm,
                                 objective_loss *loss) {
    bert_state *s = o->state;
    const token_batch *batch = batch_ptr;
    if (batch->n > s->m.B || batch->T != s->m.T || batch->width != s->m.T)
        return crate_fail(CRATE_EINTERNAL, "bert: batch of %d windows of %d tokens; built for %d of %d", batch->n,
                          batch->width, s->m.B, s->m.T);
    for (int b = 0; b < batch->n; b++)
        mask_row(s, batch->epochs[b], batch->sample_ids[b], batch->tokens + (size_t)b * batch->width, b);
    /* The head's backward starts the backward pass: arm before it. */
    objective_last_backward(arm);
    loss->sum = bert_loss(s, ps, batch->n, 1, &loss->count, NULL);
    return CRATE_OK;
}

static double bert_flops(const objective *o) { return ((const bert_state *)o->state)->flops; }

static int bert_open_source(objective *o, const batch_source_config *cfg, batch_source **out) {
    return token_source_open(out, cfg, ((bert_state *)o->state)->m.T, TOKEN_WINDOWS_DOCUMENTS, 1);
}

/* Scores val windows [first, first + n) into (sum, count, correct). */
static int score_windows(bert_state *s, const param_store *ps, int64_t first, int64_t n, double acc[3]) {
    for (int64_t k = first; k < first + n; k += s->m.B) {
        int B = (int)(first + n - k < s->m.B ? first + n - k : s->m.B);
        for (int b = 0; b < B; b++) {
            int rc = doc_windows_read(s->m.val, &s->val_docs, (uint64_t)(k + b), s->window);
            if (rc != CRATE_OK) return rc;
            mask_row(s, 0, (uint64_t)(k + b), s->window, b);
        }
        double count = 0;
        acc[0] += bert_loss(s, (param_store *)ps, B, 0, &count, &acc[2]);
        acc[1] += count;
    }
    return CRATE_OK;
}

static int bert_evaluate(objective *o, const param_store *ps, const comm_info *c, objective_eval *out) {
    bert_state *s = o->state;
    int64_t lo, hi;
    text_model_eval_share(c, s->val_windows, &lo, &hi);
    double acc[3] = {0, 0, 0};
    int rc = score_windows(s, ps, lo, hi - lo, acc);
    rc = comm_agree_message(c, rc);
    if (rc != CRATE_OK) return rc;
    comm_sum_doubles(acc, 3);
    double loss = acc[1] > 0 ? acc[0] / acc[1] : 0, hit = acc[1] > 0 ? acc[2] / acc[1] : 0;
    metrics_values_add(&out->values, "val_loss", loss);
    metrics_values_add(&out->values, "val_masked_acc", hit);
    snprintf(out->summary, sizeof out->summary,
             "val masked-token loss %.4f nats, accuracy %.2f%% (%.0f masked tokens in %lld windows)", loss,
             100 * hit, acc[1], (long long)s->val_windows);
    return CRATE_OK;
}

static void bert_destroy(objective *o) {
    bert_state *s = o->state;
    text_model_free(&s->m);
    bert_masker_free(&s->masker);
    doc_windows_free(&s->val_docs);
    free(s);
    free(o);
}

static const objective_ops bert_ops = {
    .name = "bert", .open_source = bert_open_source, .forward_backward = bert_forward_backward,
    .flops_per_batch = bert_flops, .evaluate = bert_evaluate, .destroy = bert_destroy,
};

/* The special ids and the mask id: the tokenizer's, or without one (crate-bench)
 * those of spm_train_options_default (pad 0, unk 1, bos 2, eos 3, mask 4). */
static int special_ids(const text_data_info *data, int specials[5], int *mask_id) {
    if (!data->tokenizer) {
        for (int i = 0; i < 5; i++) specials[i] = i;
        *mask_id = 4;
        return CRATE_OK;
    }
    spm_model *spm;
    int rc = spm_load_bytes(&spm, data->tokenizer, data->tokenizer_bytes);
    if (rc != CRATE_OK) return rc;
    *mask_id = spm_piece_to_id(spm, BERT_MASK_PIECE);
    int ids[5] = {spm_pad_id(spm), spm_unk_id(spm), spm_bos_id(spm), spm_eos_id(spm), *mask_id};
    memcpy(specials, ids, sizeof ids);
    spm_free(spm);
    if (*mask_id < 0)
        return crate_fail(CRATE_EINPUT, "the tokenizer of data.train has no %s piece for the masked language model: "
                          "re-create the data with crate-data kjv/text, which adds it", BERT_MASK_PIECE);
    return CRATE_OK;
}

static int bert_alloc(bert_state *s) {
    text_model *m = &s->m;
    size_t M = (size_t)m->B * m->T;
    arena *a = &m->arena;
    s->inputs = (int32_t *)arena_ints(a, M);
    s->targets = (int32_t *)arena_ints(a, M);
    s->rows = arena_ints(a, M);
    s->row_targets = (int32_t *)arena_ints(a, M);
    s->pred = (int32_t *)arena_ints(a, M);
    s->window = (int32_t *)arena_ints(a, (size_t)m->T);
    s->hs = arena_floats(a, M * m->d);
    s->dhs = arena_floats(a, M * m->d);
    s->dh = arena_floats(a, M * m->d);
    if (!s->dh) return CRATE_EINTERNAL;
    return mlm_head_alloc(&s->head, a, (int)M, m->chunk);
}

/* eval.every: the first eval.val_windows document windows of data.val. */
static int bert_val_windows(bert_state *s, const train_config *cfg) {
    int rc = doc_windows_build(&s->val_docs, s->m.val, s->m.T, cfg->data.val);
    if (rc != CRATE_OK) return rc;
    uint64_t w = s->val_docs.count;
    s->val_windows = cfg->eval.val_windows < (int64_t)w ? cfg->eval.val_windows : (int64_t)w;
    return CRATE_OK;
}

int bert_objective_create(objective **out, const train_config *cfg, text_data_info *data, int batch,
                          param_store *ps) {
    objective *o = objective_new(&bert_ops, sizeof(bert_state));
    if (!o) {
        text_data_info_free(data);
        return CRATE_EINTERNAL;
    }
    bert_state *s = o->state;
    int specials[5], mask_id;
    int rc = special_ids(data, specials, &mask_id);
    if (rc == CRATE_OK) rc = text_model_init(&s->m, o, cfg, data, batch, ps);
    else text_data_info_free(data);
    text_model *m = &s->m;
    if (rc == CRATE_OK)
        rc = bert_masker_init(&s->masker, (uint64_t)cfg->run.seed, (float)cfg->bert.mask_prob,
                              (float)cfg->bert.mask_token, (float)cfg->bert.random_token, m->V, mask_id, specials, 5,
                              m->T);
    if (rc == CRATE_OK)
        rc = mlm_head_declare(&s->head, ps, "bert.head", m->d, m->V, cfg->bert.head == TRAIN_BERT_HEAD_DENSE);
    if (rc == CRATE_OK) {
        /* The head's share at the expected number of selected rows. */
        double selected = cfg->bert.mask_prob * (double)m->B * m->T;
        s->flops = text_encoder_flops(&m->enc, m->B, m->T) + mlm_head_flops(&s->head, (int)ceil(selected));
        rc = bert_alloc(s);
    }
    if (rc == CRATE_OK && m->val) rc = bert_val_windows(s, cfg);
    if (rc != CRATE_OK) {
        bert_destroy(o);
        return rc;
    }
    *out = o;
    return CRATE_OK;
}
