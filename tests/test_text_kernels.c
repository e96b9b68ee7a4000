/* test_text_kernels.c — the text-model kernels of src/kernels/kernels.h:
 *
 *  - embedding: forward exact against wte[id] + wpe[t] (and without
 *    positions), finite-difference checks of dwte and dwpe with repeated ids,
 *    the accumulate (+=) and NULL-output contracts, and a backward bitwise
 *    equal on 1, 2 and 3 OpenMP threads (and equal to a double reference);
 *  - lm_cross_entropy: loss and all gradients against a naive double
 *    implementation, finite-difference checks of dh, dE and db with ignored
 *    rows (first, inside, last) for chunk_rows 1, 3 and M (M = 7), agreement
 *    across chunk sizes to float rounding, ignored rows contributing exactly
 *    nothing, accumulate and NULL contracts, the loss-only call, dloss
 *    scaling, a uniform-logit case whose loss is ln V per row, all rows
 *    ignored; on 1 and 2 threads, bitwise equality where only the kernel's
 *    own loops are threaded, float-rounding agreement where OpenBLAS's
 *    GEMMs are threaded too;
 *  - gelu: forward against a double x·Φ(x) at points from −40 to 40 and on
 *    an array past the threading threshold, backward against the double
 *    derivative and by finite differences, the accumulate and NULL contracts;
 *  - lm_argmax: against a naive double argmax (values on a 1/8 grid, so the
 *    float logits are exact and ties are real), two equal columns tying on
 *    some rows → the lower id, with and without bias, chunk_rows 1, 3 and M.
 */
#include <math.h>
#include <omp.h>
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

/* max |a − b| / (1 + max |b|): float-rounding agreement of whole tensors. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return worst / (1.0 + scale);
}

/* ---- embedding: ids (B·T) in [0,V), wte (V,C), wpe (T_MAX,C) ------------- */
enum { EM_B = 2, EM_T = 5, EM_C = 7, EM_V = 6, EM_TMAX = 8, EM_BT = EM_B * EM_T };
static struct {
    int32_t ids[EM_BT];
    float wte[EM_V * EM_C], wpe[EM_TMAX * EM_C];
    float out[EM_BT * EM_C], probe[EM_BT * EM_C];
} em;

static double embedding_loss(void *ctx) {
    embedding_forward(em.out, em.ids, em.wte, em.wpe, EM_B, EM_T, EM_C);
    return gradcheck_probe_dot(em.out, em.probe, EM_BT * EM_C);
}

