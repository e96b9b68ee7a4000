/* test_image_grad.c — finite-difference check of whole image models through
 * their objectives, every parameter tensor:
 *  - CRATE-MAE: patch embedding (LN → Linear → LN), cls and mask tokens,
 *    positions, encoder, decoder token routing, decoder, pixel head and the
 *    masked MSE, for encoder_input visible and all, with learned positions
 *    and normalised-pixel targets in one variant;
 *  - the supervised classifier: encoder, the cls row of its final LN, the
 *    linear head and the label-smoothed cross-entropy (ε = 0.1 and 0), on
 *    augmented (shifted, flipped) images.
 * The loss checked is the mean sum/count of what the objective reports
 * (objective.h); its backward accumulates the gradient of the sum, divided
 * here by the count (h = 1e-3, rtol 3e-2, atol 2e-4). */
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "pretrain/objective.h"
#include "src/error.h"
#include "tests/check.h"
#include "tests/gradcheck_store.h"

enum { BATCH = 2, SIDE = 12 };

typedef struct {
    objective *obj;
    param_store ps;
    image_batch batch;
    double count; /* of the last forward: the gradient is of the sum, the check of the mean */
} fixture;

static double model_loss(void *ctx) {
    fixture *f = ctx;
    objective_loss loss = {0, 0};
    f->obj->ops->forward_backward(f->obj, &f->ps, &f->batch, NULL, &loss);
    f->count = loss.count;
    return loss.sum / loss.count;
}

typedef int (*image_objective_fn)(objective **out, const train_config *cfg, const data_shape *shape, int batch,
                                  param_store *ps);

static void check_model(const char *label, image_objective_fn create, int noverrides, char **overrides) {
    train_config cfg;
    config_sources src = {0};
    int rc = train_config_load(&cfg, &src, NULL, noverrides, overrides);
    CHECK(rc == CRATE_OK, "%s: config: %s", label, crate_errmsg());
    if (rc != CRATE_OK) return;
    fixture f;
    memset(&f, 0, sizeof f);
    param_store_init(&f.ps);
    data_shape shape = {1, SIDE, SIDE};
    rc = create(&f.obj, &cfg, &shape, BATCH, &f.ps);
    if (rc == CRATE_OK) rc = param_store_alloc(&f.ps);
    CHECK(rc == CRATE_OK, "%s: build: %s", label, crate_errmsg());
    if (rc != CRATE_OK) return;
    gradcheck_fill(f.ps.data, f.ps.total, 3, 0.5f);
    for (int id = 0; id < f.ps.count; id++)
        if ((f.ps.tensors[id].flags & PARAM_INIT_MASK) == PARAM_INIT_ONE)
            for (size_t i = 0; i < f.ps.tensors[id].numel; i++) param_data(&f.ps, id)[i] += 1.0f;

    uint8_t pixels[BATCH * SIDE * SIDE];
    for (int i = 0; i < BATCH * SIDE * SIDE; i++) pixels[i] = (uint8_t)((i * 37 + 11) % 256);
    uint64_t ids[BATCH] = {5, 9};
    uint32_t epochs[BATCH] = {0, 1};
    int32_t labels[BATCH] = {3, 7};
    f.batch = (image_batch){BATCH, 1, SIDE, SIDE, pixels, labels, ids, epochs, 0};

    param_store_zero_grad(&f.ps);
    model_loss(&f);
    char name[64];
    snprintf(name, sizeof name, "%s", label);
    /* kinked: every model has ISTA's ReLU, and a perturbation of h can cross it (the
     * augmented classifier's patch_norm_out.weight[2] sits within h of one) */
    CHECK(gradcheck_store(name, &f.ps, f.count, model_loss, &f, 1), "%s: a gradient check failed", label);
    CHECK(gradcheck_store_bf16(name, &f.ps, f.count, model_loss, &f), "%s: the bf16 gradient is off", label);
    objective_destroy(f.obj);
    param_store_free(&f.ps);
    config_sources_free(&src);
}

int main(void) {
    char *visible[] = {"data.train=unused", "model.dim=8", "model.heads=2", "model.depth=1",
                       "model.decoder_depth=1", "model.patch=4"};
    char *all[] = {"data.train=unused", "model.dim=8", "model.heads=2", "model.depth=1",
                   "model.decoder_depth=1", "model.patch=4", "mae.encoder_input=all",
                   "model.pos_embed=learned", "mae.norm_pix_loss=true"};
    char *classify[] = {"data.train=unused", "model.dim=8", "model.heads=2", "model.depth=2", "model.patch=4",
                        "objective.name=classify", "classify.crop_pad=2", "classify.flip_prob=0.5"};
    char *plain[] = {"data.train=unused", "model.dim=8", "model.heads=2", "model.depth=1", "model.patch=4",
                     "objective.name=classify", "classify.label_smoothing=0", "model.pos_embed=learned"};
    char *alpha[] = {"data.train=unused", "model.dim=8", "model.heads=2", "model.depth=2", "model.patch=4",
                     "objective.name=classify", "model.block=crate-alpha", "model.ista_expand=2",
                     "model.patch_embed=linear"};
    char *alpha_mae[] = {"data.train=unused", "model.dim=8", "model.heads=2", "model.depth=1",
                         "model.decoder_depth=1", "model.patch=4", "model.block=crate-alpha"};
    check_model("mae visible", mae_objective_create, 6, visible);
    check_model("classify crate-alpha+linear patches", classify_objective_create, 9, alpha);
    check_model("mae crate-alpha", mae_objective_create, 7, alpha_mae);
    check_model("mae all+learned+normpix", mae_objective_create, 9, all);
    check_model("classify smoothed+augmented", classify_objective_create, 8, classify);
    check_model("classify plain+learned", classify_objective_create, 8, plain);
    return check_finish();
}
