/* gemm_onednn.h — the oneDNN backend of gemm.h (built with CRATE_HAVE_ONEDNN).
 * Only gemm.c calls it. */
#ifndef CRATE_KERNELS_GEMM_ONEDNN_H
#define CRATE_KERNELS_GEMM_ONEDNN_H

#include "src/kernels/gemm.h"

#ifdef CRATE_HAVE_ONEDNN
/* Create the engine and stream once; with bf16, also check that oneDNN has a
 * bf16 matmul for this CPU (fails CRATE_EINPUT naming the fix otherwise). */
int gemm_onednn_init(int bf16);
/* gemm.h's product; bf16 = 1 rounds A and B to bfloat16 (outside parallel
 * regions only: inside one it runs fp32, see gemm.h). */
void gemm_onednn(int bf16, gemm_trans ta, gemm_trans tb, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Seconds of the fastest of reps bf16 products C = A·B of n×n matrices, the
 * operands rounded to bf16 once before timing (gemm_peak_gflops). */
double gemm_onednn_bf16_seconds(const float *A, const float *B, float *C, int n, int reps);
#endif

#endif
