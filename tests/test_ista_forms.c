/* test_ista_forms.c — the one-GEMM ISTA step (ista.h: P = Y − ηλ + Y H,
 * H = η(D − DᵀD)) against the two-GEMM form it replaces, R = Y − Y Dᵀ,
 * P = Y + η R D − ηλ, evaluated here in double with that form's own backward
 * (dR = η dP Dᵀ, dY = dP + dR − dR D, dD = η Rᵀ dP − dRᵀ Y). D is near the
 * identity, where D − DᵀD cancels hardest, and M > d as in training. Every
 * backend and precision this build has: fp32 to 1e-5 of each tensor's
 * largest entry, bf16 (only Y·H and the backward products rounded) to 1e-2.
 * The finite-difference check of the same layer is test_blocks_grad. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/ista.h"
#include "src/error.h"
#include "src/kernels/gemm.h"
#include "tests/check.h"
#include "tests/gradcheck.h"

enum { M = 67, D = 24 };
static const float ETA = 0.1f, LAMBDA = 0.1f;

typedef struct {
    double z[M * D], dy[M * D], dd[D * D];
} reference;

/* The two-GEMM form, naively in double. */
static void two_gemm_form(reference *r, const float *y, const float *Dm, const float *dout) {
    static double R[M * D], dP[M * D], dR[M * D];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < D; j++) {
            double s = y[i * D + j];
            for (int k = 0; k < D; k++) s -= (double)y[i * D + k] * Dm[j * D + k];
            R[i * D + j] = s;
        }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < D; j++) {
            double p = (double)y[i * D + j] - (double)ETA * LAMBDA;
            for (int k = 0; k < D; k++) p += ETA * R[i * D + k] * Dm[k * D + j];
            r->z[i * D + j] = p > 0 ? p : 0;
            dP[i * D + j] = p > 0 ? dout[i * D + j] : 0;
        }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += dP[i * D + k] * Dm[j * D + k];
            dR[i * D + j] = ETA * s;
        }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < D; j++) {
            double s = dP[i * D + j] + dR[i * D + j];
            for (int k = 0; k < D; k++) s -= dR[i * D + k] * Dm[k * D + j];
            r->dy[i * D + j] = s;
        }
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int i = 0; i < M; i++) s += ETA * R[i * D + a] * dP[i * D + b] - dR[i * D + a] * y[i * D + b];
            r->dd[a * D + b] = s;
        }
}

/* max |got − want| / max |want| */
static double rel_error(const float *got, const double *want, size_t n) {
    double err = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs(got[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    return err / scale;
}

static void check_forms(gemm_backend backend, gemm_precision precision, const float *y, const float *dout,
                        const reference *ref) {
    const char *what = gemm_backend_name(backend), *prec = gemm_precision_name(precision);
    int rc = gemm_select(backend, precision);
    CHECK(rc == CRATE_OK, "%s %s: %s", what, prec, crate_errmsg());
    if (rc != CRATE_OK) return;
    param_store ps;
    arena a;
    param_store_init(&ps);
    arena_init(&a);
    ista_layer l;
    rc = ista_declare(&l, &ps, "ista", D, ETA, LAMBDA);
    if (rc == CRATE_OK) rc = param_store_alloc(&ps);
    if (rc == CRATE_OK) rc = ista_alloc(&l, &a, M);
    CHECK(rc == CRATE_OK, "build: %s", crate_errmsg());
    if (rc == CRATE_OK) {
        float *Dm = param_data(&ps, l.dict);
        gradcheck_fill(Dm, D * D, 5, 0.15f);
        for (int i = 0; i < D; i++) Dm[i * D + i] += 1.0f;
        float *dy = calloc(M * D, sizeof(float)), *scratch = calloc(ista_scratch_floats(&l, M), sizeof(float));
        ista_forward(&l, &ps, y, M);
        ista_backward(&l, &ps, dy, dout, y, scratch, M);
        double tol = precision == GEMM_BF16 ? 1e-2 : 1e-5;
        double ez = rel_error(l.out, ref->z, M * D), ey = rel_error(dy, ref->dy, M * D),
               ed = rel_error(param_grad(&ps, l.dict), ref->dd, D * D);
        printf("%s %s: Z+ %.2e  dY %.2e  dD %.2e (relative to the largest entry)\n", what, prec, ez, ey, ed);
        CHECK(ez < tol && ey < tol && ed < tol, "%s %s: one-GEMM form off the two-GEMM form", what, prec);
        free(dy), free(scratch);
    }
    arena_free(&a);
    param_store_free(&ps);
}

int main(void) {
    static float y[M * D], dout[M * D], Dm[D * D];
    gradcheck_fill(y, M * D, 3, 1.5f);
    gradcheck_fill(dout, M * D, 4, 1.0f);
    gradcheck_fill(Dm, D * D, 5, 0.15f); /* the same D check_forms puts in the store */
    for (int i = 0; i < D; i++) Dm[i * D + i] += 1.0f;
    static reference ref;
    two_gemm_form(&ref, y, Dm, dout);
    int active = 0;
    for (int i = 0; i < M * D; i++) active += ref.z[i] > 0;
    CHECK(active > M * D / 5 && active < M * D * 4 / 5, "both sides of the threshold: %d of %d active", active,
          M * D);
    check_forms(GEMM_OPENBLAS, GEMM_FP32, y, dout, &ref);
    if (gemm_onednn_built()) {
        check_forms(GEMM_ONEDNN, GEMM_FP32, y, dout, &ref);
        if (gemm_select(GEMM_ONEDNN, GEMM_BF16) == CRATE_OK) check_forms(GEMM_ONEDNN, GEMM_BF16, y, dout, &ref);
    }
    return check_finish();
}
