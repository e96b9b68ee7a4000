/* test_dino_loss.c — DINO's self-distillation loss (pretrain/dino_loss.h):
 *
 *  - teacher probabilities, loss and the three monitors against a naive
 *    double computation of the header's math (centered, sharpened teacher;
 *    every pair of different views), for G = 2, L = 3, K = 7 and the edge
 *    layouts G = 1 (the global view pairs with the locals only), L = 0
 *    (global pairs only) and G = 1, L = 0 (no pairs at all);
 *  - finite differences of the loss in every student logit against
 *    ds / scale (ds is computed with scale 0.37);
 *  - a view without partners (G = 1's global) gets no gradient;
 *  - collapse limits: a uniform teacher has entropy G ln K and, against a
 *    uniform student, loss n_pairs ln K and kl 0; a one-hot teacher has
 *    max_prob G and entropy 0;
 *  - the sums and ds accumulate (+=); ds NULL gives the same sums.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/dino_loss.h"
#include "tests/check.h"
#include "tests/gradcheck.h"

enum { KMAX = 7, VMAX = 5 };
static const float TEACHER_TEMP = 0.07f, STUDENT_TEMP = 0.1f;

typedef struct {
    int G, L, K;
    float scale;
    float t[2 * KMAX], center[KMAX], s[VMAX * KMAX];
    float p[2 * KMAX], ds[VMAX * KMAX], q[KMAX];
} fixture;

/* The loss itself; the check compares ds / scale with its differences (the
 * product scale · loss would be contracted with the difference into an FMA,
 * leaving rounding noise where the gradient is exactly 0). */
static double sample_loss(void *ctx) {
    fixture *f = ctx;
    dino_loss_sums sums = {0, 0, 0, 0};
    dino_loss_sample(f->p, f->s, f->G, f->L, f->K, STUDENT_TEMP, f->scale, NULL, &sums, f->q);
    return sums.loss;
}

/* softmax(a / temp) (K) in double, max subtracted. */
static void softmax_d(double *out, const double *a, int K, double temp) {
    double m = -INFINITY, z = 0.0;
    for (int k = 0; k < K; k++) m = fmax(m, a[k] / temp);
    for (int k = 0; k < K; k++) z += out[k] = exp(a[k] / temp - m);
    for (int k = 0; k < K; k++) out[k] /= z;
}

/* The header's sums in double; p is the function's float p, so the loss is
 * compared on the same teacher distributions. */
static dino_loss_sums naive_sums(const fixture *f) {
    const int K = f->K;
    dino_loss_sums r = {0, 0, 0, 0};
    for (int i = 0; i < f->G; i++) {
        double mx = 0.0;
        for (int k = 0; k < K; k++) {
            double pk = f->p[i * K + k];
            mx = fmax(mx, pk);
            if (pk > 0.0) r.entropy -= pk * log(pk);
        }
        r.max_prob += mx;
    }
    for (int i = 0; i < f->G; i++) {
        double h = 0.0;
        for (int k = 0; k < K; k++)
            if (f->p[i * K + k] > 0.0f) h -= f->p[i * K + k] * log((double)f->p[i * K + k]);
        for (int v = 0; v < f->G + f->L; v++) {
            if (v == i) continue;
            double s[KMAX], q[KMAX], ce = 0.0;
            for (int k = 0; k < K; k++) s[k] = f->s[v * K + k];
            softmax_d(q, s, K, STUDENT_TEMP);
            for (int k = 0; k < K; k++) ce -= f->p[i * K + k] * log(q[k]);
            r.loss += ce;
            r.kl += ce - h;
        }
    }
    return r;
}

static int close_to(double a, double b, double tol) { return fabs(a - b) <= tol * (1.0 + fabs(b)); }

