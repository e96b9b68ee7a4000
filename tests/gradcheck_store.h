/* gradcheck_store.h — the finite-difference check of a whole model, tensor by
 * tensor (header-only, for the model tests: test_mae_grad.c, test_text_grad.c).
 *
 * The model's loss reports (sum, count) (pretrain/objective.h) and its
 * backward accumulates the gradient of the sum into ps->grad; the check is of
 * the mean, so the analytic gradient is ps->grad / count, taken once before
 * any entry is perturbed. Every tensor is probed at up to 12 entries with
 * h = 1e-3, rtol 3e-2, atol 2e-4; with kinked, entries next to a ReLU kink
 * are skipped (gradcheck_tensor_kinked).
 *
 * gradcheck_store_bf16 (a build with oneDNN; loss must run the backward):
 * the backward with bf16 GEMM operands against the fp32 analytic gradient
 * (the differences check it on both backends). A finite difference cannot
 * check bf16 itself: operands rounded to 8 mantissa bits make the loss a
 * step function at h = 1e-3. bf16's 2⁻⁹ relative rounding of every operand
 * of every product gives these O(1)-weight models a few per cent of error
 * on a tensor (up to ~13% where the gradient is a small difference of large
 * terms, LayerNorm's), so: every tensor within 25% of its fp32 norm and the
 * whole gradient within 4% (measured: at most 1.7%). A wrong bf16 product
 * (layout, transpose, a dropped β, a stale cached copy) is off by O(1) and
 * fails both (a dropped β: 100% on text.wte).
 */
#ifndef CRATE_TESTS_GRADCHECK_STORE_H
#define CRATE_TESTS_GRADCHECK_STORE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "src/error.h"
#include "src/kernels/gemm.h"
#include "src/nn/params.h"
#include "tests/gradcheck.h"

/* 1 if every tensor of ps passes; each is printed as "<label> <tensor name>". */
static inline int gradcheck_store(const char *label, param_store *ps, double count, gradcheck_loss_fn loss, void *ctx,
                                  int kinked) {
    float *analytic = malloc(ps->total * sizeof(float));
    if (!analytic) return 0;
    for (size_t i = 0; i < ps->total; i++) analytic[i] = (float)(ps->grad[i] / count);
    int ok = 1;
    for (int id = 0; id < ps->count; id++) {
        char name[160];
        const param_tensor *t = &ps->tensors[id];
        snprintf(name, sizeof name, "%s %s", label, t->name);
        ok &= gradcheck_compare(name, param_data(ps, id), analytic + t->offset, t->numel, loss, ctx, 1e-3f, 3e-2,
                                2e-4, 12, kinked);
    }
    free(analytic);
    return ok;
}

/* The gradient of the mean at the selected GEMMs, into g (ps->total floats). */
static inline void gradcheck_store_gradient(param_store *ps, double count, gradcheck_loss_fn loss, void *ctx,
                                            float *g) {
    param_store_zero_grad(ps);
    loss(ctx);
    for (size_t i = 0; i < ps->total; i++) g[i] = (float)(ps->grad[i] / count);
}

/* 1 if the bf16 gradient of ps is within bf16 rounding of the fp32 one (see
 * above), or the build has no bf16; restores the selected backend. */
static inline int gradcheck_store_bf16(const char *label, param_store *ps, double count, gradcheck_loss_fn loss,
                                       void *ctx) {
    if (!gemm_onednn_built()) return 1;
    gemm_backend backend = gemm_current_backend();
    gemm_precision precision = gemm_current_precision();
    float *g32 = malloc(ps->total * sizeof(float)), *g16 = malloc(ps->total * sizeof(float));
    int ok = g32 && g16 && gemm_select(GEMM_ONEDNN, GEMM_FP32) == CRATE_OK;
    if (ok) gradcheck_store_gradient(ps, count, loss, ctx, g32);
    ok = ok && gemm_select(GEMM_ONEDNN, GEMM_BF16) == CRATE_OK;
    if (ok) gradcheck_store_gradient(ps, count, loss, ctx, g16);
    double all_diff = 0.0, all_ref = 0.0;
    for (int id = 0; ok && id < ps->count; id++) {
        const param_tensor *t = &ps->tensors[id];
        double diff = 0.0, ref = 0.0;
        for (size_t i = t->offset; i < t->offset + t->numel; i++) {
            diff += ((double)g16[i] - g32[i]) * ((double)g16[i] - g32[i]);
            ref += (double)g32[i] * g32[i];
        }
        all_diff += diff, all_ref += ref;
        double rel = ref > 0.0 ? sqrt(diff / ref) : (diff > 0.0);
        if (rel > 0.25) printf("gradcheck bf16 %s %s: relative error %.3g: FAIL\n", label, t->name, rel);
        ok &= rel <= 0.25;
    }
    double rel = all_ref > 0.0 ? sqrt(all_diff / all_ref) : 1.0;
    printf("gradcheck bf16 %s: whole gradient within %.3g of fp32: %s\n", label, rel, ok && rel <= 0.04 ? "ok" : "FAIL");
    ok &= rel <= 0.04;
    free(g32);
    free(g16);
    gemm_select(backend, precision);
    return ok;
}

#endif
