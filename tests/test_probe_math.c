/* test_probe_math.c — the numerical core of crate-probe on synthetic data:
 * top-k ranking with ties, standardization against a double reference, a
 * finite-difference check of the logistic-regression gradient, the linear
 * probe on Gaussian blobs (near-Bayes accuracy, bit-identical reruns on any
 * thread count) and on shuffled labels (chance), the λ sweep (selection never
 * sees the test set), k-NN on blobs (block size does not matter) and a
 * hand-computed k-NN case where the exp(s/T) weighting outvotes the majority.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/eval/knn.h"
#include "src/eval/linear_probe.h"
#include "src/nn/rng.h"
#include "tests/check.h"
#include "tests/gradcheck.h"

#define F 32
#define NC 10
#define N_TRAIN 5000
#define N_TEST 2000

/* C Gaussian blobs in F dims: centers N(0, 0.8²·I), points center + N(0, I),
 * then feature j is scaled by 1 + j and offset by 50 − 3j, so that the raw
 * features are badly conditioned and standardization has work to do.
 * Labels cycle 0..C−1 unless `shuffled`, which draws them independently of
 * the features (nothing to learn). */
typedef struct {
    float X[N_TRAIN * F];
    int y[N_TRAIN];
    int n;
} blobs;

static float g_centers[NC * F]; /* the same for train and test */

static float blob_scale(int j) { return 1.0f + (float)j; }
static float blob_offset(int j) { return 50.0f - 3.0f * (float)j; }

static void make_blobs(blobs *b, int n, uint64_t seed, int shuffled) {
    rng_stream rc = rng_stream_make(1234, 0, 0, RNG_INIT);
    for (int k = 0; k < NC * F; k++) g_centers[k] = 0.8f * rng_normal(&rc);
    rng_stream r = rng_stream_make(seed, 0, 1, RNG_INIT);
    b->n = n;
    for (int i = 0; i < n; i++) {
        int c = i % NC;
        for (int j = 0; j < F; j++)
            b->X[i * F + j] = (g_centers[c * F + j] + rng_normal(&r)) * blob_scale(j) + blob_offset(j);
        b->y[i] = shuffled ? (int)rng_below(&r, NC) : c;
    }
}

/* Top-1 of the Bayes classifier (the nearest center in the unscaled space,
 * optimal for equal-prior isotropic blobs): what no classifier beats on
 * average, so the probes are judged against it. */
static double bayes_top1(const blobs *b) {
    int correct = 0;
    for (int i = 0; i < b->n; i++) {
        int best = 0;
        double best_d = INFINITY;
        for (int c = 0; c < NC; c++) {
            double d = 0.0;
            for (int j = 0; j < F; j++) {
                double u = (b->X[i * F + j] - blob_offset(j)) / blob_scale(j) - g_centers[c * F + j];
                d += u * u;
            }
            if (d < best_d) best_d = d, best = c;
        }
        correct += best == b->y[i];
    }
    return (double)correct / b->n;
}

static blobs g_train, g_test; /* static: 640 kB is too much for the stack */

/* ---- scoring ---- */

static void test_accuracy_ranks(void) {
    /* Row 0: label 2 is the max → top-1. Row 1: label 0 ties the max with
     * class 1 and wins on index. Row 2: label 1 ties class 0 and loses on
     * index. Row 3: label 2 last of three. */
    const float s[4 * 3] = {0.1f, 0.2f, 0.9f, 0.5f, 0.5f, 0.1f, 0.4f, 0.4f, 0.0f, 3.0f, 2.0f, 1.0f};
    const int y[4] = {2, 0, 1, 2};
    probe_accuracy acc;
    probe_accuracy_from_scores(s, y, 4, 3, &acc);
    CHECK(acc.top1 == 0.5, "top1 %g, want 0.5", acc.top1);
    CHECK(acc.top5 == -1.0, "top5 with C=3 should be -1 (not applicable), got %g", acc.top5);
    CHECK(acc.n == 4, "n %d", acc.n);

    /* C = 7: label 6 ranked 5th (four above) counts for top-5, 6th does not. */
    const float t[2 * 7] = {7, 6, 5, 4, 0, 1, 3, 7, 6, 5, 4, 3, 1, 2};
    const int yt[2] = {6, 6};
    probe_accuracy_from_scores(t, yt, 2, 7, &acc);
    CHECK(acc.top1 == 0.0 && acc.top5 == 0.5, "top1 %g top5 %g, want 0 and 0.5", acc.top1, acc.top5);

    const int bad[2] = {0, 7};
    CHECK(probe_check_labels(bad, 2, 7, "set") == CRATE_EINPUT && strstr(crate_errmsg(), "row 1"),
          "label 7 of C=7 accepted or not named: %s", crate_errmsg());
}

