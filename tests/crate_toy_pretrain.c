/* crate_toy_pretrain.c — `crate-toy-pretrain`: crate-pretrain's own main and
 * trainer (pretrain/pretrain_main.h) with a small objective built to exercise
 * what MAE cannot: the objective interface v2 (pretrain/objective.h).
 *
 * The toy objective regresses a two-layer network on synthetic data. Sample k
 * (its global position; no shuffling) holds c_k = 1 + (k mod 3) elements, so
 * micro-batches and ranks score DIFFERENT counts; element j of sample k has an
 * input x ∈ R^D and a target t ∈ R^O drawn from the counter-based stream
 * (seed, 0, k, RNG_AUGMENT). Per element
 *   h = tanh(x W1ᵀ + b1),  y = h W2ᵀ + b2,  loss = ½‖y − t‖²
 * and forward_backward reports (Σ loss, Σ c_k). It also has
 *   - a teacher store, the EMA of the student (momentum 0.9) after each step;
 *   - a buffer "center" (O floats): center ← 0.9·center + 0.1·mean(y) over
 *     the whole global batch (allreduced, so rank-count independent);
 *   - per logged step the extra values center0 and teacher_max_abs = ‖θ_t‖∞;
 *   - a file attached to every checkpoint (src/ckpt/files.h), as a text
 *     objective attaches its tokenizer: `toy.bin`, TOY_FILE_BYTES bytes,
 *     byte i = (131·i + 17·⌊i/256⌋) mod 256 (tests/test_checkpoint_files.sh
 *     rebuilds it with awk).
 * Options before CONFIG:
 *   --passes 2     run each micro-batch as two backward passes over its two
 *                  halves (arming the gradient sync before the second only);
 *                  must equal --passes 1 (one pass over the whole)
 *   --arm-early    with --passes 2, arm before the FIRST backward (breaks the
 *                  rule; checking builds must stop with an error)
 *   --file-name N  attach the file as N instead of toy.bin (a bad name must
 *                  make the save fail)
 * Width H is model.dim; D = 6, O = 3.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/pretrain_main.h"
#include "src/error.h"
#include "src/kernels/kernels.h"
#include "src/nn/rng.h"
#include "src/nn/teacher.h"

enum { TOY_D = 6, TOY_O = 3, TOY_MAX_ELEMS = 3, TOY_FILE_BYTES = 5000 };

static int passes = 1, arm_early = 0;
static const char *file_name = "toy.bin";

/* ---- the batch source: sample ids of this rank's slots ---- */

typedef struct {
    int n;
    const uint64_t *ids;
} toy_batch;

typedef struct {
    batch_source base;
    batch_source_config cfg;
    int64_t step;
    uint64_t *ids;
    toy_batch batch, view;
} toy_source;

static int toy_next(batch_source *s, const void **out) {
    toy_source *ts = s->impl;
    for (int i = 0; i < ts->cfg.local_batch; i++)
        ts->ids[i] = (uint64_t)(ts->step * ts->cfg.global_batch + ts->cfg.rank_offset + i);
    ts->step++;
    ts->batch = (toy_batch){ts->cfg.local_batch, ts->ids};
    *out = &ts->batch;
    return CRATE_OK;
}

static const void *toy_micro(batch_source *s, const void *batch, int first, int n) {
    toy_source *ts = s->impl;
    ts->view = (toy_batch){n, ((const toy_batch *)batch)->ids + first};
    return &ts->view;
}

static void toy_close(batch_source *s) {
    toy_source *ts = s->impl;
    free(ts->ids);
    free(ts);
}

static const batch_source_ops toy_source_ops = {toy_next, toy_micro, toy_close};

/* ---- the objective ---- */

typedef struct {
    int H, B;
    uint64_t seed;
    int w1, b1, w2, b2, center;
    param_store teacher, buffers;
    float *x, *t, *h, *y, *dy, *dh; /* rows of elements, at most B·TOY_MAX_ELEMS */
    double y_sum[TOY_O], y_count;   /* this rank's Σ y over the step, for the center */
    unsigned char file_bytes[TOY_FILE_BYTES];
    ckpt_file file;                 /* the attached file: file_bytes */
} toy_state;

/* The elements of a micro-batch into x and t; returns their count. */
static int toy_fill(toy_state *s, const toy_batch *b) {
    int rows = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t k = b->ids[i];
        rng_stream r = rng_stream_make(s->seed, 0, k, RNG_AUGMENT);
        for (uint64_t j = 0; j < 1 + k % 3; j++, rows++) {
            for (int d = 0; d < TOY_D; d++) s->x[rows * TOY_D + d] = rng_normal(&r);
            for (int o = 0; o < TOY_O; o++) s->t[rows * TOY_O + o] = rng_normal(&r);
        }
    }
    return rows;
}

