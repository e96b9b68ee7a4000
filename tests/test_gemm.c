/* test_gemm.c — the GEMM engine (src/kernels/gemm.h) against a reference in
 * double, on every backend and precision this build has: all four transpose
 * combinations, α and β (β = 0 must overwrite a NaN), row strides wider than
 * the rows, a K of 0, calls from inside an OpenMP parallel region, and the
 * selection errors.
 *
 * bf16 is checked exactly, not loosely: its product must equal the double
 * product of the operands rounded to bfloat16 (round to nearest even), up to
 * fp32 accumulation (1e-5 relative to Σ|a||b|). That pins the rounding mode
 * and catches a wrong layout, which a tolerance of bf16's own error would not.
 */
#include "src/kernels/gemm.h"

#include "src/error.h"
#include "tests/check.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static float bf16_value(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float rnd(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* Max over C of |gemm − ref| / (Σ_k |a||b| + |β c|), the reference from the
 * (optionally bf16-rounded) operands in double. */
static double gemm_error(gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha, float beta, int pad,
                         int round_bf16, int in_parallel) {
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    int arows = ta ? K : M, brows = tb ? N : K;
    float *A = malloc(sizeof(float) * (size_t)arows * lda + 4), *B = malloc(sizeof(float) * (size_t)brows * ldb + 4);
    float *C = malloc(sizeof(float) * (size_t)M * ldc + 4), *C0 = malloc(sizeof(float) * (size_t)M * ldc + 4);
    uint32_t s = (uint32_t)(M * 131 + N * 17 + K + ta * 7 + tb * 3);
    for (size_t i = 0; i < (size_t)arows * lda; i++) A[i] = rnd(&s);
    for (size_t i = 0; i < (size_t)brows * ldb; i++) B[i] = rnd(&s);
    for (size_t i = 0; i < (size_t)M * ldc; i++) C0[i] = C[i] = beta == 0.0f ? NAN : rnd(&s);
    if (in_parallel) {
#pragma omp parallel num_threads(2)
#pragma omp single
        gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else {
        gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    double worst = 0.0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0, mag = 0.0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                if (round_bf16) a = bf16_value(a), b = bf16_value(b);
                acc += (double)a * b;
                mag += fabs((double)a * b);
            }
            double c0 = beta == 0.0f ? 0.0 : C0[(size_t)i * ldc + j];
            double ref = alpha * acc + beta * c0;
            double e = fabs(C[(size_t)i * ldc + j] - ref) / (fabs(alpha) * mag + fabs(beta * c0) + 1e-30);
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        }
        /* The padding past each row of C is never written. */
        for (int j = N; j < ldc; j++)
            if (memcmp(&C[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j], sizeof(float))) worst = INFINITY;
    }
    free(A), free(B), free(C), free(C0);
    return worst;
}