/* ---- standardization ---- */

static void test_standardizer(void) {
    enum { n = 1000, f = 3 };
    static float X[n * f], Xt[2 * f];
    rng_stream r = rng_stream_make(7, 0, 0, RNG_INIT);
    for (int i = 0; i < n; i++) {
        X[i * f + 0] = 2.0f + 3.0f * rng_normal(&r);
        X[i * f + 1] = 1e3f + 0.1f * rng_normal(&r); /* |μ| ≫ σ: a one-pass float variance loses it */
        X[i * f + 2] = -5.0f;                         /* constant */
    }
    double mean[f] = {0}, var[f] = {0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < f; j++) mean[j] += X[i * f + j] / (double)n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < f; j++) var[j] += (X[i * f + j] - mean[j]) * (X[i * f + j] - mean[j]) / n;

    probe_standardizer s;
    CHECK(probe_standardizer_fit(&s, X, n, f) == CRATE_OK, "fit: %s", crate_errmsg());
    for (int j = 0; j < 2; j++) {
        CHECK(fabs(s.mean[j] - mean[j]) <= 1e-6 * fabs(mean[j]) + 1e-6, "mean[%d] %g vs %g", j, s.mean[j], mean[j]);
        CHECK(fabs(s.std[j] - sqrt(var[j])) <= 1e-4 * sqrt(var[j]), "std[%d] %g vs %g", j, s.std[j], sqrt(var[j]));
    }
    CHECK(s.mean[2] == -5.0f && s.std[2] == 1.0f, "constant feature: mean %g std %g, want -5 and 1", s.mean[2],
          s.std[2]);

    /* A test split gets the TRAIN statistics, not its own. */
    const float raw[2 * f] = {2.0f + 3.0f, 1e3f, -5.0f, 2.0f, 1e3f + 0.2f, -4.0f};
    memcpy(Xt, raw, sizeof raw);
    probe_standardizer_apply(&s, Xt, 2);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < f; j++) {
            double want = (raw[i * f + j] - s.mean[j]) / s.std[j];
            CHECK(fabs(Xt[i * f + j] - want) < 1e-4, "applied [%d,%d] %g vs %g", i, j, Xt[i * f + j], want);
        }
    CHECK(Xt[2] == 0.0f && Xt[5] == 1.0f, "a constant feature is centred, not scaled: %g, %g", Xt[2], Xt[5]);

    probe_standardizer_apply(&s, X, n);
    double m1 = 0.0, v1 = 0.0;
    for (int i = 0; i < n; i++) m1 += X[i * f + 1] / n;
    for (int i = 0; i < n; i++) v1 += (X[i * f + 1] - m1) * (X[i * f + 1] - m1) / n;
    CHECK(fabs(m1) < 1e-3 && fabs(v1 - 1.0) < 1e-3, "standardized feature 1: mean %g var %g", m1, v1);
    probe_standardizer_free(&s);
}

/* ---- gradient ---- */

typedef struct {
    linear_probe *m;
    probe_split *s;
    float lambda;
    float *dW, *db;
} grad_ctx;

static double probe_loss(void *p) {
    grad_ctx *g = p;
    double loss = NAN;
    linear_probe_loss_grad(g->m, g->s, g->lambda, &loss, g->dW, g->db);
    return loss;
}

