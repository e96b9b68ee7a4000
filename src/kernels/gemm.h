/* gemm.h — the one entry point of every matrix product in crate's models.
 *
 * Implements: gemm, gemm_fp32 (C = α·op(A)·op(B) + β·C, row-major, BLAS
 * argument order), gemm_select (the process's backend and precision), the
 * names of both for logs and benchmarks, and a progress hook run between
 * products (gemm_set_progress).
 *
 * Backends (chosen once per process, before the first product):
 *   openblas  cblas_sgemm, always built: the reference.
 *   onednn    oneDNN (Debian's libdnnl-dev; built when CMake finds it):
 *             fp32 through dnnl_sgemm, bf16 through matmul primitives cached
 *             per shape. Measured here it runs the models' shapes (384-wide
 *             linears, 65×65×64 attention products) 1.4–2.7× faster than
 *             OpenBLAS at fp32 (README, Speed).
 * Precisions:
 *   fp32      fp32 operands and accumulation everywhere.
 *   bf16      (onednn only) A and B rounded to bfloat16 (round to nearest
 *             even), products accumulated and written in fp32, so C, β·C and
 *             everything outside the GEMMs (master weights, AdamW, LayerNorm
 *             statistics, softmax, losses, reductions) stay fp32. gemm_fp32
 *             keeps a product in fp32 where bf16 operands would lose it: ISTA's
 *             gain η(D − DᵀD) nearly cancels (D ≈ I), so bf16 rounding of D
 *             (2⁻⁹ relative) would be the whole result.
 *             GEMMs called inside an OpenMP parallel region (attention's
 *             per-head loop, the probes' per-thread rows) stay fp32 too: they
 *             run on the calling thread alone, where converting the operands
 *             costs as much as the bf16 kernel saves, and oneDNN primitives
 *             share one scratchpad that concurrent callers would race on.
 *
 * Selection: gemm_select(GEMM_BACKEND_AUTO, GEMM_PRECISION_AUTO) takes the
 * environment's CRATE_GEMM (openblas|onednn) and CRATE_PRECISION (fp32|bf16)
 * when set (launch/test.sh reruns the unit tests under CRATE_GEMM=openblas),
 * else onednn when built and fp32. The training config's compute.gemm and compute.precision name them
 * explicitly. Never calling gemm_select is the same as selecting auto.
 *
 * Determinism: each backend gives the same bits for the same shapes, threads
 * and CPU on every run; the two backends, and bf16 against fp32, agree to
 * their rounding (the tests' tolerances). As with OpenBLAS, a product's
 * rounding can change with the thread count, so 1 and 2 threads agree to
 * float rounding, not bitwise.
 */
#ifndef CRATE_KERNELS_GEMM_H
#define CRATE_KERNELS_GEMM_H

typedef enum { GEMM_N = 0, GEMM_T = 1 } gemm_trans;

typedef enum { GEMM_BACKEND_AUTO = 0, GEMM_OPENBLAS, GEMM_ONEDNN } gemm_backend;
typedef enum { GEMM_PRECISION_AUTO = 0, GEMM_FP32, GEMM_BF16 } gemm_precision;

/* C (M,N) = alpha · op(A) · op(B) + beta · C, op(X) = X or Xᵀ by ta/tb:
 * op(A) is (M,K), op(B) is (K,N); lda, ldb, ldc are row strides of the stored
 * matrices (A stored (M,K) or, transposed, (K,M)). beta = 0 overwrites C
 * (whatever it held, NaN included). Runs at the selected precision. */
void gemm(gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc);
/* The same product with fp32 operands whatever the precision. */
void gemm_fp32(gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);

/* A function run after every product made outside OpenMP parallel regions
 * until it is replaced or cleared (fn = NULL): the gradient sync tests its
 * collectives there, because Open MPI moves a non-blocking allreduce's data
 * only inside MPI calls, and backward's long layers would otherwise leave it
 * idle for tens of milliseconds (dist/grad_sync.h). Set it outside parallel
 * regions. */
typedef void (*gemm_progress_fn)(void *ctx);
void gemm_set_progress(gemm_progress_fn fn, void *ctx);

/* Choose the backend and precision for the rest of the process (AUTO: see
 * above). Fails (CRATE_EINPUT, message set) for onednn in a build without it,
 * bf16 on openblas, a bad CRATE_GEMM / CRATE_PRECISION value, or a CPU on
 * which oneDNN has no bf16 matmul. Call it before any gemm, outside parallel
 * regions; calling it again replaces the choice. */
int gemm_select(gemm_backend backend, gemm_precision precision);
gemm_backend gemm_current_backend(void);
gemm_precision gemm_current_precision(void);
const char *gemm_backend_name(gemm_backend backend);     /* "openblas", "onednn" */
const char *gemm_precision_name(gemm_precision precision); /* "fp32", "bf16" */
/* The selected backend's best rate, in GFLOP/s, over reps products
 * (n,n)·(n,n) after one warm-up: the "machine's limit" crate-bench divides
 * by. bf16 times the matmul alone, its operands rounded once beforehand, so
 * the limit is the kernel's, not the kernel's plus crate's conversion. 0 when
 * the matrices cannot be allocated. */
double gemm_peak_gflops(int n, int reps);
/* 1 when this build has the oneDNN backend. */
int gemm_onednn_built(void);

#endif
