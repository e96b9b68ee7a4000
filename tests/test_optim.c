/* test_optim.c — AdamW against a scalar double-precision reference over three
 * steps (one decayed matrix, one non-decayed bias), range updates that cut
 * tensors give bit-identical results to the full update (what ZeRO-1 relies
 * on), alignment padding is never touched, the warmup + cosine schedule at its
 * landmarks, and the gradient norm and clipping.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/optim/optim.h"
#include "src/nn/params.h"
#include "tests/check.h"
#include "tests/gradcheck.h"

#define STEPS 3
#define PAD_DATA 12345.0f /* what padding holds; an update would change it */
#define PAD_STATE 777.0f

static const adamw_config CFG = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
static const float LR[STEPS] = {0.01f, 0.02f, 0.015f}; /* differ, so a stale lr shows */

/* w (3,5) decays, b (4) does not: w takes floats [0,15) with padding at 15,
 * b takes [16,20) with padding [20,32). */
static void make_store(param_store *ps) {
    param_store_init(ps);
    param_store_add2(ps, "w", 3, 5, PARAM_DECAY);
    param_store_add1(ps, "b", 4, 0);
    param_store_alloc(ps);
}

static int is_padding(const param_store *ps, size_t i) {
    for (int id = 0; id < ps->count; id++)
        if (i >= ps->tensors[id].offset && i < ps->tensors[id].offset + ps->tensors[id].numel)
            return 0;
    return 1;
}

static void fill_data(param_store *ps) {
    gradcheck_fill(ps->data, ps->total, 1, 1.0f);
    for (size_t i = 0; i < ps->total; i++)
        if (is_padding(ps, i)) ps->data[i] = PAD_DATA;
}

/* Gradients of step t; padding gets non-zero gradients so that an update
 * running over it would move it. */
static void fill_grad(param_store *ps, int t) {
    gradcheck_fill(ps->grad, ps->total, 100 + (unsigned)t, 0.5f);
}

/* The optimizer state of range [lo, hi): zero, padding marked. */
static float *make_state(const param_store *ps, size_t lo, size_t hi) {
    float *s = malloc((hi - lo) * sizeof *s);
    for (size_t i = lo; i < hi; i++) s[i - lo] = is_padding(ps, i) ? PAD_STATE : 0.0f;
    return s;
}

/* AdamW as optim.h writes it, one float at a time, in double. */
static void reference_adamw(double *theta, const param_store *ps) {
    double m[64] = {0}, v[64] = {0};
    param_store g;
    make_store(&g);
    for (int t = 1; t <= STEPS; t++) {
        fill_grad(&g, t);
        for (int id = 0; id < ps->count; id++) {
            const param_tensor *pt = &ps->tensors[id];
            double wd = (pt->flags & PARAM_DECAY) ? CFG.weight_decay : 0.0;
            for (size_t i = pt->offset; i < pt->offset + pt->numel; i++) {
                double gi = g.grad[i];
                m[i] = CFG.beta1 * m[i] + (1.0 - CFG.beta1) * gi;
                v[i] = CFG.beta2 * v[i] + (1.0 - CFG.beta2) * gi * gi;
                double mhat = m[i] / (1.0 - pow(CFG.beta1, t));
                double vhat = v[i] / (1.0 - pow(CFG.beta2, t));
                theta[i] -= LR[t - 1] * (mhat / (sqrt(vhat) + CFG.eps) + wd * theta[i]);
            }
        }
    }
    param_store_free(&g);
}

/* Runs STEPS steps where each step updates the ranges [cuts[r], cuts[r+1]). */
static void run_ranges(param_store *ps, float **m, float **v, const size_t *cuts, int nranges) {
    for (int t = 1; t <= STEPS; t++) {
        fill_grad(ps, t);
        for (int r = 0; r < nranges; r++)
            adamw_step_range(ps, m[r], v[r], cuts[r], cuts[r + 1], t, LR[t - 1], &CFG);
    }
}

static void test_adamw_reference(void) {
    param_store ps;
    make_store(&ps);
    fill_data(&ps);
    double ref[64];
    for (size_t i = 0; i < ps.total; i++) ref[i] = ps.data[i];
    reference_adamw(ref, &ps);

    size_t cuts[2] = {0, ps.total};
    float *m = make_state(&ps, 0, ps.total), *v = make_state(&ps, 0, ps.total);
    run_ranges(&ps, &m, &v, cuts, 1);

    double worst = 0.0;
    for (size_t i = 0; i < ps.total; i++)
        if (!is_padding(&ps, i)) worst = fmax(worst, fabs(ps.data[i] - ref[i]) / (1e-3 + fabs(ref[i])));
    CHECK(worst < 1e-5, "adamw vs scalar reference: max rel err %g", worst);

    int pad_ok = 1;
    for (size_t i = 0; i < ps.total; i++)
        if (is_padding(&ps, i)) pad_ok &= ps.data[i] == PAD_DATA && m[i] == PAD_STATE && v[i] == PAD_STATE;
    CHECK(pad_ok, "adamw wrote into the padding between tensors");

    free(m);
    free(v);
    param_store_free(&ps);
}

