/* test_mlm_head_grad.c — the masked-LM head of CRATE-BERT (pretrain/mlm_head.h),
 * in dense mode (Dense + GELU + LN + decoder bias) and tied mode, on M rows
 * with ignored targets (first, inside, last) and logits in blocks of 4 rows:
 *
 *  - the loss against a naive double forward of the head's math;
 *  - finite-difference checks of the mean loss in every tensor of the store
 *    (the head's and the tied wte; gradient of the sum / count, as the
 *    objectives report it, tests/gradcheck_store.h) and in hs;
 *  - ignored rows get exactly zero ∂hs; a second backward doubles every
 *    gradient (accumulate); M = 0 is a loss of 0 over 0 rows;
 *  - dense mode's grads-final call names the head's first tensor, tied mode
 *    (no tensors) makes none;
 *  - mlm_head_predict is the argmax of the naive logits;
 *  - tensor names, init flags and the FLOP count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/mlm_head.h"
#include "src/error.h"
#include "src/kernels/kernels.h"
#include "tests/check.h"
#include "tests/gradcheck_store.h"

enum { D = 8, V = 13, M = 7, CHUNK = 4 };
static const int32_t targets[M] = {-1, 3, 0, -1, 12, 3, -1};

typedef struct {
    param_store ps;
    arena arena;
    mlm_head head;
    int wte;
    float hs[M * D], dhs[M * D];
    size_t final_from; /* the last grads-final offset reported, or SIZE_MAX */
} fixture;

static double head_mean_loss(void *ctx) {
    fixture *f = ctx;
    double count;
    double sum = mlm_head_loss(&f->head, &f->ps, f->wte, f->hs, targets, M, NULL, &count);
    return sum / count;
}

static void on_final(void *ctx, size_t first_final) { ((fixture *)ctx)->final_from = first_final; }

/* The logits z (M,V) of the head in double, straight from mlm_head.h. */
static void naive_logits(const fixture *f, double *z) {
    const param_store *ps = &f->ps;
    const mlm_head *h = &f->head;
    const float *E = param_data(ps, f->wte);
    for (int i = 0; i < M; i++) {
        double n[D];
        for (int c = 0; c < D; c++) n[c] = f->hs[i * D + c];
        if (h->dense) {
            const float *W = param_data(ps, h->fc.weight), *b = param_data(ps, h->fc.bias);
            const float *gamma = param_data(ps, h->norm.gamma), *beta = param_data(ps, h->norm.beta);
            double g[D], mean = 0.0, var = 0.0;
            for (int o = 0; o < D; o++) {
                double x = b[o];
                for (int c = 0; c < D; c++) x += W[o * D + c] * (double)f->hs[i * D + c];
                g[o] = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
                mean += g[o] / D;
            }
            for (int c = 0; c < D; c++) var += (g[c] - mean) * (g[c] - mean) / D;
            for (int c = 0; c < D; c++) n[c] = (g[c] - mean) / sqrt(var + LAYERNORM_EPS) * gamma[c] + beta[c];
        }
        for (int v = 0; v < V; v++) {
            double zv = h->dense ? param_data(ps, h->bias)[v] : 0.0;
            for (int c = 0; c < D; c++) zv += n[c] * E[v * D + c];
            z[i * V + v] = zv;
        }
    }
}

static double naive_loss(const double *z) {
    double loss = 0.0;
    for (int i = 0; i < M; i++) {
        if (targets[i] < 0) continue;
        double mx = -INFINITY, s = 0.0;
        for (int v = 0; v < V; v++) mx = fmax(mx, z[i * V + v]);
        for (int v = 0; v < V; v++) s += exp(z[i * V + v] - mx);
        loss += log(s) + mx - z[i * V + targets[i]];
    }
    return loss;
}

