/* gemm_onednn.c — oneDNN behind gemm.h.
 *
 * fp32 goes to dnnl_sgemm, oneDNN's row-major BLAS-style call (its JIT
 * kernels pick AVX-512 from the CPU flags, whatever OPENBLAS_CORETYPE says).
 * bf16 has no such call in oneDNN 2.6's C API, so it goes through the matmul
 * primitive: A and B are rounded into compact bf16 copies (one pass over
 * M·K + K·N floats against the product's M·N·K), the primitive reads them
 * with strides that express the transposes and writes C in fp32 with
 * C = α·AB (output scale) + β·C (a sum post-op). Creating a primitive costs
 * milliseconds (JIT), so primitives are kept per shape: a training step
 * repeats the same few dozen shapes, and the cache holds them all.
 *
 * Not thread-safe: the bf16 path runs outside OpenMP parallel regions only
 * (gemm.h), so one thread at a time uses the cache and the bf16 buffers; a
 * call from inside a parallel region takes dnnl_sgemm, which then runs on the
 * calling thread alone.
 */
#ifdef CRATE_HAVE_ONEDNN

#include "src/kernels/gemm_onednn.h"
#include "src/kernels/dispatch.h"

#include "src/error.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;

/* One cached bf16 product: everything that fixes the primitive. */
typedef struct {
    int ta, tb, M, N, K, ldc;
    float alpha, beta;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c; /* descriptors of the shape; data handles set per call */
} bf16_entry;

#define BF16_CACHE_MAX 512
static bf16_entry g_cache[BF16_CACHE_MAX];
static int g_cached;

/* Compact bf16 copies of the operands, grown as needed. */
static uint16_t *g_a16, *g_b16;
static size_t g_a16_cap, g_b16_cap;

/* A product oneDNN refused (it should not: the shapes are valid) still has to
 * happen: report it once and let OpenBLAS compute it. */
static void onednn_fallback(const char *what, dnnl_status_t st, gemm_trans ta, gemm_trans tb, int M, int N,
                            int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                            float *C, int ldc) {
    static int warned;
    if (!warned) {
        fprintf(stderr, "crate: warning: oneDNN %s failed (status %d) for %dx%dx%d; OpenBLAS computes it\n", what,
                (int)st, M, N, K);
        warned = 1;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                A, lda, B, ldb, beta, C, ldc);
}

/* Round to nearest even (NaN stays a quiet NaN): bits + 0x7fff + lsb, top half. */
KERNEL_INLINE uint16_t bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* dst (rows, cols) compact = bf16(src (rows, cols), row stride ld). */
KERNEL_DISPATCH static void bf16_pack(uint16_t *dst, const float *src, int rows, int cols, int ld) {
    size_t n = (size_t)rows * cols;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (int i = 0; i < rows; i++) {
        const float *s = src + (size_t)i * ld;
        uint16_t *d = dst + (size_t)i * cols;
        for (int j = 0; j < cols; j++) d[j] = bf16_round(s[j]);
    }
}

static int bf16_reserve(uint16_t **buf, size_t *cap, size_t n) {
    if (n <= *cap) return CRATE_OK;
    uint16_t *p = realloc(*buf, n * sizeof *p);
    if (!p) return crate_fail(CRATE_EINTERNAL, "out of memory for a %zu-element bf16 operand", n);
    *buf = p;
    *cap = n;
    return CRATE_OK;
}

static dnnl_status_t md_2d(dnnl_memory_desc_t *md, int rows, int cols, dnnl_dim_t row_stride,
                           dnnl_dim_t col_stride, dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols}, strides = {row_stride, col_stride};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* The primitive for one shape: op(A) (M,K) and op(B) (K,N) compact bf16 (a
 * transposed operand is its stored matrix read with swapped strides), C fp32
 * with row stride ldc. */
static dnnl_status_t bf16_entry_create(bf16_entry *e) {
    dnnl_memory_desc_t ad, bd, cd;
    dnnl_status_t st;
    if ((st = md_2d(&ad, e->M, e->K, e->ta ? 1 : e->K, e->ta ? e->M : 1, dnnl_bf16)) != dnnl_success ||
        (st = md_2d(&bd, e->K, e->N, e->tb ? 1 : e->N, e->tb ? e->K : 1, dnnl_bf16)) != dnnl_success ||
        (st = md_2d(&cd, e->M, e->N, e->ldc, 1, dnnl_f32)) != dnnl_success)
        return st;
    dnnl_matmul_desc_t desc;
    if ((st = dnnl_matmul_desc_init(&desc, &ad, &bd, NULL, &cd)) != dnnl_success) return st;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if ((st = dnnl_primitive_attr_create(&attr)) != dnnl_success) return st;
    if (e->alpha != 1.0f) st = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &e->alpha);
    if (st == dnnl_success && e->beta != 0.0f) {
        st = dnnl_post_ops_create(&ops);
        if (st == dnnl_success) st = dnnl_post_ops_append_sum(ops, e->beta);
        if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL);
    if (st == dnnl_success) st = dnnl_primitive_create(&e->prim, pd);
    if (st == dnnl_success) st = dnnl_memory_create(&e->a, &ad, g_engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success) st = dnnl_memory_create(&e->b, &bd, g_engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success) st = dnnl_memory_create(&e->c, &cd, g_engine, DNNL_MEMORY_NONE);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ops) dnnl_post_ops_destroy(ops);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

