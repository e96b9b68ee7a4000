/* mlm_head.c — see mlm_head.h. */
#include "pretrain/mlm_head.h"

#include <string.h>

#include "encoders/text_encoder.h"
#include "src/error.h"
#include "src/kernels/kernels.h"

int mlm_head_declare(mlm_head *h, param_store *ps, const char *prefix, int d, int V, int dense) {
    memset(h, 0, sizeof *h);
    h->dense = dense;
    h->d = d;
    h->V = V;
    h->bias = -1;
    if (!dense) return CRATE_OK;
    char buf[PARAM_NAME_MAX];
    int rc = linear_layer_declare(&h->fc, ps, layer_name(buf, prefix, "dense"), d, d, 1);
    if (rc == CRATE_OK) rc = ln_layer_declare(&h->norm, ps, layer_name(buf, prefix, "norm"), d);
    if (rc != CRATE_OK) return rc;
    h->bias = param_store_add1(ps, layer_name(buf, prefix, "bias"), V, PARAM_BIAS);
    if (h->bias < 0) return CRATE_EINTERNAL;
    param_store_set_normal_init(ps, h->fc.weight, TEXT_INIT_STD);
    return CRATE_OK;
}

int mlm_head_alloc(mlm_head *h, arena *a, int M_max, int chunk_rows) {
    if (M_max < 1 || chunk_rows < 1)
        return crate_fail(CRATE_EINTERNAL, "mlm head: %d rows in blocks of %d; both must be >= 1", M_max, chunk_rows);
    h->chunk = chunk_rows < M_max ? chunk_rows : M_max;
    h->ce_scratch = arena_floats(a, lm_cross_entropy_scratch_floats(h->chunk, h->V));
    if (!h->ce_scratch) return CRATE_EINTERNAL;
    if (!h->dense) return CRATE_OK;
    size_t n = (size_t)M_max * h->d;
    h->g = arena_floats(a, n);
    h->dn = arena_floats(a, n);
    h->dg = arena_floats(a, n);
    if (!h->g || !h->dn || !h->dg) return CRATE_EINTERNAL;
    int rc = linear_layer_alloc(&h->fc, a, M_max);
    return rc == CRATE_OK ? ln_layer_alloc(&h->norm, a, M_max) : rc;
}

/* The decoder's input: n = LN(GELU(hs Wᵀ + b)) in dense mode, hs itself when tied. */
static const float *head_forward(mlm_head *h, const param_store *ps, const float *hs, int M) {
    if (!h->dense) return hs;
    linear_layer_forward(&h->fc, ps, hs, M);
    gelu_forward(h->g, h->fc.out, (size_t)M * h->d);
    ln_layer_forward(&h->norm, ps, h->g, M);
    return h->norm.out;
}

double mlm_head_loss(mlm_head *h, param_store *ps, int wte, const float *hs, const int32_t *y, int M, float *dhs,
                     double *count) {
    const float *n = head_forward(h, ps, hs, M);
    const float *E = param_data(ps, wte);
    const float *c = h->dense ? param_data(ps, h->bias) : NULL;
    if (!dhs)
        return lm_cross_entropy(NULL, NULL, NULL, n, E, c, y, M, h->d, h->V, 1.0f, h->ce_scratch, h->chunk, count);
    if (!h->dense) /* z = hs wteᵀ: the decoder's ∂h is ∂hs */
        return lm_cross_entropy(dhs, param_grad(ps, wte), NULL, hs, E, NULL, y, M, h->d, h->V, 1.0f, h->ce_scratch,
                                h->chunk, count);
    size_t nd = (size_t)M * h->d;
    /* ∂n, ∂wte, ∂c from the decoder; ignored rows get ∂n = 0 */
    memset(h->dn, 0, nd * sizeof(float));
    double loss = lm_cross_entropy(h->dn, param_grad(ps, wte), param_grad(ps, h->bias), n, E, c, y, M, h->d, h->V,
                                   1.0f, h->ce_scratch, h->chunk, count);
    /* ∂g, ∂γ, ∂β through n = LN(g) */
    memset(h->dg, 0, nd * sizeof(float));
    ln_layer_backward(&h->norm, ps, h->dg, h->dn, h->g, M);
    /* ∂x = ∂g ⊙ GELU'(x), into dn (∂n is spent) */
    memset(h->dn, 0, nd * sizeof(float));
    gelu_backward(h->dn, h->dg, h->fc.out, nd);
    /* ∂hs, ∂W, ∂b through x = hs Wᵀ + b */
    linear_layer_backward(&h->fc, ps, dhs, h->dn, hs, M);
    /* The head's tensors are the store's last (mlm_head.h): all final now. */
    param_store_grads_final_from(ps, h->fc.weight);
    return loss;
}

void mlm_head_predict(mlm_head *h, const param_store *ps, int wte, const float *hs, int M, int32_t *pred) {
    const float *n = head_forward(h, ps, hs, M);
    lm_argmax(pred, n, param_data(ps, wte), h->dense ? param_data(ps, h->bias) : NULL, M, h->d, h->V,
              h->ce_scratch, h->chunk);
}

double mlm_head_flops(const mlm_head *h, int M) {
    double decoder = 3.0 * 2.0 * M * h->d * (double)h->V;
    return h->dense ? linear_layer_flops(&h->fc, M) + decoder : decoder;
}
