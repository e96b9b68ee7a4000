/* objective.h — the one interface every pretraining objective implements
 * (DESIGN §3). The trainer, optimizer, communication and checkpoints only see
 * this: an objective declares its model's tensors in the shared parameter
 * store when it is created, and turns one batch of this rank's samples into a
 * loss and accumulated gradients. Nothing outside pretrain/<objective>.c
 * branches on which objective runs.
 */
#ifndef CRATE_OBJECTIVE_H
#define CRATE_OBJECTIVE_H

#include "pretrain/train_config.h"
#include "src/nn/params.h"

/* What a batch holds, so the trainer opens the right loader. */
typedef enum { OBJECTIVE_INPUT_IMAGES } objective_input;

/* Shape of one sample of the training data. */
typedef struct {
    int channels, height, width;
} data_shape;

typedef struct objective objective;

typedef struct {
    const char *name;
    objective_input input;
    /* Forward and backward on one batch (an image_batch for image input);
     * gradients ACCUMULATE into the store; *loss is this batch's mean loss. */
    int (*forward_backward)(objective *o, param_store *ps, const void *batch, double *loss);
    /* Training GEMM FLOPs of one forward+backward of a batch (for GFLOP/s). */
    double (*flops_per_batch)(const objective *o);
    void (*destroy)(objective *o);
} objective_ops;

struct objective {
    const objective_ops *ops;
    void *state;
};

/* Builds the objective named by cfg->objective.name for batches of at most
 * `batch` samples, declaring its tensors in ps (before param_store_alloc). */
int objective_create(objective **out, const train_config *cfg, const data_shape *shape, int batch, param_store *ps);
void objective_destroy(objective *o);

/* Each objective's constructor (one per pretrain/<name>.c). */
int mae_objective_create(objective **out, const train_config *cfg, const data_shape *shape, int batch, param_store *ps);

#endif
