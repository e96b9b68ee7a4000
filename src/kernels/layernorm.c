/* layernorm.c — LayerNorm over the last dimension (kernels.h). Per row x of
 * width C:
 *
 *   μ = mean(x),  rstd = 1/√(var(x) + eps),  x̂ = (x − μ)·rstd,  y = x̂ ⊙ γ + β
 *
 * Backward, with g = dy ⊙ γ:
 *
 *   dx += rstd · ( g − mean(g) − x̂ · mean(g ⊙ x̂) )
 *   dγ += Σ_rows dy ⊙ x̂        dβ += Σ_rows dy
 *
 * Rows are independent, so the forward and dx split rows across threads. The
 * parameter gradients sum over rows; they split columns instead (each thread
 * owns a block of dγ, dβ), which needs no reduction buffer and stays
 * deterministic for any thread count.
 */
#include "src/kernels/kernels.h"
#include "src/kernels/dispatch.h"

#include <math.h>

/* Columns per thread task in the parameter gradients: a 256-byte block keeps
 * the per-row inner loop contiguous and vectorised. */
#define LN_COL_BLOCK 64

/* Two passes (mean, then the centred variance) avoid the cancellation of
 * E[x²] − μ² when |μ| ≫ σ. Both sums run in double: a float sum of a
 * constant row c rounds, so μ ≠ c and the row normalises to ~4e-5 instead of
 * 0, which 1/√eps and the next projection amplify to ~5e-3 (a flat patch of a
 * Fashion-MNIST image). In double, Σ c = C·c exactly, μ = c and x̂ = 0. */
static void layernorm_row_stats(const float *x, int C, float *mean, float *rstd) {
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum += x[c];
    double mu = sum / C;
    double var = 0.0;
    for (int c = 0; c < C; c++) {
        double d = x[c] - mu;
        var += d * d;
    }
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(var / C + LAYERNORM_EPS));
}

KERNEL_DISPATCH void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *gamma, const float *beta, int M, int C) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < M; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        layernorm_row_stats(x, C, &mean[i], &rstd[i]);
        for (int c = 0; c < C; c++) y[c] = (x[c] - mean[i]) * rstd[i] * gamma[c] + beta[c];
    }
}

KERNEL_INLINE void layernorm_backward_row(float *dx, const float *dy, const float *x, const float *gamma,
                                   float mu, float rs, int C) {
    float mean_g = 0.0f, mean_gx = 0.0f;
    for (int c = 0; c < C; c++) {
        float g = dy[c] * gamma[c];
        mean_g += g;
        mean_gx += g * (x[c] - mu) * rs;
    }
    mean_g /= (float)C;
    mean_gx /= (float)C;
    for (int c = 0; c < C; c++) {
        float xhat = (x[c] - mu) * rs;
        dx[c] += rs * (dy[c] * gamma[c] - mean_g - xhat * mean_gx);
    }
}

KERNEL_DISPATCH static void layernorm_backward_params(float *dgamma, float *dbeta, const float *dout,
                                      const float *inp, const float *mean, const float *rstd,
                                      int M, int C) {
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += LN_COL_BLOCK) {
        int c1 = c0 + LN_COL_BLOCK < C ? c0 + LN_COL_BLOCK : C;
        for (int i = 0; i < M; i++) {
            const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
            for (int c = c0; c < c1; c++) {
                if (dgamma) dgamma[c] += dy[c] * (x[c] - mean[i]) * rstd[i];
                if (dbeta) dbeta[c] += dy[c];
            }
        }
    }
}

KERNEL_DISPATCH void layernorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *inp, const float *gamma, const float *mean,
                        const float *rstd, int M, int C) {
    if (dinp) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < M; i++)
            layernorm_backward_row(dinp + (size_t)i * C, dout + (size_t)i * C, inp + (size_t)i * C,
                                   gamma, mean[i], rstd[i], C);
    }
    if (dgamma || dbeta) layernorm_backward_params(dgamma, dbeta, dout, inp, mean, rstd, M, C);
}
