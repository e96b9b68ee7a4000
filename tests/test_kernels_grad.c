/* test_kernels_grad.c — finite-difference gradient checks of every kernel of
 * src/kernels/kernels.h (linear, layernorm, attention non-causal and causal, relu,
 * mse), the accumulate (+=) and NULL-output contracts of their backwards, and
 * the attention forward against a naive triple loop in double.
 *
 * Each check builds L = Σ out ⊙ P for a fixed random probe P (tests/gradcheck.h),
 * runs the backward once with dout = P into zeroed buffers and compares with
 * central differences. Sizes are tiny so every entry is probed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/kernels/kernels.h"
#include "tests/check.h"
#include "tests/gradcheck.h"

/* fp32 forward: see gradcheck.h for why these balance truncation and rounding. */
#define GC_H 5e-3f
#define GC_RTOL 2e-2
#define GC_ATOL 1e-3
#define GC_PROBES 256

/* ---- linear: inp (M,C), W (OC,C), b (OC) */
enum { LIN_M = 6, LIN_C = 5, LIN_OC = 4 };
static struct {
    float inp[LIN_M * LIN_C], w[LIN_OC * LIN_C], b[LIN_OC];
    float out[LIN_M * LIN_OC], probe[LIN_M * LIN_OC];
} lin;

static double linear_loss(void *ctx) {
    linear_forward(lin.out, lin.inp, lin.w, lin.b, LIN_M, LIN_C, LIN_OC);
    return gradcheck_probe_dot(lin.out, lin.probe, LIN_M * LIN_OC);
}

static void test_linear(void) {
    gradcheck_fill(lin.inp, LIN_M * LIN_C, 1, 1.0f);
    gradcheck_fill(lin.w, LIN_OC * LIN_C, 2, 1.0f);
    gradcheck_fill(lin.b, LIN_OC, 3, 1.0f);
    gradcheck_fill(lin.probe, LIN_M * LIN_OC, 4, 1.0f);
    float dinp[LIN_M * LIN_C] = {0}, dw[LIN_OC * LIN_C] = {0}, db[LIN_OC] = {0};
    linear_backward(dinp, dw, db, lin.probe, lin.inp, lin.w, LIN_M, LIN_C, LIN_OC);

    CHECK(gradcheck_tensor("linear dinp", lin.inp, dinp, LIN_M * LIN_C, linear_loss, NULL, GC_H,
                           GC_RTOL, GC_ATOL, GC_PROBES), "linear dinp");
    CHECK(gradcheck_tensor("linear dW", lin.w, dw, LIN_OC * LIN_C, linear_loss, NULL, GC_H,
                           GC_RTOL, GC_ATOL, GC_PROBES), "linear dW");
    CHECK(gradcheck_tensor("linear db", lin.b, db, LIN_OC, linear_loss, NULL, GC_H, GC_RTOL,
                           GC_ATOL, GC_PROBES), "linear db");

    float dinp2[LIN_M * LIN_C], dw2[LIN_OC * LIN_C], db2[LIN_OC];
    memcpy(dinp2, dinp, sizeof dinp);
    memcpy(dw2, dw, sizeof dw);
    memcpy(db2, db, sizeof db);
    linear_backward(dinp2, dw2, db2, lin.probe, lin.inp, lin.w, LIN_M, LIN_C, LIN_OC);
    CHECK(gradcheck_is_doubled(dinp, dinp2, LIN_M * LIN_C) && gradcheck_is_doubled(dw, dw2, LIN_OC * LIN_C) &&
          gradcheck_is_doubled(db, db2, LIN_OC), "linear backward does not accumulate");

    float dw_only[LIN_OC * LIN_C] = {0};
    linear_backward(NULL, dw_only, NULL, lin.probe, lin.inp, lin.w, LIN_M, LIN_C, LIN_OC);
    CHECK(gradcheck_is_equal(dw_only, dw, LIN_OC * LIN_C), "linear dW changes when dinp, db are NULL");

    float no_bias[LIN_M * LIN_OC];
    linear_forward(no_bias, lin.inp, lin.w, NULL, LIN_M, LIN_C, LIN_OC);
    linear_forward(lin.out, lin.inp, lin.w, lin.b, LIN_M, LIN_C, LIN_OC);
    float worst = 0.0f;
    for (int i = 0; i < LIN_M * LIN_OC; i++)
        worst = fmaxf(worst, fabsf(lin.out[i] - no_bias[i] - lin.b[i % LIN_OC]));
    CHECK(worst < 1e-6f, "linear bias not added per row: err %g", worst);
}

