/* dino.c — the DINO objective: self-distillation of a CRATE image encoder
 * (Caron et al. 2021) without labels and without reconstructing pixels.
 *
 * Every image gives G global and L local views (data/multicrop.h), made in
 * the prefetch thread. The student (the trained store) encodes every view and
 * its projection head (pretrain/dino_head.h) maps the cls encoding (or,
 * with dino.head_input mean, the mean of the patch encodings) to K
 * logits; the teacher (o->teacher, the EMA of the student, never trained)
 * does the same for the global views only. The loss of a sample is the
 * cross-entropy between the centered, sharpened teacher distribution of one
 * view and the student's of every OTHER view (pretrain/dino_loss.h), reported
 * as (Σ over samples and pairs, #samples · #pairs).
 *
 * Passes of one micro-batch, on two activation sets of one encoder (the
 * global grid and the local grid, image_encoder_resized_set):
 *   teacher: global set, teacher store → head input → head → t (B·G, K) kept
 *   student: local set, then global set → head inputs in sample order
 *            (row b·(G+L) + v, globals first) → head → s
 *   backward: head (once, for every row), local encoder, then the global
 *            encoder: the last backward, which arms the gradient buckets
 *            (objective.h). The head's tensors are declared last, so their
 *            buckets go out with the global pass's first ones.
 *
 * Schedules of step s of S (begin_step):
 *   teacher temperature τ_t(s) = τ₀ + (τ − τ₀)·s/W for s < W, then τ
 *   teacher momentum    m(s)   = 1 − (1 − m₀)·(1 + cos(π s/S))/2
 *   weight decay        wd(s)  = wd_end + (wd₀ − wd_end)·(1 + cos(π s/S))/2
 *   prototypes frozen while s < dino.freeze_last_layer.
 * After the update (after_step): the teacher ← m(s)·teacher + (1 − m(s))·student
 * (src/nn/teacher.h), and the center (a saved buffer) ← m_c·c + (1 − m_c)·mean
 * of the step's teacher logits over the GLOBAL batch (one allreduce, which
 * also carries the collapse monitors), so neither depends on the rank count.
 * The schedules are functions of the step, so a resumed run needs only the
 * teacher and the center from the checkpoint to continue exactly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/multicrop_source.h"
#include "pretrain/dino_head.h"
#include "pretrain/dino_loss.h"
#include "pretrain/dino_views.h"
#include "pretrain/encoder_config.h"
#include "pretrain/knn_monitor.h"
#include "pretrain/objective.h"
#include "src/error.h"
#include "src/nn/teacher.h"

#define DINO_PI 3.14159265358979323846 /* M_PI is POSIX, not C11 */

/* Sums of one step, allreduced in after_step: the K teacher-logit sums, then
 * these. */
enum { SUM_LOSS, SUM_ENTROPY, SUM_KL, SUM_MAX_PROB, SUM_TEACHER_ROWS, SUM_PAIRS, SUMS };

typedef struct {
    int B, G, L, K, C, gs, ls, np_g, np_l, P, d, pairs;
    int head_mean; /* dino.head_input: 1 = mean of the patch tokens, 0 = cls */
    train_dino_config cfg;
    double wd0;
    int64_t log_every, warmup_steps;
    multicrop_config views;
    arena arena;
    param_store teacher, buffers;
    int center;
    image_encoder glob, loc; /* loc: the local grid's activation set (L > 0) */
    dino_head head;
    float *patches_g, *patches_l; /* (B·G, np_g, P), (B·L, np_l, P) */
    int *idx_g, *idx_l;           /* every patch, in order */
    float *feat, *dfeat;          /* head inputs (B·(G+L), d) in sample order */
    float *t_logits, *p_teacher;  /* (B·G, K) */
    float *dlogits;               /* (B·(G+L), K) */
    float *denc_g, *denc_l, *scratch, *q;
    double *sums;                 /* K + SUMS */
    /* this step's schedules, and the monitors of the last step */
    int64_t step;
    float teacher_temp, momentum, weight_decay;
    int train_prototypes;
    double entropy, kl, max_prob, loss;
    double flops;
    int monitoring;
    knn_monitor monitor;
} dino_state;