static void test_embedding(void) {
    /* id 2 five times (twice in one sequence at different positions), 5 never */
    const int32_t ids[EM_BT] = {2, 0, 2, 4, 1, 3, 2, 2, 0, 2};
    memcpy(em.ids, ids, sizeof ids);
    gradcheck_fill(em.wte, EM_V * EM_C, 31, 1.0f);
    gradcheck_fill(em.wpe, EM_TMAX * EM_C, 32, 1.0f);
    gradcheck_fill(em.probe, EM_BT * EM_C, 33, 1.0f);

    embedding_forward(em.out, em.ids, em.wte, em.wpe, EM_B, EM_T, EM_C);
    int exact = 1;
    for (int r = 0; r < EM_BT; r++)
        for (int c = 0; c < EM_C; c++)
            exact &= em.out[r * EM_C + c] == em.wte[ids[r] * EM_C + c] + em.wpe[(r % EM_T) * EM_C + c];
    CHECK(exact, "embedding forward is not wte[id] + wpe[t]");
    float nopos[EM_BT * EM_C];
    embedding_forward(nopos, em.ids, em.wte, NULL, EM_B, EM_T, EM_C);
    exact = 1;
    for (int r = 0; r < EM_BT; r++) exact &= gradcheck_is_equal(nopos + r * EM_C, em.wte + ids[r] * EM_C, EM_C);
    CHECK(exact, "embedding forward without wpe is not wte[id]");

    float dwte[EM_V * EM_C] = {0}, dwpe[EM_TMAX * EM_C] = {0};
    embedding_backward(dwte, dwpe, em.probe, em.ids, EM_B, EM_T, EM_C);
    CHECK(gradcheck_tensor("embedding dwte", em.wte, dwte, EM_V * EM_C, embedding_loss, NULL, GC_H, GC_RTOL,
                           GC_ATOL, GC_PROBES), "embedding dwte");
    CHECK(gradcheck_tensor("embedding dwpe", em.wpe, dwpe, EM_TMAX * EM_C, embedding_loss, NULL, GC_H, GC_RTOL,
                           GC_ATOL, GC_PROBES), "embedding dwpe");
    int untouched = 1;
    for (int c = 0; c < EM_C; c++) untouched &= dwte[5 * EM_C + c] == 0.0f;
    for (int k = EM_T * EM_C; k < EM_TMAX * EM_C; k++) untouched &= dwpe[k] == 0.0f;
    CHECK(untouched, "embedding backward wrote an unused token row or a position >= T");

    float dwte2[EM_V * EM_C], dwpe2[EM_TMAX * EM_C];
    memcpy(dwte2, dwte, sizeof dwte);
    memcpy(dwpe2, dwpe, sizeof dwpe);
    embedding_backward(dwte2, dwpe2, em.probe, em.ids, EM_B, EM_T, EM_C);
    CHECK(gradcheck_is_doubled(dwte, dwte2, EM_V * EM_C) && gradcheck_is_doubled(dwpe, dwpe2, EM_TMAX * EM_C),
          "embedding backward does not accumulate");

    float only_te[EM_V * EM_C] = {0}, only_pe[EM_TMAX * EM_C] = {0};
    embedding_backward(only_te, NULL, em.probe, em.ids, EM_B, EM_T, EM_C);
    embedding_backward(NULL, only_pe, em.probe, em.ids, EM_B, EM_T, EM_C);
    embedding_backward(NULL, NULL, em.probe, em.ids, EM_B, EM_T, EM_C); /* must not crash */
    CHECK(gradcheck_is_equal(only_te, dwte, EM_V * EM_C), "embedding dwte changes when dwpe is NULL");
    CHECK(gradcheck_is_equal(only_pe, dwpe, EM_TMAX * EM_C), "embedding dwpe changes when dwte is NULL");
}

/* B·T rows on few ids, C not a multiple of the 16-float channel ranges: the
 * backward on 1, 2 and 3 threads gives the same bits, close to a double sum. */
enum { ED_B = 4, ED_T = 64, ED_C = 100, ED_V = 13, ED_BT = ED_B * ED_T };
static void test_embedding_threads(void) {
    static int32_t ids[ED_BT];
    static float dout[ED_BT * ED_C], dwte[3][ED_V * ED_C], dwpe[3][ED_T * ED_C];
    for (int r = 0; r < ED_BT; r++) ids[r] = (int32_t)(gradcheck_mix((uint64_t)r) % ED_V);
    gradcheck_fill(dout, ED_BT * ED_C, 41, 1.0f);
    int threads = omp_get_max_threads();
    for (int k = 0; k < 3; k++) {
        omp_set_num_threads(k + 1);
        for (int c = 0; c < ED_V * ED_C; c++) dwte[k][c] = 0.125f; /* accumulate onto a non-zero start */
        memset(dwpe[k], 0, sizeof dwpe[k]);
        embedding_backward(dwte[k], dwpe[k], dout, ids, ED_B, ED_T, ED_C);
    }
    omp_set_num_threads(threads);
    CHECK(gradcheck_is_equal(dwte[0], dwte[1], ED_V * ED_C) && gradcheck_is_equal(dwte[0], dwte[2], ED_V * ED_C),
          "embedding dwte differs between 1, 2 and 3 threads");
    CHECK(gradcheck_is_equal(dwpe[0], dwpe[1], ED_T * ED_C) && gradcheck_is_equal(dwpe[0], dwpe[2], ED_T * ED_C),
          "embedding dwpe differs between 1, 2 and 3 threads");

    static double ref_te[ED_V * ED_C], ref_pe[ED_T * ED_C];
    for (int c = 0; c < ED_V * ED_C; c++) ref_te[c] = 0.125;
    for (int r = 0; r < ED_BT; r++)
        for (int c = 0; c < ED_C; c++) {
            ref_te[ids[r] * ED_C + c] += dout[r * ED_C + c];
            ref_pe[(r % ED_T) * ED_C + c] += dout[r * ED_C + c];
        }
    double worst = 0.0;
    for (int c = 0; c < ED_V * ED_C; c++) worst = fmax(worst, fabs(dwte[0][c] - ref_te[c]));
    for (int c = 0; c < ED_T * ED_C; c++) worst = fmax(worst, fabs(dwpe[0][c] - ref_pe[c]));
    CHECK(worst < 1e-4, "embedding backward vs double reference: max err %g", worst);
}