/* ---- layernorm: inp (M,C), γ, β (C) */
enum { LN_M = 4, LN_C = 9 };
static struct {
    float inp[LN_M * LN_C], gamma[LN_C], beta[LN_C];
    float out[LN_M * LN_C], mean[LN_M], rstd[LN_M], probe[LN_M * LN_C];
} ln;

static double layernorm_loss(void *ctx) {
    layernorm_forward(ln.out, ln.mean, ln.rstd, ln.inp, ln.gamma, ln.beta, LN_M, LN_C);
    return gradcheck_probe_dot(ln.out, ln.probe, LN_M * LN_C);
}

static void test_layernorm(void) {
    gradcheck_fill(ln.inp, LN_M * LN_C, 11, 2.0f);
    for (int i = 0; i < LN_M * LN_C; i++) ln.inp[i] += 0.5f; /* a non-zero mean to subtract */
    gradcheck_fill(ln.gamma, LN_C, 12, 0.5f);
    for (int c = 0; c < LN_C; c++) ln.gamma[c] += 1.0f;
    gradcheck_fill(ln.beta, LN_C, 13, 1.0f);
    gradcheck_fill(ln.probe, LN_M * LN_C, 14, 1.0f);
    layernorm_loss(NULL); /* mean and rstd for the backward */
    float dinp[LN_M * LN_C] = {0}, dg[LN_C] = {0}, db[LN_C] = {0};
    layernorm_backward(dinp, dg, db, ln.probe, ln.inp, ln.gamma, ln.mean, ln.rstd, LN_M, LN_C);

    CHECK(gradcheck_tensor("layernorm dinp", ln.inp, dinp, LN_M * LN_C, layernorm_loss, NULL,
                           GC_H, GC_RTOL, GC_ATOL, GC_PROBES), "layernorm dinp");
    CHECK(gradcheck_tensor("layernorm dgamma", ln.gamma, dg, LN_C, layernorm_loss, NULL, GC_H,
                           GC_RTOL, GC_ATOL, GC_PROBES), "layernorm dgamma");
    CHECK(gradcheck_tensor("layernorm dbeta", ln.beta, db, LN_C, layernorm_loss, NULL, GC_H,
                           GC_RTOL, GC_ATOL, GC_PROBES), "layernorm dbeta");

    layernorm_loss(NULL);
    float dinp2[LN_M * LN_C], dg2[LN_C], db2[LN_C];
    memcpy(dinp2, dinp, sizeof dinp);
    memcpy(dg2, dg, sizeof dg);
    memcpy(db2, db, sizeof db);
    layernorm_backward(dinp2, dg2, db2, ln.probe, ln.inp, ln.gamma, ln.mean, ln.rstd, LN_M, LN_C);
    CHECK(gradcheck_is_doubled(dinp, dinp2, LN_M * LN_C) && gradcheck_is_doubled(dg, dg2, LN_C) &&
          gradcheck_is_doubled(db, db2, LN_C), "layernorm backward does not accumulate");

    float dinp_only[LN_M * LN_C] = {0};
    layernorm_backward(dinp_only, NULL, NULL, ln.probe, ln.inp, ln.gamma, ln.mean, ln.rstd,
                       LN_M, LN_C);
    CHECK(gradcheck_is_equal(dinp_only, dinp, LN_M * LN_C), "layernorm dinp changes when dγ, dβ are NULL");

    /* With γ = 1, β = 0 every output row has mean 0 and variance 1/(1 + eps/var). */
    float ones[LN_C], zeros[LN_C] = {0};
    for (int c = 0; c < LN_C; c++) ones[c] = 1.0f;
    layernorm_forward(ln.out, ln.mean, ln.rstd, ln.inp, ones, zeros, LN_M, LN_C);
    double mu = 0.0, var = 0.0;
    for (int c = 0; c < LN_C; c++) mu += ln.out[c];
    for (int c = 0; c < LN_C; c++) var += (ln.out[c] - mu / LN_C) * (ln.out[c] - mu / LN_C);
    CHECK(fabs(mu / LN_C) < 1e-6 && fabs(var / LN_C - 1.0) < 1e-4,
          "layernorm row not standardised: mean %g var %g", mu / LN_C, var / LN_C);

    /* A constant row (a flat patch) normalises to exactly β: its statistics
     * are summed in double, so μ equals the row's value and x̂ = 0. Over 16
     * values of 0.1·k a float sum missed μ by up to ~4e-5 after rstd. */
    float flat[16], flat_out[16], flat_mean, flat_rstd, g16[16], b16[16];
    for (int k = 1; k <= 50; k++) {
        for (int c = 0; c < 16; c++) flat[c] = 0.1f * (float)k, g16[c] = 1.0f, b16[c] = 0.25f;
        layernorm_forward(flat_out, &flat_mean, &flat_rstd, flat, g16, b16, 1, 16);
        int exact = 1;
        for (int c = 0; c < 16; c++) exact &= flat_out[c] == 0.25f;
        CHECK(exact, "layernorm of the constant row %g is not exactly beta (first output %.9g)", flat[0],
              flat_out[0]);
    }
}

