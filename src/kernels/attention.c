/* attention.c — the subspace self-attention core of MSSA (DESIGN §2) with the
 * shared projection Q = K = V = W. For each sample b and head k, W is the
 * (N,p) slice of w (B,N,K·p) at column k·p, row stride K·p:
 *
 *   S = scale · W Wᵀ,   A = softmax_rows(S)  (causal: A_ij = 0 for j > i),   O = A W
 *
 * Backward: W appears three times (value, query, key), so with dA = dO Wᵀ and
 * the softmax backward dS = A ⊙ (dA − rowsum(dA ⊙ A)):
 *
 *   dW += Aᵀ dO                      (value role)
 *   dW += scale · dS W               (query role, from S = scale·W Wᵀ)
 *   dW += scale · dSᵀ W              (key role)
 *
 * Every product is an sgemm that reads the strided head slice in place
 * (lda = K·p) and the transposes through flags, so nothing is copied. The
 * (b,k) pairs are independent and each writes a disjoint slice of out, att and
 * dw, so they run as one OpenMP loop. Causal masking needs no special case in
 * the backward: masked A_ij are exactly 0, so their dS_ij are 0 too.
 *
 * Threads: both GEMM backends (gemm.h) run a product called from inside an
 * OpenMP parallel region on the calling thread alone (crate links the OpenMP
 * build of OpenBLAS; oneDNN uses OpenMP itself), in fp32, so the
 * (b,k) loop owns the cores and the large linear GEMMs elsewhere still use
 * all of them. (With the pthread build, each pair's GEMM — N·N·p ≈ 2.5·10⁶ at
 * N = 197, p = 64, above OpenBLAS's threading threshold — went to OpenBLAS's
 * own pool while the other OpenMP threads did the same: 4–6× slower.)
 */
#include "src/kernels/kernels.h"
#include "src/kernels/dispatch.h"

#include "src/kernels/gemm.h"
#include <math.h>

/* Row softmax of S (N,N) in place; with causal, row i covers j <= i and the
 * rest is set to probability 0. Subtracting the row max keeps expf finite. */
KERNEL_INLINE void attention_softmax(float *S, int N, int causal) {
    for (int i = 0; i < N; i++) {
        float *row = S + (size_t)i * N;
        int len = causal ? i + 1 : N;
        float mx = row[0];
        for (int j = 1; j < len; j++) mx = row[j] > mx ? row[j] : mx;
        float sum = 0.0f;
        for (int j = 0; j < len; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < len; j++) row[j] *= inv;
        for (int j = len; j < N; j++) row[j] = 0.0f;
    }
}

KERNEL_DISPATCH void attention_forward(float *out, float *att, const float *w, int B, int N, int K, int p,
                       float scale, int causal) {
    const int ld = K * p;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < K; k++) {
            size_t slice = (size_t)b * N * ld + (size_t)k * p;
            const float *W = w + slice;
            float *A = att + ((size_t)b * K + k) * N * N;
            gemm(GEMM_N, GEMM_T, N, N, p, scale, W, ld, W, ld, 0.0f, A, N);
            attention_softmax(A, N, causal);
            gemm(GEMM_N, GEMM_N, N, p, N, 1.0f, A, N, W, ld, 0.0f, out + slice, ld);
        }
    }
}

/* dA (N,N) holding dO Wᵀ becomes dS = A ⊙ (dA − rowsum(dA ⊙ A)), in place. */
KERNEL_INLINE void attention_softmax_backward(float *dA, const float *A, int N) {
    for (int i = 0; i < N; i++) {
        float *d = dA + (size_t)i * N;
        const float *a = A + (size_t)i * N;
        float dot = 0.0f;
        for (int j = 0; j < N; j++) dot += d[j] * a[j];
        for (int j = 0; j < N; j++) d[j] = a[j] * (d[j] - dot);
    }
}

KERNEL_DISPATCH void attention_backward(float *dw, float *scratch, const float *dout, const float *w,
                        const float *att, int B, int N, int K, int p, float scale) {
    if (!dw) return;
    const int ld = K * p;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < K; k++) {
            size_t slice = (size_t)b * N * ld + (size_t)k * p;
            const float *W = w + slice, *dO = dout + slice;
            float *dW = dw + slice;
            size_t pair = ((size_t)b * K + k) * N * N;
            const float *A = att + pair;
            float *dS = scratch + pair;
            gemm(GEMM_N, GEMM_T, N, N, p, 1.0f, dO, ld, W, ld, 0.0f, dS, N);
            gemm(GEMM_T, GEMM_N, N, p, N, 1.0f, A, N, dO, ld, 1.0f, dW, ld);
            attention_softmax_backward(dS, A, N);
            gemm(GEMM_N, GEMM_N, N, p, N, scale, dS, N, W, ld, 1.0f, dW, ld);
            gemm(GEMM_T, GEMM_N, N, p, N, scale, dS, N, W, ld, 1.0f, dW, ld);
        }
    }
}