/* ---- lm_cross_entropy: h (M,C), E (V,C), b (V), y (M) -------------------- */
enum { CE_M = 7, CE_C = 5, CE_V = 11 };
static const int32_t ce_y[CE_M] = {-1, 3, 0, -1, 10, 3, -1}; /* ignored first, inside, last */
static struct {
    float h[CE_M * CE_C], E[CE_V * CE_C], b[CE_V];
    float scratch[CE_M * CE_V];
    int chunk;
} ce;

static double ce_loss(void *ctx) {
    return lm_cross_entropy(NULL, NULL, NULL, ce.h, ce.E, ce.b, ce_y, CE_M, CE_C, CE_V, 1.0f, ce.scratch,
                            ce.chunk, NULL);
}

/* The same quantities in double, straight from the definitions. */
static double ce_naive(double *dh, double *dE, double *db, const float *h, const float *E, const float *b,
                       const int32_t *y, int M, int C, int V, double dloss, double *count) {
    double loss = 0.0, *z = malloc((size_t)V * sizeof *z);
    memset(dh, 0, (size_t)M * C * sizeof *dh);
    memset(dE, 0, (size_t)V * C * sizeof *dE);
    memset(db, 0, (size_t)V * sizeof *db);
    *count = 0.0;
    for (int i = 0; i < M; i++) {
        if (y[i] < 0) continue;
        double mx = -INFINITY, s = 0.0;
        for (int v = 0; v < V; v++) {
            z[v] = b ? b[v] : 0.0;
            for (int c = 0; c < C; c++) z[v] += (double)h[i * C + c] * E[v * C + c];
            mx = fmax(mx, z[v]);
        }
        for (int v = 0; v < V; v++) s += exp(z[v] - mx);
        loss += log(s) + mx - z[y[i]];
        *count += 1.0;
        for (int v = 0; v < V; v++) {
            double g = dloss * (exp(z[v] - mx) / s - (v == y[i]));
            db[v] += g;
            for (int c = 0; c < C; c++) {
                dh[i * C + c] += g * E[v * C + c];
                dE[v * C + c] += g * h[i * C + c];
            }
        }
    }
    free(z);
    return loss;
}

static double max_err_d(const float *a, const double *ref, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - ref[i]));
    return worst;
}

typedef struct {
    float dh[CE_M * CE_C], dE[CE_V * CE_C], db[CE_V];
    double loss, count;
} ce_result;

static void ce_run(ce_result *r, int chunk, float dloss) {
    memset(r, 0, sizeof *r);
    r->loss = lm_cross_entropy(r->dh, r->dE, r->db, ce.h, ce.E, ce.b, ce_y, CE_M, CE_C, CE_V, dloss, ce.scratch,
                               chunk, &r->count);
}

static void ce_fill(void) {
    gradcheck_fill(ce.h, CE_M * CE_C, 51, 1.0f);
    gradcheck_fill(ce.E, CE_V * CE_C, 52, 1.0f);
    gradcheck_fill(ce.b, CE_V, 53, 1.0f);
}

static void test_cross_entropy_naive(void) {
    ce_fill();
    double dh[CE_M * CE_C], dE[CE_V * CE_C], db[CE_V], count;
    double want = ce_naive(dh, dE, db, ce.h, ce.E, ce.b, ce_y, CE_M, CE_C, CE_V, 0.7, &count);
    const int chunks[] = {1, 3, CE_M};
    for (int k = 0; k < 3; k++) {
        ce_result r;
        ce_run(&r, chunks[k], 0.7f);
        CHECK(r.count == 4.0 && count == 4.0, "chunk %d: count %g, want 4", chunks[k], r.count);
        CHECK(fabs(r.loss - want) < 1e-5 * want, "chunk %d: loss %.9g vs double %.9g", chunks[k], r.loss, want);
        double e_h = max_err_d(r.dh, dh, CE_M * CE_C), e_E = max_err_d(r.dE, dE, CE_V * CE_C),
               e_b = max_err_d(r.db, db, CE_V);
        CHECK(e_h < 1e-5 && e_E < 1e-5 && e_b < 1e-5, "chunk %d: gradients vs double: dh %g dE %g db %g", chunks[k],
              e_h, e_E, e_b);
    }
    printf("cross-entropy vs double: loss %.9g (count 4)\n", want);

    /* no bias = a zero bias */
    float zeros[CE_V] = {0};
    double with0 = lm_cross_entropy(NULL, NULL, NULL, ce.h, ce.E, zeros, ce_y, CE_M, CE_C, CE_V, 1.0f, ce.scratch,
                                    3, NULL);
    double without = lm_cross_entropy(NULL, NULL, NULL, ce.h, ce.E, NULL, ce_y, CE_M, CE_C, CE_V, 1.0f, ce.scratch,
                                      3, NULL);
    double ref = ce_naive(dh, dE, db, ce.h, ce.E, NULL, ce_y, CE_M, CE_C, CE_V, 1.0, &count);
    CHECK(with0 == without && fabs(without - ref) < 1e-5 * ref, "bias NULL: %.9g, zero bias %.9g, double %.9g",
          without, with0, ref);
}

