/* attention_maps.c — see attention_maps.h. The attention is the one the
 * encoder's forward pass stored (mssa_layer.att, (B, K, N, N), row 0 the cls
 * token's), read after frozen_encoder_features ran on the images. */
#include "pretrain/attention_maps.h"

#include <stdlib.h>
#include <string.h>

#include "encoders/encoder_block.h"
#include "pretrain/frozen_encoder.h"
#include "src/error.h"
#include "src/io/image_grid.h"

/* Row b of the picture from the encoder's stored attention of one layer. */
static void draw_row(image_grid *g, const frozen_encoder *fe, const mssa_layer *l, int b, const uint8_t *pixels,
                     float *scratch) {
    int N = 1 + fe->num_patches, C = fe->C, H = fe->H, W = fe->W;
    size_t image = (size_t)C * H * W;
    for (size_t i = 0; i < image; i++) scratch[i] = pixels[i];
    image_grid_put(g, b, 0, scratch, C == 3 ? 3 : 1, H, W, 0.0f, 255.0f);
    for (int k = 0; k < l->K; k++) {
        const float *cls = l->att + (((size_t)b * l->K + k) * N) * N; /* row 0: the cls token's weights */
        float top = 0.0f;
        for (int j = 1; j < N; j++) top = cls[j] > top ? cls[j] : top;
        for (int j = 1; j < N; j++) scratch[j - 1] = top > 0.0f ? cls[j] / top : 0.0f;
        image_grid_put_heat(g, b, 1 + k, scratch, fe->enc.embed.grid_h, fe->enc.embed.grid_w);
    }
}

int attention_maps_picture(const char *ckpt, const char *weights, image_dataset *ds, uint64_t first, int n,
                           int layer, const char *path, int *layer_out, int *heads_out) {
    if (n < 1 || n > ATTENTION_MAPS_MAX)
        return crate_fail(CRATE_EINPUT, "--attention %d: show 1 to %d images", n, ATTENTION_MAPS_MAX);
    int rc = image_dataset_check_span(ds, first, (uint64_t)n, "--data");
    if (rc != CRATE_OK) return rc;
    int C, H, W;
    image_dataset_shape(ds, &C, &H, &W);
    frozen_encoder fe;
    rc = frozen_encoder_open(&fe, ckpt, weights, C, H, W, n);
    if (rc != CRATE_OK) return rc;
    if (layer < 0 || layer > fe.depth)
        rc = crate_fail(CRATE_EINPUT, "--layer %d: the encoder has layers 1 to %d", layer, fe.depth);
    int at = layer ? layer - 1 : fe.depth - 1;
    size_t image = (size_t)C * H * W;
    uint8_t *pixels = crate_malloc((size_t)n * image, "images");
    float *features = crate_malloc((size_t)n * fe.d * sizeof *features, "features");
    float *scratch = crate_malloc((image > (size_t)fe.num_patches ? image : (size_t)fe.num_patches) * sizeof *scratch,
                                  "picture cell");
    if (rc == CRATE_OK && !(pixels && features && scratch)) rc = CRATE_EINTERNAL;
    for (int i = 0; rc == CRATE_OK && i < n; i++) {
        int32_t label;
        rc = image_dataset_read(ds, first + (uint64_t)i, pixels + (size_t)i * image, &label);
    }
    const mssa_layer *l = rc == CRATE_OK ? &((const encoder_block *)block_stack_at(&fe.enc.stack, at))->mssa : NULL;
    image_grid g = {0};
    int zoom = image_grid_zoom(H, W);
    if (rc == CRATE_OK) rc = image_grid_open(&g, n, 1 + l->K, zoom * W, zoom * H, 3);
    if (rc == CRATE_OK) {
        frozen_encoder_features(&fe, pixels, n, FEATURE_CLS, 1, features);
        for (int b = 0; b < n; b++) draw_row(&g, &fe, l, b, pixels + (size_t)b * image, scratch);
        rc = image_grid_write(&g, path);
        *layer_out = at + 1, *heads_out = l->K;
    }
    image_grid_free(&g);
    free(pixels), free(features), free(scratch);
    frozen_encoder_close(&fe);
    return rc;
}
