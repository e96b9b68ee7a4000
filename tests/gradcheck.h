/* gradcheck.h — finite-difference gradient checks for crate's tests
 * (header-only; every function is static inline so a test may use any subset).
 *
 * Defines gradcheck_loss_fn, gradcheck_tensor (and its ReLU-kink-aware
 * variant gradcheck_tensor_kinked), gradcheck_fill, and the helpers of
 * kernel checks gradcheck_probe_dot, gradcheck_is_doubled, gradcheck_is_equal.
 *
 * Usage: make the scalar loss L = Σ out ⊙ P for a fixed random probe P,
 * computed in double from the forward's output, so the analytic gradient of
 * every input is what the backward accumulates with dout = P (into zeroed
 * buffers). gradcheck_tensor then compares, for a spread of entries x_i,
 *
 *   num_i = (L(x + h e_i) − L(x − h e_i)) / (2h)     with   ana_i
 *
 * and passes if |num − ana| ≤ atol + rtol · max(|num|, |ana|) everywhere.
 * With an fp32 forward, h ≈ 1e-2 … 3e-3 balances the O(h²) truncation error
 * against the O(ε_f32 · |L| / h) rounding error; rtol 2e-2, atol 1e-3 then
 * pass correct kernels of O(1) values and still fail on a dropped or wrong
 * term, whose error is O(|gradient|).
 */
#ifndef CRATE_TESTS_GRADCHECK_H
#define CRATE_TESTS_GRADCHECK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Recomputes the scalar loss from the current inputs. */
typedef double (*gradcheck_loss_fn)(void *ctx);

/* Central difference of L in x[i]. The divisor is the step the floats
 * actually took, (float)(x+h) − (float)(x−h), not 2h, so rounding of the
 * perturbed value does not bias the estimate. x[i] is restored bit-exactly. */
static inline double gradcheck_central_diff(float *x, size_t i, float h, gradcheck_loss_fn loss,
                                            void *ctx) {
    float orig = x[i];
    float up = orig + h, down = orig - h;
    x[i] = up;
    double l_up = loss(ctx);
    x[i] = down;
    double l_down = loss(ctx);
    x[i] = orig;
    return (l_up - l_down) / ((double)up - (double)down);
}

/* Perturbs up to max_probe entries of x (evenly spread, deterministic) by ±h
 * and compares with analytic[i]. With skip_kinks, an entry whose central
 * differences at h and h/2 disagree by more than the tolerance has a ReLU
 * kink (CRATE's ISTA) within h of it, where the loss has no derivative a
 * difference can estimate: it is skipped and counted, and at most a quarter
 * of the probed entries may be, so a wrong gradient still fails. Prints
 * "gradcheck <name>: max abs err E, max rel err R over P entries: ok|FAIL"
 * and returns 1 if every compared entry passes, 0 if not. */
static inline int gradcheck_compare(const char *name, float *x, const float *analytic, size_t n,
                                    gradcheck_loss_fn loss, void *ctx, float h, double rtol, double atol,
                                    size_t max_probe, int skip_kinks) {
    size_t probes = n < max_probe ? n : max_probe, kinks = 0;
    double max_abs = 0.0, max_rel = 0.0;
    int ok = 1;
    for (size_t k = 0; k < probes; k++) {
        size_t i = (size_t)((double)k * (double)n / (double)probes);
        double num = gradcheck_central_diff(x, i, h, loss, ctx);
        if (skip_kinks) {
            double half = gradcheck_central_diff(x, i, 0.5f * h, loss, ctx);
            if (fabs(num - half) > atol + rtol * fmax(fabs(num), fabs(half))) {
                kinks++;
                continue;
            }
        }
        double ana = analytic[i];
        double err = fabs(num - ana);
        double mag = fmax(fabs(num), fabs(ana));
        if (!(err <= atol + rtol * mag)) {
            if (ok) fprintf(stderr, "gradcheck %s: first bad entry %zu: numeric %.6g analytic %.6g\n",
                            name, i, num, ana);
            ok = 0;
        }
        max_abs = fmax(max_abs, err);
        if (mag > 0.0) max_rel = fmax(max_rel, err / mag);
    }
    if (4 * kinks > probes) ok = 0;
    printf("gradcheck %s: max abs err %.3g, max rel err %.3g over %zu entries", name, max_abs, max_rel,
           probes - kinks);
    if (skip_kinks) printf(" (%zu skipped at a kink)", kinks);
    printf(": %s\n", ok ? "ok" : "FAIL");
    return ok;
}

static inline int gradcheck_tensor(const char *name, float *x, const float *analytic, size_t n,
                                   gradcheck_loss_fn loss, void *ctx, float h, double rtol,
                                   double atol, size_t max_probe) {
    return gradcheck_compare(name, x, analytic, n, loss, ctx, h, rtol, atol, max_probe, 0);
}

static inline int gradcheck_tensor_kinked(const char *name, float *x, const float *analytic, size_t n,
                                          gradcheck_loss_fn loss, void *ctx, float h, double rtol,
                                          double atol, size_t max_probe) {
    return gradcheck_compare(name, x, analytic, n, loss, ctx, h, rtol, atol, max_probe, 1);
}

/* Σ out ⊙ probe in double: the scalar loss of a kernel check. */
static inline double gradcheck_probe_dot(const float *out, const float *probe, size_t n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)out[i] * probe[i];
    return sum;
}

/* A second backward into the same buffers must double them (up to the float
 * rounding of the extra additions). once is the buffer after one call. */
static inline int gradcheck_is_doubled(const float *once, const float *twice, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fabsf(twice[i] - 2.0f * once[i]) > 1e-5f * (1.0f + fabsf(once[i]))) return 0;
    return 1;
}

static inline int gradcheck_is_equal(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* SplitMix64 finaliser: a good 64-bit mix of (seed, i), so entry i does not
 * depend on how many values were drawn before it. */
static inline uint64_t gradcheck_mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Fills x with deterministic pseudo-random values in [-scale, scale]. */
static inline void gradcheck_fill(float *x, size_t n, unsigned seed, float scale) {
    for (size_t i = 0; i < n; i++) {
        uint64_t r = gradcheck_mix(((uint64_t)seed << 32) ^ (uint64_t)i);
        double u = (double)(r >> 11) * (1.0 / 9007199254740992.0); /* [0, 1), 53 bits */
        x[i] = (float)(scale * (2.0 * u - 1.0));
    }
}

#endif
