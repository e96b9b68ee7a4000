/* knn.c — see knn.h. */
#include "src/eval/knn.h"

#include "src/kernels/gemm.h"
#include <math.h>
#include <stdlib.h>

#include "src/error.h"

#define KNN_NORM_MIN 1e-12f /* F.normalize's eps: a zero row gets similarity 0 to all */

knn_config knn_config_default(void) {
    return (knn_config){.k = 20, .temperature = 0.07f, .block_rows = 256};
}

/* inv[j] = 1 / max(‖X_j‖, eps) for n rows of width f. */
static void inverse_norms(float *inv, const float *X, int n, int f) {
#pragma omp parallel for schedule(static)
    for (int j = 0; j < n; j++) {
        const float *row = X + (size_t)j * f;
        double ss = 0.0;
        for (int c = 0; c < f; c++) ss += (double)row[c] * row[c];
        float norm = (float)sqrt(ss);
        inv[j] = 1.0f / (norm > KNN_NORM_MIN ? norm : KNN_NORM_MIN);
    }
}

/* The k largest of v[j] · inv_train[j] over j in [0,n), best first, into
 * top_v / top_i. Insertion keeps the list sorted; a value enters only if it
 * beats the current k-th strictly, so among equals the lower index stays. */
static void top_k(float *top_v, int *top_i, int k, const float *v, const float *inv_train, int n) {
    int count = 0;
    for (int j = 0; j < n; j++) {
        float s = v[j] * inv_train[j];
        if (count == k && !(s > top_v[k - 1])) continue;
        int pos = count < k ? count++ : k - 1;
        while (pos > 0 && s > top_v[pos - 1]) {
            top_v[pos] = top_v[pos - 1];
            top_i[pos] = top_i[pos - 1];
            pos--;
        }
        top_v[pos] = s;
        top_i[pos] = j;
    }
}

/* score (C) of one test row from its k neighbours (top_v still lacks the
 * 1/‖x_i‖ factor, applied here). */
static void vote(float *score, int C, const float *top_v, const int *top_i, int k, float inv_x,
                 const int *train_y, float temperature) {
    for (int c = 0; c < C; c++) score[c] = 0.0f;
    double s_max = (double)top_v[0] * inv_x;
    for (int r = 0; r < k; r++)
        score[train_y[top_i[r]]] += (float)exp(((double)top_v[r] * inv_x - s_max) / temperature);
}

static int knn_check(const probe_split *train, int n_test, int f, int C, const knn_config *cfg) {
    if (train->n < 1 || n_test < 0 || f < 1 || C < 1)
        return crate_fail(CRATE_EINPUT, "k-NN needs train rows, features and classes, got n_train=%d f=%d C=%d",
                          train->n, f, C);
    if (cfg->k < 1 || cfg->k > train->n)
        return crate_fail(CRATE_EINPUT, "k-NN: k=%d must be in [1, n_train=%d]", cfg->k, train->n);
    if (!(cfg->temperature > 0.0f))
        return crate_fail(CRATE_EINPUT, "k-NN: temperature must be > 0, got %g", cfg->temperature);
    if (cfg->block_rows < 1) return crate_fail(CRATE_EINPUT, "k-NN: block_rows must be >= 1, got %d", cfg->block_rows);
    return probe_check_labels(train->y, train->n, C, "k-NN train set");
}

int knn_scores(const probe_split *train, const float *test_X, int n_test, int f, int C,
               const knn_config *cfg, float *scores) {
    int st = knn_check(train, n_test, f, C, cfg);
    if (st) return st;
    int n = train->n, k = cfg->k;
    int B = cfg->block_rows < n_test ? cfg->block_rows : (n_test > 0 ? n_test : 1);
    float *inv_train = crate_malloc((size_t)n * sizeof *inv_train, "k-NN train norms");
    float *inv_test = crate_malloc((size_t)B * sizeof *inv_test, "k-NN test norms");
    float *sims = crate_malloc((size_t)B * n * sizeof *sims, "k-NN similarity block");
    float *top_v = crate_malloc((size_t)B * k * sizeof *top_v, "k-NN neighbours");
    int *top_i = crate_malloc((size_t)B * k * sizeof *top_i, "k-NN neighbours");
    if (!inv_train || !inv_test || !sims || !top_v || !top_i) {
        st = CRATE_EINTERNAL;
        goto done;
    }
    inverse_norms(inv_train, train->X, n, f);
    for (int i0 = 0; i0 < n_test; i0 += B) {
        int rows = n_test - i0 < B ? n_test - i0 : B;
        const float *Xb = test_X + (size_t)i0 * f;
        inverse_norms(inv_test, Xb, rows, f);
        /* sims (rows,n) = Xb · trainᵀ, the raw inner products */
        gemm(GEMM_N, GEMM_T, rows, n, f, 1.0f, Xb, f, train->X, f, 0.0f,
                    sims, n);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; r++) {
            float *tv = top_v + (size_t)r * k;
            int *ti = top_i + (size_t)r * k;
            top_k(tv, ti, k, sims + (size_t)r * n, inv_train, n);
            vote(scores + (size_t)(i0 + r) * C, C, tv, ti, k, inv_test[r], train->y, cfg->temperature);
        }
    }
done:
    free(inv_train);
    free(inv_test);
    free(sims);
    free(top_v);
    free(top_i);
    return st;
}

int knn_evaluate(const probe_split *train, const probe_split *test, int f, int C,
                 const knn_config *cfg, probe_accuracy *acc) {
    int st = probe_check_labels(test->y, test->n, C, "k-NN test set");
    if (st) return st;
    float *scores = crate_malloc((size_t)(test->n > 0 ? test->n : 1) * C * sizeof *scores, "k-NN scores");
    if (!scores) return CRATE_EINTERNAL;
    st = knn_scores(train, test->X, test->n, f, C, cfg, scores);
    if (!st) probe_accuracy_from_scores(scores, test->y, test->n, C, acc);
    free(scores);
    return st;
}
