/* elementwise.c — the pointwise kernels of kernels.h:
 *
 *   relu:  out = max(0, x)           dinp += dout ⊙ [out > 0]
 *   gelu:  out = x·Φ(x)              dinp += dout ⊙ (Φ(x) + x·φ(x))
 *   add:   out = a + b               (residual; its backward is the identity)
 *   axpy:  y += α·x
 *
 * They are memory-bound, so threads only pay off on activation-sized arrays;
 * below ELEMENTWISE_PAR_MIN the fork/join costs more than the loop itself.
 */
#include "src/kernels/kernels.h"

#include <math.h>

#define ELEMENTWISE_PAR_MIN ((size_t)1 << 15)
#define GELU_INV_SQRT2 0.70710678118654752f     /* 1/√2 */
#define GELU_INV_SQRT_2PI 0.39894228040143268f  /* 1/√(2π) */

void relu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

/* The mask comes from the output: out > 0 exactly where inp > 0, and the
 * caller keeps the output anyway as the next layer's input. */
void relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
    if (!dinp) return;
#pragma omp parallel for simd schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void relu_mask(float *g, const float *out, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) g[i] = out[i] > 0.0f ? g[i] : 0.0f;
}

/* The exact GELU of BERT (not the tanh approximation): with the standard
 * normal cdf Φ(x) = ½(1 + erf(x/√2)) and density φ(x) = exp(−x²/2)/√(2π),
 *   gelu(x) = x·Φ(x),   gelu'(x) = Φ(x) + x·φ(x).
 * erff and expf saturate cleanly, so large |x| gives x or 0 and gelu' 1 or 0. */
void gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * inp[i] * (1.0f + erff(inp[i] * GELU_INV_SQRT2));
}

/* Needs the forward INPUT: gelu is not invertible for x < 0. */
void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    if (!dinp) return;
#pragma omp parallel for simd schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * GELU_INV_SQRT2));
        float pdf = GELU_INV_SQRT_2PI * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

/* out may alias a or b: each element is read before it is written. */
void add_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void axpy(float *y, float alpha, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}
