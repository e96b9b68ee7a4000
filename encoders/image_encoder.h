/* image_encoder.h — the CRATE vision encoder: patch embedding (with cls token
 * and positions) followed by the stack of MSSA+ISTA layers and a final
 * LayerNorm. Used by the MAE objective (on visible patches, or on all patches
 * with mask tokens) and by the probe (on all patches). */
#ifndef CRATE_IMAGE_ENCODER_H
#define CRATE_IMAGE_ENCODER_H

#include "encoders/block_stack.h"
#include "encoders/patch_embed.h"

typedef struct {
    patch_embed embed;
    block_stack stack; /* stack.final_ln.out (B, 1+n_tok, d) is the encoding */
} image_encoder;

typedef struct {
    patch_embed_config embed;
    block_config block;
    int depth;
} image_encoder_config;

int image_encoder_declare(image_encoder *e, param_store *ps, arena *a, const char *prefix,
                          const image_encoder_config *cfg);
int image_encoder_alloc(image_encoder *e, arena *a, int B, int n_tok_max);
/* Another activation set of the declared encoder src (same parameters) for B
 * samples of up to n_tok_max patches (block_stack.h); destroy it as any encoder. */
int image_encoder_activation_set(image_encoder *dst, const image_encoder *src, arena *a, int B, int n_tok_max);
/* The same for images of another size (H, W), multiples of the patch: the
 * fixed sin-cos positions of that grid (DINO's local crops). Learned
 * positions belong to one grid, so they are an error naming model.pos_embed. */
int image_encoder_resized_set(image_encoder *dst, const image_encoder *src, arena *a, int B, int H, int W);
void image_encoder_destroy(image_encoder *e);
void image_encoder_forward(image_encoder *e, const param_store *ps, const float *patches, const int *idx,
                           const uint8_t *masked, int B, int n_tok);
/* dout (B, 1+n_tok, d): gradient of the encoding → parameter gradients. */
void image_encoder_backward(image_encoder *e, param_store *ps, const float *dout, const int *idx,
                            const uint8_t *masked, int B, int n_tok, float *scratch);
size_t image_encoder_scratch_floats(const image_encoder *e, int B, int n_tok);
/* Training FLOPs of a forward and backward over B samples of n_tok patches. */
double image_encoder_flops(const image_encoder *e, int B, int n_tok);

#endif
