/* gradcheck_store.h — the finite-difference check of a whole model, tensor by
 * tensor (header-only, for the model tests: test_mae_grad.c, test_text_grad.c).
 *
 * The model's loss reports (sum, count) (pretrain/objective.h) and its
 * backward accumulates the gradient of the sum into ps->grad; the check is of
 * the mean, so the analytic gradient is ps->grad / count, taken once before
 * any entry is perturbed. Every tensor is probed at up to 12 entries with
 * h = 1e-3, rtol 3e-2, atol 2e-4; with kinked, entries next to a ReLU kink
 * are skipped (gradcheck_tensor_kinked).
 */
#ifndef CRATE_TESTS_GRADCHECK_STORE_H
#define CRATE_TESTS_GRADCHECK_STORE_H

#include <stdio.h>
#include <stdlib.h>

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

#endif
