/* optim.c — AdamW over ranges of the flat parameter buffer, the warmup +
 * cosine learning-rate schedule and global-norm gradient clipping (optim.h).
 *
 * For every float θ of a tensor in [lo, hi), with g its gradient and t ≥ 1:
 *
 *   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
 *   θ ← θ − lr·( m̂/(√v̂ + ε) + wd·θ ),   m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)
 *
 * with wd = 0 unless the tensor has PARAM_DECAY. The update walks the tensor
 * table rather than the raw range so that the alignment padding between
 * tensors is never written (neither θ nor m, v) and each float knows whether
 * it decays. A ZeRO-1 rank passes its own [lo, hi), which may cut tensors
 * anywhere; every float's update depends only on its own θ, g, m, v, so any
 * split gives bit-identical results to the full update.
 */
#include "src/optim/optim.h"

#include <math.h>

#define OPTIM_PI 3.14159265358979323846 /* M_PI is POSIX, not C11 */

/* The update of floats [a, b) of the buffer, all in one tensor. m and v are
 * the range's state, so float i lives at m[i − lo]. */
static void adamw_update_span(float *theta, const float *grad, float *m, float *v,
                              size_t a, size_t b, size_t lo, float lr, float wd,
                              float bc1, float bc2, const adamw_config *cfg) {
    const float b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
#pragma omp for simd schedule(static) nowait
    for (size_t i = a; i < b; i++) {
        float g = grad[i];
        float mi = b1 * m[i - lo] + (1.0f - b1) * g;
        float vi = b2 * v[i - lo] + (1.0f - b2) * g * g;
        m[i - lo] = mi;
        v[i - lo] = vi;
        theta[i] -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * theta[i]);
    }
}

void adamw_step_range(const param_store *ps, float *m, float *v, size_t lo, size_t hi,
                      int64_t t, float lr, const adamw_config *cfg) {
    /* Bias corrections in double: 1 − β₂ᵗ with β₂ = 0.999 loses digits in float. */
    float bc1 = (float)(1.0 - pow(cfg->beta1, (double)t));
    float bc2 = (float)(1.0 - pow(cfg->beta2, (double)t));
    /* One parallel region for the whole table; each tensor's span is split
     * among the threads by `omp for` without a barrier between tensors. */
#pragma omp parallel
    for (int id = 0; id < ps->count; id++) {
        const param_tensor *pt = &ps->tensors[id];
        size_t a = pt->offset > lo ? pt->offset : lo;
        size_t b = pt->offset + pt->numel < hi ? pt->offset + pt->numel : hi;
        if (a >= b) continue;
        float wd = (pt->flags & PARAM_DECAY) ? cfg->weight_decay : 0.0f;
        adamw_update_span(ps->data, ps->grad, m, v, a, b, lo, lr, wd, bc1, bc2, cfg);
    }
}

float lr_schedule_at(const lr_schedule *sch, int64_t step) {
    if (step < sch->warmup_steps) return sch->base_lr * (float)step / (float)sch->warmup_steps;
    if (step >= sch->total_steps) return sch->min_lr;
    double progress = (double)(step - sch->warmup_steps) /
                      (double)(sch->total_steps - sch->warmup_steps);
    double cosine = 0.5 * (1.0 + cos(OPTIM_PI * progress));
    return (float)(sch->min_lr + (sch->base_lr - sch->min_lr) * cosine);
}

/* Returns Σ g², not its square root: sums of squares of disjoint ranges (the
 * buckets of one rank, the shards of ZeRO-1 ranks) add up, norms do not. The
 * caller takes √ after combining. */
double grad_sum_squares(const float *g, size_t n) {
    double sum = 0.0;
#pragma omp parallel for simd reduction(+ : sum) schedule(static)
    for (size_t i = 0; i < n; i++) sum += (double)g[i] * (double)g[i];
    return sum;
}

float grad_clip(float *g, size_t n, double norm, float max_norm) {
    if (!(max_norm > 0.0f) || !(norm > max_norm)) return 1.0f;
    float scale = (float)(max_norm / norm);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) g[i] *= scale;
    return scale;
}