static void test_gradient(void) {
    enum { n = 40, f = 6, C = 4 };
    float X[n * f], dW[C * f], db[C], aW[C * f], ab[C];
    int y[n];
    gradcheck_fill(X, n * f, 3, 2.0f);
    for (int i = 0; i < n; i++) y[i] = (i * 7) % C;
    probe_split s = {X, y, n};
    linear_probe m;
    CHECK(linear_probe_init(&m, f, C) == CRATE_OK, "init");
    grad_ctx g = {&m, &s, 0.3f, dW, db};

    double loss0 = probe_loss(&g);
    CHECK(fabs(loss0 - log((double)C)) < 1e-6, "L at W=0, b=0 is %.8f, want log C = %.8f", loss0, log((double)C));

    gradcheck_fill(m.theta, (size_t)C * f + C, 4, 1.0f);
    double loss;
    CHECK(linear_probe_loss_grad(&m, &s, g.lambda, &loss, aW, ab) == CRATE_OK, "loss_grad: %s", crate_errmsg());
    CHECK(gradcheck_tensor("linear_probe dW", m.W, aW, C * f, probe_loss, &g, 3e-3f, 2e-2, 1e-4, C * f),
          "dW = (P−Y)ᵀX/n + λW");
    CHECK(gradcheck_tensor("linear_probe db", m.b, ab, C, probe_loss, &g, 3e-3f, 2e-2, 1e-4, C), "db = Σ(P−Y)/n");

    /* A NaN feature is bad input, reported, not a silently NaN model. */
    X[5] = NAN;
    linear_probe_config cfg = linear_probe_config_default();
    CHECK(linear_probe_train(&m, &s, 0.1f, &cfg) == CRATE_EINPUT && strstr(crate_errmsg(), "NaN"),
          "NaN features: %s", crate_errmsg());
    linear_probe_free(&m);
}

/* ---- the linear probe ---- */

/* Standardized copies of g_train and g_test with train statistics. */
static void standardized(float *Xtr, float *Xte) {
    probe_standardizer s;
    probe_standardizer_fit(&s, g_train.X, g_train.n, F);
    memcpy(Xtr, g_train.X, sizeof(float) * g_train.n * F);
    memcpy(Xte, g_test.X, sizeof(float) * g_test.n * F);
    probe_standardizer_apply(&s, Xtr, g_train.n);
    probe_standardizer_apply(&s, Xte, g_test.n);
    probe_standardizer_free(&s);
}

static void train_and_score(float lambda, probe_accuracy *acc, linear_probe *m) {
    static float Xtr[N_TRAIN * F], Xte[N_TEST * F];
    standardized(Xtr, Xte);
    probe_split tr = {Xtr, g_train.y, g_train.n}, te = {Xte, g_test.y, g_test.n};
    linear_probe_config cfg = linear_probe_config_default();
    linear_probe_init(m, F, NC);
    CHECK(linear_probe_train(m, &tr, lambda, &cfg) == CRATE_OK, "train: %s", crate_errmsg());
    CHECK(linear_probe_evaluate(m, &te, acc) == CRATE_OK, "evaluate: %s", crate_errmsg());
    double loss;
    float dW[NC * F], db[NC];
    linear_probe_loss_grad(m, &tr, lambda, &loss, dW, db);
    CHECK(fabs(loss - m->train_loss) < 1e-9 * fmax(1.0, loss), "reported train loss %.9g vs recomputed %.9g",
          m->train_loss, loss);
}

static void test_linear_probe_blobs(void) {
    make_blobs(&g_train, N_TRAIN, 1, 0);
    make_blobs(&g_test, N_TEST, 2, 0);
    probe_accuracy acc;
    linear_probe m, m2;
    train_and_score(1e-4f, &acc, &m);
    double bayes = bayes_top1(&g_test);
    printf("blobs: linear probe top1 %.4f top5 %.4f (Bayes top1 %.4f), train loss %.5f after %d iterations "
           "(converged %d)\n", acc.top1, acc.top5, bayes, m.train_loss, m.iterations, m.converged);
    CHECK(acc.top1 >= 0.9 && acc.top1 >= bayes - 0.02 && acc.top5 >= 0.995,
          "blobs: top1 %g top5 %g, Bayes %g", acc.top1, acc.top5, bayes);
    CHECK(m.converged && m.train_loss < 0.2, "converged %d, train loss %g", m.converged, m.train_loss);

    /* Rows are summed in fixed chunks, so one thread gives the same bits. */
    int threads = omp_get_max_threads();
    omp_set_num_threads(threads > 1 ? 1 : 2);
    train_and_score(1e-4f, &acc, &m2);
    omp_set_num_threads(threads);
    CHECK(!memcmp(m.theta, m2.theta, sizeof(float) * (NC * F + NC)),
          "a rerun with another thread count gave different weights");
    linear_probe_free(&m);
    linear_probe_free(&m2);
}

