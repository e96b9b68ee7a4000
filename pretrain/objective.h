/* objective.h — the one interface every pretraining objective implements
 * (DESIGN §3, interface v2). The trainer, optimizer, communication and
 * checkpoints only see this; nothing outside pretrain/<objective>.c branches
 * on which objective runs.
 *
 * An objective, when created, declares its model's tensors in the trained
 * parameter store (and, if it needs them, a teacher store with the student's
 * layout and a store of non-trained buffers, both saved in checkpoints); it
 * chooses its batch source; and it turns one micro-batch into
 *
 *   loss = (sum, count):  sum = Σ over the elements it scores of their loss,
 *                         count = how many it scored,
 *
 * with the gradient of `sum` (not of a mean) ACCUMULATED into the store. The
 * trainer adds (sum, count) over micro-batches and ranks and scales the summed
 * gradient by 1/Σcount, so the step's loss Σsum/Σcount and its update do not
 * depend on micro-batch size or rank count even when micro-batches score
 * different numbers of elements (masked tokens, ignored targets).
 *
 * Several backward passes per step (two crop sizes, say) are allowed; the
 * gradient buckets then go out during the LAST one only: forward_backward
 * calls objective_last_backward(ctx) right before the backward pass whose
 * gradients complete the step (see trainer.c; checked in debug builds).
 */
#ifndef CRATE_OBJECTIVE_H
#define CRATE_OBJECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "data/batch_source.h"
#include "pretrain/train_config.h"
#include "src/ckpt/files.h"
#include "src/dist/comm.h"
#include "src/io/metrics.h"
#include "src/nn/params.h"

typedef struct {
    double sum, count;
} objective_loss;

/* What evaluate reports: named values for metrics.jsonl and the human line
 * after "eval step N | ". */
typedef struct {
    metrics_values values;
    char summary[256];
} objective_eval;

/* Arms the gradient communication for the backward pass that follows: an
 * objective calls it once per forward_backward, on the micro-batch the
 * trainer marked as the step's last, right before its final backward. */
typedef struct {
    void (*fn)(void *ctx);
    void *ctx;
    int armed_here; /* set when the trainer wants this call to arm */
} objective_arm;

static inline void objective_last_backward(objective_arm *arm) {
    if (arm && arm->armed_here && arm->fn) arm->fn(arm->ctx);
}

typedef struct objective objective;

/* What a step's begin_step may change in the update of that step; the
 * trainer fills it with the configured values first. */
typedef struct {
    float weight_decay; /* AdamW's (optim.weight_decay) */
} step_settings;

typedef struct {
    const char *name;
    /* Opens this rank's batches at cfg->first_step. */
    int (*open_source)(objective *o, const batch_source_config *cfg, batch_source **out);
    /* Forward and backward on one micro-batch; gradients of loss->sum
     * accumulate into ps. */
    int (*forward_backward)(objective *o, param_store *ps, const void *batch, objective_arm *arm,
                            objective_loss *loss);
    /* Training FLOPs of one forward_backward on a full micro-batch (GEMMs,
     * summed from what the layers report). */
    double (*flops_per_batch)(const objective *o);
    /* Optional hooks (NULL: none). */
    void (*begin_step)(objective *o, int64_t step, int64_t total, step_settings *s); /* schedules */
    int (*after_step)(objective *o, param_store *ps, const comm_info *c);  /* after the update: EMA, statistics */
    int (*evaluate)(objective *o, const param_store *ps, const comm_info *c, objective_eval *out); /* collective */
    void (*step_metrics)(const objective *o, metrics_values *out);        /* extra values per logged line */
    void (*destroy)(objective *o);
} objective_ops;

struct objective {
    const objective_ops *ops;
    void *state;
    /* Saved and resharded with the parameters when non-NULL. teacher: an
     * empty store the trainer fills with the student's layout and initial
     * values (src/nn/teacher.h). buffers: tensors the objective declared but
     * never trains (statistics such as DINO's center); the trainer pads,
     * allocates and initialises them as it does the parameters. */
    param_store *teacher, *buffers;
    /* Byte blobs the objective wants in every checkpoint (a tokenizer model,
     * `tokenizer.model`), owned by the objective and valid until destroy;
     * the trainer attaches them to each save (src/ckpt/files.h). nfiles 0:
     * none. */
    const ckpt_file *files;
    int nfiles;
};

/* Builds the objective named by cfg->objective.name for micro-batches of at
 * most `micro_batch` samples, declaring its tensors in ps (before
 * param_store_alloc). */
int objective_create(objective **out, const train_config *cfg, int micro_batch, param_store *ps);
void objective_destroy(objective *o);
/* A new objective of ops with a zeroed state of state_bytes (each
 * constructor's first step; the destroy op frees both), or NULL with the
 * message set. */
objective *objective_new(const objective_ops *ops, size_t state_bytes);

/* Each objective's constructor (one per pretrain/<name>.c). Those of image
 * objectives take the image shape (objective_create reads it from the
 * data.train shards; benchmarks and tests give it). */
typedef struct {
    int channels, height, width;
} data_shape;
int mae_objective_create(objective **out, const train_config *cfg, const data_shape *shape, int micro_batch,
                         param_store *ps);
/* DINO's views take their sizes from dino.*, their channels from the shape. */
int dino_objective_create(objective **out, const train_config *cfg, const data_shape *shape, int micro_batch,
                          param_store *ps);
/* The supervised classifier: classify.classes labels, data.test for eval. */
int classify_objective_create(objective **out, const train_config *cfg, const data_shape *shape, int micro_batch,
                              param_store *ps);
/* Text objectives take the vocabulary and tokenizer (pretrain/text_data.h;
 * benchmarks give a vocabulary without a tokenizer) and own data->tokenizer
 * afterwards, whatever the outcome (*data is emptied). */
struct text_data_info;
int gpt2_objective_create(objective **out, const train_config *cfg, struct text_data_info *data, int micro_batch,
                          param_store *ps);
int bert_objective_create(objective **out, const train_config *cfg, struct text_data_info *data, int micro_batch,
                          param_store *ps);

#endif
