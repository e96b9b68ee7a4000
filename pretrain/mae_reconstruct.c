/* mae_reconstruct.c — see mae_reconstruct.h. The model is the MAE objective
 * itself (pretrain/mae.h), built from the checkpoint's stored config and
 * filled with its weights by name, so the picture uses the very forward pass
 * training ran. Pixels are on the model's scale v·2/255 − 1 (patch_embed.h). */
#include "pretrain/mae_reconstruct.h"

#include <stdlib.h>
#include <string.h>

#include "encoders/patch_embed.h"
#include "pretrain/mae.h"
#include "pretrain/train_config.h"
#include "src/ckpt/checkpoint.h"
#include "src/error.h"
#include "src/io/image_grid.h"

/* The MAE objective of the checkpoint's config for n images of ds's shape,
 * its weights in *ps (allocated); *patch its model.patch. */
static int load_model(const char *ckpt, image_dataset *ds, int n, objective **o, param_store *ps, int *patch) {
    ckpt_manifest m;
    float *params = NULL;
    int rc = checkpoint_read_params(ckpt, &m, &params);
    if (rc != CRATE_OK) return rc;
    train_config cfg;
    config_sources src = {0};
    rc = train_config_load_text(&cfg, &src, m.config, "the checkpoint's config");
    config_sources_free(&src);
    if (rc == CRATE_OK && cfg.objective.name != TRAIN_OBJECTIVE_MAE)
        rc = crate_fail(CRATE_EINPUT, "%s is a checkpoint of objective.name = %s: reconstructions need a mae run's "
                        "checkpoint (its decoder)", ckpt, train_config_objective_name(&cfg));
    data_shape shape;
    image_dataset_shape(ds, &shape.channels, &shape.height, &shape.width);
    cfg.eval.every = 0; /* no k-NN monitor: it would open the run's data sets */
    *patch = (int)cfg.model.patch;
    if (rc == CRATE_OK) rc = mae_objective_create(o, &cfg, &shape, n, ps);
    if (rc == CRATE_OK) rc = param_store_alloc(ps);
    int lacking, bad = rc == CRATE_OK ? ckpt_manifest_copy_tensors(&m, params, ps, &lacking) : -1;
    if (bad >= 0)
        rc = crate_fail(CRATE_EINPUT, "%s: tensor %s is %s in the checkpoint: the model was trained on images of "
                        "another shape than the %dx%dx%d (H x W x C) of --data", ckpt, ps->tensors[bad].name,
                        lacking ? "missing" : "of another shape", shape.height, shape.width, shape.channels);
    free(params);
    ckpt_manifest_free(&m);
    return rc;
}

/* Draws row b: original x, masked input, and reconstruction (all (C,H,W)). */
static void draw_row(image_grid *g, int b, const float *x, const float *pred, const uint8_t *visible, int C, int H,
                     int W, int p, float *cell) {
    size_t n = (size_t)C * H * W;
    int gw = W / p, show = C == 3 ? 3 : 1;
    image_grid_put(g, b, 0, x, show, H, W, -1.0f, 1.0f);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            int y = (int)(i / W % H), xx = (int)(i % W);
            int seen = visible[(y / p) * gw + xx / p];
            cell[i] = seen ? x[i] : pass == 0 ? 0.0f : pred[i]; /* 0: mid-gray */
        }
        image_grid_put(g, b, 1 + pass, cell, show, H, W, -1.0f, 1.0f);
    }
}

int mae_reconstruct_picture(const char *ckpt, image_dataset *ds, uint64_t first, int n, const char *path,
                            double *loss) {
    if (n < 1 || n > MAE_RECONSTRUCT_MAX)
        return crate_fail(CRATE_EINPUT, "--reconstruct %d: show 1 to %d images", n, MAE_RECONSTRUCT_MAX);
    int rc = image_dataset_check_span(ds, first, (uint64_t)n, "--data");
    if (rc != CRATE_OK) return rc;
    int C, H, W;
    image_dataset_shape(ds, &C, &H, &W);
    objective *o = NULL;
    param_store ps;
    param_store_init(&ps);
    int patch = 1;
    rc = load_model(ckpt, ds, n, &o, &ps, &patch);
    size_t image = (size_t)C * H * W;
    image_batch batch = {.n = n, .C = C, .H = H, .W = W};
    batch.pixels = crate_malloc((size_t)n * image, "images");
    batch.labels = crate_malloc((size_t)n * sizeof *batch.labels, "labels");
    batch.sample_ids = crate_malloc((size_t)n * sizeof *batch.sample_ids, "sample ids");
    batch.epochs = crate_calloc((size_t)n, sizeof *batch.epochs, "epochs");
    float *patches = crate_malloc((size_t)n * image * sizeof *patches, "predicted patches");
    float *pred = crate_malloc((size_t)n * image * sizeof *pred, "reconstructions");
    float *x = crate_malloc((size_t)n * image * sizeof *x, "originals");
    float *cell = crate_malloc(image * sizeof *cell, "picture cell");
    uint8_t *visible = crate_malloc((size_t)n * image, "masks"); /* ≥ n · num_patches */
    if (rc == CRATE_OK && !(batch.pixels && batch.labels && batch.sample_ids && batch.epochs && patches && pred && x &&
                            cell && visible))
        rc = CRATE_EINTERNAL;
    for (int i = 0; rc == CRATE_OK && i < n; i++) {
        batch.sample_ids[i] = first + (uint64_t)i;
        rc = image_dataset_read(ds, first + (uint64_t)i, batch.pixels + (size_t)i * image, &batch.labels[i]);
    }
    objective_loss l = {0};
    if (rc == CRATE_OK) rc = mae_objective_predict(o, &ps, &batch, patches, visible, &l);
    image_grid g = {0};
    int zoom = image_grid_zoom(H, W);
    if (rc == CRATE_OK) rc = image_grid_open(&g, n, 3, zoom * W, zoom * H, C == 3 ? 3 : 1);
    if (rc == CRATE_OK) {
        int np = (H / patch) * (W / patch);
        unpatchify_images(pred, patches, n, C, H, W, patch);
        for (size_t i = 0; i < (size_t)n * image; i++) x[i] = (float)batch.pixels[i] * (2.0f / 255.0f) - 1.0f;
        for (int b = 0; b < n; b++)
            draw_row(&g, b, x + (size_t)b * image, pred + (size_t)b * image, visible + (size_t)b * np, C, H, W, patch,
                     cell);
        rc = image_grid_write(&g, path);
        *loss = l.count > 0 ? l.sum / l.count : 0.0;
    }
    image_grid_free(&g);
    free(batch.pixels), free(batch.labels), free(batch.sample_ids), free(batch.epochs);
    free(patches), free(pred), free(x), free(cell), free(visible);
    objective_destroy(o);
    param_store_free(&ps);
    return rc;
}