static void bf16_entry_destroy(bf16_entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->a) dnnl_memory_destroy(e->a);
    if (e->b) dnnl_memory_destroy(e->b);
    if (e->c) dnnl_memory_destroy(e->c);
    memset(e, 0, sizeof *e);
}

/* The cached entry of a shape, created on first use; a full cache (a program
 * cycling through more shapes than a training step has) starts over. */
static bf16_entry *bf16_lookup(int ta, int tb, int M, int N, int K, int ldc, float alpha, float beta,
                               dnnl_status_t *st) {
    for (int i = 0; i < g_cached; i++) {
        bf16_entry *e = &g_cache[i];
        if (e->ta == ta && e->tb == tb && e->M == M && e->N == N && e->K == K && e->ldc == ldc &&
            e->alpha == alpha && e->beta == beta)
            return e;
    }
    if (g_cached == BF16_CACHE_MAX) {
        for (int i = 0; i < g_cached; i++) bf16_entry_destroy(&g_cache[i]);
        g_cached = 0;
    }
    bf16_entry *e = &g_cache[g_cached];
    *e = (bf16_entry){.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .ldc = ldc, .alpha = alpha, .beta = beta};
    if ((*st = bf16_entry_create(e)) != dnnl_success) {
        bf16_entry_destroy(e);
        return NULL;
    }
    g_cached++;
    return e;
}

static dnnl_status_t gemm_bf16(gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha, const float *A,
                               int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    dnnl_status_t st = dnnl_success;
    bf16_entry *e = bf16_lookup(ta, tb, M, N, K, ldc, alpha, beta, &st);
    if (!e) return st;
    if (bf16_reserve(&g_a16, &g_a16_cap, (size_t)M * K) != CRATE_OK ||
        bf16_reserve(&g_b16, &g_b16_cap, (size_t)K * N) != CRATE_OK)
        return dnnl_out_of_memory;
    bf16_pack(g_a16, A, ta ? K : M, ta ? M : K, lda);
    bf16_pack(g_b16, B, tb ? N : K, tb ? K : N, ldb);
    if ((st = dnnl_memory_set_data_handle(e->a, g_a16)) != dnnl_success ||
        (st = dnnl_memory_set_data_handle(e->b, g_b16)) != dnnl_success ||
        (st = dnnl_memory_set_data_handle(e->c, C)) != dnnl_success)
        return st;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    if ((st = dnnl_primitive_execute(e->prim, g_stream, 3, args)) != dnnl_success) return st;
    return dnnl_stream_wait(g_stream);
}

double gemm_onednn_bf16_seconds(const float *A, const float *B, float *C, int n, int reps) {
    dnnl_status_t st = dnnl_success;
    bf16_entry *e = bf16_lookup(0, 0, n, n, n, n, 1.0f, 0.0f, &st);
    size_t nn = (size_t)n * n;
    if (!e || bf16_reserve(&g_a16, &g_a16_cap, nn) != CRATE_OK || bf16_reserve(&g_b16, &g_b16_cap, nn) != CRATE_OK)
        return 0.0;
    bf16_pack(g_a16, A, n, n, n);
    bf16_pack(g_b16, B, n, n, n);
    dnnl_memory_set_data_handle(e->a, g_a16);
    dnnl_memory_set_data_handle(e->b, g_b16);
    dnnl_memory_set_data_handle(e->c, C);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    double best = 0.0;
    for (int r = 0; r <= reps; r++) { /* r = 0 warms up */
        double t0 = omp_get_wtime();
        if (dnnl_primitive_execute(e->prim, g_stream, 3, args) != dnnl_success ||
            dnnl_stream_wait(g_stream) != dnnl_success)
            return 0.0;
        double t = omp_get_wtime() - t0;
        if (r > 0 && (best == 0.0 || t < best)) best = t;
    }
    return best;
}

int gemm_onednn_init(int bf16) {
    if (!g_engine) {
        if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success ||
            dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags) != dnnl_success)
            return crate_fail(CRATE_EINTERNAL, "oneDNN could not create its CPU engine");
    }
    if (!bf16) return CRATE_OK;
    dnnl_status_t st = dnnl_success;
    if (!bf16_lookup(0, 0, 16, 16, 16, 16, 1.0f, 0.0f, &st))
        return crate_fail(CRATE_EINPUT,
                          "oneDNN has no bf16 matmul for this CPU (status %d; it needs AVX-512): "
                          "use compute.precision: fp32",
                          (int)st);
    return CRATE_OK;
}

void gemm_onednn(int bf16, gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    dnnl_status_t st;
    if (bf16 && !omp_in_parallel()) {
        if ((st = gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) != dnnl_success)
            onednn_fallback("bf16 matmul", st, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (st != dnnl_success) onednn_fallback("sgemm", st, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#endif
