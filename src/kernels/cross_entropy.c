/* cross_entropy.c — the fused, chunked softmax cross-entropy of kernels.h
 * over a (tied) output matrix: the LM heads of CRATE-GPT and CRATE-BERT
 * (DESIGN §2, logits = H wteᵀ (+ b)), and the linear probe's objective
 * (src/eval/linear_probe.c, where E is the probe's W and V its classes).
 * For rows h_i (C), E (V,C), b (V) and targets y_i:
 *
 *   z_i = h_i Eᵀ + b,   m_i = max_v z_iv,   s_i = Σ_v exp(z_iv − m_i)
 *   ℓ_i = −log softmax(z_i)[y_i] = log s_i − (z_{i,y_i} − m_i)
 *   g_i = dloss · (softmax(z_i) − onehot(y_i))
 *   dh += g E        dE += gᵀ h        db += Σ_i g_i
 *
 * lm_argmax runs the same blocked logits for the predictions of masked-token
 * accuracy: pred_i = argmax_v z_iv, ties to the lowest id.
 *
 * The M×V logits of a batch (B·T = 32k rows × V = 50k is 6.6 GB) never
 * exist: rows go in blocks of at most chunk_rows, and a block is one sgemm
 * into the scratch, the row softmax turning it into g in place, then the two
 * backward sgemms reading g while it is in memory. The block's logits are
 * never needed again, so nothing is kept for a separate backward: loss and
 * gradients come from the same pass.
 *
 * Precision: the max shift keeps every exp finite; s_i and ℓ_i are summed in
 * double (a 50k-term float sum would lose the low digits of the loss), and so
 * are db's column sums within a block. The exps themselves are float: they
 * feed float GEMMs anyway.
 *
 * Threads and determinism: the GEMMs are threaded by OpenBLAS. The row
 * softmax is split into CE_GROUPS fixed row ranges of the block (not one per
 * thread); each range sums its rows' ℓ_i alone, and the ranges are added in
 * order, so the loss has the same bits on any thread count. db is split by
 * column tiles, each summed in row order. What remains thread-dependent is
 * OpenBLAS's: with 1 and 2 threads its sgemm rounds a share of the outputs
 * differently (measured: ~20% of a 64×700×48 product), though never from
 * one run to the next with the same threads. Called from inside a parallel
 * region (the probe runs one call per thread), the loops and the sgemms run
 * on the calling thread alone (nested regions are inactive; OpenBLAS's OpenMP
 * build checks omp_in_parallel).
 */
#include "src/kernels/kernels.h"
#include "src/kernels/dispatch.h"

#include "src/kernels/gemm.h"
#include <math.h>

/* Fixed row ranges of a block for the softmax (see the top). */
#define CE_GROUPS 32
/* Columns of db per thread task; the partial sums live on the stack. */
#define CE_DB_TILE 256
/* Below this many logits in a block the fork/join costs more than the loop. */
#define CE_PAR_MIN ((size_t)1 << 15)

size_t lm_cross_entropy_scratch_floats(int chunk_rows, int V) { return (size_t)chunk_rows * (size_t)V; }

/* Z (n,V) = h_blk Eᵀ for the n rows h_blk (n,C) of a block: the one GEMM
 * of a block's forward (the bias is added by the row pass that reads Z). */
static void ce_block_logits(float *Z, const float *hb, const float *E, int n, int C, int V) {
    gemm(GEMM_N, GEMM_T, n, V, C, 1.0f, hb, C, E, C, 0.0f, Z, V);
}

/* One row: z (V) holds h_i Eᵀ; adds b, returns ℓ_i for target t ≥ 0 and, if
 * grads, replaces z by g_i. The scale 1/s_i · dloss is formed once, so
 * g_iv = exp(z_iv − m_i) · scale − dloss·[v = t]. */
KERNEL_INLINE double ce_row(float *z, const float *bias, int t, int V, float dloss, int grads) {
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) {
        if (bias) z[v] += bias[v];
        mx = z[v] > mx ? z[v] : mx;
    }
    double zt = (double)z[t] - mx; /* before the exps: exp(zt) may underflow to 0 */
    double sum = 0.0;
    if (grads) {
        for (int v = 0; v < V; v++) {
            z[v] = expf(z[v] - mx);
            sum += z[v];
        }
        float scale = (float)(1.0 / sum) * dloss;
        for (int v = 0; v < V; v++) z[v] *= scale;
        z[t] -= dloss;
    } else {
        for (int v = 0; v < V; v++) sum += expf(z[v] - mx);
    }
    return log(sum) - zt;
}