/* The head's input of each view, between an encoding (n, 1+np, d) and the
 * head's rows: encoding i is head row (i / per)·stride + first + i % per
 * (a sample's views are `per` consecutive encodings). The input is the cls
 * row (dino.head_input cls, DINO's), or the mean of the np patch rows
 * (mean). back = 0 takes the inputs out of the encodings; back = 1 puts
 * head-row gradients into a zeroed encoding gradient: the cls row, or 1/np
 * of it into every patch row. */
static void route_views(float *enc, float *rows, int n, int np, int d, int per, int stride, int first, int mean,
                        int back) {
    for (int i = 0; i < n; i++) {
        float *e = enc + (size_t)i * (1 + np) * d, *r = rows + ((size_t)(i / per) * stride + first + i % per) * d;
        if (!mean) {
            memcpy(back ? e : r, back ? r : e, (size_t)d * sizeof(float));
            continue;
        }
        if (!back) memset(r, 0, (size_t)d * sizeof(float));
        for (int t = 1; t <= np; t++)
            for (int c = 0; c < d; c++) {
                if (back)
                    e[(size_t)t * d + c] = r[c] / (float)np;
                else
                    r[c] += e[(size_t)t * d + c] / (float)np;
            }
    }
}

static void dino_begin_step(objective *o, int64_t step, int64_t total, step_settings *s) {
    dino_state *m = o->state;
    const train_dino_config *c = &m->cfg;
    double cosine = 0.5 * (1.0 + cos(DINO_PI * (double)step / (double)total));
    int64_t w = c->teacher_temp_warmup_steps;
    m->step = step;
    m->teacher_temp = (float)(step < w ? c->warmup_teacher_temp + (c->teacher_temp - c->warmup_teacher_temp) *
                                             (double)step / (double)w
                                       : c->teacher_temp);
    m->momentum = (float)(1.0 - (1.0 - c->momentum) * cosine);
    m->weight_decay = (float)(c->weight_decay_end + (m->wd0 - c->weight_decay_end) * cosine);
    m->train_prototypes = step >= c->freeze_last_layer;
    s->weight_decay = m->weight_decay;
    memset(m->sums, 0, (size_t)(m->K + SUMS) * sizeof(double));
}

/* Teacher pass over the global views: t_logits, the distributions p and the
 * center sums. */
static void teacher_pass(dino_state *m, const param_store *teacher, int B) {
    int Bg = B * m->G, K = m->K;
    image_encoder_forward(&m->glob, teacher, m->patches_g, m->idx_g, NULL, Bg, m->np_g);
    route_views(m->glob.stack.final_ln.out, m->feat, Bg, m->np_g, m->d, Bg, 0, 0, m->head_mean, 0);
    dino_head_forward(&m->head, teacher, m->feat, Bg);
    memcpy(m->t_logits, m->head.logits, (size_t)Bg * K * sizeof(float));
    const float *center = param_data(&m->buffers, m->center);
    for (int b = 0; b < B; b++)
        dino_teacher_probs(m->p_teacher + (size_t)b * m->G * K, m->t_logits + (size_t)b * m->G * K, center, m->G, K,
                           m->teacher_temp);
    for (int r = 0; r < Bg; r++)
        for (int k = 0; k < K; k++) m->sums[k] += m->t_logits[(size_t)r * K + k];
    m->sums[K + SUM_TEACHER_ROWS] += Bg;
}