static void test_cross_entropy_grad(void) {
    const int chunks[] = {1, 3, CE_M};
    for (int k = 0; k < 3; k++) {
        ce_fill();
        ce.chunk = chunks[k];
        ce_result r;
        ce_run(&r, ce.chunk, 1.0f);
        char name[64];
        snprintf(name, sizeof name, "cross-entropy dh (chunk %d)", ce.chunk);
        CHECK(gradcheck_tensor(name, ce.h, r.dh, CE_M * CE_C, ce_loss, NULL, GC_H, GC_RTOL, GC_ATOL, GC_PROBES),
              "%s", name);
        snprintf(name, sizeof name, "cross-entropy dE (chunk %d)", ce.chunk);
        CHECK(gradcheck_tensor(name, ce.E, r.dE, CE_V * CE_C, ce_loss, NULL, GC_H, GC_RTOL, GC_ATOL, GC_PROBES),
              "%s", name);
        snprintf(name, sizeof name, "cross-entropy db (chunk %d)", ce.chunk);
        CHECK(gradcheck_tensor(name, ce.b, r.db, CE_V, ce_loss, NULL, GC_H, GC_RTOL, GC_ATOL, GC_PROBES), "%s",
              name);
    }
}

static void test_cross_entropy_contracts(void) {
    ce_fill();
    ce_result r1, r3, rM;
    ce_run(&r1, 1, 1.0f);
    ce_run(&r3, 3, 1.0f);
    ce_run(&rM, CE_M, 1.0f);
    double d_loss = fmax(fabs(r1.loss - rM.loss), fabs(r3.loss - rM.loss)) / rM.loss;
    double d_h = fmax(rel_diff(r1.dh, rM.dh, CE_M * CE_C), rel_diff(r3.dh, rM.dh, CE_M * CE_C));
    double d_E = fmax(rel_diff(r1.dE, rM.dE, CE_V * CE_C), rel_diff(r3.dE, rM.dE, CE_V * CE_C));
    double d_b = fmax(rel_diff(r1.db, rM.db, CE_V), rel_diff(r3.db, rM.db, CE_V));
    printf("cross-entropy chunk 1 / 3 / %d: loss %.3g, dh %.3g, dE %.3g, db %.3g relative apart\n", CE_M, d_loss,
           d_h, d_E, d_b);
    CHECK(d_loss < 1e-6 && d_h < 1e-6 && d_E < 1e-6 && d_b < 1e-6, "chunk sizes disagree beyond float rounding");

    /* ignored rows contribute exactly nothing */
    int zero = 1;
    for (int i = 0; i < CE_M; i++)
        if (ce_y[i] < 0)
            for (int c = 0; c < CE_C; c++) zero &= r3.dh[i * CE_C + c] == 0.0f;
    CHECK(zero, "an ignored row got a gradient");
    for (int i = 0; i < CE_M; i++)
        if (ce_y[i] < 0)
            for (int c = 0; c < CE_C; c++) ce.h[i * CE_C + c] = 100.0f * (float)(c + 1);
    ce_result moved;
    ce_run(&moved, 3, 1.0f);
    CHECK(moved.loss == r3.loss && gradcheck_is_equal(moved.dh, r3.dh, CE_M * CE_C) && gradcheck_is_equal(moved.dE, r3.dE, CE_V * CE_C)
          && gradcheck_is_equal(moved.db, r3.db, CE_V), "changing an ignored row's h changes the result");
    ce_fill();

    /* accumulate: a second call onto the outputs doubles them */
    ce_result twice = r3;
    lm_cross_entropy(twice.dh, twice.dE, twice.db, ce.h, ce.E, ce.b, ce_y, CE_M, CE_C, CE_V, 1.0f, ce.scratch, 3,
                     NULL);
    CHECK(gradcheck_is_doubled(r3.dh, twice.dh, CE_M * CE_C) && gradcheck_is_doubled(r3.dE, twice.dE, CE_V * CE_C) &&
          gradcheck_is_doubled(r3.db, twice.db, CE_V), "cross-entropy does not accumulate");

    /* NULL outputs: each gradient alone is the same bits; no gradient is the same loss */
    ce_result only;
    memset(&only, 0, sizeof only);
    double l_h = lm_cross_entropy(only.dh, NULL, NULL, ce.h, ce.E, ce.b, ce_y, CE_M, CE_C, CE_V, 1.0f, ce.scratch,
                                  3, NULL);
    double l_E = lm_cross_entropy(NULL, only.dE, NULL, ce.h, ce.E, ce.b, ce_y, CE_M, CE_C, CE_V, 1.0f, ce.scratch,
                                  3, NULL);
    double l_b = lm_cross_entropy(NULL, NULL, only.db, ce.h, ce.E, ce.b, ce_y, CE_M, CE_C, CE_V, 1.0f, ce.scratch,
                                  3, NULL);
    double count = -1.0;
    double l_0 = lm_cross_entropy(NULL, NULL, NULL, ce.h, ce.E, ce.b, ce_y, CE_M, CE_C, CE_V, 1.0f, ce.scratch, 3,
                                  &count);
    CHECK(gradcheck_is_equal(only.dh, r3.dh, CE_M * CE_C) && gradcheck_is_equal(only.dE, r3.dE, CE_V * CE_C) &&
          gradcheck_is_equal(only.db, r3.db, CE_V), "a gradient changes when the others are NULL");
    CHECK(l_h == r3.loss && l_E == r3.loss && l_b == r3.loss && l_0 == r3.loss && count == 4.0,
          "the loss depends on which gradients are asked for (%.17g %.17g %.17g %.17g vs %.17g, count %g)", l_h,
          l_E, l_b, l_0, r3.loss, count);

    /* dloss scales every gradient and not the loss */
    ce_result scaled;
    ce_run(&scaled, 3, 0.3f);
    float want_h[CE_M * CE_C], want_E[CE_V * CE_C], want_b[CE_V];
    for (int k = 0; k < CE_M * CE_C; k++) want_h[k] = 0.3f * r3.dh[k];
    for (int k = 0; k < CE_V * CE_C; k++) want_E[k] = 0.3f * r3.dE[k];
    for (int k = 0; k < CE_V; k++) want_b[k] = 0.3f * r3.db[k];
    CHECK(scaled.loss == r3.loss, "dloss changed the loss");
    CHECK(rel_diff(scaled.dh, want_h, CE_M * CE_C) < 1e-6 && rel_diff(scaled.dE, want_E, CE_V * CE_C) < 1e-6 &&
          rel_diff(scaled.db, want_b, CE_V) < 1e-6, "dloss 0.3 does not scale the gradients by 0.3");

    /* all rows ignored: loss 0, count 0, nothing written */
    const int32_t none[CE_M] = {-1, -1, -1, -1, -1, -1, -1};
    ce_result nothing;
    memset(&nothing, 0, sizeof nothing);
    nothing.count = -1.0;
    double l = lm_cross_entropy(nothing.dh, nothing.dE, nothing.db, ce.h, ce.E, ce.b, none, CE_M, CE_C, CE_V, 1.0f,
                                ce.scratch, 3, &nothing.count);
    int untouched = 1;
    for (int k = 0; k < CE_M * CE_C; k++) untouched &= nothing.dh[k] == 0.0f;
    for (int k = 0; k < CE_V * CE_C; k++) untouched &= nothing.dE[k] == 0.0f;
    for (int k = 0; k < CE_V; k++) untouched &= nothing.db[k] == 0.0f;
    CHECK(l == 0.0 && nothing.count == 0.0 && untouched, "all rows ignored: loss %g count %g", l, nothing.count);
}

