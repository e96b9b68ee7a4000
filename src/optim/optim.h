/* optim.h — AdamW, the learning-rate schedule and gradient clipping.
 *
 * AdamW (Loshchilov & Hutter) with decoupled weight decay applied only to
 * tensors flagged PARAM_DECAY (matrices; never LayerNorm parameters, biases,
 * cls/mask tokens or position tables):
 *   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
 *   θ ← θ − lr·( m̂/(√v̂ + ε) + wd·θ ),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)
 * The step works on a range [lo, hi) of the flat buffer so that ZeRO-1 ranks
 * each update only their slice; m and v are indexed from lo.
 */
#ifndef CRATE_OPTIM_H
#define CRATE_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "src/nn/params.h"

typedef struct {
    float beta1, beta2, eps, weight_decay;
} adamw_config;

/* Updates ps->data[lo, hi) from ps->grad[lo, hi); t is the 1-based step. */
void adamw_step_range(const param_store *ps, float *m, float *v, size_t lo, size_t hi,
                      int64_t t, float lr, const adamw_config *cfg);

typedef struct {
    float base_lr, min_lr;
    int64_t warmup_steps, total_steps;
} lr_schedule;

/* Linear warmup from 0 to base_lr over warmup_steps, then cosine decay to
 * min_lr at total_steps:  lr(s) = min + ½(base − min)(1 + cos(π·(s−w)/(T−w))).
 * s is the 0-based step about to be taken. */
float lr_schedule_at(const lr_schedule *sch, int64_t step);

/* Σ g² over n floats, accumulated in double (squares, not the norm, so that
 * partial sums over buckets or ZeRO ranges add up before the √). */
double grad_sum_squares(const float *g, size_t n);
/* If norm > max_norm > 0, scales g by max_norm / norm. Returns the scale used. */
float grad_clip(float *g, size_t n, double norm, float max_norm);

#endif
