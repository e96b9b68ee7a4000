/* softmax_ce.c — cross-entropy of explicit logits with label smoothing (the
 * supervised classifier's loss; kernels.h). For rows z_i (V) and targets y_i,
 * with the smoothed targets q_iv = (1 − ε)·[v = y_i] + ε/V:
 *
 *   p_i = softmax(z_i),   ℓ_i = −Σ_v q_iv log p_iv = log Σ_v exp(z_iv) − Σ_v q_iv z_iv
 *   dz_i = dloss · (p_i − q_i)
 *
 * (ε = 0 is the plain cross-entropy.) Shifted by m_i = max_v z_iv, summed in
 * double, rows in order: the same bits on any thread count. The logits of a
 * classifier are few (B × classes), so they are formed by the caller's GEMM
 * and kept; lm_cross_entropy is the fused form for vocabularies.
 */
#include "src/kernels/kernels.h"

#include <math.h>

double softmax_cross_entropy(float *dz, const float *z, const int32_t *y, int M, int V, float smoothing,
                             float dloss) {
    double total = 0;
    for (int i = 0; i < M; i++) {
        const float *zi = z + (size_t)i * V;
        double mx = zi[0], mean = 0, sum = 0;
        for (int v = 1; v < V; v++) mx = zi[v] > mx ? zi[v] : mx;
        for (int v = 0; v < V; v++) sum += exp((double)zi[v] - mx), mean += zi[v];
        mean /= V;
        double lse = log(sum) + mx, on = 1.0 - smoothing, off = (double)smoothing / V;
        total += lse - (on * zi[y[i]] + smoothing * mean);
        if (!dz) continue;
        float *di = dz + (size_t)i * V;
        for (int v = 0; v < V; v++) di[v] = (float)(dloss * (exp((double)zi[v] - lse) - off - (v == y[i] ? on : 0)));
    }
    return total;
}