/* E = 0 and a constant bias: every logit is the same, softmax is 1/V, the
 * loss ln V per scored row, g_i = dloss (1/V − onehot). */
static void test_cross_entropy_uniform(void) {
    enum { UM = 9, UC = 4, UV = 37 };
    static float h[UM * UC], E[UV * UC], b[UV], scratch[4 * UV], dh[UM * UC], dE[UV * UC], db[UV];
    const int32_t y[UM] = {0, 36, 5, -1, 5, 5, 12, 30, 1};
    gradcheck_fill(h, UM * UC, 61, 2.0f);
    for (int v = 0; v < UV; v++) b[v] = 3.75f;
    double count;
    double loss = lm_cross_entropy(dh, dE, db, h, E, b, y, UM, UC, UV, 1.0f, scratch, 4, &count);
    CHECK(count == 8.0 && fabs(loss - 8.0 * log((double)UV)) < 1e-12,
          "uniform logits: loss %.17g over %g rows, want 8 ln %d = %.17g", loss, count, UV, 8.0 * log((double)UV));
    /* db_v = Σ_i (1/V − [y_i = v]) = 8/V − (#rows with target v) */
    double worst = 0.0;
    for (int v = 0; v < UV; v++) {
        int hits = 0;
        for (int i = 0; i < UM; i++) hits += y[i] == v;
        worst = fmax(worst, fabs(db[v] - (8.0 / UV - hits)));
    }
    CHECK(worst < 1e-6, "uniform logits: db off by %g", worst);
}

