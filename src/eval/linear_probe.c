/* linear_probe.c — see linear_probe.h.
 *
 * Layout: scoring and label checks (shared with knn.c), standardization, the
 * objective (the fused softmax cross-entropy of src/kernels/kernels.h over
 * fixed row chunks, plus the λ term), training (src/optim/lbfgs.h minimizes
 * the objective), and the sweep.
 *
 * Determinism: every sum whose order could depend on the thread count is
 * split into a fixed set of row ranges summed alone and then added in order
 * (see OBJ_CHUNKS), and there is no sampling. So the same input gives the same
 * model on every run, with any number of threads.
 */
#include "src/eval/linear_probe.h"

#include "src/kernels/gemm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"
#include "src/nn/rng.h"
#include "src/optim/lbfgs.h"

/* ---- scoring ------------------------------------------------------------ */

/* 0-based rank of class y in one row of scores: how many classes score
 * higher, plus the lower-indexed ones that tie with it. */
static int label_rank(const float *row, int C, int y) {
    int rank = 0;
    for (int c = 0; c < C; c++) rank += row[c] > row[y] || (row[c] == row[y] && c < y);
    return rank;
}

void probe_accuracy_from_scores(const float *scores, const int *y, int n, int C, probe_accuracy *acc) {
    long top1 = 0, top5 = 0;
    for (int i = 0; i < n; i++) {
        int r = label_rank(scores + (size_t)i * C, C, y[i]);
        top1 += r < 1;
        top5 += r < 5;
    }
    acc->n = n;
    acc->top1 = n ? (double)top1 / n : 0.0;
    acc->top5 = C > 5 ? (n ? (double)top5 / n : 0.0) : -1.0;
}

int probe_check_labels(const int *y, int n, int C, const char *what) {
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= C)
            return crate_fail(CRATE_EINPUT, "%s: row %d has label %d, outside [0,%d)", what, i, y[i], C);
    return CRATE_OK;
}

/* ---- standardization ---------------------------------------------------- */

/* Two passes in double (mean, then Σ(x−μ)²): the one-pass Σx² − nμ² loses
 * every digit when |μ| ≫ σ, which frozen features with a large offset have. */
int probe_standardizer_fit(probe_standardizer *s, const float *X, int n, int f) {
    memset(s, 0, sizeof *s);
    if (n < 1 || f < 1) return crate_fail(CRATE_EINPUT, "standardization needs rows and features, got %d x %d", n, f);
    double *acc = crate_calloc(2 * (size_t)f, sizeof *acc, "standardization sums");
    s->mean = crate_malloc((size_t)f * sizeof *s->mean, "feature means");
    s->std = crate_malloc((size_t)f * sizeof *s->std, "feature stds");
    if (!acc || !s->mean || !s->std) {
        free(acc);
        probe_standardizer_free(s);
        return CRATE_EINTERNAL;
    }
    s->f = f;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < f; j++) acc[j] += X[(size_t)i * f + j];
    for (int j = 0; j < f; j++) acc[f + j] = acc[j] / n; /* the mean, kept in double for pass two */
    for (int j = 0; j < f; j++) acc[j] = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < f; j++) {
            double d = (double)X[(size_t)i * f + j] - acc[f + j];
            acc[j] += d * d;
        }
    for (int j = 0; j < f; j++) {
        float sd = (float)sqrt(acc[j] / n);
        s->mean[j] = (float)acc[f + j];
        s->std[j] = sd < PROBE_STD_MIN ? 1.0f : sd;
    }
    free(acc);
    return CRATE_OK;
}

void probe_standardizer_apply(const probe_standardizer *s, float *X, int n) {
    int f = s->f;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        float *row = X + (size_t)i * f;
        for (int j = 0; j < f; j++) row[j] = (row[j] - s->mean[j]) / s->std[j];
    }
}

void probe_standardizer_free(probe_standardizer *s) {
    free(s->mean);
    free(s->std);
    memset(s, 0, sizeof *s);
}

/* ---- the model and its objective ---------------------------------------- */

linear_probe_config linear_probe_config_default(void) {
    return (linear_probe_config){.max_iter = 1000, .history = 10, .grad_tol = 1e-4f, .ftol = 1e-9};
}

int linear_probe_init(linear_probe *m, int f, int C) {
    memset(m, 0, sizeof *m);
    if (f < 1 || C < 2) return crate_fail(CRATE_EINPUT, "a linear probe needs f >= 1 features and C >= 2 classes, got f=%d C=%d", f, C);
    m->theta = crate_aligned_zalloc(((size_t)C * f + C) * sizeof(float), "linear probe weights");
    if (!m->theta) return CRATE_EINTERNAL;
    m->f = f;
    m->C = C;
    m->W = m->theta;
    m->b = m->theta + (size_t)C * f;
    return CRATE_OK;
}