/* Forward of `rows` element rows from row `first`; returns Σ ½‖y − t‖². */
static double toy_forward(toy_state *s, const param_store *ps, int first, int rows) {
    float *x = s->x + first * TOY_D, *h = s->h + first * s->H, *y = s->y + first * TOY_O;
    linear_forward(h, x, param_data(ps, s->w1), param_data(ps, s->b1), rows, TOY_D, s->H);
    for (int i = 0; i < rows * s->H; i++) h[i] = tanhf(h[i]);
    linear_forward(y, h, param_data(ps, s->w2), param_data(ps, s->b2), rows, s->H, TOY_O);
    double loss = 0;
    for (int i = 0; i < rows * TOY_O; i++) {
        float d = y[i] - s->t[first * TOY_O + i];
        s->dy[first * TOY_O + i] = d;
        loss += 0.5 * (double)d * d;
        s->y_sum[i % TOY_O] += y[i];
    }
    s->y_count += rows;
    return loss;
}

/* Backward of the same rows, reporting finished tensors as the real models
 * do (the last declared first), so the gradient buckets overlap. */
static void toy_backward(toy_state *s, param_store *ps, int first, int rows) {
    float *x = s->x + first * TOY_D, *h = s->h + first * s->H, *dh = s->dh + first * s->H;
    memset(dh, 0, (size_t)rows * s->H * sizeof(float));
    linear_backward(dh, param_grad(ps, s->w2), param_grad(ps, s->b2), s->dy + first * TOY_O, h,
                    param_data(ps, s->w2), rows, s->H, TOY_O);
    param_store_grads_final_from(ps, s->w2);
    for (int i = 0; i < rows * s->H; i++) dh[i] *= 1.0f - h[i] * h[i];
    linear_backward(NULL, param_grad(ps, s->w1), param_grad(ps, s->b1), dh, x, param_data(ps, s->w1), rows, TOY_D,
                    s->H);
    param_store_grads_final_from(ps, s->w1);
}

static int toy_forward_backward(objective *o, param_store *ps, const void *batch, objective_arm *arm,
                                objective_loss *loss) {
    toy_state *s = o->state;
    int rows = toy_fill(s, batch);
    loss->count = rows;
    if (passes == 1) {
        loss->sum = toy_forward(s, ps, 0, rows);
        objective_last_backward(arm);
        toy_backward(s, ps, 0, rows);
        return CRATE_OK;
    }
    int half = rows / 2;
    loss->sum = toy_forward(s, ps, 0, half);
    if (arm_early) objective_last_backward(arm);
    toy_backward(s, ps, 0, half);
    loss->sum += toy_forward(s, ps, half, rows - half);
    if (!arm_early) objective_last_backward(arm);
    toy_backward(s, ps, half, rows - half);
    return CRATE_OK;
}

static int toy_after_step(objective *o, param_store *ps, const comm_info *c) {
    toy_state *s = o->state;
    teacher_store_ema(o->teacher, ps, 0.9f);
    double shared[TOY_O + 1];
    memcpy(shared, s->y_sum, sizeof s->y_sum);
    shared[TOY_O] = s->y_count;
    if (c->world > 1) comm_sum_doubles(shared, TOY_O + 1);
    float *center = param_data(o->buffers, s->center);
    for (int i = 0; i < TOY_O; i++) center[i] = 0.9f * center[i] + 0.1f * (float)(shared[i] / shared[TOY_O]);
    memset(s->y_sum, 0, sizeof s->y_sum);
    s->y_count = 0;
    return CRATE_OK;
}

static void toy_step_metrics(const objective *o, metrics_values *out) {
    const toy_state *s = o->state;
    double big = 0;
    for (size_t i = 0; i < o->teacher->total; i++) big = fmax(big, fabs(o->teacher->data[i]));
    metrics_values_add(out, "center0", param_data(o->buffers, s->center)[0]);
    metrics_values_add(out, "teacher_max_abs", big);
}

static double toy_flops(const objective *o) {
    const toy_state *s = o->state;
    return 3.0 * 2.0 * s->B * TOY_MAX_ELEMS * (TOY_D * s->H + s->H * TOY_O);
}