/* Blocks of 128 rows × V 500, past the kernel's own threading threshold, on
 * 1 and 2 threads. With C = 4 every GEMM is below OpenBLAS's threading
 * threshold (M·N·K ≤ 262144), so what is threaded is the kernel's own
 * softmax, loss and db: the bits must be equal. With C = 48 OpenBLAS threads
 * its GEMMs too and rounds some products differently per thread count
 * (kernels.h): the two must agree to float rounding. Both against double. */
enum { CT_M = 600, CT_V = 500, CT_CHUNK = 128, CT_CMAX = 48 };
static void test_cross_entropy_threads(int C, int bitwise) {
    static float h[CT_M * CT_CMAX], E[CT_V * CT_CMAX], b[CT_V], scratch[CT_CHUNK * CT_V];
    static float dh[2][CT_M * CT_CMAX], dE[2][CT_V * CT_CMAX], db[2][CT_V];
    static int32_t y[CT_M];
    gradcheck_fill(h, (size_t)CT_M * C, 71, 1.0f);
    for (int i = 0; i < CT_M; i++) /* rows of very different losses, so a change of summation order shows */
        for (int c = 0; c < C; c++) h[(size_t)i * C + c] *= (float)(1 + (i * 7) % 13);
    gradcheck_fill(E, (size_t)CT_V * C, 72, 0.5f);
    gradcheck_fill(b, CT_V, 73, 1.0f);
    for (int i = 0; i < CT_M; i++) y[i] = i % 11 == 4 ? -1 : (int32_t)(gradcheck_mix((uint64_t)i + 99) % CT_V);
    CHECK(lm_cross_entropy_scratch_floats(CT_CHUNK, CT_V) == (size_t)CT_CHUNK * CT_V, "scratch size");
    double loss[2], count[2];
    int threads = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        memset(dh[k], 0, sizeof dh[k]);
        memset(dE[k], 0, sizeof dE[k]);
        memset(db[k], 0, sizeof db[k]);
        loss[k] = lm_cross_entropy(dh[k], dE[k], db[k], h, E, b, y, CT_M, C, CT_V, 1.0f / CT_M, scratch, CT_CHUNK,
                                   &count[k]);
    }
    omp_set_num_threads(threads);
    const size_t nh = (size_t)CT_M * C, nE = (size_t)CT_V * C;
    double d_loss = fabs(loss[0] - loss[1]) / loss[0];
    double d_g = fmax(rel_diff(dh[1], dh[0], nh), fmax(rel_diff(dE[1], dE[0], nE), rel_diff(db[1], db[0], CT_V)));
    printf("cross-entropy %d rows, C %d, V %d, 1 vs 2 threads: loss %.3g, gradients %.3g relative apart\n", CT_M, C,
           CT_V, d_loss, d_g);
    CHECK(count[0] == count[1], "count differs between 1 and 2 threads");
    if (bitwise)
        CHECK(loss[0] == loss[1] && gradcheck_is_equal(dh[0], dh[1], nh) && gradcheck_is_equal(dE[0], dE[1], nE) &&
              gradcheck_is_equal(db[0], db[1], CT_V), "C %d: the kernel's own sums differ between 1 and 2 threads", C);
    else
        CHECK(d_loss < 1e-6 && d_g < 1e-6, "C %d: 1 and 2 threads differ beyond float rounding", C);

    double *rh = malloc(sizeof(double) * nh), *rE = malloc(sizeof(double) * nE), *rb = malloc(sizeof(double) * CT_V),
           rc;
    double ref = ce_naive(rh, rE, rb, h, E, b, y, CT_M, C, CT_V, 1.0 / CT_M, &rc);
    CHECK(rc == count[0] && fabs(loss[0] - ref) < 1e-5 * ref, "C %d: loss %.9g vs double %.9g", C, loss[0], ref);
    double e = fmax(max_err_d(dh[0], rh, nh), fmax(max_err_d(dE[0], rE, nE), max_err_d(db[0], rb, CT_V)));
    CHECK(e < 1e-6, "C %d: gradients vs double: max err %g", C, e);
    free(rh);
    free(rE);
    free(rb);
}

