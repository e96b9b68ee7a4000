/* mse.c — the row-weighted mean-squared error of kernels.h (the MAE pixel
 * loss, where the row weight is the mask of scored patches):
 *
 *   loss = Σ_i w_i Σ_j (pred_ij − target_ij)² / P          (a sum; the mean is
 *   dpred_ij += dloss · 2 w_i (pred_ij − target_ij) / P     loss / Σ_i w_i)
 *
 * It is a sum, not a mean, so that the trainer can divide by the number of
 * scored rows of the whole global batch (objective.h), whatever the share
 * of each micro-batch.
 * The sums run over up to B·N·P ≈ 10⁷ terms, so they accumulate in double;
 * a float sum would lose the low digits the loss curve is compared on.
 * Rows of weight 0 are skipped rather than multiplied by 0, so whatever an
 * unscored row holds (even inf or NaN) cannot reach the loss or gradient.
 */
#include "src/kernels/kernels.h"

double mse_forward(const float *pred, const float *target, const float *row_weight, int M, int P) {
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int i = 0; i < M; i++) {
        if (row_weight[i] == 0.0f) continue;
        const float *x = pred + (size_t)i * P, *y = target + (size_t)i * P;
        double row = 0.0;
        for (int j = 0; j < P; j++) {
            double d = (double)x[j] - (double)y[j];
            row += d * d;
        }
        total += row_weight[i] * row;
    }
    return total / P;
}

void mse_backward(float *dpred, const float *pred, const float *target, const float *row_weight,
                  int M, int P, float dloss) {
    if (!dpred) return;
    float coef = (float)(2.0 * dloss / P);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < M; i++) {
        float c = coef * row_weight[i];
        if (c == 0.0f) continue;
        const float *x = pred + (size_t)i * P, *y = target + (size_t)i * P;
        float *dx = dpred + (size_t)i * P;
        for (int j = 0; j < P; j++) dx[j] += c * (x[j] - y[j]);
    }
}
