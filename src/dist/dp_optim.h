/* dp_optim.h — the data-parallel optimizer step on gradients already summed
 * across ranks by src/dist/grad_sync.h: average, clip by the global norm, and apply
 * AdamW, either replicated or with the optimizer state sharded across ranks
 * (ZeRO-1, DESIGN §9).
 *
 *   replicated (zero = 0):  g ← s · Σ_ranks g;  every rank updates all of θ
 *   sharded    (zero = 1):  g_r ← s · (Σ_ranks g)_r  (rank r's range, summed there by grad_sync)
 *                           rank r updates θ_r with its own m_r, v_r
 *                           θ ← allgather(θ_r)
 * s is the caller's scale: 1/Σcount, the number of elements the objective
 * scored over the whole global batch (pretrain/objective.h). The clipping norm
 * is ‖g‖ over the whole vector in both cases (sharded: Σ over ranks of the
 * range's Σg², then √), so both modes take the same step up to the order of
 * float summation. Sharding divides the AdamW memory per rank by W.
 */
#ifndef CRATE_DP_OPTIM_H
#define CRATE_DP_OPTIM_H

#include <stdint.h>

#include "src/dist/comm.h"
#include "src/optim/optim.h"
#include "src/nn/params.h"

typedef struct {
    int world, zero;
    size_t lo, hi;   /* this rank's optimizer range of the flat buffer */
    float *m, *v;    /* AdamW moments of [lo, hi) */
} dp_optimizer;

/* ps must be padded to a multiple of the world size (param_store_pad_to) and allocated. */
int dp_optimizer_init(dp_optimizer *o, const param_store *ps, const comm_info *comm, int zero);
/* One step from ps->grad summed over ranks on [lo, hi); *grad_norm gets the
 * global norm before clipping. */
void dp_optimizer_step(dp_optimizer *o, param_store *ps, float grad_scale, float clip, int64_t t, float lr,
                       const adamw_config *cfg, double *grad_norm);
/* Zeroes the moments (the state of a fresh run). */
void dp_optimizer_reset(dp_optimizer *o);
void dp_optimizer_free(dp_optimizer *o);

#endif