void linear_probe_free(linear_probe *m) {
    free(m->theta);
    memset(m, 0, sizeof *m);
}

void linear_probe_logits(const linear_probe *m, const float *X, int n, float *logits) {
    int f = m->f, C = m->C;
    gemm(GEMM_N, GEMM_T, n, C, f, 1.0f, X, f, m->W, f, 0.0f, logits, C);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++) logits[(size_t)i * C + c] += m->b[c];
}

/* The objective makes ONE pass over X per evaluation. X is cut into
 * OBJ_CHUNKS contiguous row ranges (a fixed number, whatever the thread
 * count) that threads take whole; a chunk runs the fused softmax
 * cross-entropy of kernels.h (lm_cross_entropy, E = W, V = C classes,
 * dloss = 1/n) over its rows in blocks small enough to stay in cache
 * (OBJ_BLOCK_BYTES of X), each block
 *   Z_blk = X_blk Wᵀ + b  →  G_blk = (P − Y)_blk / n  →  dW_chunk += G_blkᵀ X_blk,
 * so the second GEMM reads X_blk from cache, not memory. A whole-X GEMM with
 * C = 10 output columns runs at ~25 GFLOP/s here (OpenBLAS packs all of X each
 * call, twice per evaluation); the fused pass reads X once. The chunks' partial
 * dW, db and loss are added in chunk order, so the result does not depend on
 * the number of threads. Inside the parallel region the kernel's loops and its
 * sgemms run single-threaded (nested regions are inactive; OpenBLAS's OpenMP
 * build checks omp_in_parallel). The λ term is added here, not in the kernel. */
#define OBJ_CHUNKS 32
#define OBJ_BLOCK_BYTES (256 * 1024)

typedef struct {
    const probe_split *s;
    int f, C, chunks, block;
    float lambda;
    float *G;     /* (chunks, block·C): the kernel's scratch, one per chunk */
    float *dW;    /* (chunks, C·f) partial ∂L/∂W */
    float *db;    /* (chunks, C) partial ∂L/∂b */
    double *loss; /* (chunks) partial Σ −log P_iy */
} objective;

static int objective_init(objective *o, const probe_split *s, int f, int C, float lambda) {
    o->s = s;
    o->f = f;
    o->C = C;
    o->lambda = lambda;
    o->chunks = s->n < OBJ_CHUNKS ? s->n : OBJ_CHUNKS;
    int block = (int)(OBJ_BLOCK_BYTES / (sizeof(float) * (size_t)f));
    o->block = block < 16 ? 16 : block;
    o->G = crate_malloc((size_t)o->chunks * lm_cross_entropy_scratch_floats(o->block, C) * sizeof *o->G,
                        "linear probe logits");
    o->dW = crate_aligned_zalloc((size_t)o->chunks * C * f * sizeof *o->dW, "linear probe partial gradients");
    o->db = crate_malloc((size_t)o->chunks * C * sizeof *o->db, "linear probe partial bias gradients");
    o->loss = crate_malloc((size_t)o->chunks * sizeof *o->loss, "linear probe partial losses");
    if (o->G && o->dW && o->db && o->loss) return CRATE_OK;
    free(o->G);
    free(o->dW);
    free(o->db);
    free(o->loss);
    return CRATE_EINTERNAL;
}

static void objective_free(objective *o) {
    free(o->G);
    free(o->dW);
    free(o->db);
    free(o->loss);
}

/* L(theta) and grad = ∇L (same layout as theta: [dW | db]); the formulas are
 * in the header. */