static int dino_forward_backward(objective *o, param_store *ps, const void *batch_ptr, objective_arm *arm,
                                 objective_loss *loss) {
    dino_state *m = o->state;
    const multicrop_batch *batch = batch_ptr;
    int B = batch->n, G = m->G, L = m->L, V = G + L, K = m->K, d = m->d;
    if (B > m->B) return crate_fail(CRATE_EINTERNAL, "dino: batch of %d exceeds the %d it was built for", B, m->B);
    patchify_float_images(m->patches_g, batch->global, B * G, m->C, m->gs, m->gs, m->glob.embed.patch);
    if (L) patchify_float_images(m->patches_l, batch->local, B * L, m->C, m->ls, m->ls, m->glob.embed.patch);
    teacher_pass(m, o->teacher, B);

    if (L) {
        image_encoder_forward(&m->loc, ps, m->patches_l, m->idx_l, NULL, B * L, m->np_l);
        route_views(m->loc.stack.final_ln.out, m->feat, B * L, m->np_l, d, L, V, G, m->head_mean, 0);
    }
    image_encoder_forward(&m->glob, ps, m->patches_g, m->idx_g, NULL, B * G, m->np_g);
    route_views(m->glob.stack.final_ln.out, m->feat, B * G, m->np_g, d, G, V, 0, m->head_mean, 0);
    dino_head_forward(&m->head, ps, m->feat, B * V);

    memset(m->dlogits, 0, (size_t)B * V * K * sizeof(float));
    dino_loss_sums sums = {0};
    for (int b = 0; b < B; b++)
        dino_loss_sample(m->p_teacher + (size_t)b * G * K, m->head.logits + (size_t)b * V * K, G, L, K,
                         (float)m->cfg.student_temp, 1.0f, m->dlogits + (size_t)b * V * K, &sums, m->q);
    loss->sum = sums.loss;
    loss->count = (double)B * m->pairs;
    double *s = m->sums + K;
    s[SUM_LOSS] += sums.loss;
    s[SUM_ENTROPY] += sums.entropy;
    s[SUM_KL] += sums.kl;
    s[SUM_MAX_PROB] += sums.max_prob;
    s[SUM_PAIRS] += loss->count;

    memset(m->dfeat, 0, (size_t)B * V * d * sizeof(float));
    dino_head_backward(&m->head, ps, m->dfeat, m->dlogits, m->feat, B * V, m->train_prototypes, m->scratch);
    if (L) {
        memset(m->denc_l, 0, (size_t)B * L * (1 + m->np_l) * d * sizeof(float));
        route_views(m->denc_l, m->dfeat, B * L, m->np_l, d, L, V, G, m->head_mean, 1);
        image_encoder_backward(&m->loc, ps, m->denc_l, m->idx_l, NULL, B * L, m->np_l, m->scratch);
    }
    objective_last_backward(arm);
    memset(m->denc_g, 0, (size_t)B * G * (1 + m->np_g) * d * sizeof(float));
    route_views(m->denc_g, m->dfeat, B * G, m->np_g, d, G, V, 0, m->head_mean, 1);
    image_encoder_backward(&m->glob, ps, m->denc_g, m->idx_g, NULL, B * G, m->np_g, m->scratch);
    return CRATE_OK;
}

static int dino_after_step(objective *o, param_store *ps, const comm_info *c) {
    dino_state *m = o->state;
    int K = m->K;
    if (c->world > 1) comm_sum_doubles(m->sums, K + SUMS);
    const double *s = m->sums + K;
    float *center = param_data(&m->buffers, m->center);
    double keep = m->cfg.center_momentum, rows = s[SUM_TEACHER_ROWS];
    for (int k = 0; k < K; k++) center[k] = (float)(keep * center[k] + (1.0 - keep) * m->sums[k] / rows);
    teacher_store_ema(o->teacher, ps, m->momentum);
    m->loss = s[SUM_LOSS] / s[SUM_PAIRS];
    m->entropy = s[SUM_ENTROPY] / rows;
    m->kl = s[SUM_KL] / s[SUM_PAIRS];
    m->max_prob = s[SUM_MAX_PROB] / rows;
    /* Collapse to the uniform distribution: every distribution is 1/K, the
     * loss sits at ln K and stops moving. Said once per logged line, after
     * the LR warmup (while the features of a fresh encoder are still alike,
     * the centered teacher is near uniform anyway). */
    double lnK = log((double)K);
    if (c->rank == 0 && m->step >= m->warmup_steps && (m->step + 1) % m->log_every == 0 &&
        fabs(m->loss - lnK) < 0.01 * lnK)
        fprintf(stderr, "crate-pretrain: warning: step %lld: the dino loss %.4f sits at ln K = %.4f (teacher entropy "
                "%.4f): the outputs have collapsed to uniform; lower dino.teacher_temp or dino.center_momentum, or "
                "raise dino.momentum's distance from 1\n", (long long)m->step + 1, m->loss, lnK, m->entropy);
    return CRATE_OK;
}

