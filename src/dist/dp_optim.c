/* dp_optim.c — see dp_optim.h. */
#include "src/dist/dp_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"

int dp_optimizer_init(dp_optimizer *o, const param_store *ps, const comm_info *comm, int zero) {
    memset(o, 0, sizeof *o);
    o->world = comm->world;
    o->zero = zero && comm->world > 1;
    size_t chunk = ps->total / (size_t)comm->world;
    o->lo = o->zero ? (size_t)comm->rank * chunk : 0;
    o->hi = o->zero ? o->lo + chunk : ps->total;
    size_t n = o->hi - o->lo;
    o->m = crate_aligned_zalloc(n * sizeof(float), "AdamW first moments");
    o->v = crate_aligned_zalloc(n * sizeof(float), "AdamW second moments");
    return o->m && o->v ? CRATE_OK : CRATE_EINTERNAL;
}

static void scale(float *g, size_t n, float s) {
    for (size_t i = 0; i < n; i++) g[i] *= s;
}

void dp_optimizer_step(dp_optimizer *o, param_store *ps, float grad_scale, float clip, int64_t t, float lr,
                       const adamw_config *cfg, double *grad_norm) {
    float *g = ps->grad + o->lo;
    size_t n = o->hi - o->lo;
    scale(g, n, grad_scale);
    double sq = grad_sum_squares(g, n);
    *grad_norm = sqrt(o->zero ? comm_sum_double(sq) : sq);
    grad_clip(g, n, *grad_norm, clip);
    adamw_step_range(ps, o->m, o->v, o->lo, o->hi, t, lr, cfg);
    if (o->zero) comm_allgather_in_place(ps->data, n);
}

void dp_optimizer_reset(dp_optimizer *o) {
    memset(o->m, 0, (o->hi - o->lo) * sizeof(float));
    memset(o->v, 0, (o->hi - o->lo) * sizeof(float));
}

void dp_optimizer_free(dp_optimizer *o) {
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}
