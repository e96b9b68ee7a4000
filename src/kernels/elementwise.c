/* elementwise.c — the pointwise kernels of kernels.h:
 *
 *   relu:  out = max(0, x)           dinp += dout ⊙ [out > 0]
 *   add:   out = a + b               (residual; its backward is the identity)
 *   axpy:  y += α·x
 *
 * They are memory-bound, so threads only pay off on activation-sized arrays;
 * below ELEMENTWISE_PAR_MIN the fork/join costs more than the loop itself.
 */
#include "src/kernels/kernels.h"

#define ELEMENTWISE_PAR_MIN ((size_t)1 << 15)

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

/* out may alias a or b: each element is read before it is written. */
void add_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void axpy(float *y, float alpha, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}