static double objective_eval(const float *theta, float *grad, void *ctx) {
    objective *o = ctx;
    const probe_split *s = o->s;
    const int n = s->n, f = o->f, C = o->C, chunks = o->chunks;
    const size_t CF = (size_t)C * f;
    const float *W = theta, *b = theta + CF;

    /* probe_split's int labels are int32_t here (lm_cross_entropy takes int32_t). */
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < chunks; ch++) {
        int lo = (int)((int64_t)n * ch / chunks), hi = (int)((int64_t)n * (ch + 1) / chunks);
        float *dW = o->dW + (size_t)ch * CF, *db = o->db + (size_t)ch * C;
        float *G = o->G + (size_t)ch * lm_cross_entropy_scratch_floats(o->block, C);
        memset(dW, 0, CF * sizeof *dW);
        memset(db, 0, (size_t)C * sizeof *db);
        o->loss[ch] = lm_cross_entropy(NULL, dW, db, s->X + (size_t)lo * f, W, b, s->y + lo, hi - lo, f, C,
                                       1.0f / (float)n, G, o->block, NULL);
    }

    float *dW = grad, *db = grad + CF;
    double loss = 0.0, w2 = 0.0;
    for (size_t k = 0; k < CF; k++) {
        w2 += (double)W[k] * W[k];
        dW[k] = o->lambda * W[k];
    }
    for (int ch = 0; ch < chunks; ch++) {
        const float *part = o->dW + (size_t)ch * CF;
        for (size_t k = 0; k < CF; k++) dW[k] += part[k];
        loss += o->loss[ch];
    }
    for (int c = 0; c < C; c++) {
        double acc = 0.0;
        for (int ch = 0; ch < chunks; ch++) acc += o->db[(size_t)ch * C + c];
        db[c] = (float)acc;
    }
    return loss / n + 0.5 * o->lambda * w2;
}

/* ---- training and evaluation -------------------------------------------- */

static int check_split(const linear_probe *m, const probe_split *s, const char *what) {
    if (s->n < 1) return crate_fail(CRATE_EINPUT, "%s: no rows", what);
    return probe_check_labels(s->y, s->n, m->C, what);
}

int linear_probe_loss_grad(const linear_probe *m, const probe_split *s, float weight_decay,
                           double *loss, float *dW, float *db) {
    int st = check_split(m, s, "linear probe loss");
    if (st) return st;
    size_t D = (size_t)m->C * m->f + m->C;
    objective o;
    float *grad = crate_malloc(D * sizeof *grad, "linear probe gradient");
    if (!grad || objective_init(&o, s, m->f, m->C, weight_decay)) {
        free(grad);
        return CRATE_EINTERNAL;
    }
    *loss = objective_eval(m->theta, grad, &o);
    memcpy(dW, grad, (size_t)m->C * m->f * sizeof *dW);
    memcpy(db, grad + (size_t)m->C * m->f, (size_t)m->C * sizeof *db);
    objective_free(&o);
    free(grad);
    return CRATE_OK;
}

int linear_probe_train(linear_probe *m, const probe_split *train, float weight_decay,
                       const linear_probe_config *cfg) {
    int st = check_split(m, train, "linear probe training set");
    if (st) return st;
    if (!(weight_decay >= 0.0f))
        return crate_fail(CRATE_EINPUT, "linear probe weight decay must be >= 0, got %g", weight_decay);
    objective o;
    if (objective_init(&o, train, m->f, m->C, weight_decay)) return CRATE_EINTERNAL;
    lbfgs_result r = {0};
    st = lbfgs_minimize(m->theta, (size_t)m->C * m->f + m->C, objective_eval, &o, cfg, &r);
    objective_free(&o);
    if (st) return crate_fail_context(st, "training the linear probe (weight decay %g)", weight_decay);
    m->weight_decay = weight_decay;
    m->train_loss = r.f;
    m->iterations = r.iterations;
    m->converged = r.converged;
    return CRATE_OK;
}

int linear_probe_evaluate(const linear_probe *m, const probe_split *s, probe_accuracy *acc) {
    int st = check_split(m, s, "linear probe evaluation set");
    if (st) return st;
    float *logits = crate_malloc((size_t)s->n * m->C * sizeof *logits, "linear probe logits");
    if (!logits) return CRATE_EINTERNAL;
    linear_probe_logits(m, s->X, s->n, logits);
    probe_accuracy_from_scores(logits, s->y, s->n, m->C, acc);
    free(logits);
    return CRATE_OK;
}

/* ---- the sweep ----------------------------------------------------------- */

