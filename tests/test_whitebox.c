/* test_whitebox.c — the white-box measures (src/eval/whitebox.h) against a
 * direct computation: R^c and R(Z) by the N×N form logdet(I_N + c X Xᵀ) with
 * its own Cholesky in double (whitebox.c takes the smaller side), on random
 * tokens with N < p and N > p; R^c below its bound ½·p·ln(1+1/ε²)·K and
 * reaching it when each head's tokens are orthonormal (N = p); rows scaled
 * by any factor give the same R^c (it normalizes them); sparsity counted.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/eval/whitebox.h"
#include "src/nn/rng.h"
#include "tests/check.h"

/* logdet(I_N + c A Aᵀ), A (N, m) with row stride lda, directly. */
static double direct_logdet(const double *a, int N, int m, int lda, double c) {
    double *g = calloc((size_t)N * N, sizeof *g);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < m; k++) s += a[i * lda + k] * a[j * lda + k];
            g[i * N + j] = (i == j) + c * s;
        }
    double ld = 0;
    for (int j = 0; j < N; j++) { /* Cholesky, column by column, full storage */
        for (int k = 0; k < j; k++) g[j * N + j] -= g[j * N + k] * g[j * N + k];
        double d = sqrt(g[j * N + j]);
        ld += 2 * log(d);
        for (int i = j + 1; i < N; i++) {
            for (int k = 0; k < j; k++) g[i * N + j] -= g[i * N + k] * g[j * N + k];
            g[i * N + j] /= d;
        }
    }
    free(g);
    return ld;
}

/* ½ Σ_k logdet(I_N + p/(Nε²) X_k X_kᵀ) with X_k's rows normalized, directly. */
static double direct_compression(const float *w, int N, int K, int p, double eps2) {
    double *x = malloc((size_t)N * p * sizeof *x), rc = 0;
    for (int k = 0; k < K; k++) {
        for (int t = 0; t < N; t++) {
            double n2 = 0;
            for (int j = 0; j < p; j++) n2 += (double)w[t * K * p + k * p + j] * w[t * K * p + k * p + j];
            for (int j = 0; j < p; j++) x[t * p + j] = w[t * K * p + k * p + j] / sqrt(n2);
        }
        rc += 0.5 * direct_logdet(x, N, p, p, p / (N * eps2));
    }
    free(x);
    return rc;
}

static void gaussian(float *v, size_t n, uint64_t seed) {
    rng_stream s = rng_stream_make(seed, 0, 0, RNG_INIT);
    for (size_t i = 0; i < n; i++) v[i] = rng_normal(&s);
}

static void compare(int N, int K, int p) {
    float *w = malloc((size_t)N * K * p * sizeof *w);
    gaussian(w, (size_t)N * K * p, 7 + (uint64_t)N);
    double got = whitebox_compression(w, N, K, p, WHITEBOX_EPS2), want = direct_compression(w, N, K, p, WHITEBOX_EPS2);
    double bound = whitebox_compression_bound(K, p, WHITEBOX_EPS2);
    CHECK(fabs(got - want) <= 1e-9 * fabs(want), "N=%d K=%d p=%d: R^c %.12g, direct %.12g", N, K, p, got, want);
    CHECK(got > 0 && got < bound, "N=%d K=%d p=%d: 0 < R^c %.6g < bound %.6g", N, K, p, got, bound);
    /* scaling a token's row changes nothing: R^c normalizes each head's rows */
    for (int j = 0; j < K * p; j++) w[j] *= 37.5f;
    double scaled = whitebox_compression(w, N, K, p, WHITEBOX_EPS2);
    CHECK(fabs(scaled - got) <= 1e-9 * got, "N=%d: a scaled token gives %.12g, not %.12g", N, scaled, got);
    int d = K * p;
    double *wd = malloc((size_t)N * d * sizeof *wd);
    for (int i = 0; i < N * d; i++) wd[i] = w[i];
    double rz = whitebox_coding_rate(w, N, d, WHITEBOX_EPS2), rz_want = 0.5 * direct_logdet(wd, N, d, d, d / (N * WHITEBOX_EPS2));
    CHECK(fabs(rz - rz_want) <= 1e-9 * fabs(rz_want), "N=%d d=%d: R(Z) %.12g, direct %.12g", N, d, rz, rz_want);
    printf("N=%3d K=%d p=%2d: R^c %.6f (direct %.6f, bound %.4f), R(Z) %.6f (direct %.6f)\n", N, K, p, got, want,
           bound, rz, rz_want);
    free(wd);
    free(w);
}

int main(void) {
    compare(5, 3, 8);   /* N < p: the N×N side */
    compare(65, 4, 16); /* N > p: the p×p side */
    compare(16, 2, 16); /* N = p */
    /* Orthonormal tokens per head (N = p, X_k = I): every eigenvalue is
     * p/(Nε²) = 1/ε², the bound exactly. */
    int K = 3, p = 8, N = 8;
    float *w = calloc((size_t)N * K * p, sizeof *w);
    for (int t = 0; t < N; t++)
        for (int k = 0; k < K; k++) w[t * K * p + k * p + t] = 2.0f;
    double rc = whitebox_compression(w, N, K, p, WHITEBOX_EPS2), bound = whitebox_compression_bound(K, p, WHITEBOX_EPS2);
    CHECK(fabs(rc - bound) <= 1e-12 * bound, "orthonormal heads reach the bound: %.12g vs %.12g", rc, bound);
    /* All tokens equal: one direction per head, rank 1: ½ K ln(1 + p/ε²). */
    for (int t = 0; t < N; t++)
        for (int j = 0; j < K * p; j++) w[t * K * p + j] = (float)(j + 1);
    rc = whitebox_compression(w, N, K, p, WHITEBOX_EPS2);
    double rank1 = 0.5 * K * log(1 + p / WHITEBOX_EPS2);
    CHECK(fabs(rc - rank1) <= 1e-9 * rank1, "identical tokens: %.12g, want ½K ln(1+p/ε²) = %.12g", rc, rank1);
    free(w);
    float z[10] = {0, 1.5f, 0, 0, -2, 0, 0, 0, 3, 0};
    CHECK(whitebox_sparsity(z, 10) == 0.3, "3 of 10 non-zero: %g", whitebox_sparsity(z, 10));
    return check_finish();
}
