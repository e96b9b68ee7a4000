/* test_mae_predict.c — mae_objective_predict (pretrain/mae.h), what
 * crate-analyze --reconstruct draws: for both targets (raw pixels and
 * norm_pix_loss) and both encoder inputs,
 *  - the loss it reports is the training loss of the same batch
 *    (forward_backward), bitwise;
 *  - it equals the masked-patch MSE recomputed from the returned patches:
 *    raw, or mapped back to the target's scale with each patch's own mean and
 *    1/√(var + 1e-6) (unbiased var), so the prediction is on the pixel scale;
 *  - each sample has the configured number of visible patches, and its mask
 *    is the one training draws (the same ids and epochs give the same mask
 *    whatever the batch slot).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/mae.h"
#include "src/error.h"
#include "tests/check.h"
#include "tests/gradcheck_store.h"

enum { BATCH = 3, SIDE = 12, PATCH = 4, NP = (SIDE / PATCH) * (SIDE / PATCH), P = PATCH * PATCH };

/* Patch j of image b, on the model's scale (patch_embed.h), rows of the patch in order. */
static void patch_pixels(const uint8_t *pixels, int b, int j, float *out) {
    int gy = j / (SIDE / PATCH), gx = j % (SIDE / PATCH);
    for (int y = 0; y < PATCH; y++)
        for (int x = 0; x < PATCH; x++)
            out[y * PATCH + x] = (float)pixels[(size_t)b * SIDE * SIDE + (gy * PATCH + y) * SIDE + gx * PATCH + x] *
                                     (2.0f / 255.0f) - 1.0f;
}

static void check_case(const char *label, int norm_pix, int encode_all) {
    char np_arg[32], in_arg[48];
    snprintf(np_arg, sizeof np_arg, "mae.norm_pix_loss=%s", norm_pix ? "true" : "false");
    snprintf(in_arg, sizeof in_arg, "mae.encoder_input=%s", encode_all ? "all" : "visible");
    char *overrides[] = {"data.train=unused", "model.dim=8", "model.heads=2", "model.depth=1",
                         "model.decoder_depth=1", "model.patch=4", "mae.mask_ratio=0.5", np_arg, in_arg};
    train_config cfg;
    config_sources src = {0};
    int rc = train_config_load(&cfg, &src, NULL, 9, overrides);
    objective *o = NULL;
    param_store ps;
    param_store_init(&ps);
    data_shape shape = {1, SIDE, SIDE};
    if (rc == CRATE_OK) rc = mae_objective_create(&o, &cfg, &shape, BATCH, &ps);
    if (rc == CRATE_OK) rc = param_store_alloc(&ps);
    CHECK(rc == CRATE_OK, "%s: build: %s", label, crate_errmsg());
    if (rc != CRATE_OK) return;
    gradcheck_fill(ps.data, ps.total, 7, 0.5f);
    uint8_t pixels[BATCH * SIDE * SIDE];
    for (int i = 0; i < BATCH * SIDE * SIDE; i++) pixels[i] = (uint8_t)((i * 53 + 7) % 256);
    uint64_t ids[BATCH] = {4, 11, 4};
    uint32_t epochs[BATCH] = {0, 2, 0}; /* samples 0 and 2: the same sample, so the same mask */
    int32_t labels[BATCH] = {0, 0, 0};
    image_batch batch = {BATCH, 1, SIDE, SIDE, pixels, labels, ids, epochs, 0};

    float patches[BATCH * NP * P];
    uint8_t visible[BATCH * NP];
    objective_loss pred = {0, 0}, train = {0, 0};
    rc = mae_objective_predict(o, &ps, &batch, patches, visible, &pred);
    CHECK(rc == CRATE_OK, "%s: predict: %s", label, crate_errmsg());
    param_store_zero_grad(&ps);
    o->ops->forward_backward(o, &ps, &batch, NULL, &train);
    CHECK(pred.sum == train.sum && pred.count == train.count, "%s: the loss %.9g/%g is training's %.9g/%g", label,
          pred.sum, pred.count, train.sum, train.count);

    double sum = 0;
    int masked = 0;
    for (int b = 0; b < BATCH; b++) {
        int seen = 0;
        for (int j = 0; j < NP; j++) {
            seen += visible[b * NP + j];
            if (visible[b * NP + j]) continue;
            float x[P];
            patch_pixels(pixels, b, j, x);
            double mean = 0, var = 0;
            for (int i = 0; i < P; i++) mean += x[i];
            mean /= P;
            for (int i = 0; i < P; i++) var += (x[i] - mean) * (x[i] - mean);
            double rs = norm_pix ? 1.0 / sqrt(var / (P - 1) + 1e-6) : 1.0;
            if (!norm_pix) mean = 0;
            const float *y = patches + ((size_t)b * NP + j) * P;
            double e = 0;
            for (int i = 0; i < P; i++) {
                double t = (x[i] - mean) * rs, q = (y[i] - mean) * rs;
                e += (q - t) * (q - t);
            }
            sum += e / P;
            masked++;
        }
        CHECK(seen == NP / 2, "%s: sample %d shows %d of %d patches, not half", label, b, seen, NP);
    }
    CHECK(memcmp(visible, visible + 2 * NP, NP) == 0, "%s: sample 4 got another mask in slot 2 than in slot 0", label);
    CHECK(masked == (int)pred.count, "%s: %d masked patches, the loss counts %g", label, masked, pred.count);
    CHECK(fabs(sum - pred.sum) <= 1e-4 * fabs(pred.sum), "%s: the loss recomputed from the returned patches is "
          "%.7g, predict said %.7g", label, sum, pred.sum);
    printf("%s: loss %.6g over %d masked patches, recomputed %.6g\n", label, pred.sum / pred.count, masked,
           sum / masked);
    objective_destroy(o);
    param_store_free(&ps);
    config_sources_free(&src);
}

int main(void) {
    check_case("raw pixels, visible", 0, 0);
    check_case("norm_pix, visible", 1, 0);
    check_case("raw pixels, all", 0, 1);
    check_case("norm_pix, all", 1, 1);
    return check_finish();
}
