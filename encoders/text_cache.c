/* text_cache.c — see text_cache.h. */
#include "encoders/text_cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/encoder_block.h"
#include "src/error.h"
#include "src/kernels/kernels.h"

int text_cache_init(text_cache *c, const text_encoder *enc) {
    memset(c, 0, sizeof *c);
    c->enc = enc;
    c->T_max = enc->T_max;
    c->L = enc->stack.depth;
    c->d = enc->d;
    if (c->L > 0) {
        const encoder_block *b = block_stack_at(&enc->stack, 0);
        c->K = b->mssa.K;
        c->p = b->mssa.p;
    }
    size_t kp = (size_t)c->K * c->p, wide = kp > (size_t)c->d ? kp : (size_t)c->d;
    if (c->L > 0) {
        const encoder_block *b = block_stack_at(&enc->stack, 0);
        if (b->kind == BLOCK_CRATE_ALPHA && (size_t)b->alpha.n > wide) wide = (size_t)b->alpha.n;
    }
    c->w = crate_malloc(((size_t)c->L * c->T_max * kp + 1) * sizeof(float), "decoding cache");
    c->z = crate_malloc((size_t)c->d * sizeof(float), "decoding cache");
    c->x = crate_malloc(wide * sizeof(float), "decoding cache");
    c->heads = crate_malloc((kp + 1) * sizeof(float), "decoding cache");
    c->scores = crate_malloc((size_t)c->T_max * sizeof(float), "decoding cache");
    c->buf = crate_malloc((4 * wide + 2) * sizeof(float), "decoding cache");
    c->gains = crate_malloc(((size_t)c->L * c->d * c->d + 1) * sizeof(float), "decoding cache");
    if (!c->w || !c->z || !c->x || !c->heads || !c->scores || !c->buf || !c->gains) {
        text_cache_free(c);
        return CRATE_EINTERNAL;
    }
    return CRATE_OK;
}

void text_cache_free(text_cache *c) {
    free(c->w);
    free(c->z);
    free(c->x);
    free(c->heads);
    free(c->scores);
    free(c->buf);
    free(c->gains);
    memset(c, 0, sizeof *c);
}

void text_cache_reset(text_cache *c) { c->pos = 0; }

/* heads_k = Σ_{j ≤ t} softmax_j(w_t,k · w_j,k · scale) w_j,k over the cached rows W (t+1, K·p). */
static void attend_one(text_cache *c, const float *W, int t, float scale, float *heads) {
    int K = c->K, p = c->p, ld = K * p;
    const float *q = W + (size_t)t * ld;
    for (int k = 0; k < K; k++) {
        float mx = -INFINITY;
        for (int j = 0; j <= t; j++) {
            float s = 0;
            for (int i = 0; i < p; i++) s += q[k * p + i] * W[(size_t)j * ld + k * p + i];
            c->scores[j] = s * scale;
            mx = c->scores[j] > mx ? c->scores[j] : mx;
        }
        float sum = 0;
        for (int j = 0; j <= t; j++) sum += c->scores[j] = expf(c->scores[j] - mx);
        float *h = heads + k * p;
        memset(h, 0, (size_t)p * sizeof(float));
        for (int j = 0; j <= t; j++) axpy(h, c->scores[j] / sum, W + (size_t)j * ld + k * p, (size_t)p);
    }
}

/* One layer on the row c->z, in place. The layer structs are copied with
 * their activation pointers aimed at one-row buffers, so the training
 * activations are untouched and the forward code is the training code. The
 * ISTA gain, d³ to form against d² to apply, is formed at the first token of
 * a sequence into the cache's own copy. */
static void layer_step(text_cache *c, const param_store *ps, const encoder_block *blk, int layer) {
    int d = c->d, t = c->pos;
    size_t kp = (size_t)c->K * c->p;
    float *W = c->w + (size_t)layer * c->T_max * kp;
    float *mean = c->buf, *rstd = c->buf + 1, *z_half = c->buf + 2, *y = z_half + d, *code = y + d;
    ln_layer ln1 = blk->ln1;
    ln1.out = c->x, ln1.mean = mean, ln1.rstd = rstd;
    ln_layer_forward(&ln1, ps, c->z, 1);
    linear_layer proj_u = blk->mssa.proj_u;
    proj_u.out = W + (size_t)t * kp;
    linear_layer_forward(&proj_u, ps, c->x, 1);
    attend_one(c, W, t, blk->mssa.scale, c->heads);
    linear_layer proj_o = blk->mssa.proj_o;
    proj_o.out = c->x;
    linear_layer_forward(&proj_o, ps, c->heads, 1);
    add_forward(z_half, c->z, c->x, (size_t)d);
    ln_layer ln2 = blk->ln2;
    ln2.out = y, ln2.mean = mean, ln2.rstd = rstd;
    ln_layer_forward(&ln2, ps, z_half, 1);
    /* Z⁺ into c->z; CRATE-α's two codes of width n ≤ wide take buf's last 2·wide. */
    encoder_block row = *blk;
    row.out = c->z;
    row.ista.gain = c->gains + (size_t)layer * d * d;
    row.ista.out = c->z;
    row.alpha.resid = c->x;
    row.alpha.code1 = code;
    row.alpha.code2 = code + row.alpha.n;
    row.alpha.out = c->x;
    if (t == 0) encoder_block_prepare(&row, ps);
    encoder_block_sparsify(&row, ps, y, z_half, 1);
}

void text_cache_step(text_cache *c, const param_store *ps, int32_t id, float *logits) {
    const text_encoder *e = c->enc;
    int d = c->d;
    int32_t one = id;
    /* wte[x_t] + wpe[t]: the embedding kernel on one token at position t. */
    embedding_forward(c->z, &one, param_data(ps, e->wte), param_data(ps, e->wpe) + (size_t)c->pos * d, 1, 1, d);
    for (int l = 0; l < c->L; l++) layer_step(c, ps, block_stack_at(&e->stack, l), l);
    const float *h = c->z;
    if (e->stack.final_norm) {
        ln_layer ln = e->stack.final_ln;
        ln.out = c->x, ln.mean = c->buf, ln.rstd = c->buf + 1;
        ln_layer_forward(&ln, ps, c->z, 1);
        h = c->x;
    }
    linear_forward(logits, h, param_data(ps, e->wte), NULL, 1, d, e->V);
    c->pos++;
}