static void dino_step_metrics(const objective *o, metrics_values *out) {
    const dino_state *m = o->state;
    metrics_values_add(out, "teacher_entropy", m->entropy);
    metrics_values_add(out, "kl", m->kl);
    metrics_values_add(out, "max_prob", m->max_prob);
    metrics_values_add(out, "teacher_temp", m->teacher_temp);
    metrics_values_add(out, "momentum", m->momentum);
    metrics_values_add(out, "weight_decay", m->weight_decay);
}

static double dino_flops(const objective *o) { return ((const dino_state *)o->state)->flops; }

static int dino_open_source(objective *o, const batch_source_config *cfg, batch_source **out) {
    return multicrop_source_open(out, cfg, &((dino_state *)o->state)->views);
}

/* The k-NN monitor reads the teacher, the encoder DINO evaluates. */
static int dino_evaluate(objective *o, const param_store *ps, const comm_info *c, objective_eval *out) {
    (void)ps;
    return knn_monitor_report(&((dino_state *)o->state)->monitor, c, o->teacher, "teacher ", out);
}

static void dino_destroy(objective *o) {
    dino_state *m = o->state;
    image_encoder_destroy(&m->glob);
    image_encoder_destroy(&m->loc);
    if (m->monitoring) knn_monitor_close(&m->monitor);
    param_store_free(&m->teacher);
    param_store_free(&m->buffers);
    arena_free(&m->arena);
    free(m->sums);
    free(m);
    free(o);
}

static const objective_ops dino_ops = {
    .name = "dino", .open_source = dino_open_source, .forward_backward = dino_forward_backward,
    .flops_per_batch = dino_flops, .begin_step = dino_begin_step, .after_step = dino_after_step,
    .evaluate = dino_evaluate, .step_metrics = dino_step_metrics, .destroy = dino_destroy,
};

static int *patch_indices(arena *a, int rows, int np) {
    int *idx = arena_ints(a, (size_t)rows * np);
    if (idx)
        for (size_t r = 0; r < (size_t)rows * np; r++) idx[r] = (int)(r % (size_t)np);
    return idx;
}

static int dino_alloc(dino_state *m) {
    int B = m->B, Bg = B * m->G, Bl = B * m->L, rows = B * (m->G + m->L), d = m->d, K = m->K;
    arena *a = &m->arena;
    int rc = image_encoder_alloc(&m->glob, a, Bg, m->np_g);
    if (rc == CRATE_OK && m->L) rc = image_encoder_resized_set(&m->loc, &m->glob, a, Bl, m->ls, m->ls);
    if (rc == CRATE_OK) rc = dino_head_alloc(&m->head, a, rows);
    if (rc != CRATE_OK) return rc;
    size_t scratch = image_encoder_scratch_floats(&m->glob, Bg, m->np_g);
    if (m->L && image_encoder_scratch_floats(&m->loc, Bl, m->np_l) > scratch)
        scratch = image_encoder_scratch_floats(&m->loc, Bl, m->np_l);
    if (dino_head_scratch_floats(&m->head, rows) > scratch) scratch = dino_head_scratch_floats(&m->head, rows);
    m->patches_g = arena_floats(a, (size_t)Bg * m->np_g * m->P);
    m->idx_g = patch_indices(a, Bg, m->np_g);
    if (m->L) {
        m->patches_l = arena_floats(a, (size_t)Bl * m->np_l * m->P);
        m->idx_l = patch_indices(a, Bl, m->np_l);
        m->denc_l = arena_floats(a, (size_t)Bl * (1 + m->np_l) * d);
    }
    m->feat = arena_floats(a, (size_t)rows * d);
    m->dfeat = arena_floats(a, (size_t)rows * d);
    m->t_logits = arena_floats(a, (size_t)Bg * K);
    m->p_teacher = arena_floats(a, (size_t)Bg * K);
    m->dlogits = arena_floats(a, (size_t)rows * K);
    m->denc_g = arena_floats(a, (size_t)Bg * (1 + m->np_g) * d);
    m->q = arena_floats(a, (size_t)K);
    m->scratch = arena_floats(a, scratch);
    m->sums = crate_calloc((size_t)K + SUMS, sizeof(double), "dino step sums");
    return m->scratch && m->sums && (!m->L || m->denc_l) ? CRATE_OK : CRATE_EINTERNAL;
}

