/* pixel_decoder.h — the CRATE-MAE decoder: it completes the encoder's tokens
 * to the full patch sequence, runs the denoising-derived CRATE decoder stack
 * and predicts every patch's pixels.
 *   T[b,0]   = enc[b,0] + pos₀                              (cls)
 *   T[b,1+j] = (enc[b, src(b,j)] or mask token) + pos_{1+j}  (patch j; src −1 = masked, not encoded)
 *   pred     = Linear_{d→P}(Decoder(T))                      (pixel head, one row per token)
 * The encoder and decoder share the width d (CRATE-MAE is symmetric), so no
 * width-changing projection sits between them.
 */
#ifndef CRATE_PIXEL_DECODER_H
#define CRATE_PIXEL_DECODER_H

#include "encoders/block_stack.h"
#include "encoders/positions.h"
#include "src/nn/layers.h"

typedef struct {
    int d, num_patches, patch_dim;
    int mask_token;     /* param id or −1 */
    pos_table pos;
    float *tokens;      /* (B, 1+num_patches, d) */
    block_stack stack;
    linear_layer head;  /* head.out (B·(1+num_patches), P); row 0 of each sample is the cls row */
} pixel_decoder;

typedef struct {
    block_config block;
    int depth, grid_h, grid_w, patch_dim, pos_learned, with_mask_token;
} pixel_decoder_config;

int pixel_decoder_declare(pixel_decoder *pd, param_store *ps, arena *a, const char *prefix,
                          const pixel_decoder_config *cfg);
int pixel_decoder_alloc(pixel_decoder *pd, arena *a, int B);
void pixel_decoder_destroy(pixel_decoder *pd);
/* enc (B, n_enc, d); src (B, num_patches) rows of enc, or −1 for the mask token. */
void pixel_decoder_forward(pixel_decoder *pd, const param_store *ps, const float *enc, const int *src,
                           int B, int n_enc);
/* dpred (B·(1+num_patches), P) → denc (B, n_enc, d) += …, parameter gradients. */
void pixel_decoder_backward(pixel_decoder *pd, param_store *ps, float *denc, const float *dpred,
                            const int *src, int B, int n_enc, float *scratch);
size_t pixel_decoder_scratch_floats(const pixel_decoder *pd, int B);
/* Training FLOPs of a forward and backward over B samples. */
double pixel_decoder_flops(const pixel_decoder *pd, int B);

#endif