static void check_head(const char *label, int dense) {
    fixture *f = calloc(1, sizeof *f);
    param_store_init(&f->ps);
    arena_init(&f->arena);
    f->wte = param_store_add2(&f->ps, "text.wte", V, D, PARAM_EMBEDDING); /* the encoder's, declared first */
    int rc = mlm_head_declare(&f->head, &f->ps, "mlm", D, V, dense);
    if (rc == CRATE_OK) rc = param_store_alloc(&f->ps);
    if (rc == CRATE_OK) rc = mlm_head_alloc(&f->head, &f->arena, M, CHUNK);
    CHECK(rc == CRATE_OK, "%s: build: %s", label, crate_errmsg());
    if (rc != CRATE_OK) return;

    /* names and init: N(0, 0.02²) decayed dense weight, zero biases, unit γ */
    const param_store *ps = &f->ps;
    CHECK(ps->count == (dense ? 6 : 1), "%s: %d tensors", label, ps->count);
    if (dense) {
        const param_tensor *w = &ps->tensors[param_store_find(ps, "mlm.dense.weight")];
        CHECK((w->flags & PARAM_INIT_MASK) == PARAM_INIT_NORMAL && (w->flags & PARAM_DECAY) && w->init_std == 0.02f,
              "%s: dense weight init flags %#x std %g", label, w->flags, w->init_std);
        CHECK(param_store_find(ps, "mlm.dense.bias") == f->head.fc.bias &&
                  param_store_find(ps, "mlm.norm.weight") == f->head.norm.gamma &&
                  param_store_find(ps, "mlm.norm.bias") == f->head.norm.beta &&
                  param_store_find(ps, "mlm.bias") == f->head.bias,
              "%s: tensor names", label);
        CHECK(ps->tensors[f->head.bias].numel == V && ps->tensors[f->head.bias].flags == PARAM_BIAS &&
                  ps->tensors[f->head.norm.gamma].flags == PARAM_GAIN,
              "%s: decoder bias / LN gain flags", label);
    }
    double flops = 6.0 * M * D * (dense ? D + V : V);
    CHECK(mlm_head_flops(&f->head, M) == flops, "%s: flops %g, want %g", label, mlm_head_flops(&f->head, M), flops);

    /* O(1) weights, LN gains around 1 */
    gradcheck_fill(f->ps.data, f->ps.total, 5, 0.5f);
    if (dense)
        for (int c = 0; c < D; c++) param_data(&f->ps, f->head.norm.gamma)[c] += 1.0f;
    gradcheck_fill(f->hs, M * D, 6, 1.0f);

    double z[M * V];
    naive_logits(f, z);
    double want = naive_loss(z), count;
    param_store_zero_grad(&f->ps);
    f->final_from = SIZE_MAX;
    f->ps.on_final = on_final;
    f->ps.on_final_ctx = f;
    double sum = mlm_head_loss(&f->head, &f->ps, f->wte, f->hs, targets, M, f->dhs, &count);
    f->ps.on_final = NULL;
    printf("%s: loss %.9g over %g rows, double %.9g\n", label, sum, count, want);
    CHECK(count == 4.0 && fabs(sum - want) < 1e-5 * want, "%s: loss %.9g (count %g) vs double %.9g", label, sum,
          count, want);
    size_t first = dense ? ps->tensors[f->head.fc.weight].offset : SIZE_MAX;
    CHECK(f->final_from == first, "%s: grads final from %zu, want %zu", label, f->final_from, first);

    /* finite differences of the mean: every tensor, then hs */
    char name[64];
    snprintf(name, sizeof name, "mlm head %s", label);
    CHECK(gradcheck_store(name, &f->ps, count, head_mean_loss, f, 0), "%s: a parameter gradient check failed", label);
    float dmean[M * D];
    for (int k = 0; k < M * D; k++) dmean[k] = (float)(f->dhs[k] / count);
    snprintf(name, sizeof name, "mlm head %s hs", label);
    CHECK(gradcheck_tensor(name, f->hs, dmean, M * D, head_mean_loss, f, 1e-3f, 3e-2, 2e-4, M * D),
          "%s: the hs gradient check failed", label);
    int zero = 1;
    for (int i = 0; i < M; i++)
        for (int c = 0; c < D && targets[i] < 0; c++) zero &= f->dhs[i * D + c] == 0.0f;
    CHECK(zero, "%s: an ignored row got a gradient", label);

    /* accumulate: a second backward doubles ∂hs and every parameter gradient */
    float *once = malloc(f->ps.total * sizeof(float)), dhs_once[M * D];
    memcpy(once, f->ps.grad, f->ps.total * sizeof(float));
    memcpy(dhs_once, f->dhs, sizeof dhs_once);
    mlm_head_loss(&f->head, &f->ps, f->wte, f->hs, targets, M, f->dhs, NULL);
    CHECK(gradcheck_is_doubled(once, f->ps.grad, f->ps.total) && gradcheck_is_doubled(dhs_once, f->dhs, M * D),
          "%s: the head's backward does not accumulate", label);
    free(once);

    /* no rows */
    count = -1.0;
    sum = mlm_head_loss(&f->head, &f->ps, f->wte, f->hs, targets, 0, f->dhs, &count);
    CHECK(sum == 0.0 && count == 0.0, "%s: M = 0: loss %g count %g", label, sum, count);

    /* predictions: argmax of the naive logits (a float/double near-tie may
     * pick the other of two logits within rounding of each other) */
    int32_t pred[M];
    mlm_head_predict(&f->head, &f->ps, f->wte, f->hs, M, pred);
    int exact = 0, ok = 1;
    for (int i = 0; i < M; i++) {
        int best = 0;
        for (int v = 1; v < V; v++) best = z[i * V + v] > z[i * V + best] ? v : best;
        exact += pred[i] == best;
        ok &= pred[i] >= 0 && pred[i] < V &&
              z[i * V + best] - z[i * V + pred[i]] <= 1e-5 * (1.0 + fabs(z[i * V + best]));
    }
    printf("%s: predictions equal the naive argmax on %d of %d rows\n", label, exact, M);
    CHECK(ok, "%s: a prediction is not the argmax of the logits", label);

    arena_free(&f->arena);
    param_store_free(&f->ps);
    free(f);
}

int main(void) {
    check_head("dense", 1);
    check_head("tied", 0);
    return check_finish();
}
