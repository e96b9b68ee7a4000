/* trainer.h — the training loop of crate-pretrain, the same for every
 * objective: resume from the newest checkpoint, batches by global step from
 * the loader, the objective's forward and backward, gradients summed across
 * ranks and averaged, global-norm clipping, the cosine LR schedule, AdamW,
 * progress lines and metrics.jsonl, checkpoints (periodic, final, on
 * run.stop_after and on a stop signal).
 *
 * trainer_setup can fail on one rank only (a missing file): the caller agrees
 * on its status across ranks before anything collective. trainer_train fails
 * only locally and late (a damaged block mid-run): the caller aborts the job.
 */
#ifndef CRATE_TRAINER_H
#define CRATE_TRAINER_H

#include "pretrain/objective.h"
#include "pretrain/train_config.h"
#include "src/dist/comm.h"

typedef struct trainer trainer;

/* How the trainer builds its objective: objective_create (the config's
 * objective.name), or a test's own. */
typedef int (*objective_factory)(objective **out, const train_config *cfg, int micro_batch, param_store *ps);

int trainer_setup(trainer **out, const train_config *cfg, const config_sources *src, const comm_info *comm,
                  objective_factory make);
/* Returns a local failure (the caller aborts the job); *exit_status is 0,
 * STOP_SIGNAL_EXIT_REQUEUE after a checkpoint on a signal, or the status of
 * a failure every rank agreed on (a checkpoint that could not be saved),
 * already reported by rank 0. */
int trainer_train(trainer *t, int *exit_status);
void trainer_destroy(trainer *t);

/* OpenMP and OpenBLAS threads per rank: requested, or cores / ranks on this node. */
int trainer_threads(int64_t requested, const comm_info *comm);

#endif