static int dino_declare(dino_state *m, const train_config *cfg, param_store *ps) {
    image_encoder_config ec = encoder_config_for_images(cfg, m->C, m->gs, m->gs);
    int rc = image_encoder_declare(&m->glob, ps, &m->arena, "encoder", &ec);
    if (rc != CRATE_OK) return rc;
    m->d = m->glob.stack.d;
    m->P = m->glob.embed.patch_dim;
    m->np_g = m->glob.embed.num_patches;
    int p = m->glob.embed.patch;
    m->np_l = (m->ls / p) * (m->ls / p);
    rc = dino_head_declare(&m->head, ps, "head", m->d, (int)cfg->dino.hidden_dim, (int)cfg->dino.bottleneck_dim,
                           m->K);
    if (rc != CRATE_OK) return rc;
    m->center = param_store_add1(&m->buffers, "dino.center", m->K, PARAM_INIT_ZERO);
    if (m->center < 0) return CRATE_EINTERNAL;
    int B = m->B, Bg = B * m->G, Bl = B * m->L;
    /* The teacher's pass is a forward: a third of a training pass (layers.h). */
    m->flops = image_encoder_flops(&m->glob, Bg, m->np_g) * (1.0 + 1.0 / 3.0) +
               dino_head_flops(&m->head, B * (m->G + m->L)) + dino_head_flops(&m->head, Bg) / 3.0;
    if (m->L) m->flops += image_encoder_flops(&m->glob, Bl, m->np_l);
    return CRATE_OK;
}

/* Builds the student and teacher for views of images with `shape->channels`
 * channels (the views' sizes come from dino.*), for micro-batches of `batch`
 * images. */
int dino_objective_create(objective **out, const train_config *cfg, const data_shape *shape, int batch,
                          param_store *ps) {
    objective *o = objective_new(&dino_ops, sizeof(dino_state));
    if (!o) return CRATE_EINTERNAL;
    dino_state *m = o->state;
    arena_init(&m->arena);
    param_store_init(&m->teacher);
    param_store_init(&m->buffers);
    o->teacher = &m->teacher;
    o->buffers = &m->buffers;
    m->cfg = cfg->dino;
    m->wd0 = cfg->optim.weight_decay;
    m->log_every = cfg->log.every;
    m->warmup_steps = cfg->schedule.warmup_steps;
    m->views = dino_multicrop_config(cfg);
    m->B = batch;
    m->G = (int)cfg->dino.global_crops;
    m->L = (int)cfg->dino.local_crops;
    m->K = (int)cfg->dino.out_dim;
    m->C = shape->channels;
    m->gs = (int)cfg->dino.global_size;
    m->ls = (int)cfg->dino.local_size;
    m->pairs = dino_loss_pairs(m->G, m->L);
    m->head_mean = cfg->dino.head_input == TRAIN_DINO_HEAD_INPUT_MEAN;
    m->teacher_temp = (float)cfg->dino.warmup_teacher_temp;
    m->momentum = (float)cfg->dino.momentum;
    m->weight_decay = (float)m->wd0;
    int rc = multicrop_check(&m->views);
    if (rc == CRATE_OK) rc = dino_declare(m, cfg, ps);
    if (rc == CRATE_OK) rc = dino_alloc(m);
    if (rc == CRATE_OK && cfg->eval.every > 0 && (rc = knn_monitor_open(&m->monitor, cfg)) == CRATE_OK)
        m->monitoring = 1;
    if (rc != CRATE_OK) {
        dino_destroy(o);
        return rc;
    }
    *out = o;
    return CRATE_OK;
}