/* ---- attention core: w (B,N,K·p), att (B,K,N,N). N = 5 is one block of
 * attention.c's row cut; N = 70 is a full block and a partial one, so the
 * mirrored scores and the causal block products are differentiated too. */
enum { AT_B = 2, AT_NMAX = 70, AT_K = 2, AT_P = 3, AT_W = AT_B * AT_NMAX * AT_K * AT_P,
       AT_A = AT_B * AT_K * AT_NMAX * AT_NMAX };
static struct {
    float w[AT_W], out[AT_W], att[AT_A], probe[AT_W], scratch[AT_A];
    float scale;
    int causal, N;
} at;

static double attention_loss(void *ctx) {
    (void)ctx;
    attention_forward(at.out, at.att, at.w, AT_B, at.N, AT_K, AT_P, at.scale, at.causal);
    return gradcheck_probe_dot(at.out, at.probe, (size_t)AT_B * at.N * AT_K * AT_P);
}

static void test_attention_grad(int causal, int N) {
    const size_t nw = (size_t)AT_B * N * AT_K * AT_P;
    at.scale = 1.0f / sqrtf((float)AT_P);
    at.causal = causal;
    at.N = N;
    gradcheck_fill(at.w, nw, 21, 1.5f);
    gradcheck_fill(at.probe, nw, 22, 1.0f);
    attention_loss(NULL);
    static float dw[AT_W], dw2[AT_W];
    memset(dw, 0, sizeof dw);
    attention_backward(dw, at.scratch, at.probe, at.w, at.att, AT_B, N, AT_K, AT_P, at.scale, causal);

    char name[64];
    snprintf(name, sizeof name, "attention dw%s, N = %d", causal ? " (causal)" : "", N);
    CHECK(gradcheck_tensor(name, at.w, dw, nw, attention_loss, NULL, GC_H, GC_RTOL, GC_ATOL, GC_PROBES), "%s",
          name);

    attention_loss(NULL);
    memcpy(dw2, dw, sizeof dw);
    attention_backward(dw2, at.scratch, at.probe, at.w, at.att, AT_B, N, AT_K, AT_P, at.scale, causal);
    CHECK(gradcheck_is_doubled(dw, dw2, nw), "attention backward does not accumulate: %s", name);
}

/* out and att of the kernel against softmax(scale·W Wᵀ)·W in double. */
static double attention_naive_err(const float *w, const float *out, const float *att, int B,
                                  int N, int K, int p, float scale, int causal) {
    double worst = 0.0, *s = malloc((size_t)N * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++) {
            const float *W = w + (size_t)b * N * K * p + (size_t)k * p;
            const float *O = out + (size_t)b * N * K * p + (size_t)k * p;
            const float *A = att + ((size_t)b * K + k) * N * N;
            for (int i = 0; i < N; i++) {
                double mx = -INFINITY, sum = 0.0;
                int len = causal ? i + 1 : N;
                for (int j = 0; j < len; j++) {
                    s[j] = 0.0;
                    for (int c = 0; c < p; c++) s[j] += (double)W[i * K * p + c] * W[j * K * p + c];
                    s[j] *= scale;
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < len; j++) sum += s[j] = exp(s[j] - mx);
                for (int j = 0; j < N; j++) {
                    double a = j < len ? s[j] / sum : 0.0;
                    worst = fmax(worst, fabs(a - A[i * N + j]));
                }
                for (int c = 0; c < p; c++) {
                    double o = 0.0;
                    for (int j = 0; j < len; j++) o += s[j] / sum * W[j * K * p + c];
                    worst = fmax(worst, fabs(o - O[i * K * p + c]));
                }
            }
        }
    free(s);
    return worst;
}