/* Splits [0, total) at the given cuts (inside w, inside padding, inside b)
 * and compares bit for bit with one full-range update. */
static void test_adamw_ranges(void) {
    param_store full, split;
    make_store(&full);
    make_store(&split);
    fill_data(&full);
    fill_data(&split);

    size_t all[2] = {0, full.total};
    float *mf = make_state(&full, 0, full.total), *vf = make_state(&full, 0, full.total);
    run_ranges(&full, &mf, &vf, all, 1);

    size_t cuts[4] = {0, 7, 18, split.total};
    float *ms[3], *vs[3];
    for (int r = 0; r < 3; r++) {
        ms[r] = make_state(&split, cuts[r], cuts[r + 1]);
        vs[r] = make_state(&split, cuts[r], cuts[r + 1]);
    }
    run_ranges(&split, ms, vs, cuts, 3);

    CHECK(memcmp(full.data, split.data, full.total * sizeof(float)) == 0,
          "range-split adamw differs from the full update");
    int state_ok = 1;
    for (int r = 0; r < 3; r++) {
        size_t n = cuts[r + 1] - cuts[r];
        state_ok &= memcmp(ms[r], mf + cuts[r], n * sizeof(float)) == 0 &&
                    memcmp(vs[r], vf + cuts[r], n * sizeof(float)) == 0;
        free(ms[r]);
        free(vs[r]);
    }
    CHECK(state_ok, "range-split adamw state differs from the full update's");

    free(mf);
    free(vf);
    param_store_free(&full);
    param_store_free(&split);
}

static int close_to(float got, double want) { return fabs(got - want) <= 1e-6 * fabs(want) + 1e-12; }

static void test_lr_schedule(void) {
    lr_schedule s = {.base_lr = 1e-3f, .min_lr = 1e-5f, .warmup_steps = 10, .total_steps = 110};
    CHECK(lr_schedule_at(&s, 0) == 0.0f, "lr at step 0: %g", lr_schedule_at(&s, 0));
    CHECK(close_to(lr_schedule_at(&s, 5), 5e-4), "lr mid-warmup: %g", lr_schedule_at(&s, 5));
    CHECK(close_to(lr_schedule_at(&s, 10), 1e-3), "lr at end of warmup: %g", lr_schedule_at(&s, 10));
    CHECK(close_to(lr_schedule_at(&s, 60), 0.5 * (1e-3 + 1e-5)), "lr at cosine midpoint: %g",
          lr_schedule_at(&s, 60));
    CHECK(close_to(lr_schedule_at(&s, 110), 1e-5), "lr at end: %g", lr_schedule_at(&s, 110));
    CHECK(close_to(lr_schedule_at(&s, 500), 1e-5), "lr past end: %g", lr_schedule_at(&s, 500));
    s.warmup_steps = 0;
    CHECK(close_to(lr_schedule_at(&s, 0), 1e-3), "lr at step 0 without warmup: %g",
          lr_schedule_at(&s, 0));
}

static void test_grad_norm_clip(void) {
    enum { N = 1 << 20 };
    float *g = malloc(N * sizeof *g);
    double want = 0.0;
    for (int i = 0; i < N; i++) {
        g[i] = 1e-3f * (float)(i % 7 - 3);
        want += (double)g[i] * g[i];
    }
    double got = grad_sum_squares(g, N);
    /* Each g² is exact in double; only the summation order (threads, SIMD) differs. */
    CHECK(fabs(got - want) <= 1e-9 * want, "grad_sum_squares %.17g, want %.17g", got, want);
    free(g);

    float v[2] = {3.0f, 4.0f};
    double norm = sqrt(grad_sum_squares(v, 2));
    CHECK(norm == 5.0, "norm of (3,4): %g", norm);
    CHECK(grad_clip(v, 2, norm, 10.0f) == 1.0f && v[0] == 3.0f && v[1] == 4.0f,
          "clip below the threshold changed the gradient");
    CHECK(grad_clip(v, 2, norm, 0.0f) == 1.0f && v[0] == 3.0f, "max_norm 0 must disable clipping");
    float scale = grad_clip(v, 2, norm, 1.0f);
    CHECK(close_to(scale, 0.2) && close_to(v[0], 0.6) && close_to(v[1], 0.8),
          "clip to 1: scale %g, g = (%g, %g)", scale, v[0], v[1]);
}

int main(void) {
    test_adamw_reference();
    test_adamw_ranges();
    test_lr_schedule();
    test_grad_norm_clip();
    return check_finish();
}
