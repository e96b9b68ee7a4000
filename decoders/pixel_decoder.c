/* pixel_decoder.c — see pixel_decoder.h. */
#include "decoders/pixel_decoder.h"

#include <string.h>

#include "decoders/decoder_block.h"
#include "src/error.h"
#include "src/kernels/kernels.h"

int pixel_decoder_declare(pixel_decoder *pd, param_store *ps, arena *a, const char *prefix,
                          const pixel_decoder_config *cfg) {
    char buf[PARAM_NAME_MAX];
    pd->d = cfg->block.d;
    pd->num_patches = cfg->grid_h * cfg->grid_w;
    pd->patch_dim = cfg->patch_dim;
    pd->mask_token = cfg->with_mask_token
                         ? param_store_add1(ps, layer_name(buf, prefix, "mask_token"), pd->d, PARAM_EMBEDDING)
                         : -1;
    if (cfg->with_mask_token && pd->mask_token < 0) return CRATE_EINTERNAL;
    int rc = pos_table_declare(&pd->pos, ps, a, layer_name(buf, prefix, "pos_embed"), cfg->grid_h, cfg->grid_w,
                               pd->d, cfg->pos_learned);
    if (rc == CRATE_OK)
        rc = decoder_stack_declare(&pd->stack, ps, layer_name(buf, prefix, "layers"), cfg->depth, &cfg->block);
    if (rc == CRATE_OK)
        rc = linear_layer_declare(&pd->head, ps, layer_name(buf, prefix, "pixel_head"), pd->d, pd->patch_dim, 1);
    return rc;
}

int pixel_decoder_alloc(pixel_decoder *pd, arena *a, int B) {
    int N = 1 + pd->num_patches;
    pd->tokens = arena_floats(a, (size_t)B * N * pd->d);
    if (!pd->tokens) return CRATE_EINTERNAL;
    int rc = block_stack_alloc(&pd->stack, a, B, N);
    return rc == CRATE_OK ? linear_layer_alloc(&pd->head, a, B * N) : rc;
}

void pixel_decoder_destroy(pixel_decoder *pd) { block_stack_destroy(&pd->stack); }

void pixel_decoder_forward(pixel_decoder *pd, const param_store *ps, const float *enc, const int *src,
                           int B, int n_enc) {
    const int d = pd->d, np = pd->num_patches, N = 1 + np;
    const float *pos = pos_table_data(&pd->pos, ps);
    const float *mask_tok = pd->mask_token >= 0 ? param_data(ps, pd->mask_token) : NULL;
    for (int b = 0; b < B; b++) {
        const float *e = enc + (size_t)b * n_enc * d;
        float *t = pd->tokens + (size_t)b * N * d;
        add_forward(t, e, pos, (size_t)d);
        for (int j = 0; j < np; j++) {
            int s = src[b * np + j];
            add_forward(t + (size_t)(1 + j) * d, s >= 0 ? e + (size_t)s * d : mask_tok, pos + (size_t)(1 + j) * d,
                        (size_t)d);
        }
    }
    block_stack_forward(&pd->stack, ps, pd->tokens, B, N);
    linear_layer_forward(&pd->head, ps, pd->stack.final_ln.out, B * N);
}

size_t pixel_decoder_scratch_floats(const pixel_decoder *pd, int B) {
    size_t n = (size_t)B * (1 + pd->num_patches) * pd->d;
    return 2 * n + block_stack_scratch_floats(&pd->stack, B, 1 + pd->num_patches);
}

void pixel_decoder_backward(pixel_decoder *pd, param_store *ps, float *denc, const float *dpred,
                            const int *src, int B, int n_enc, float *scratch) {
    const int d = pd->d, np = pd->num_patches, N = 1 + np;
    size_t n = (size_t)B * N * d;
    float *dnorm = scratch, *dtokens = scratch + n, *inner = scratch + 2 * n;
    memset(scratch, 0, 2 * n * sizeof(float));
    linear_layer_backward(&pd->head, ps, dnorm, dpred, pd->stack.final_ln.out, B * N);
    block_stack_backward(&pd->stack, ps, dtokens, dnorm, pd->tokens, inner, B, N);
    float *dpos = pos_table_grad(&pd->pos, ps);
    float *dmask = pd->mask_token >= 0 ? param_grad(ps, pd->mask_token) : NULL;
    for (int b = 0; b < B; b++) {
        float *de = denc + (size_t)b * n_enc * d;
        const float *dt = dtokens + (size_t)b * N * d;
        if (dpos) axpy(dpos, 1.0f, dt, n / B);
        axpy(de, 1.0f, dt, (size_t)d);
        for (int j = 0; j < np; j++) {
            int s = src[b * np + j];
            axpy(s >= 0 ? de + (size_t)s * d : dmask, 1.0f, dt + (size_t)(1 + j) * d, (size_t)d);
        }
    }
}

double pixel_decoder_flops(const pixel_decoder *pd, int B) {
    int N = 1 + pd->num_patches;
    return block_stack_flops(&pd->stack, B, N) + linear_layer_flops(&pd->head, B * N);
}
