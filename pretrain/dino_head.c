/* dino_head.c — DINO's projection head (see dino_head.h for the math).
 *
 * Four GEMMs forward (three Linear layers and the logits u Ŵᵀ), all reading
 * their operands in place through the transpose flags. The prototypes are
 * normalized into h->w_hat once per forward, K·bottleneck floats, which the
 * logits GEMM and the backward's ∂u = ∂z Ŵ both read; V itself is never
 * copied. Both normalizations are the same row operation,
 *
 *   û = a / n,  n = max(‖a‖₂, DINO_HEAD_NORM_EPS),
 *   ∂a = (∂û − (∂û·û) û) / n     (n > eps: the tangent projection)
 *   ∂a = ∂û / n                  (n = eps: the floor is a constant)
 *
 * as F.normalize's autograd in DINO's reference code (for V the floor only
 * keeps a zero row finite; weight_norm has none).
 */
#include "pretrain/dino_head.h"

#include "src/kernels/gemm.h"
#include <math.h>
#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"

#define DINO_HEAD_NORM_EPS 1e-12f
/* Row loops below this many floats stay serial (the fork costs more). */
#define DINO_HEAD_PAR_MIN ((size_t)1 << 15)

int dino_head_declare(dino_head *h, param_store *ps, const char *prefix, int d, int hidden, int bottleneck, int K) {
    memset(h, 0, sizeof *h);
    if (d < 1 || hidden < 1 || bottleneck < 1 || K < 1)
        return crate_fail(CRATE_EINPUT, "dino head %s: d %d, hidden %d, bottleneck %d, K %d; all must be >= 1",
                          prefix, d, hidden, bottleneck, K);
    h->d = d;
    h->hidden = hidden;
    h->bottleneck = bottleneck;
    h->K = K;
    char buf[PARAM_NAME_MAX];
    int rc = linear_layer_declare(&h->fc1, ps, layer_name(buf, prefix, "fc1"), d, hidden, 1);
    if (rc == CRATE_OK) rc = linear_layer_declare(&h->fc2, ps, layer_name(buf, prefix, "fc2"), hidden, hidden, 1);
    if (rc == CRATE_OK) rc = linear_layer_declare(&h->fc3, ps, layer_name(buf, prefix, "fc3"), hidden, bottleneck, 1);
    if (rc != CRATE_OK) return rc;
    h->prototypes = param_store_add2(ps, layer_name(buf, prefix, "prototypes"), K, bottleneck, PARAM_MATRIX);
    return h->prototypes < 0 ? CRATE_EINTERNAL : CRATE_OK;
}

int dino_head_alloc(dino_head *h, arena *a, int M_max) {
    if (M_max < 1) return crate_fail(CRATE_EINTERNAL, "dino head: %d rows; must be >= 1", M_max);
    size_t nh = (size_t)M_max * h->hidden, kb = (size_t)h->K * h->bottleneck;
    int rc = linear_layer_alloc(&h->fc1, a, M_max);
    if (rc == CRATE_OK) rc = linear_layer_alloc(&h->fc2, a, M_max);
    if (rc == CRATE_OK) rc = linear_layer_alloc(&h->fc3, a, M_max);
    if (rc != CRATE_OK) return rc;
    h->h1 = arena_floats(a, nh);
    h->h2 = arena_floats(a, nh);
    h->u = arena_floats(a, (size_t)M_max * h->bottleneck);
    h->ynorm = arena_floats(a, (size_t)M_max);
    h->w_hat = arena_floats(a, kb);
    h->v_norm = arena_floats(a, (size_t)h->K);
    h->logits = arena_floats(a, (size_t)M_max * h->K);
    return h->h1 && h->h2 && h->u && h->ynorm && h->w_hat && h->v_norm && h->logits ? CRATE_OK : CRATE_EINTERNAL;
}

/* out (rows, C) = a / n row by row, norm (rows) = n = max(‖a‖₂, eps); the
 * squares are summed in double. */
static void unit_rows_forward(float *out, float *norm, const float *a, int rows, int C) {
#pragma omp parallel for schedule(static) if ((size_t)rows * C >= DINO_HEAD_PAR_MIN)
    for (int i = 0; i < rows; i++) {
        const float *ai = a + (size_t)i * C;
        float *oi = out + (size_t)i * C;
        double ss = 0.0;
        for (int c = 0; c < C; c++) ss += (double)ai[c] * ai[c];
        float n = (float)sqrt(ss);
        if (!(n > DINO_HEAD_NORM_EPS)) n = DINO_HEAD_NORM_EPS;
        norm[i] = n;
        float inv = 1.0f / n;
        for (int c = 0; c < C; c++) oi[c] = ai[c] * inv;
    }
}

/* g (rows, C) ← ∂a from g = ∂û, in place (the module comment's two cases);
 * unit and norm are the forward's out and norm. */
