/* whitebox.c — see whitebox.h. */
#include "src/eval/whitebox.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* logdet(I_m + c AᵀA) for A (N, m) with row stride lda, rows scaled by
 * scale[i] (NULL: 1), in double; -1 … NaN if allocation fails. The Gram
 * matrix is formed on the smaller side (m×m or N×N, Sylvester). */
static double logdet_identity_plus(const float *a, int N, int m, size_t lda, const double *scale, double c) {
    int n = m < N ? m : N, rows_side = N <= m; /* rows_side: G = c A Aᵀ (N×N) */
    double *g = calloc((size_t)n * (size_t)n, sizeof *g);
    if (!g) return NAN;
    if (rows_side) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int k = 0; k < m; k++) s += (double)a[i * lda + k] * (double)a[j * lda + k];
                g[i * n + j] = c * s * (scale ? scale[i] * scale[j] : 1);
            }
    } else {
        for (int t = 0; t < N; t++) {
            double st = scale ? scale[t] * scale[t] : 1;
            const float *row = a + t * lda;
            for (int i = 0; i < m; i++)
                for (int j = 0; j <= i; j++) g[i * n + j] += c * st * (double)row[i] * (double)row[j];
        }
    }
    for (int i = 0; i < n; i++) g[i * n + i] += 1;
    /* Cholesky G = L Lᵀ in place (lower triangle); logdet = 2 Σ ln L_ii. G is
     * I plus a positive semidefinite matrix, so every pivot is ≥ 1 exactly
     * and no pivot check can fail short of rounding. */
    double logdet = 0;
    for (int j = 0; j < n; j++) {
        double d = g[j * n + j];
        for (int k = 0; k < j; k++) d -= g[j * n + k] * g[j * n + k];
        d = sqrt(d);
        g[j * n + j] = d;
        logdet += 2 * log(d);
        for (int i = j + 1; i < n; i++) {
            double s = g[i * n + j];
            for (int k = 0; k < j; k++) s -= g[i * n + k] * g[j * n + k];
            g[i * n + j] = s / d;
        }
    }
    free(g);
    return logdet;
}

double whitebox_compression(const float *w, int N, int K, int p, double eps2) {
    double *scale = malloc((size_t)N * sizeof *scale);
    if (!scale) return NAN;
    size_t lda = (size_t)K * (size_t)p;
    double rc = 0, c = (double)p / ((double)N * eps2);
    for (int k = 0; k < K; k++) {
        /* unit-length rows of head k: 1/‖x_t‖ (a zero row stays zero) */
        for (int t = 0; t < N; t++) {
            double s = 0;
            for (int j = 0; j < p; j++) s += (double)w[t * lda + k * p + j] * (double)w[t * lda + k * p + j];
            scale[t] = s > 0 ? 1 / sqrt(s) : 0;
        }
        rc += 0.5 * logdet_identity_plus(w + k * p, N, p, lda, scale, c);
    }
    free(scale);
    return rc;
}

double whitebox_compression_bound(int K, int p, double eps2) { return 0.5 * p * log(1 + 1 / eps2) * K; }

double whitebox_sparsity(const float *z, size_t n) {
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += z[i] != 0;
    return n ? (double)nonzero / (double)n : 0;
}

double whitebox_coding_rate(const float *z, int N, int d, double eps2) {
    return 0.5 * logdet_identity_plus(z, N, d, (size_t)d, NULL, (double)d / ((double)N * eps2));
}
