/* linear.c — the fully connected layer of kernels.h, row-vector convention:
 *
 *   out = inp · Wᵀ + b          inp (M,C), W (OC,C), b (OC), out (M,OC)
 *   dinp += dout · W             dW += doutᵀ · inp          db += Σ_rows dout
 *
 * All three products are single OpenBLAS sgemm calls that read W and inp in
 * place through the transpose flags (no copies); beta = 1 gives the
 * accumulate-into-outputs contract of every backward.
 */
#include "src/kernels/kernels.h"

#include "src/kernels/gemm.h"

/* out[i,:] += b for every row; rows are independent, so split them. */
static void linear_add_bias(float *out, const float *bias, int M, int OC) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < M; i++) {
        float *row = out + (size_t)i * OC;
        for (int o = 0; o < OC; o++) row[o] += bias[o];
    }
}

void linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int M, int C, int OC) {
    gemm(GEMM_N, GEMM_T, M, OC, C,
                1.0f, inp, C, weight, C, 0.0f, out, OC);
    if (bias) linear_add_bias(out, bias, M, OC);
}

/* db += column sums of dout. Walking rows keeps the inner loop contiguous; the
 * cost is M·OC, negligible beside the two M·C·OC GEMMs, so it stays serial. */
static void linear_backward_bias(float *dbias, const float *dout, int M, int OC) {
    for (int i = 0; i < M; i++) {
        const float *row = dout + (size_t)i * OC;
        for (int o = 0; o < OC; o++) dbias[o] += row[o];
    }
}

void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int M, int C, int OC) {
    if (dinp)
        gemm(GEMM_N, GEMM_N, M, C, OC,
                    1.0f, dout, OC, weight, C, 1.0f, dinp, C);
    if (dweight)
        gemm(GEMM_T, GEMM_N, OC, C, M,
                    1.0f, dout, OC, inp, C, 1.0f, dweight, C);
    if (dbias) linear_backward_bias(dbias, dout, M, OC);
}
