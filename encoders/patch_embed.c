/* patch_embed.c — see patch_embed.h. */
#include "encoders/patch_embed.h"

#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"

int patch_embed_declare(patch_embed *pe, param_store *ps, arena *a, const char *prefix, const patch_embed_config *cfg) {
    char buf[PARAM_NAME_MAX];
    if (cfg->patch <= 0 || cfg->H % cfg->patch || cfg->W % cfg->patch)
        return crate_fail(CRATE_EINPUT, "model.patch = %d does not divide the %dx%d images of the data "
                          "(choose a patch size that divides both)", cfg->patch, cfg->H, cfg->W);
    pe->C = cfg->C;
    pe->H = cfg->H;
    pe->W = cfg->W;
    pe->patch = cfg->patch;
    pe->grid_h = cfg->H / cfg->patch;
    pe->grid_w = cfg->W / cfg->patch;
    pe->num_patches = pe->grid_h * pe->grid_w;
    pe->patch_dim = cfg->patch * cfg->patch * cfg->C;
    pe->d = cfg->d;
    pe->linear_only = cfg->linear_only;
    int rc = pe->linear_only ? CRATE_OK
                             : ln_layer_declare(&pe->ln_in, ps, layer_name(buf, prefix, "patch_norm_in"), pe->patch_dim);
    if (rc == CRATE_OK) rc = linear_layer_declare(&pe->proj, ps, layer_name(buf, prefix, "patch_proj"), pe->patch_dim, pe->d, 1);
    if (rc == CRATE_OK && !pe->linear_only)
        rc = ln_layer_declare(&pe->ln_out, ps, layer_name(buf, prefix, "patch_norm_out"), pe->d);
    if (rc != CRATE_OK) return rc;
    pe->cls = param_store_add1(ps, layer_name(buf, prefix, "cls_token"), pe->d, PARAM_EMBEDDING);
    pe->mask_token = cfg->with_mask_token
                         ? param_store_add1(ps, layer_name(buf, prefix, "mask_token"), pe->d, PARAM_EMBEDDING)
                         : -1;
    if (pe->cls < 0 || (cfg->with_mask_token && pe->mask_token < 0)) return CRATE_EINTERNAL;
    return pos_table_declare(&pe->pos, ps, a, layer_name(buf, prefix, "pos_embed"), pe->grid_h, pe->grid_w,
                             pe->d, cfg->pos_learned);
}

int patch_embed_alloc(patch_embed *pe, arena *a, int B, int n_tok_max) {
    int M = B * n_tok_max;
    pe->gathered = arena_floats(a, (size_t)M * pe->patch_dim);
    pe->tokens = arena_floats(a, (size_t)B * (1 + n_tok_max) * pe->d);
    if (!pe->gathered || !pe->tokens) return CRATE_EINTERNAL;
    int rc = linear_layer_alloc(&pe->proj, a, M);
    if (rc == CRATE_OK && !pe->linear_only) rc = ln_layer_alloc(&pe->ln_in, a, M);
    if (rc == CRATE_OK && !pe->linear_only) rc = ln_layer_alloc(&pe->ln_out, a, M);
    return rc;
}

/* Offset of pixel (c, y, x) of image b in the patch layout (B, np, P). */
static inline size_t patch_offset(int b, int c, int y, int x, int C, int H, int W, int p) {
    int gw = W / p, np = (H / p) * gw, P = p * p * C;
    int patch = (y / p) * gw + x / p, within = ((y % p) * p + x % p) * C + c;
    return ((size_t)b * np + patch) * P + within;
}

void patchify_images(float *patches, const uint8_t *images, int B, int C, int H, int W, int p) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    uint8_t v = images[(((size_t)b * C + c) * H + y) * W + x];
                    patches[patch_offset(b, c, y, x, C, H, W, p)] = (float)v * (2.0f / 255.0f) - 1.0f;
                }
}

void patchify_float_images(float *patches, const float *images, int B, int C, int H, int W, int p) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    patches[patch_offset(b, c, y, x, C, H, W, p)] = images[(((size_t)b * C + c) * H + y) * W + x];
}