static void check_backend(gemm_backend backend, gemm_precision precision) {
    int rc = gemm_select(backend, precision);
    CHECK(rc == CRATE_OK, "%s %s: %s", gemm_backend_name(backend), gemm_precision_name(precision), crate_errmsg());
    if (rc != CRATE_OK) return;
    int bf16 = precision == GEMM_BF16;
    static const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {65, 64, 65}, {130, 96, 64}, {33, 257, 129}};
    static const float ab[][2] = {{1.0f, 0.0f}, {0.1f, 1.0f}, {-1.0f, -1.0f}};
    for (int t = 0; t < 4; t++) {
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            for (size_t k = 0; k < sizeof ab / sizeof ab[0]; k++) {
                gemm_trans ta = t & 1 ? GEMM_T : GEMM_N, tb = t & 2 ? GEMM_T : GEMM_N;
                const int *sh = shapes[si];
                double e = gemm_error(ta, tb, sh[0], sh[1], sh[2], ab[k][0], ab[k][1], (int)(si % 3) * 5, bf16, 0);
                CHECK(e < 1e-5, "%s %s ta=%d tb=%d %dx%dx%d alpha %g beta %g: error %.3g",
                      gemm_backend_name(backend), gemm_precision_name(precision), ta, tb, sh[0], sh[1], sh[2],
                      ab[k][0], ab[k][1], e);
            }
        }
    }
    /* Inside a parallel region every backend computes in fp32 (gemm.h). */
    double e = gemm_error(GEMM_N, GEMM_T, 65, 65, 64, 0.125f, 0.0f, 3, 0, 1);
    CHECK(e < 1e-5, "%s %s in a parallel region: error %.3g", gemm_backend_name(backend),
          gemm_precision_name(precision), e);
    /* K = 0: C = β·C. */
    float c[2] = {2.0f, NAN}, one = 1.0f;
    gemm(GEMM_N, GEMM_N, 1, 1, 0, 1.0f, &one, 1, &one, 1, 0.5f, c, 2);
    CHECK(c[0] == 1.0f && isnan(c[1]), "%s K = 0: %g", gemm_backend_name(backend), c[0]);
    /* gemm_fp32 is fp32 under bf16: 1 + 2⁻¹⁰ does not survive bf16 rounding. */
    float x = 1.0f + 1.0f / 1024.0f, y = 0.0f;
    gemm_fp32(GEMM_N, GEMM_N, 1, 1, 1, 1.0f, &x, 1, &one, 1, 0.0f, &y, 1);
    CHECK(y == x, "%s %s: gemm_fp32 gave %.9g", gemm_backend_name(backend), gemm_precision_name(precision), y);
    if (bf16) {
        /* A product big enough to leave the parallel-region fallback: rounded. */
        float *X = calloc(64 * 64, sizeof(float)), *I = calloc(64 * 64, sizeof(float)),
              *Y = calloc(64 * 64, sizeof(float));
        for (int i = 0; i < 64 * 64; i++) X[i] = x;
        for (int i = 0; i < 64; i++) I[i * 65] = 1.0f;
        gemm(GEMM_N, GEMM_N, 64, 64, 64, 1.0f, X, 64, I, 64, 0.0f, Y, 64);
        CHECK(Y[0] == 1.0f, "bf16 gemm of 1 + 2^-10 gave %.9g", Y[0]);
        free(X), free(I), free(Y);
    }
    CHECK(gemm_current_backend() == backend && gemm_current_precision() == precision, "current %s %s",
          gemm_backend_name(gemm_current_backend()), gemm_precision_name(gemm_current_precision()));
}

int main(void) {
    check_backend(GEMM_OPENBLAS, GEMM_FP32);
    CHECK(gemm_select(GEMM_OPENBLAS, GEMM_BF16) == CRATE_EINPUT && strstr(crate_errmsg(), "onednn"),
          "bf16 on openblas: %s", crate_errmsg());
    if (gemm_onednn_built()) {
        check_backend(GEMM_ONEDNN, GEMM_FP32);
        check_backend(GEMM_ONEDNN, GEMM_BF16);
    } else {
        CHECK(gemm_select(GEMM_ONEDNN, GEMM_FP32) == CRATE_EINPUT && strstr(crate_errmsg(), "libdnnl-dev"),
              "onednn without it: %s", crate_errmsg());
        printf("test_gemm: oneDNN not in this build; only openblas checked\n");
    }
    setenv("CRATE_GEMM", "cublas", 1);
    CHECK(gemm_select(GEMM_BACKEND_AUTO, GEMM_FP32) == CRATE_EINPUT && strstr(crate_errmsg(), "CRATE_GEMM=cublas"),
          "bad CRATE_GEMM: %s", crate_errmsg());
    setenv("CRATE_GEMM", "openblas", 1);
    setenv("CRATE_PRECISION", "fp8", 1);
    CHECK(gemm_select(GEMM_BACKEND_AUTO, GEMM_PRECISION_AUTO) == CRATE_EINPUT &&
              strstr(crate_errmsg(), "CRATE_PRECISION=fp8"),
          "bad CRATE_PRECISION: %s", crate_errmsg());
    setenv("CRATE_PRECISION", "fp32", 1);
    CHECK(gemm_select(GEMM_BACKEND_AUTO, GEMM_PRECISION_AUTO) == CRATE_OK && gemm_current_backend() == GEMM_OPENBLAS,
          "CRATE_GEMM=openblas: %s", crate_errmsg());
    return check_finish();
}