/* ---- gelu --------------------------------------------------------------- */
static double gelu_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
/* Φ(x) + x·φ(x); acos(−1) = π (M_PI is POSIX, not C11) */
static double gelu_grad_ref(double x) {
    return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * acos(-1.0));
}

enum { GE_N = 64, GE_BIG = 1 << 16 };
static struct {
    float x[GE_N], out[GE_N], probe[GE_N];
} ge;

static double gelu_loss(void *ctx) {
    gelu_forward(ge.out, ge.x, GE_N);
    return gradcheck_probe_dot(ge.out, ge.probe, GE_N);
}

/* Largest |a_i − ref(x_i)| / (1 + |ref(x_i)|): erff is good to a few ulp, and
 * 1 + erf cancels for x ≪ 0, where the result is tiny anyway. */
static double gelu_err(const float *a, const float *x, size_t n, double (*ref)(double)) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = ref(x[i]);
        worst = fmax(worst, fabs(a[i] - r) / (1.0 + fabs(r)));
    }
    return worst;
}

static void test_gelu(void) {
    const float pts[] = {-40.0f, -6.0f, -3.0f, -1.5f, -0.5f, -1e-3f, 0.0f, 1e-3f, 0.3f, 1.0f, 2.5f, 10.0f, 40.0f};
    enum { NP = sizeof pts / sizeof pts[0] };
    float out[NP], d[NP], ones[NP];
    for (int i = 0; i < NP; i++) ones[i] = 1.0f, d[i] = 0.0f;
    gelu_forward(out, pts, NP);
    gelu_backward(d, ones, pts, NP);
    double e_f = gelu_err(out, pts, NP, gelu_ref), e_b = gelu_err(d, pts, NP, gelu_grad_ref);
    printf("gelu vs double at %d points: forward %.3g, derivative %.3g\n", NP, e_f, e_b);
    CHECK(e_f < 1e-6 && e_b < 1e-6, "gelu vs double: forward %g, derivative %g", e_f, e_b);
    CHECK(out[6] == 0.0f && d[6] == 0.5f && out[12] == 40.0f && out[0] == 0.0f && d[12] == 1.0f && d[0] == 0.0f,
          "gelu(0) %g gelu'(0) %g gelu(40) %g gelu(-40) %g gelu'(40) %g gelu'(-40) %g", out[6], d[6], out[12], out[0],
          d[12], d[0]);

    /* past ELEMENTWISE_PAR_MIN: the threaded loops */
    static float bx[GE_BIG], bout[GE_BIG], bd[GE_BIG], bones[GE_BIG];
    gradcheck_fill(bx, GE_BIG, 81, 8.0f);
    for (int i = 0; i < GE_BIG; i++) bones[i] = 1.0f, bd[i] = 0.0f;
    gelu_forward(bout, bx, GE_BIG);
    gelu_backward(bd, bones, bx, GE_BIG);
    e_f = gelu_err(bout, bx, GE_BIG, gelu_ref);
    e_b = gelu_err(bd, bx, GE_BIG, gelu_grad_ref);
    CHECK(e_f < 1e-6 && e_b < 1e-6, "gelu over %d values vs double: forward %g, derivative %g", GE_BIG, e_f, e_b);

    gradcheck_fill(ge.x, GE_N, 82, 3.0f);
    gradcheck_fill(ge.probe, GE_N, 83, 1.0f);
    float dx[GE_N] = {0}, twice[GE_N];
    gelu_backward(dx, ge.probe, ge.x, GE_N);
    CHECK(gradcheck_tensor("gelu dinp", ge.x, dx, GE_N, gelu_loss, NULL, GC_H, GC_RTOL, GC_ATOL, GC_PROBES),
          "gelu dinp");
    memcpy(twice, dx, sizeof dx);
    gelu_backward(twice, ge.probe, ge.x, GE_N);
    gelu_backward(NULL, ge.probe, ge.x, GE_N); /* must not crash */
    CHECK(gradcheck_is_doubled(dx, twice, GE_N), "gelu backward does not accumulate");
}

