/* patch_embed.h — images to the token sequence of a CRATE vision encoder.
 *
 * An image (C,H,W) is cut into a grid of p×p patches, each flattened in
 * (row, column, channel) order to P = p·p·C values (patchify). A patch is embedded as in
 * the CRATE reference model, LN(P) → Linear(P→d, bias) → LN(d), and the
 * (CRATE-α: the Linear alone, patch_embed_config.linear_only), and the
 * sequence is  [cls + pos₀, e(x_{i₁}) + pos_{1+i₁}, …]  for the chosen patch
 * indices i_t of each sample (all of them, or MAE's visible subset). A token
 * may instead be a learned mask token (CRATE-MAE feeds masked patches to the
 * encoder that way).
 */
#ifndef CRATE_PATCH_EMBED_H
#define CRATE_PATCH_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "encoders/positions.h"
#include "src/nn/layers.h"

typedef struct {
    int C, H, W, patch, grid_h, grid_w, num_patches, patch_dim, d;
    int linear_only;
    ln_layer ln_in;
    linear_layer proj;
    ln_layer ln_out;
    int cls, mask_token; /* param ids; mask_token −1 when not declared */
    pos_table pos;
    float *gathered;     /* (B·n_tok, P) the chosen patches */
    float *tokens;       /* (B, 1+n_tok, d) */
} patch_embed;

typedef struct {
    int C, H, W, patch, d;
    int pos_learned, with_mask_token;
    int linear_only; /* Linear(P→d, bias) without the two LNs (CRATE-α's patch embedding) */
} patch_embed_config;

int patch_embed_declare(patch_embed *pe, param_store *ps, arena *a, const char *prefix, const patch_embed_config *cfg);
int patch_embed_alloc(patch_embed *pe, arena *a, int B, int n_tok_max);

/* Cuts uint8 images (B,C,H,W) into patches (B, num_patches, P) scaled to [−1, 1]. */
void patchify_images(float *patches, const uint8_t *images, int B, int C, int H, int W, int p);
/* The same for images already in floats (DINO's views, data/multicrop.h): values are copied as they are. */
void patchify_float_images(float *patches, const float *images, int B, int C, int H, int W, int p);

/* The inverse of patchify_float_images: patches (B, num_patches, P) → images (B,C,H,W). */
void unpatchify_images(float *images, const float *patches, int B, int C, int H, int W, int p);

/* patches (B, num_patches, P); idx (B, n_tok) patch indices; masked (B, n_tok),
 * 1 = use the mask token instead of the patch, or NULL. → pe->tokens */
void patch_embed_forward(patch_embed *pe, const param_store *ps, const float *patches, const int *idx,
                         const uint8_t *masked, int B, int n_tok);
/* dtokens (B, 1+n_tok, d) → parameter gradients (images need no gradient). */
void patch_embed_backward(patch_embed *pe, param_store *ps, const float *dtokens, const int *idx,
                          const uint8_t *masked, int B, int n_tok, float *scratch);
size_t patch_embed_scratch_floats(const patch_embed *pe, int B, int n_tok);
/* The P→d projection of B·n_tok patches (layers.h). */
double patch_embed_flops(const patch_embed *pe, int B, int n_tok);

#endif
