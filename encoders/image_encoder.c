/* image_encoder.c — see image_encoder.h. */
#include "encoders/image_encoder.h"

#include <string.h>

#include "encoders/encoder_block.h"
#include "src/error.h"

int image_encoder_declare(image_encoder *e, param_store *ps, arena *a, const char *prefix,
                          const image_encoder_config *cfg) {
    int rc = patch_embed_declare(&e->embed, ps, a, prefix, &cfg->embed);
    if (rc != CRATE_OK) return rc;
    char buf[PARAM_NAME_MAX];
    return encoder_stack_declare(&e->stack, ps, layer_name(buf, prefix, "layers"), cfg->depth, &cfg->block);
}

int image_encoder_alloc(image_encoder *e, arena *a, int B, int n_tok_max) {
    int rc = patch_embed_alloc(&e->embed, a, B, n_tok_max);
    return rc == CRATE_OK ? block_stack_alloc(&e->stack, a, B, 1 + n_tok_max) : rc;
}

int image_encoder_activation_set(image_encoder *dst, const image_encoder *src, arena *a, int B, int n_tok_max) {
    dst->embed = src->embed; /* parameter ids and the fixed position table are shared */
    int rc = patch_embed_alloc(&dst->embed, a, B, n_tok_max);
    return rc == CRATE_OK ? block_stack_activation_set(&dst->stack, &src->stack, a, B, 1 + n_tok_max) : rc;
}

int image_encoder_resized_set(image_encoder *dst, const image_encoder *src, arena *a, int B, int H, int W) {
    patch_embed *pe = &dst->embed;
    *pe = src->embed;
    int p = pe->patch;
    if (pe->pos.learned >= 0)
        return crate_fail(CRATE_EINPUT, "model.pos_embed: learned positions exist for one %dx%d grid only; images of "
                          "%dx%d need model.pos_embed: sincos", pe->grid_h, pe->grid_w, H, W);
    if (H % p || W % p || H < p || W < p)
        return crate_fail(CRATE_EINPUT, "images of %dx%d pixels are not a grid of %dx%d patches (model.patch)", H, W,
                          p, p);
    pe->H = H;
    pe->W = W;
    pe->grid_h = H / p;
    pe->grid_w = W / p;
    pe->num_patches = pe->grid_h * pe->grid_w;
    int rc = pos_table_declare(&pe->pos, NULL, a, NULL, pe->grid_h, pe->grid_w, pe->d, 0);
    if (rc == CRATE_OK) rc = patch_embed_alloc(pe, a, B, pe->num_patches);
    return rc == CRATE_OK ? block_stack_activation_set(&dst->stack, &src->stack, a, B, 1 + pe->num_patches) : rc;
}

void image_encoder_destroy(image_encoder *e) { block_stack_destroy(&e->stack); }

void image_encoder_forward(image_encoder *e, const param_store *ps, const float *patches, const int *idx,
                           const uint8_t *masked, int B, int n_tok) {
    patch_embed_forward(&e->embed, ps, patches, idx, masked, B, n_tok);
    block_stack_forward(&e->stack, ps, e->embed.tokens, B, 1 + n_tok);
}

size_t image_encoder_scratch_floats(const image_encoder *e, int B, int n_tok) {
    size_t tokens = (size_t)B * (1 + n_tok) * e->stack.d;
    size_t stack = block_stack_scratch_floats(&e->stack, B, 1 + n_tok);
    size_t embed = patch_embed_scratch_floats(&e->embed, B, n_tok);
    return tokens + (stack > embed ? stack : embed);
}

void image_encoder_backward(image_encoder *e, param_store *ps, const float *dout, const int *idx,
                            const uint8_t *masked, int B, int n_tok, float *scratch) {
    size_t tokens = (size_t)B * (1 + n_tok) * e->stack.d;
    float *dtokens = scratch, *inner = scratch + tokens;
    memset(dtokens, 0, tokens * sizeof(float));
    block_stack_backward(&e->stack, ps, dtokens, dout, e->embed.tokens, inner, B, 1 + n_tok);
    patch_embed_backward(&e->embed, ps, dtokens, idx, masked, B, n_tok, inner);
}

double image_encoder_flops(const image_encoder *e, int B, int n_tok) {
    return patch_embed_flops(&e->embed, B, n_tok) + block_stack_flops(&e->stack, B, 1 + n_tok);
}
