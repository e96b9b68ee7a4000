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
 *   dW += scale · (dS + dSᵀ) W       (query and key roles, from S = scale·W Wᵀ)
 *
 * Work skipped (every product is still an sgemm on the strided head slice in
 * place, lda = K·p, transposes through flags, nothing copied). The rows are
 * cut into blocks of ATTENTION_BLOCK; block row I = [i0, i1) needs only the
 * columns [0, i1) of S:
 *   - S is symmetric, so only its lower block triangle is multiplied and the
 *     rest mirrored: (n_b + 1)/(2 n_b) of the product for n_b blocks;
 *   - causal: A is lower triangular, so the same cut skips the masked half of
 *     A W and of backward's dO Wᵀ, Aᵀ dO (column blocks [j0, j1) need the rows
 *     [j0, N) only), dS W and dSᵀ W;
 *   - bidirectional: dS + dSᵀ is formed once, so the two roles are one product.
 * attention_flops counts exactly these products.
 *
 * The (b,k) pairs are independent and each writes a disjoint slice of out,
 * att and dw, so they run as one OpenMP loop.
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

/* Rows per block: 64 keeps each block product large enough for the GEMM
 * kernels (64 × i1 × p) while T = 256 already skips 3/8 of S. */
enum { ATTENTION_BLOCK = 64 };

static int block_end(int i0, int N) { return i0 + ATTENTION_BLOCK < N ? i0 + ATTENTION_BLOCK : N; }

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

/* S = scale · W Wᵀ on the lower block triangle; bidirectional rows get their
 * columns past the block end from the transpose. */
KERNEL_INLINE void attention_scores(float *S, const float *W, int N, int p, int ld, float scale, int causal) {
    for (int i0 = 0; i0 < N; i0 += ATTENTION_BLOCK) {
        int i1 = block_end(i0, N);
        gemm(GEMM_N, GEMM_T, i1 - i0, i1, p, scale, W + (size_t)i0 * ld, ld, W, ld, 0.0f, S + (size_t)i0 * N, N);
    }
    if (causal) return;
    for (int i = 0; i < N; i++)
        for (int j = block_end(i - i % ATTENTION_BLOCK, N); j < N; j++) S[(size_t)i * N + j] = S[(size_t)j * N + i];
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
            attention_scores(A, W, N, p, ld, scale, causal);
            attention_softmax(A, N, causal);
            if (!causal) {
                gemm(GEMM_N, GEMM_N, N, p, N, 1.0f, A, N, W, ld, 0.0f, out + slice, ld);
                continue;
            }
            for (int i0 = 0; i0 < N; i0 += ATTENTION_BLOCK) {
                int i1 = block_end(i0, N);
                gemm(GEMM_N, GEMM_N, i1 - i0, p, i1, 1.0f, A + (size_t)i0 * N, N, W, ld, 0.0f,
                     out + slice + (size_t)i0 * ld, ld);
            }
        }
    }
}

/* dA (N,N) holding dO Wᵀ becomes dS = A ⊙ (dA − rowsum(dA ⊙ A)), in place;
 * causal rows stop at the diagonal (A is 0 beyond it, where dA was never
 * formed) and their dS beyond it is 0. */
KERNEL_INLINE void attention_softmax_backward(float *dA, const float *A, int N, int causal) {
    for (int i = 0; i < N; i++) {
        float *d = dA + (size_t)i * N;
        const float *a = A + (size_t)i * N;
        int len = causal ? i + 1 : N;
        float dot = 0.0f;
        for (int j = 0; j < len; j++) dot += d[j] * a[j];
        for (int j = 0; j < len; j++) d[j] = a[j] * (d[j] - dot);
        for (int j = len; j < N; j++) d[j] = 0.0f;
    }
}

/* dS ← dS + dSᵀ in place. */
KERNEL_INLINE void attention_symmetrize(float *dS, int N) {
    for (int i = 0; i < N; i++) {
        dS[(size_t)i * N + i] *= 2.0f;
        for (int j = i + 1; j < N; j++) {
            float s = dS[(size_t)i * N + j] + dS[(size_t)j * N + i];
            dS[(size_t)i * N + j] = dS[(size_t)j * N + i] = s;
        }
    }
}

/* The causal backward of one (b,k) pair, block by block: row blocks for the
 * products whose left operand is A or dS itself, column blocks for those
 * reading it transposed. */
KERNEL_INLINE void attention_backward_causal(float *dW, float *dS, const float *dO, const float *W,
                                             const float *A, int N, int p, int ld, float scale) {
    for (int i0 = 0; i0 < N; i0 += ATTENTION_BLOCK) {
        int i1 = block_end(i0, N);
        gemm(GEMM_N, GEMM_T, i1 - i0, i1, p, 1.0f, dO + (size_t)i0 * ld, ld, W, ld, 0.0f, dS + (size_t)i0 * N, N);
    }
    for (int j0 = 0; j0 < N; j0 += ATTENTION_BLOCK) {
        int j1 = block_end(j0, N);
        gemm(GEMM_T, GEMM_N, j1 - j0, p, N - j0, 1.0f, A + (size_t)j0 * N + j0, N, dO + (size_t)j0 * ld, ld, 1.0f,
             dW + (size_t)j0 * ld, ld);
    }
    attention_softmax_backward(dS, A, N, 1);
    for (int i0 = 0; i0 < N; i0 += ATTENTION_BLOCK) {
        int i1 = block_end(i0, N);
        gemm(GEMM_N, GEMM_N, i1 - i0, p, i1, scale, dS + (size_t)i0 * N, N, W, ld, 1.0f, dW + (size_t)i0 * ld, ld);
    }
    for (int j0 = 0; j0 < N; j0 += ATTENTION_BLOCK) {
        int j1 = block_end(j0, N);
        gemm(GEMM_T, GEMM_N, j1 - j0, p, N - j0, scale, dS + (size_t)j0 * N + j0, N, W + (size_t)j0 * ld, ld, 1.0f,
             dW + (size_t)j0 * ld, ld);
    }
}

KERNEL_DISPATCH void attention_backward(float *dw, float *scratch, const float *dout, const float *w,
                        const float *att, int B, int N, int K, int p, float scale, int causal) {
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
            if (causal) {
                attention_backward_causal(dW, dS, dO, W, A, N, p, ld, scale);
                continue;
            }
            gemm(GEMM_N, GEMM_T, N, N, p, 1.0f, dO, ld, W, ld, 0.0f, dS, N);
            gemm(GEMM_T, GEMM_N, N, p, N, 1.0f, A, N, dO, ld, 1.0f, dW, ld);
            attention_softmax_backward(dS, A, N, 0);
            attention_symmetrize(dS, N);
            gemm(GEMM_N, GEMM_N, N, p, N, scale, dS, N, W, ld, 1.0f, dW, ld);
        }
    }
}

double attention_flops(int B, int N, int K, int p, int causal) {
    /* Σ over row blocks of rows·i1: the lower block triangle of an N×N matrix */
    double tri = 0;
    for (int i0 = 0; i0 < N; i0 += ATTENTION_BLOCK) tri += (double)(block_end(i0, N) - i0) * block_end(i0, N);
    double full = (double)N * N;
    /* forward S, A W; backward dO Wᵀ, Aᵀ dO, then dS W and dSᵀ W (causal) or (dS + dSᵀ) W */
    double products = causal ? 6 * tri : tri + 4 * full;
    return 2.0 * B * K * p * products;
}