void unpatchify_images(float *images, const float *patches, int B, int C, int H, int W, int p) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    images[(((size_t)b * C + c) * H + y) * W + x] = patches[patch_offset(b, c, y, x, C, H, W, p)];
}

void patch_embed_forward(patch_embed *pe, const param_store *ps, const float *patches, const int *idx,
                         const uint8_t *masked, int B, int n_tok) {
    const int d = pe->d, P = pe->patch_dim, M = B * n_tok;
    for (int r = 0; r < M; r++)
        memcpy(pe->gathered + (size_t)r * P, patches + ((size_t)(r / n_tok) * pe->num_patches + idx[r]) * P,
               (size_t)P * sizeof(float));
    const float *emb = pe->proj.out;
    if (pe->linear_only) {
        linear_layer_forward(&pe->proj, ps, pe->gathered, M);
    } else {
        ln_layer_forward(&pe->ln_in, ps, pe->gathered, M);
        linear_layer_forward(&pe->proj, ps, pe->ln_in.out, M);
        ln_layer_forward(&pe->ln_out, ps, pe->proj.out, M);
        emb = pe->ln_out.out;
    }

    const float *pos = pos_table_data(&pe->pos, ps), *cls = param_data(ps, pe->cls);
    const float *mask_tok = pe->mask_token >= 0 ? param_data(ps, pe->mask_token) : NULL;
    for (int b = 0; b < B; b++) {
        float *seq = pe->tokens + (size_t)b * (1 + n_tok) * d;
        add_forward(seq, cls, pos, (size_t)d);
        for (int t = 0; t < n_tok; t++) {
            int r = b * n_tok + t;
            const float *src = masked && masked[r] ? mask_tok : emb + (size_t)r * d;
            add_forward(seq + (size_t)(1 + t) * d, src, pos + (size_t)(1 + idx[r]) * d, (size_t)d);
        }
    }
}

size_t patch_embed_scratch_floats(const patch_embed *pe, int B, int n_tok) {
    return (size_t)B * n_tok * (2 * pe->d + pe->patch_dim);
}

void patch_embed_backward(patch_embed *pe, param_store *ps, const float *dtokens, const int *idx,
                          const uint8_t *masked, int B, int n_tok, float *scratch) {
    const int d = pe->d, M = B * n_tok;
    float *demb = scratch, *dproj = scratch + (size_t)M * d, *dnorm_in = scratch + 2 * (size_t)M * d;
    memset(scratch, 0, patch_embed_scratch_floats(pe, B, n_tok) * sizeof(float));
    float *dpos = pos_table_grad(&pe->pos, ps), *dcls = param_grad(ps, pe->cls);
    float *dmask = pe->mask_token >= 0 ? param_grad(ps, pe->mask_token) : NULL;
    for (int b = 0; b < B; b++) {
        const float *dseq = dtokens + (size_t)b * (1 + n_tok) * d;
        axpy(dcls, 1.0f, dseq, (size_t)d);
        if (dpos) axpy(dpos, 1.0f, dseq, (size_t)d);
        for (int t = 0; t < n_tok; t++) {
            int r = b * n_tok + t;
            const float *g = dseq + (size_t)(1 + t) * d;
            if (dpos) axpy(dpos + (size_t)(1 + idx[r]) * d, 1.0f, g, (size_t)d);
            axpy(masked && masked[r] ? dmask : demb + (size_t)r * d, 1.0f, g, (size_t)d);
        }
    }
    if (pe->linear_only) {
        linear_layer_backward(&pe->proj, ps, NULL, demb, pe->gathered, M);
        return;
    }
    ln_layer_backward(&pe->ln_out, ps, dproj, demb, pe->proj.out, M);
    linear_layer_backward(&pe->proj, ps, dnorm_in, dproj, pe->ln_in.out, M);
    ln_layer_backward(&pe->ln_in, ps, NULL, dnorm_in, pe->gathered, M);
}

double patch_embed_flops(const patch_embed *pe, int B, int n_tok) { return linear_layer_flops(&pe->proj, B * n_tok); }