static void test_linear_probe_shuffled(void) {
    make_blobs(&g_train, N_TRAIN, 1, 1);
    make_blobs(&g_test, N_TEST, 2, 1);
    probe_accuracy acc;
    linear_probe m;
    train_and_score(1e-4f, &acc, &m);
    printf("shuffled labels: linear probe top1 %.4f (chance 0.1), train loss %.5f\n", acc.top1, m.train_loss);
    /* 2000 test rows: the std of chance accuracy is 0.0067, so ±0.04 is 6 σ. */
    CHECK(fabs(acc.top1 - 0.1) < 0.04, "nothing to learn, yet top1 %g", acc.top1);
    CHECK(m.train_loss < log(10.0) && m.train_loss > 2.0, "train loss %g: should fit noise a little, not much",
          m.train_loss);
    linear_probe_free(&m);
}

/* ---- the sweep ---- */

static void test_sweep(void) {
    make_blobs(&g_train, N_TRAIN, 1, 0);
    make_blobs(&g_test, N_TEST, 2, 0);
    static const float wds[] = {3.0f, 1e-2f, 1e-4f};
    linear_probe_sweep_config cfg = {.weight_decays = wds, .n_weight_decays = 3, .holdout_fraction = 0.1f,
                                     .seed = 42, .train = linear_probe_config_default()};
    probe_split tr = {g_train.X, g_train.y, g_train.n}, te = {g_test.X, g_test.y, g_test.n};
    linear_probe_sweep_result r1, r2;
    CHECK(linear_probe_sweep(&tr, &te, F, NC, &cfg, &r1) == CRATE_OK, "sweep: %s", crate_errmsg());
    printf("sweep: held-out top1 %.4f %.4f %.4f → λ=%g; test top1 %.4f top5 %.4f, train loss %.5f after %d "
           "iterations\n", r1.holdout_top1[0], r1.holdout_top1[1], r1.holdout_top1[2], r1.weight_decay, r1.test.top1,
           r1.test.top5, r1.model.train_loss, r1.model.iterations);
    CHECK(r1.best >= 0 && r1.best < 3 && r1.weight_decay == wds[r1.best], "best %d λ %g", r1.best, r1.weight_decay);
    for (int k = 0; k < 3; k++)
        CHECK(r1.holdout_top1[k] <= r1.holdout_top1[r1.best], "candidate %d beats the chosen one", k);
    CHECK(r1.holdout_top1[0] < r1.holdout_top1[2], "λ=3 should underfit: %g vs %g", r1.holdout_top1[0],
          r1.holdout_top1[2]);
    CHECK(r1.test.top1 >= bayes_top1(&g_test) - 0.02 && r1.test.n == N_TEST, "test top1 %g, Bayes %g", r1.test.top1,
          bayes_top1(&g_test));

    /* Scramble the test labels: selection and the final model must not move. */
    static int y_bad[N_TEST];
    for (int i = 0; i < N_TEST; i++) y_bad[i] = g_test.y[(i * 7919) % N_TEST] ^ 1;
    probe_split te_bad = {g_test.X, y_bad, N_TEST};
    CHECK(linear_probe_sweep(&tr, &te_bad, F, NC, &cfg, &r2) == CRATE_OK, "sweep: %s", crate_errmsg());
    CHECK(r2.best == r1.best && !memcmp(r1.holdout_top1, r2.holdout_top1, sizeof r1.holdout_top1),
          "test labels changed the selection");
    CHECK(!memcmp(r1.model.theta, r2.model.theta, sizeof(float) * (NC * F + NC)),
          "test labels (or a rerun) changed the final model");
    CHECK(r2.test.top1 < 0.5, "scrambled test labels still scored %g", r2.test.top1);
    linear_probe_sweep_result_free(&r1);
    linear_probe_sweep_result_free(&r2);

    cfg.n_weight_decays = 0;
    CHECK(linear_probe_sweep(&tr, &te, F, NC, &cfg, &r1) == CRATE_EINPUT, "an empty sweep was accepted");
    cfg.n_weight_decays = 3;
    cfg.holdout_fraction = 1.0f;
    CHECK(linear_probe_sweep(&tr, &te, F, NC, &cfg, &r1) == CRATE_EINPUT, "holdout fraction 1 was accepted");
}

/* ---- k-NN ---- */