/* N = 7: one block; N = 150: two full blocks and a partial one. */
static void test_attention_forward(int causal, int N) {
    enum { B = 2, K = 3, P = 4 };
    const size_t nw = (size_t)B * N * K * P;
    float *w = malloc(nw * sizeof(float)), *out = malloc(nw * sizeof(float)),
          *att = malloc((size_t)B * K * N * N * sizeof(float));
    float scale = 1.0f / sqrtf((float)P);
    gradcheck_fill(w, nw, 31, 2.0f);
    attention_forward(out, att, w, B, N, K, P, scale, causal);
    double err = attention_naive_err(w, out, att, B, N, K, P, scale, causal);
    CHECK(err < 1e-5, "attention forward vs naive (causal %d, N = %d): max err %g", causal, N, err);

    /* Scores of ~10⁴ overflow expf unless the row max is subtracted first. */
    gradcheck_fill(w, nw, 32, 100.0f);
    attention_forward(out, att, w, B, N, K, P, scale, causal);
    int finite = 1;
    for (size_t i = 0; i < nw; i++) finite &= isfinite(out[i]);
    CHECK(finite, "attention forward not finite for large scores (causal %d, N = %d)", causal, N);
    free(w), free(out), free(att);
}

/* The FLOPs counted are the products run, per (b,k) pair 2·p times: within
 * one block the bidirectional kernel runs 5 N×N products (dS + dSᵀ is one),
 * the causal one 6; at four blocks each product of the causal kernel and the
 * scores of the bidirectional one cover only the lower block triangle. */
static void test_attention_flops(void) {
    double pair = 2.0 * 64;
    CHECK(attention_flops(1, 64, 1, 64, 0) == pair * 5 * 64 * 64, "one bidirectional block");
    CHECK(attention_flops(1, 64, 1, 64, 1) == pair * 6 * 64 * 64, "one causal block");
    double tri = 64.0 * (64 + 128 + 192 + 256);
    CHECK(attention_flops(2, 256, 3, 64, 1) == 6 * pair * 6 * tri, "causal T = 256");
    CHECK(attention_flops(2, 256, 3, 64, 0) == 6 * pair * (tri + 4 * 256.0 * 256), "bidirectional T = 256");
}

/* ---- relu */
enum { RELU_N = 40 };
static struct {
    float inp[RELU_N], out[RELU_N], probe[RELU_N];
} relu;

static double relu_loss(void *ctx) {
    relu_forward(relu.out, relu.inp, RELU_N);
    return gradcheck_probe_dot(relu.out, relu.probe, RELU_N);
}

static void test_relu(void) {
    gradcheck_fill(relu.inp, RELU_N, 41, 1.0f);
    /* Keep every input at least 0.1 from the kink so ±h never crosses it. */
    for (int i = 0; i < RELU_N; i++) relu.inp[i] += relu.inp[i] >= 0.0f ? 0.1f : -0.1f;
    gradcheck_fill(relu.probe, RELU_N, 42, 1.0f);
    relu_loss(NULL);
    float dinp[RELU_N] = {0};
    relu_backward(dinp, relu.probe, relu.out, RELU_N);
    CHECK(gradcheck_tensor("relu dinp", relu.inp, dinp, RELU_N, relu_loss, NULL, GC_H, GC_RTOL,
                           GC_ATOL, GC_PROBES), "relu dinp");
    float dinp2[RELU_N];
    memcpy(dinp2, dinp, sizeof dinp);
    relu_backward(dinp2, relu.probe, relu.out, RELU_N);
    CHECK(gradcheck_is_doubled(dinp, dinp2, RELU_N), "relu backward does not accumulate");
}

