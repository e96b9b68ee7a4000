/* linear_probe.h — linear-probe evaluation of frozen features (the MAE/DINO
 * protocol behind crate-probe): standardization, multinomial logistic
 * regression trained by L-BFGS, top-1/top-5 scoring, and a weight-decay sweep
 * that selects on a held-out part of the TRAIN set only.
 *
 * Defines probe_split, probe_accuracy (shared with knn.h), probe_standardizer,
 * linear_probe, linear_probe_config and the sweep.
 *
 * Shapes: n rows (samples), f features, C classes. X is (n,f) row-major
 * float, y (n) ints in [0,C). The classifier, row-vector convention (DESIGN §2):
 *
 *   Z = X Wᵀ + b                         W (C,f), b (C), Z (n,C) logits
 *   P_ic = exp(Z_ic) / Σ_c' exp(Z_ic')   (softmax of each row)
 *   L = −(1/n) Σ_i log P_{i,y_i} + (λ/2)‖W‖²_F     (no decay on b)
 *   ∂L/∂W = (P − Y)ᵀ X / n + λ W          Y (n,C) the one-hot labels
 *   ∂L/∂b = Σ_i (P − Y)_i / n
 *
 * One evaluation of (L, ∇L) is one pass over X: both GEMMs run block by
 * block while the block is in cache. L is convex, strictly so in W when
 * λ > 0, so full-batch L-BFGS reaches the same optimum from any start without
 * a learning rate to tune: the sweep is over λ only, every run is
 * deterministic (no sampling; the same bits on any thread count), and the cost
 * is a few hundred passes over X.
 */
#ifndef CRATE_LINEAR_PROBE_H
#define CRATE_LINEAR_PROBE_H

#include <stdint.h>

#include "src/optim/lbfgs.h"

/* One split of a data set; X (n,f) and y (n) are the caller's, never written. */
typedef struct {
    const float *X;
    const int *y;
    int n;
} probe_split;

/* Fractions of correct rows. A row counts for top-k when fewer than k classes
 * rank above its label, ties broken toward the lower class index (so top-1 is
 * the argmax that picks the first maximum). top5 is -1 when C <= 5, where
 * it would always be 1. */
typedef struct {
    double top1, top5;
    int n;
} probe_accuracy;

/* Scores (n,C): any per-class score where larger means more likely (logits,
 * k-NN vote weights). Labels must be in [0,C) (see probe_check_labels). */
void probe_accuracy_from_scores(const float *scores, const int *y, int n, int C, probe_accuracy *acc);

/* CRATE_OK, or CRATE_EINPUT naming `what` and the first row whose label is
 * outside [0,C). */
int probe_check_labels(const int *y, int n, int C, const char *what);

/* Per-feature standardization x_j ← (x_j − μ_j) / σ_j with μ, σ the mean and
 * population standard deviation over the TRAIN rows, applied unchanged to
 * every split. A feature with σ_j < PROBE_STD_MIN (constant on train) keeps
 * σ_j = 1: it is centered but not scaled, since dividing by a tiny floor would
 * turn any variation it has at test time into values of order 1e6. */
#define PROBE_STD_MIN 1e-6f
typedef struct {
    int f;
    float *mean; /* (f) */
    float *std;  /* (f) */
} probe_standardizer;

int probe_standardizer_fit(probe_standardizer *s, const float *X, int n, int f);
/* X (n, s->f) standardized in place. */
void probe_standardizer_apply(const probe_standardizer *s, float *X, int n);
void probe_standardizer_free(probe_standardizer *s);

/* The classifier: W and b are one allocation (theta = [W | b], C·f + C
 * floats) so the optimizer sees a single vector. */
typedef struct {
    int f, C;
    float *theta;
    float *W;           /* (C,f) = theta */
    float *b;           /* (C)   = theta + C·f */
    float weight_decay; /* λ of the last training run */
    double train_loss;  /* L at the end of the last training run (incl. the λ term) */
    int iterations;     /* L-BFGS iterations of the last training run */
    int converged;      /* 1 if it stopped on a tolerance, 0 on max_iter */
} linear_probe;

/* Training options: those of the optimizer, L-BFGS over θ (src/optim/lbfgs.h:
 * max_iter, history, grad_tol on max |∂L/∂θ|, ftol on the decrease of L). */
typedef lbfgs_config linear_probe_config;

/* max_iter 1000, history 10, grad_tol 1e-4, ftol 1e-9. On standardized
 * features grad_tol 1e-4 is where top-1 stops moving (Fashion-MNIST, 60k ×
 * 192: ±0.0005 against 1e-5, at 0.55× the iterations); it is also
 * scikit-learn's default tol for lbfgs. */
linear_probe_config linear_probe_config_default(void);

/* Allocates W = 0, b = 0 (the usual start; L-BFGS then starts from P = 1/C). */
int linear_probe_init(linear_probe *m, int f, int C);
void linear_probe_free(linear_probe *m);

/* L and ∇L at the model's current W, b: dW (C,f) and db (C) are overwritten.
 * Exposed for the gradient check; training uses the same code. */
int linear_probe_loss_grad(const linear_probe *m, const probe_split *s, float weight_decay,
                           double *loss, float *dW, float *db);

/* Minimizes L over W, b by L-BFGS, starting from the model's current W, b (a
 * warm start when it already holds a solution). X should be standardized. */
int linear_probe_train(linear_probe *m, const probe_split *train, float weight_decay,
                       const linear_probe_config *cfg);

/* logits (n,C) = X Wᵀ + b. */
void linear_probe_logits(const linear_probe *m, const float *X, int n, float *logits);
int linear_probe_evaluate(const linear_probe *m, const probe_split *s, probe_accuracy *acc);

/* The sweep:
 *  1. shuffle the train rows with a Philox permutation of `seed`; the last
 *     round(holdout_fraction · n) rows are the held-out part, the rest the fit part;
 *  2. standardize with the fit part's statistics; for each λ in the given
 *     order train on the fit part (warm-started from the previous λ) and
 *     score top-1 on the held-out part;
 *  3. pick the λ with the best held-out top-1 (ties: the earlier entry);
 *  4. standardize with the full train set's statistics, retrain on all of it
 *     with that λ (warm-started from the selected model) and score the test set.
 * The test split is read in step 4 only, so it can never influence the choice.
 * Memory: one copy of max(n_train, n_test) rows besides the caller's data. */
#define LINEAR_PROBE_MAX_SWEEP 32
typedef struct {
    const float *weight_decays; /* candidates λ, e.g. log-spaced from 1e-1 down to 1e-6 */
    int n_weight_decays;        /* 1 … LINEAR_PROBE_MAX_SWEEP */
    float holdout_fraction;     /* in (0,1), e.g. 0.1 */
    uint64_t seed;
    linear_probe_config train;
} linear_probe_sweep_config;

typedef struct {
    int best;                                      /* index of the chosen λ */
    float weight_decay;                            /* the chosen λ */
    double holdout_top1[LINEAR_PROBE_MAX_SWEEP];   /* per candidate */
    probe_accuracy test;                           /* of the final model */
    probe_standardizer standardizer;               /* full-train statistics the final model expects */
    linear_probe model;                            /* trained on the full train set; train_loss inside */
} linear_probe_sweep_result;

int linear_probe_sweep(const probe_split *train, const probe_split *test, int f, int C,
                       const linear_probe_sweep_config *cfg, linear_probe_sweep_result *out);
void linear_probe_sweep_result_free(linear_probe_sweep_result *r);

#endif