/* Fisher–Yates permutation of [0,n) from (seed, RNG_PERMUTE). */
static void sweep_permutation(int *perm, int n, uint64_t seed) {
    rng_stream r = rng_stream_make(seed, 0, 0, RNG_PERMUTE);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint32_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static int sweep_check(const probe_split *train, const probe_split *test, int f, int C,
                       const linear_probe_sweep_config *cfg) {
    if (cfg->n_weight_decays < 1 || cfg->n_weight_decays > LINEAR_PROBE_MAX_SWEEP)
        return crate_fail(CRATE_EINPUT, "linear probe sweep: %d weight decays, need 1 to %d",
                          cfg->n_weight_decays, LINEAR_PROBE_MAX_SWEEP);
    if (!(cfg->holdout_fraction > 0.0f && cfg->holdout_fraction < 1.0f))
        return crate_fail(CRATE_EINPUT, "linear probe sweep: holdout fraction %g is not in (0,1)",
                          cfg->holdout_fraction);
    if (train->n < 2 || test->n < 1)
        return crate_fail(CRATE_EINPUT, "linear probe sweep: needs >= 2 train rows and >= 1 test row, got %d and %d",
                          train->n, test->n);
    int st = probe_check_labels(train->y, train->n, C, "linear probe train set");
    return st ? st : probe_check_labels(test->y, test->n, C, "linear probe test set");
}

/* Step 1–3 of the sweep: X_work/y_work receive the shuffled train rows. */
static int sweep_select(const probe_split *train, int f, int C, const linear_probe_sweep_config *cfg,
                        float *X_work, int *y_work, linear_probe_sweep_result *out) {
    int n = train->n;
    int n_hold = (int)lround((double)cfg->holdout_fraction * n);
    n_hold = n_hold < 1 ? 1 : n_hold > n - 1 ? n - 1 : n_hold;
    int n_fit = n - n_hold;
    int *perm = crate_malloc((size_t)n * sizeof *perm, "sweep permutation");
    if (!perm) return CRATE_EINTERNAL;
    sweep_permutation(perm, n, cfg->seed);
    for (int i = 0; i < n; i++) {
        memcpy(X_work + (size_t)i * f, train->X + (size_t)perm[i] * f, (size_t)f * sizeof *X_work);
        y_work[i] = train->y[perm[i]];
    }
    free(perm);

    probe_standardizer sd;
    int st = probe_standardizer_fit(&sd, X_work, n_fit, f);
    if (st) return st;
    probe_standardizer_apply(&sd, X_work, n);
    probe_standardizer_free(&sd);

    probe_split fit = {X_work, y_work, n_fit};
    probe_split hold = {X_work + (size_t)n_fit * f, y_work + n_fit, n_hold};
    linear_probe m;
    st = linear_probe_init(&m, f, C);
    int best = -1;
    for (int k = 0; k < cfg->n_weight_decays && !st; k++) {
        probe_accuracy acc;
        st = linear_probe_train(&m, &fit, cfg->weight_decays[k], &cfg->train);
        if (!st) st = linear_probe_evaluate(&m, &hold, &acc);
        if (st) break;
        out->holdout_top1[k] = acc.top1;
        if (best < 0 || acc.top1 > out->holdout_top1[best]) {
            best = k;
            memcpy(out->model.theta, m.theta, ((size_t)C * f + C) * sizeof *m.theta);
        }
    }
    linear_probe_free(&m);
    out->best = best;
    out->weight_decay = best >= 0 ? cfg->weight_decays[best] : 0.0f;
    return st;
}

int linear_probe_sweep(const probe_split *train, const probe_split *test, int f, int C,
                       const linear_probe_sweep_config *cfg, linear_probe_sweep_result *out) {
    memset(out, 0, sizeof *out);
    int st = sweep_check(train, test, f, C, cfg);
    if (st) return st;
    if ((st = linear_probe_init(&out->model, f, C))) return st;
    int rows = train->n > test->n ? train->n : test->n;
    float *X_work = crate_malloc((size_t)rows * f * sizeof *X_work, "probe feature copy");
    int *y_work = crate_malloc((size_t)train->n * sizeof *y_work, "probe label copy");
    if (!X_work || !y_work) st = CRATE_EINTERNAL;

    if (!st) st = sweep_select(train, f, C, cfg, X_work, y_work, out);

    /* Step 4: the full train set, in its own order, then the test set. */
    if (!st) st = probe_standardizer_fit(&out->standardizer, train->X, train->n, f);
    if (!st) {
        memcpy(X_work, train->X, (size_t)train->n * f * sizeof *X_work);
        probe_standardizer_apply(&out->standardizer, X_work, train->n);
        probe_split full = {X_work, train->y, train->n};
        st = linear_probe_train(&out->model, &full, out->weight_decay, &cfg->train);
    }
    if (!st) {
        memcpy(X_work, test->X, (size_t)test->n * f * sizeof *X_work);
        probe_standardizer_apply(&out->standardizer, X_work, test->n);
        probe_split t = {X_work, test->y, test->n};
        st = linear_probe_evaluate(&out->model, &t, &out->test);
    }
    free(X_work);
    free(y_work);
    if (st) linear_probe_sweep_result_free(out);
    return st;
}

void linear_probe_sweep_result_free(linear_probe_sweep_result *r) {
    linear_probe_free(&r->model);
    probe_standardizer_free(&r->standardizer);
}
