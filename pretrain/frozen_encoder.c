/* frozen_encoder.c — see frozen_encoder.h. */
#include "pretrain/frozen_encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/encoder_config.h"
#include "pretrain/train_config.h"
#include "src/ckpt/checkpoint.h"
#include "src/error.h"

/* The encoder the checkpoint's config describes, declared in fe->ps. */
static int declare(frozen_encoder *fe, const train_config *cfg) {
    if (cfg->objective.name != TRAIN_OBJECTIVE_MAE && cfg->objective.name != TRAIN_OBJECTIVE_DINO &&
        cfg->objective.name != TRAIN_OBJECTIVE_CLASSIFY)
        return crate_fail(CRATE_EINPUT, "a %s checkpoint has no image encoder to evaluate",
                          train_config_objective_name(cfg));
    image_encoder_config ec = encoder_config_for_images(cfg, fe->C, fe->H, fe->W);
    fe->d = ec.block.d;
    fe->depth = ec.depth;
    int rc = image_encoder_declare(&fe->enc, &fe->ps, &fe->arena, "encoder", &ec);
    if (rc != CRATE_OK) return rc;
    fe->num_patches = fe->enc.embed.num_patches;
    fe->patch_dim = fe->enc.embed.patch_dim;
    return param_store_alloc(&fe->ps);
}

/* "[a, b, …]" of a shape, into buf. */
static const char *shape_text(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? ", " : "[", (long long)shape[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
    return buf;
}

/* Copies every encoder tensor from the checkpoint's parameter vector. */
static int copy_tensors(frozen_encoder *fe, const ckpt_manifest *m, const float *params, const char *path) {
    int lacking, bad = ckpt_manifest_copy_tensors(m, params, &fe->ps, &lacking);
    if (bad < 0) return CRATE_OK;
    const param_tensor *t = &fe->ps.tensors[bad];
    if (lacking)
        return crate_fail(CRATE_EINPUT, "%s has no image encoder tensor %s: it was not written by an objective "
                          "with an image encoder", path, t->name);
    const ckpt_tensor *src = ckpt_manifest_tensor(m, t->name);
    char have[96], want[96];
    return crate_fail(CRATE_EINPUT, "%s: tensor %s is %s in the checkpoint, but an encoder for %dx%dx%d images "
                      "(H x W x C, the train set's) needs %s: the encoder was pretrained on other images; "
                      "probe it on images made like its pretraining data (data.train of its config)", path,
                      t->name, shape_text(have, sizeof have, src->shape, src->ndim), fe->H, fe->W, fe->C,
                      shape_text(want, sizeof want, t->shape, t->ndim));
}

/* Declares the encoder of cfg for (C,H,W) images and sizes its activations. */
static int build(frozen_encoder *fe, const train_config *cfg, int C, int H, int W, int batch) {
    memset(fe, 0, sizeof *fe);
    fe->C = C, fe->H = H, fe->W = W, fe->batch = batch;
    param_store_init(&fe->ps);
    arena_init(&fe->arena);
    int rc = declare(fe, cfg);
    if (rc == CRATE_OK) rc = image_encoder_alloc(&fe->enc, &fe->arena, batch, fe->num_patches);
    if (rc == CRATE_OK) {
        fe->patches = arena_floats(&fe->arena, (size_t)batch * fe->num_patches * fe->patch_dim);
        fe->idx = arena_ints(&fe->arena, (size_t)batch * fe->num_patches);
        rc = fe->patches && fe->idx ? CRATE_OK : CRATE_EINTERNAL;
    }
    return rc;
}

int frozen_encoder_for_config(frozen_encoder *fe, const train_config *cfg, int C, int H, int W, int batch) {
    int rc = build(fe, cfg, C, H, W, batch);
    if (rc != CRATE_OK) frozen_encoder_close(fe);
    return rc;
}

int frozen_encoder_copy(frozen_encoder *fe, const param_store *training) {
    int lacking, bad = param_store_copy_by_name(&fe->ps, training, &lacking);
    if (bad < 0) return CRATE_OK;
    return crate_fail(CRATE_EINTERNAL, "the training parameters %s tensor %s, which the frozen encoder of an "
                      "eval.* monitor needs: were they declared from another config?",
                      lacking ? "have no" : "hold another shape of", fe->ps.tensors[bad].name);
}

int frozen_encoder_open(frozen_encoder *fe, const char *path, const char *weights, int C, int H, int W, int batch) {
    memset(fe, 0, sizeof *fe);
    ckpt_manifest m;
    float *params = NULL;
    int rc = checkpoint_read_section(path, weights, &m, &params);
    train_config cfg;
    config_sources src = {0};
    if (rc == CRATE_OK) rc = train_config_load_text(&cfg, &src, m.config, "the checkpoint's config");
    if (rc == CRATE_OK) {
        config_sources_free(&src);
        rc = build(fe, &cfg, C, H, W, batch);
        fe->step = m.step;
    }
    if (rc == CRATE_OK) rc = copy_tensors(fe, &m, params, path);
    free(params);
    ckpt_manifest_free(&m);
    if (rc != CRATE_OK) frozen_encoder_close(fe);
    return rc;
}

int frozen_encoder_feature_dim(const frozen_encoder *fe, feature_kind kind, int layers) {
    return (kind == FEATURE_CLS_MEAN ? 2 : 1) * fe->d * layers;
}

/* The feature of one image from one layer's token rows x (1+np, d). */
static void pool(const float *x, int np, int d, feature_kind kind, float *out) {
    if (kind != FEATURE_MEAN) memcpy(out, x, (size_t)d * sizeof(float));
    if (kind == FEATURE_CLS) return;
    float *mean = kind == FEATURE_MEAN ? out : out + d;
    memset(mean, 0, (size_t)d * sizeof(float));
    for (int t = 1; t <= np; t++)
        for (int j = 0; j < d; j++) mean[j] += x[(size_t)t * d + j];
    for (int j = 0; j < d; j++) mean[j] /= (float)np;
}

void frozen_encoder_features(frozen_encoder *fe, const uint8_t *images, int n, feature_kind kind, int layers,
                             float *out) {
    int np = fe->num_patches, d = fe->d;
    patchify_images(fe->patches, images, n, fe->C, fe->H, fe->W, fe->enc.embed.patch);
    for (int b = 0; b < n; b++)
        for (int t = 0; t < np; t++) fe->idx[(size_t)b * np + t] = t;
    image_encoder_forward(&fe->enc, &fe->ps, fe->patches, fe->idx, NULL, n, np);
    int f = frozen_encoder_feature_dim(fe, kind, layers), per_layer = f / layers;
    size_t rows = (size_t)(1 + np) * d;
    for (int l = 0; l < layers; l++) {
        int layer = fe->depth - 1 - l;
        const float *x = l == 0 ? fe->enc.stack.final_ln.out : block_stack_layer_output(&fe->enc.stack, layer);
        for (int b = 0; b < n; b++) pool(x + (size_t)b * rows, np, d, kind, out + (size_t)b * f + (size_t)l * per_layer);
    }
}

void frozen_encoder_close(frozen_encoder *fe) {
    image_encoder_destroy(&fe->enc);
    param_store_free(&fe->ps);
    arena_free(&fe->arena);
    memset(fe, 0, sizeof *fe); /* a second close is a no-op */
}