/* ---- add and axpy, including the aliasing add_forward allows */
static void test_add_axpy(void) {
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50}, out[5];
    add_forward(out, a, b, 5);
    add_forward(a, a, b, 5); /* in place: a += b */
    axpy(b, -0.5f, out, 5);
    int ok = 1;
    for (int i = 0; i < 5; i++) ok &= out[i] == 11.0f * (i + 1) && a[i] == out[i] &&
                                      b[i] == 10.0f * (i + 1) - 5.5f * (i + 1);
    CHECK(ok, "add_forward / axpy give wrong values");
}

/* ---- mse over rows of width P with a 0/1 row mask */
enum { MSE_M = 6, MSE_P = 5 };
static const float mse_mask[MSE_M] = {1, 0, 1, 1, 0, 1};
#define MSE_DLOSS 0.7f
static struct {
    float pred[MSE_M * MSE_P], target[MSE_M * MSE_P];
} mse;

static double mse_loss(void *ctx) {
    return MSE_DLOSS * (double)mse_forward(mse.pred, mse.target, mse_mask, MSE_M, MSE_P);
}

static void test_mse(void) {
    gradcheck_fill(mse.pred, MSE_M * MSE_P, 51, 1.0f);
    gradcheck_fill(mse.target, MSE_M * MSE_P, 52, 1.0f);

    double ref = 0.0;
    for (int i = 0; i < MSE_M; i++)
        for (int j = 0; j < MSE_P; j++) {
            double d = (double)mse.pred[i * MSE_P + j] - mse.target[i * MSE_P + j];
            ref += mse_mask[i] * d * d;
        }
    ref /= MSE_P; /* a sum over the four scored rows of each row's mean */
    double got = mse_forward(mse.pred, mse.target, mse_mask, MSE_M, MSE_P);
    CHECK(fabs(got - ref) < 1e-6 * ref, "mse_forward %g, reference %g", got, ref);

    float dpred[MSE_M * MSE_P] = {0};
    mse_backward(dpred, mse.pred, mse.target, mse_mask, MSE_M, MSE_P, MSE_DLOSS);
    CHECK(gradcheck_tensor("mse dpred", mse.pred, dpred, MSE_M * MSE_P, mse_loss, NULL, GC_H,
                           GC_RTOL, GC_ATOL, GC_PROBES), "mse dpred");
    int unscored_zero = 1;
    for (int j = 0; j < MSE_P; j++) unscored_zero &= dpred[1 * MSE_P + j] == 0.0f;
    CHECK(unscored_zero, "mse gradient reaches a row of weight 0");

    float dpred2[MSE_M * MSE_P];
    memcpy(dpred2, dpred, sizeof dpred);
    mse_backward(dpred2, mse.pred, mse.target, mse_mask, MSE_M, MSE_P, MSE_DLOSS);
    CHECK(gradcheck_is_doubled(dpred, dpred2, MSE_M * MSE_P), "mse backward does not accumulate");

    /* An unscored row may hold anything, even NaN, without touching the loss. */
    mse.pred[4 * MSE_P] = NAN;
    CHECK(mse_forward(mse.pred, mse.target, mse_mask, MSE_M, MSE_P) == got,
          "a NaN in an unscored row changes the loss");

    const float none[MSE_M] = {0};
    float dnone[MSE_M * MSE_P] = {0};
    mse_backward(dnone, mse.pred, mse.target, none, MSE_M, MSE_P, 1.0f);
    int all_zero = 1;
    for (int i = 0; i < MSE_M * MSE_P; i++) all_zero &= dnone[i] == 0.0f;
    CHECK(mse_forward(mse.pred, mse.target, none, MSE_M, MSE_P) == 0.0 && all_zero,
          "mse with no scored row is not 0 with zero gradient");
}

int main(void) {
    test_linear();
    test_layernorm();
    for (int causal = 0; causal < 2; causal++) {
        test_attention_forward(causal, 7);
        test_attention_forward(causal, 150);
        test_attention_grad(causal, 5);
        test_attention_grad(causal, 70);
    }
    test_attention_flops();
    test_relu();
    test_add_axpy();
    test_mse();
    return check_finish();
}