static void test_knn_blobs(void) {
    make_blobs(&g_train, N_TRAIN, 1, 0);
    make_blobs(&g_test, N_TEST, 2, 0);
    /* Cosine similarity needs centred features; the blobs' offsets would
     * point every row the same way. */
    static float Xtr[N_TRAIN * F], Xte[N_TEST * F];
    standardized(Xtr, Xte);
    probe_split tr = {Xtr, g_train.y, g_train.n}, te = {Xte, g_test.y, g_test.n};
    knn_config cfg = knn_config_default();
    probe_accuracy acc;
    CHECK(knn_evaluate(&tr, &te, F, NC, &cfg, &acc) == CRATE_OK, "knn: %s", crate_errmsg());
    double bayes = bayes_top1(&g_test);
    printf("blobs: k-NN (k=%d, T=%g) top1 %.4f top5 %.4f (Bayes top1 %.4f)\n", cfg.k, cfg.temperature, acc.top1,
           acc.top5, bayes);
    CHECK(acc.top1 >= 0.85 && acc.top1 >= bayes - 0.05 && acc.top5 >= 0.99, "k-NN on blobs: top1 %g top5 %g, Bayes %g",
          acc.top1, acc.top5, bayes);

    /* Blocks of 1, 7 (a ragged last block) and all rows give the same votes. */
    enum { nq = 50 };
    static float s_all[nq * NC], s_blk[nq * NC];
    cfg.block_rows = 4096;
    knn_scores(&tr, Xte, nq, F, NC, &cfg, s_all);
    const int blocks[2] = {1, 7};
    for (int b = 0; b < 2; b++) {
        cfg.block_rows = blocks[b];
        CHECK(knn_scores(&tr, Xte, nq, F, NC, &cfg, s_blk) == CRATE_OK, "knn_scores: %s", crate_errmsg());
        double worst = 0.0;
        for (int k = 0; k < nq * NC; k++) worst = fmax(worst, fabs(s_all[k] - s_blk[k]) / fmax(1.0, s_all[k]));
        /* sgemm may round differently for another block height; an error of
         * δ in s moves a weight by δ/T relatively. A wrong block is O(1) off. */
        CHECK(worst < 1e-4, "block_rows %d changed the scores by %g (relative)", blocks[b], worst);
    }
}

/* One query q = (1, 0). Train rows: class 1 at s = 1 (one row); class 0 at
 * s = 0.8 (three rows, one of them scaled ×2: cosine ignores length); two
 * more class-0 rows at s = 0 and s = −1 that k = 4 leaves out.
 * Majority of the 4 nearest: class 0 (3 to 1). Weighted with T = 0.07:
 *   class 1: e^{1/T},  class 0: 3 e^{0.8/T} = e^{1/T} · 3e^{−0.2/0.07} ≈ 0.172 e^{1/T}
 * so class 1 wins; with T = 1 the weights flatten (3e^{−0.2} ≈ 2.46 > 1) and
 * class 0 wins. Scores are reported relative to the top neighbour (÷ e^{1/T}). */
static void test_knn_weighting(void) {
    const float train_X[6 * 2] = {0.8f, 0.6f, 2.0f, 0.0f, 1.6f, -1.2f, 0.8f, -0.6f, 0.0f, 1.0f, -1.0f, 0.0f};
    const int train_y[6] = {0, 1, 0, 0, 0, 0};
    const float q[2] = {1.0f, 0.0f};
    probe_split tr = {train_X, train_y, 6};
    knn_config cfg = {.k = 4, .temperature = 0.07f, .block_rows = 256};
    float s[2];
    CHECK(knn_scores(&tr, q, 1, 2, 2, &cfg, s) == CRATE_OK, "knn_scores: %s", crate_errmsg());
    double want0 = 3.0 * exp((0.8 - 1.0) / 0.07);
    CHECK(fabs(s[1] - 1.0) < 1e-6 && fabs(s[0] - want0) < 1e-5 * want0, "T=0.07 scores %g %g, want %g 1", s[0],
          s[1], want0);
    CHECK(s[1] > s[0], "the near class-1 neighbour must outvote three farther class-0 ones");

    cfg.temperature = 1.0f;
    knn_scores(&tr, q, 1, 2, 2, &cfg, s);
    want0 = 3.0 * exp(-0.2);
    CHECK(fabs(s[0] - want0) < 1e-5 * want0 && s[0] > s[1], "T=1 scores %g %g, want %g 1", s[0], s[1], want0);

    cfg.k = 7;
    CHECK(knn_scores(&tr, q, 1, 2, 2, &cfg, s) == CRATE_EINPUT, "k > n_train was accepted");
}

int main(void) {
    test_accuracy_ranks();
    test_standardizer();
    test_gradient();
    test_linear_probe_blobs();
    test_linear_probe_shuffled();
    test_sweep();
    test_knn_blobs();
    test_knn_weighting();
    return check_finish();
}