static int toy_open_source(objective *o, const batch_source_config *cfg, batch_source **out) {
    toy_source *ts = crate_calloc(1, sizeof *ts, "toy source");
    uint64_t *ids = crate_calloc((size_t)cfg->local_batch, sizeof *ids, "toy ids");
    if (!ts || !ids) {
        free(ts);
        free(ids);
        return CRATE_EINTERNAL;
    }
    ts->cfg = *cfg;
    ts->step = cfg->first_step;
    ts->ids = ids;
    ts->base = (batch_source){&toy_source_ops, ts, 1u << 20, "samples", 1.0};
    *out = &ts->base;
    return CRATE_OK;
}

static void toy_destroy(objective *o) {
    toy_state *s = o->state;
    param_store_free(&s->teacher);
    param_store_free(&s->buffers);
    free(s->x);
    free(s);
    free(o);
}

static const objective_ops toy_ops = {
    .name = "toy", .open_source = toy_open_source, .forward_backward = toy_forward_backward,
    .flops_per_batch = toy_flops, .after_step = toy_after_step, .step_metrics = toy_step_metrics,
    .destroy = toy_destroy,
};

static int toy_create(objective **out, const train_config *cfg, int micro_batch, param_store *ps) {
    objective *o = objective_new(&toy_ops, sizeof(toy_state));
    if (!o) {
        return CRATE_EINTERNAL;
    }
    toy_state *s = o->state;
    s->H = (int)cfg->model.dim;
    s->B = micro_batch;
    s->seed = (uint64_t)cfg->run.seed;
    s->w1 = param_store_add2(ps, "toy.w1", s->H, TOY_D, PARAM_MATRIX);
    s->b1 = param_store_add1(ps, "toy.b1", s->H, PARAM_BIAS);
    s->w2 = param_store_add2(ps, "toy.w2", TOY_O, s->H, PARAM_MATRIX);
    s->b2 = param_store_add1(ps, "toy.b2", TOY_O, PARAM_BIAS);
    param_store_init(&s->teacher);
    param_store_init(&s->buffers);
    o->teacher = &s->teacher;
    o->buffers = &s->buffers;
    s->center = param_store_add1(&s->buffers, "toy.center", TOY_O, PARAM_INIT_ZERO);
    for (int i = 0; i < TOY_FILE_BYTES; i++) s->file_bytes[i] = (unsigned char)((131 * i + 17 * (i / 256)) % 256);
    s->file = (ckpt_file){file_name, s->file_bytes, sizeof s->file_bytes};
    o->files = &s->file;
    o->nfiles = 1;
    size_t rows = (size_t)micro_batch * TOY_MAX_ELEMS;
    s->x = crate_calloc(rows * (2 * TOY_D + 2 * TOY_O + 2 * (size_t)s->H), sizeof(float), "toy activations");
    if (s->w1 < 0 || s->b1 < 0 || s->w2 < 0 || s->b2 < 0 || s->center < 0 || !s->x) {
        toy_destroy(o);
        return CRATE_EINTERNAL;
    }
    s->t = s->x + rows * TOY_D;
    s->y = s->t + rows * TOY_O;
    s->dy = s->y + rows * TOY_O;
    s->h = s->dy + rows * TOY_O;
    s->dh = s->h + rows * s->H;
    *out = o;
    return CRATE_OK;
}

static void usage(FILE *out) {
    fprintf(out, "usage: crate-toy-pretrain [--passes 1|2] [--arm-early] [--file-name NAME] CONFIG.yaml "
                 "[section.key=value ...]\n"
                 "\n"
                 "crate-pretrain with a toy objective for tests of the objective interface: a two-layer\n"
                 "regression whose samples score 1-3 elements each, with a teacher store, a buffer and a\n"
                 "5000-byte file (toy.bin) attached to every checkpoint.\n"
                 "--passes 2 splits every micro-batch into two backward passes; --arm-early breaks the\n"
                 "rule that gradients are sent during the last one only; --file-name attaches the file\n"
                 "under another name.\n\n");
}

int main(int argc, char **argv) {
    while (argc > 1 && (!strcmp(argv[1], "--passes") || !strcmp(argv[1], "--arm-early") ||
                        !strcmp(argv[1], "--file-name"))) {
        int take = !strcmp(argv[1], "--arm-early") ? 1 : 2;
        if (take == 2 && (argc < 3 || (!strcmp(argv[1], "--passes") && atoi(argv[2]) != 1 && atoi(argv[2]) != 2))) {
            usage(stderr);
            return CRATE_EINPUT;
        }
        if (!strcmp(argv[1], "--passes")) passes = atoi(argv[2]);
        else if (!strcmp(argv[1], "--file-name")) file_name = argv[2];
        else arm_early = 1;
        argv[take] = argv[0];
        argv += take;
        argc -= take;
    }
    return pretrain_main(argc, argv, "crate-toy-pretrain", usage, toy_create);
}