/* ---- lm_argmax: h (M,C), E (V,C), b (V) --------------------------------- */
enum { AM_M = 7, AM_C = 5, AM_V = 11, AM_TIE = 2, AM_TWIN = 7 };

/* x on the grid k/8: with C = 5 terms of |·| ≤ 1 every logit is exact in float. */
static void fill_grid(float *x, size_t n, unsigned seed, float scale) {
    gradcheck_fill(x, n, seed, scale);
    for (size_t i = 0; i < n; i++) x[i] = roundf(x[i] * 8.0f) / 8.0f;
}

/* The first v of the largest z_iv, z in double. */
static int argmax_naive(const float *h, const float *E, const float *b, int C, int V) {
    int best = 0;
    double top = -INFINITY;
    for (int v = 0; v < V; v++) {
        double z = b ? b[v] : 0.0;
        for (int c = 0; c < C; c++) z += (double)h[c] * E[v * C + c];
        if (z > top) top = z, best = v;
    }
    return best;
}

static void test_argmax(void) {
    float h[AM_M * AM_C], E[AM_V * AM_C], b[AM_V], scratch[AM_M * AM_V];
    fill_grid(h, AM_M * AM_C, 91, 1.0f);
    fill_grid(E, AM_V * AM_C, 92, 0.5f);
    fill_grid(b, AM_V, 93, 1.0f);
    /* columns AM_TIE and AM_TWIN equal, and rows 1 and 4 pointing at them:
     * their logit there is 5 + b, every other at most 2.5 + 1 */
    for (int c = 0; c < AM_C; c++) {
        E[AM_TIE * AM_C + c] = E[AM_TWIN * AM_C + c] = c % 2 ? 1.0f : -1.0f;
        h[1 * AM_C + c] = h[4 * AM_C + c] = E[AM_TIE * AM_C + c];
    }
    b[AM_TWIN] = b[AM_TIE];
    CHECK(lm_cross_entropy_scratch_floats(3, AM_V) <= sizeof scratch / sizeof *scratch, "scratch size");
    const float *biases[] = {b, NULL};
    const int chunks[] = {1, 3, AM_M};
    for (int k = 0; k < 2; k++) {
        int32_t want[AM_M];
        for (int i = 0; i < AM_M; i++) want[i] = argmax_naive(h + i * AM_C, E, biases[k], AM_C, AM_V);
        CHECK(want[1] == AM_TIE && want[4] == AM_TIE, "the test's tie rows do not tie (%d %d)", want[1], want[4]);
        for (int j = 0; j < 3; j++) {
            int32_t pred[AM_M];
            memset(pred, 0xff, sizeof pred);
            lm_argmax(pred, h, E, biases[k], AM_M, AM_C, AM_V, scratch, chunks[j]);
            CHECK(memcmp(pred, want, sizeof want) == 0, "argmax %s bias, chunk %d differs from the naive one",
                  biases[k] ? "with" : "without", chunks[j]);
        }
    }
}

int main(void) {
    test_embedding();
    test_embedding_threads();
    test_cross_entropy_naive();
    test_cross_entropy_grad();
    test_cross_entropy_contracts();
    test_cross_entropy_uniform();
    test_cross_entropy_threads(4, 1);
    test_cross_entropy_threads(CT_CMAX, 0);
    test_gelu();
    test_argmax();
    return check_finish();
}
