/* gemm.c — the backend and precision choice of gemm.h, and the OpenBLAS
 * backend. The oneDNN backend lives in gemm_onednn.c (built when CMake finds
 * oneDNN, CRATE_HAVE_ONEDNN).
 */
#include "src/kernels/gemm.h"
#include "src/kernels/gemm_onednn.h"

#include "src/error.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* The process's choice; 0 (AUTO) until gemm_select runs or the first product
 * resolves it. Written only outside parallel regions (gemm.h). */
static gemm_backend g_backend;
static gemm_precision g_precision;

int gemm_onednn_built(void) {
#ifdef CRATE_HAVE_ONEDNN
    return 1;
#else
    return 0;
#endif
}

const char *gemm_backend_name(gemm_backend backend) {
    return backend == GEMM_ONEDNN ? "onednn" : backend == GEMM_OPENBLAS ? "openblas" : "auto";
}

const char *gemm_precision_name(gemm_precision precision) {
    return precision == GEMM_BF16 ? "bf16" : precision == GEMM_FP32 ? "fp32" : "auto";
}

/* AUTO from the environment: an unset or empty variable means the default. */
static int gemm_from_env(gemm_backend *backend, gemm_precision *precision) {
    if (*backend == GEMM_BACKEND_AUTO) {
        const char *v = getenv("CRATE_GEMM");
        if (!v || !*v) *backend = gemm_onednn_built() ? GEMM_ONEDNN : GEMM_OPENBLAS;
        else if (!strcmp(v, "openblas")) *backend = GEMM_OPENBLAS;
        else if (!strcmp(v, "onednn")) *backend = GEMM_ONEDNN;
        else return crate_fail(CRATE_EINPUT, "CRATE_GEMM=%s: use openblas or onednn, or unset it", v);
    }
    if (*precision == GEMM_PRECISION_AUTO) {
        const char *v = getenv("CRATE_PRECISION");
        if (!v || !*v || !strcmp(v, "fp32")) *precision = GEMM_FP32;
        else if (!strcmp(v, "bf16")) *precision = GEMM_BF16;
        else return crate_fail(CRATE_EINPUT, "CRATE_PRECISION=%s: use fp32 or bf16, or unset it", v);
    }
    return CRATE_OK;
}

int gemm_select(gemm_backend backend, gemm_precision precision) {
    int rc = gemm_from_env(&backend, &precision);
    if (rc != CRATE_OK) return rc;
    if (backend == GEMM_ONEDNN && !gemm_onednn_built())
        return crate_fail(CRATE_EINPUT,
                          "the onednn GEMM backend is not in this build: install libdnnl-dev "
                          "(launch/install-deps.sh) and rebuild, or use compute.gemm: openblas");
    if (precision == GEMM_BF16 && backend != GEMM_ONEDNN)
        return crate_fail(CRATE_EINPUT,
                          "bf16 needs the onednn GEMM backend (Debian's OpenBLAS has no bf16 GEMM): "
                          "set compute.gemm: onednn or compute.precision: fp32");
#ifdef CRATE_HAVE_ONEDNN
    if (backend == GEMM_ONEDNN && (rc = gemm_onednn_init(precision == GEMM_BF16)) != CRATE_OK) return rc;
#endif
    g_precision = precision;
    __atomic_store_n(&g_backend, backend, __ATOMIC_RELEASE);
    return CRATE_OK;
}

static void gemm_openblas(gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha, const float *A,
                          int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                A, lda, B, ldb, beta, C, ldc);
}

/* The choice, made here on first use when no tool called gemm_select (the
 * tools do, at start; a library caller may not). The first product may come
 * from inside a parallel region, hence the critical section. A failed
 * selection (a bad CRATE_GEMM) falls back to the reference backend: the
 * product must happen, and the tools report the error at their own start. */
static gemm_backend gemm_resolved_backend(void) {
    if (__atomic_load_n(&g_backend, __ATOMIC_ACQUIRE) != GEMM_BACKEND_AUTO) return g_backend;
#pragma omp critical(crate_gemm_select)
    if (g_backend == GEMM_BACKEND_AUTO && gemm_select(GEMM_BACKEND_AUTO, GEMM_PRECISION_AUTO) != CRATE_OK) {
        g_precision = GEMM_FP32;
        __atomic_store_n(&g_backend, GEMM_OPENBLAS, __ATOMIC_RELEASE);
    }
    return g_backend;
}

gemm_backend gemm_current_backend(void) { return gemm_resolved_backend(); }

gemm_precision gemm_current_precision(void) {
    gemm_resolved_backend();
    return g_precision;
}

/* The progress hook (gemm.h): set and cleared outside parallel regions, run
 * after a product only by a thread outside them, the one that set it. */
static gemm_progress_fn g_progress;
static void *g_progress_ctx;

void gemm_set_progress(gemm_progress_fn fn, void *ctx) {
    g_progress = fn;
    g_progress_ctx = ctx;
}

static void gemm_run(int allow_bf16, gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* C = β·C; dnnl_sgemm leaves C alone then, so every backend does it here */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
#ifdef CRATE_HAVE_ONEDNN
    if (gemm_resolved_backend() == GEMM_ONEDNN) {
        gemm_onednn(allow_bf16 && g_precision == GEMM_BF16, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#else
    (void)allow_bf16;
#endif
    gemm_openblas(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void after_product(void) {
    if (g_progress && !omp_in_parallel()) g_progress(g_progress_ctx);
}

void gemm(gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc) {
    gemm_run(1, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    after_product();
}

void gemm_fp32(gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc) {
    gemm_run(0, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    after_product();
}

double gemm_peak_gflops(int n, int reps) {
    size_t nn = (size_t)n * n;
    float *A = malloc(nn * sizeof *A), *B = malloc(nn * sizeof *B), *C = malloc(nn * sizeof *C);
    double best = 0.0;
    if (A && B && C) {
        for (size_t i = 0; i < nn; i++) {
            A[i] = (float)(i % 7) * 0.1f;
            B[i] = (float)(i % 5) * 0.1f;
        }
#ifdef CRATE_HAVE_ONEDNN
        if (gemm_current_backend() == GEMM_ONEDNN && g_precision == GEMM_BF16)
            best = gemm_onednn_bf16_seconds(A, B, C, n, reps);
        else
#endif
            for (int r = 0; r <= reps; r++) { /* r = 0 warms up */
                double t0 = omp_get_wtime();
                gemm(GEMM_N, GEMM_N, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
                double t = omp_get_wtime() - t0;
                if (r > 0 && (best == 0.0 || t < best)) best = t;
            }
    }
    free(A);
    free(B);
    free(C);
    return best > 0.0 ? 2.0 * (double)nn * n / best / 1e9 : 0.0;
}