static void unit_rows_backward(float *g, const float *unit, const float *norm, int rows, int C) {
#pragma omp parallel for schedule(static) if ((size_t)rows * C >= DINO_HEAD_PAR_MIN)
    for (int i = 0; i < rows; i++) {
        float *gi = g + (size_t)i * C;
        const float *ui = unit + (size_t)i * C;
        double dot = 0.0;
        if (norm[i] > DINO_HEAD_NORM_EPS)
            for (int c = 0; c < C; c++) dot += (double)gi[c] * ui[c];
        float inv = 1.0f / norm[i], fdot = (float)dot;
        for (int c = 0; c < C; c++) gi[c] = (gi[c] - fdot * ui[c]) * inv;
    }
}

void dino_head_forward(dino_head *h, const param_store *ps, const float *x, int M) {
    if (M < 1) return;
    const int B = h->bottleneck, K = h->K;
    const size_t nh = (size_t)M * h->hidden;
    /* h₁ = GELU(x W₁ᵀ + b₁), h₂ = GELU(h₁ W₂ᵀ + b₂), y = h₂ W₃ᵀ + b₃; the
     * pre-activations stay in fc1.out, fc2.out for GELU's backward */
    linear_layer_forward(&h->fc1, ps, x, M);
    gelu_forward(h->h1, h->fc1.out, nh);
    linear_layer_forward(&h->fc2, ps, h->h1, M);
    gelu_forward(h->h2, h->fc2.out, nh);
    linear_layer_forward(&h->fc3, ps, h->h2, M);
    /* u = y / ‖y‖, Ŵ_k = V_k / ‖V_k‖ */
    unit_rows_forward(h->u, h->ynorm, h->fc3.out, M, B);
    unit_rows_forward(h->w_hat, h->v_norm, param_data(ps, h->prototypes), K, B);
    /* z (M,K) = u Ŵᵀ */
    gemm(GEMM_N, GEMM_T, M, K, B, 1.0f, h->u, B, h->w_hat, B, 0.0f, h->logits, K);
}

/* Scratch segments start on 16-float (64-byte) boundaries. */
static size_t pad16(size_t n) { return (n + 15) & ~(size_t)15; }

size_t dino_head_scratch_floats(const dino_head *h, int M) {
    size_t m = M > 0 ? (size_t)M : 0;
    return pad16(m * h->bottleneck) + pad16((size_t)h->K * h->bottleneck) + 2 * pad16(m * h->hidden);
}

void dino_head_backward(dino_head *h, param_store *ps, float *dx, const float *dlogits, const float *x, int M,
                        int train_prototypes, float *scratch) {
    if (M >= 1) {
        const int B = h->bottleneck, K = h->K;
        const size_t nh = (size_t)M * h->hidden, kb = (size_t)K * B;
        float *du = scratch;                         /* (M, B): ∂u, then ∂y in place */
        float *dw = du + pad16((size_t)M * B);       /* (K, B): ∂Ŵ, then ∂V in place */
        float *dh = dw + pad16(kb);                  /* (M, hidden): ∂h₂, then ∂h₁ */
        float *da = dh + pad16(nh);                  /* (M, hidden): ∂ of fc2.out, then of fc1.out */
        if (train_prototypes) {
            /* ∂Ŵ = ∂zᵀ u, ∂V += its tangent part / ‖V_k‖ */
            gemm(GEMM_T, GEMM_N, K, B, M, 1.0f, dlogits, K, h->u, B, 0.0f, dw, B);
            unit_rows_backward(dw, h->w_hat, h->v_norm, K, B);
            axpy(param_grad(ps, h->prototypes), 1.0f, dw, kb);
        }
        /* ∂u = ∂z Ŵ, then ∂y in place */
        gemm(GEMM_N, GEMM_N, M, B, K, 1.0f, dlogits, K, h->w_hat, B, 0.0f, du, B);
        unit_rows_backward(du, h->u, h->ynorm, M, B);
        /* back through fc3, GELU, fc2, GELU, fc1 (each backward accumulates) */
        memset(dh, 0, nh * sizeof(float));
        linear_layer_backward(&h->fc3, ps, dh, du, h->h2, M);
        memset(da, 0, nh * sizeof(float));
        gelu_backward(da, dh, h->fc2.out, nh);
        memset(dh, 0, nh * sizeof(float));
        linear_layer_backward(&h->fc2, ps, dh, da, h->h1, M);
        memset(da, 0, nh * sizeof(float));
        gelu_backward(da, dh, h->fc1.out, nh);
        linear_layer_backward(&h->fc1, ps, dx, da, x, M);
    }
    /* The head's tensors are the store's last (dino_head.h): all final now. */
    param_store_grads_final_from(ps, h->fc1.weight);
}

double dino_head_flops(const dino_head *h, int M) {
    return linear_layer_flops(&h->fc1, M) + linear_layer_flops(&h->fc2, M) + linear_layer_flops(&h->fc3, M) +
           3.0 * 2.0 * M * h->bottleneck * (double)h->K;
}