static void check_case(const char *label, int G, int L, unsigned seed) {
    fixture f;
    memset(&f, 0, sizeof f);
    f.G = G;
    f.L = L;
    f.K = KMAX;
    f.scale = 0.37f;
    const int K = f.K, V = G + L;
    gradcheck_fill(f.t, (size_t)G * K, seed, 0.3f);
    gradcheck_fill(f.center, K, seed + 1, 0.1f);
    gradcheck_fill(f.s, (size_t)V * K, seed + 2, 0.3f);

    /* teacher distributions */
    dino_teacher_probs(f.p, f.t, f.center, G, K, TEACHER_TEMP);
    double perr = 0.0;
    for (int i = 0; i < G; i++) {
        double a[KMAX], p[KMAX];
        for (int k = 0; k < K; k++) a[k] = (double)f.t[i * K + k] - f.center[k];
        softmax_d(p, a, K, TEACHER_TEMP);
        for (int k = 0; k < K; k++) perr = fmax(perr, fabs(f.p[i * K + k] - p[k]));
    }
    CHECK(perr < 1e-7, "%s: teacher probabilities differ from the double math by %g", label, perr);

    /* sums against the naive math */
    dino_loss_sums got = {0, 0, 0, 0}, want = naive_sums(&f);
    dino_loss_sample(f.p, f.s, G, L, K, STUDENT_TEMP, f.scale, f.ds, &got, f.q);
    printf("%s (G %d, L %d): loss %.9g (double %.9g) entropy %.6g kl %.6g max_prob %.6g over %d pairs\n", label, G,
           L, got.loss, want.loss, got.entropy, got.kl, got.max_prob, dino_loss_pairs(G, L));
    CHECK(close_to(got.loss, want.loss, 1e-9) && close_to(got.entropy, want.entropy, 1e-9) &&
              close_to(got.kl, want.kl, 1e-9) && close_to(got.max_prob, want.max_prob, 1e-9),
          "%s: sums (%.12g %.12g %.12g %.12g) vs double (%.12g %.12g %.12g %.12g)", label, got.loss, got.entropy,
          got.kl, got.max_prob, want.loss, want.entropy, want.kl, want.max_prob);
    if (dino_loss_pairs(G, L) == 0) CHECK(got.loss == 0.0 && got.kl == 0.0, "%s: no pairs, loss %g", label, got.loss);

    /* ∂loss/∂s = ds / scale, every entry; the loss is computed in double, so
     * a small step (truncation error ∝ (h/τ_s)²) and tight tolerances */
    char name[64];
    float dloss[VMAX * KMAX];
    for (int j = 0; j < V * K; j++) dloss[j] = f.ds[j] / f.scale;
    snprintf(name, sizeof name, "dino loss %s ds/scale", label);
    CHECK(gradcheck_tensor(name, f.s, dloss, (size_t)V * K, sample_loss, &f, 2e-4f, 2e-4, 1e-5, (size_t)V * K),
          "%s: the ds gradient check failed", label);
    if (G == 1) {
        int zero = 1;
        for (int k = 0; k < K; k++) zero &= f.ds[k] == 0.0f;
        CHECK(zero, "%s: the unpaired global view got a gradient", label);
    }

    /* accumulate: sums and ds add up; ds NULL gives the same sums */
    float once[VMAX * KMAX];
    memcpy(once, f.ds, sizeof once);
    dino_loss_sums twice = got, nograd = {0, 0, 0, 0};
    dino_loss_sample(f.p, f.s, G, L, K, STUDENT_TEMP, f.scale, f.ds, &twice, f.q);
    dino_loss_sample(f.p, f.s, G, L, K, STUDENT_TEMP, f.scale, NULL, &nograd, f.q);
    CHECK(gradcheck_is_doubled(once, f.ds, (size_t)V * K), "%s: ds does not accumulate", label);
    CHECK(twice.loss == 2.0 * got.loss && twice.entropy == 2.0 * got.entropy && twice.max_prob == 2.0 * got.max_prob,
          "%s: the sums do not accumulate", label);
    CHECK(nograd.loss == got.loss && nograd.kl == got.kl && nograd.entropy == got.entropy,
          "%s: ds NULL changes the sums", label);
}

/* Uniform teacher and student; one-hot teacher. */
static void check_limits(void) {
    enum { G = 2, L = 3, K = KMAX };
    float t[G * K], center[K], s[(G + L) * K], p[G * K], q[K], ds[(G + L) * K];
    for (int k = 0; k < K; k++) center[k] = 0.25f;
    for (int j = 0; j < G * K; j++) t[j] = 1.5f;
    for (int j = 0; j < (G + L) * K; j++) s[j] = -0.4f;
    dino_teacher_probs(p, t, center, G, K, TEACHER_TEMP);
    dino_loss_sums r = {0, 0, 0, 0};
    dino_loss_sample(p, s, G, L, K, STUDENT_TEMP, 1.0f, NULL, &r, q);
    int n = dino_loss_pairs(G, L);
    printf("uniform: entropy %.9g (G ln K %.9g) loss %.9g (n_pairs ln K %.9g) kl %.3g max_prob %.6g\n", r.entropy,
           G * log(K), r.loss, n * log(K), r.kl, r.max_prob);
    CHECK(n == 8, "pairs %d, want 8", n);
    CHECK(close_to(r.entropy, G * log(K), 1e-6), "uniform teacher: entropy %.9g, want %.9g", r.entropy, G * log(K));
    CHECK(close_to(r.loss, n * log(K), 1e-6), "uniform: loss %.9g, want %.9g", r.loss, n * log(K));
    CHECK(fabs(r.kl) < 1e-6, "uniform: kl %g, want 0", r.kl);
    CHECK(close_to(r.max_prob, G / (double)K, 1e-6), "uniform: max_prob %g, want %g", r.max_prob, G / (double)K);

    /* one-hot-like: t huge at k = 4, τ_t small; the locals' gradient is
     * G (q − e₄) / τ_s */
    for (int j = 0; j < G * K; j++) t[j] = j % K == 4 ? 40.0f : 0.0f;
    dino_teacher_probs(p, t, center, G, K, 0.04f);
    gradcheck_fill(s, (size_t)(G + L) * K, 9, 1.0f);
    memset(ds, 0, sizeof ds);
    r = (dino_loss_sums){0, 0, 0, 0};
    dino_loss_sample(p, s, G, L, K, STUDENT_TEMP, 1.0f, ds, &r, q);
    printf("one-hot: max_prob %.9g (G = %d) entropy %.3g\n", r.max_prob, G, r.entropy);
    CHECK(close_to(r.max_prob, G, 1e-6) && fabs(r.entropy) < 1e-6, "one-hot teacher: max_prob %g entropy %g",
          r.max_prob, r.entropy);
    double err = 0.0;
    for (int v = G; v < G + L; v++) {
        double sv[K], qv[K];
        for (int k = 0; k < K; k++) sv[k] = s[v * K + k];
        softmax_d(qv, sv, K, STUDENT_TEMP);
        for (int k = 0; k < K; k++) err = fmax(err, fabs(ds[v * K + k] - G * (qv[k] - (k == 4)) / STUDENT_TEMP));
    }
    CHECK(err < 1e-5, "one-hot teacher: a local view's gradient is off by %g", err);
}

int main(void) {
    check_case("G2 L3", 2, 3, 11);
    check_case("G1 L3", 1, 3, 21);
    check_case("G2 L0", 2, 0, 31);
    check_case("G1 L0", 1, 0, 41);
    check_limits();
    return check_finish();
}