/* The n rows of logits Z (n,V) of one block with targets y (n) → Σ ℓ_i over
 * its scored rows; with grads, Z becomes g (ignored rows all 0). */
static double ce_block_softmax(float *Z, const float *bias, const int32_t *y, int n, int V,
                               float dloss, int grads) {
    double part[CE_GROUPS];
#pragma omp parallel for schedule(static) if ((size_t)n * V >= CE_PAR_MIN)
    for (int g = 0; g < CE_GROUPS; g++) {
        int k0 = (int)((long)n * g / CE_GROUPS), k1 = (int)((long)n * (g + 1) / CE_GROUPS);
        double sum = 0.0;
        for (int k = k0; k < k1; k++) {
            float *z = Z + (size_t)k * V;
            if (y[k] >= 0) {
                sum += ce_row(z, bias, y[k], V, dloss, grads);
            } else if (grads) {
                for (int v = 0; v < V; v++) z[v] = 0.0f;
            }
        }
        part[g] = sum;
    }
    double total = 0.0;
    for (int g = 0; g < CE_GROUPS; g++) total += part[g];
    return total;
}

/* db (V) += column sums of G (n,V), each summed in double in row order. */
static void ce_bias_backward(float *db, const float *G, int n, int V) {
    const int tiles = (V + CE_DB_TILE - 1) / CE_DB_TILE;
#pragma omp parallel for schedule(static) if ((size_t)n * V >= CE_PAR_MIN)
    for (int tile = 0; tile < tiles; tile++) {
        const int v0 = tile * CE_DB_TILE, w = V - v0 < CE_DB_TILE ? V - v0 : CE_DB_TILE;
        double acc[CE_DB_TILE];
        for (int j = 0; j < w; j++) acc[j] = 0.0;
        for (int k = 0; k < n; k++) {
            const float *row = G + (size_t)k * V + v0;
            for (int j = 0; j < w; j++) acc[j] += row[j];
        }
        for (int j = 0; j < w; j++) db[v0 + j] += (float)acc[j];
    }
}

KERNEL_DISPATCH double lm_cross_entropy(float *dh, float *dE, float *db, const float *h, const float *E,
                        const float *bias, const int32_t *y, int M, int C, int V, float dloss,
                        float *scratch, int chunk_rows, double *count) {
    const int grads = dh || dE || db;
    long scored = 0;
    for (int i = 0; i < M; i++) scored += y[i] >= 0;
    if (count) *count = (double)scored;

    double loss = 0.0;
    for (int i = 0; i < M;) {
        if (y[i] < 0) { /* a block starts at a scored row */
            i++;
            continue;
        }
        int n = M - i < chunk_rows ? M - i : chunk_rows;
        while (y[i + n - 1] < 0) n--; /* ... and ends at one (y[i] ≥ 0 stops this) */
        const float *hb = h + (size_t)i * C;
        ce_block_logits(scratch, hb, E, n, C, V);
        loss += ce_block_softmax(scratch, bias, y + i, n, V, dloss, grads);
        /* dh_blk (n,C) += g E */
        if (dh)
            gemm(GEMM_N, GEMM_N, n, C, V,
                        1.0f, scratch, V, E, C, 1.0f, dh + (size_t)i * C, C);
        /* dE (V,C) += gᵀ h_blk */
        if (dE)
            gemm(GEMM_T, GEMM_N, V, C, n,
                        1.0f, scratch, V, hb, C, 1.0f, dE, C);
        if (db) ce_bias_backward(db, scratch, n, V);
        i += n;
    }
    return loss;
}

/* pred_i = the first v with the largest z_iv + b_v (strict >, so ties keep
 * the lowest id). Every row is predicted, so blocks are plain ranges. */
void lm_argmax(int32_t *pred, const float *h, const float *E, const float *bias, int M, int C, int V,
               float *scratch, int chunk_rows) {
    for (int i = 0; i < M; i += chunk_rows) {
        int n = M - i < chunk_rows ? M - i : chunk_rows;
        ce_block_logits(scratch, h + (size_t)i * C, E, n, C, V);
#pragma omp parallel for schedule(static) if ((size_t)n * V >= CE_PAR_MIN)
        for (int k = 0; k < n; k++) {
            const float *z = scratch + (size_t)k * V;
            int best = 0;
            float top = z[0] + (bias ? bias[0] : 0.0f);
            for (int v = 1; v < V; v++) {
                float zv = z[v] + (bias ? bias[v] : 0.0f);
                if (zv > top) {
                    top = zv;
                    best = v;
                }
            }
            pred[i + k] = best;
        }
    }
}
