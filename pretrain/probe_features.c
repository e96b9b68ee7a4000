/* probe_features.c — see probe_features.h. */
#include "pretrain/probe_features.h"

#include <stdlib.h>
#include <string.h>

#include "src/error.h"

static int rows_of(image_dataset *ds, int limit) {
    uint64_t n = image_dataset_count(ds);
    if (limit > 0 && (uint64_t)limit < n) n = (uint64_t)limit;
    return (int)n;
}

int probe_features_encode(const comm_info *c, frozen_encoder *fe, image_dataset *ds, int limit, feature_kind kind,
                          int layers, feature_set *out) {
    memset(out, 0, sizeof *out);
    int C, H, W, B = fe->batch;
    image_dataset_shape(ds, &C, &H, &W);
    out->n = rows_of(ds, limit);
    out->f = frozen_encoder_feature_dim(fe, kind, layers);
    int nb = (out->n + B - 1) / B;
    int first = (int)((int64_t)c->rank * nb / c->world) * B, end = (int)((int64_t)(c->rank + 1) * nb / c->world) * B;
    if (end > out->n) end = out->n;
    int mine = end > first ? end - first : 0;
    size_t image = (size_t)C * H * W;
    float *X = crate_malloc((size_t)(mine ? mine : 1) * out->f * sizeof(float), "features");
    int *y = crate_malloc((size_t)(mine ? mine : 1) * sizeof(int), "labels");
    uint8_t *pixels = crate_malloc((size_t)B * image, "image batch");
    int rc = X && y && pixels ? CRATE_OK : CRATE_EINTERNAL;
    for (int at = first; at < end && rc == CRATE_OK; at += B) {
        int n = end - at < B ? end - at : B;
        for (int i = 0; i < n && rc == CRATE_OK; i++) {
            int32_t label;
            rc = image_dataset_read(ds, (uint64_t)(at + i), pixels + (size_t)i * image, &label);
            y[at - first + i] = label;
        }
        if (rc == CRATE_OK) frozen_encoder_features(fe, pixels, n, kind, layers, X + (size_t)(at - first) * out->f);
    }
    free(pixels);
    rc = comm_agree_message(c, rc);
    if (rc == CRATE_OK && c->rank == 0) {
        out->X = crate_malloc((size_t)out->n * out->f * sizeof(float), "features");
        out->y = crate_malloc((size_t)out->n * sizeof(int), "labels");
        if (!out->X || !out->y) rc = CRATE_EINTERNAL;
    }
    rc = comm_agree_message(c, rc);
    if (rc == CRATE_OK) {
        comm_gather_bytes(X, (size_t)mine * out->f * sizeof(float), out->X);
        comm_gather_bytes(y, (size_t)mine * sizeof(int), out->y);
    }
    free(X);
    free(y);
    if (rc != CRATE_OK) feature_set_free(out);
    return rc;
}

int probe_features_raw(image_dataset *ds, int limit, feature_set *out) {
    memset(out, 0, sizeof *out);
    int C, H, W;
    image_dataset_shape(ds, &C, &H, &W);
    out->n = rows_of(ds, limit);
    out->f = C * H * W;
    out->X = crate_malloc((size_t)out->n * out->f * sizeof(float), "raw features");
    out->y = crate_malloc((size_t)out->n * sizeof(int), "labels");
    uint8_t *pixels = crate_malloc((size_t)out->f, "image");
    int rc = out->X && out->y && pixels ? CRATE_OK : CRATE_EINTERNAL;
    for (int i = 0; i < out->n && rc == CRATE_OK; i++) {
        int32_t label;
        rc = image_dataset_read(ds, (uint64_t)i, pixels, &label);
        out->y[i] = label;
        for (int j = 0; j < out->f; j++) out->X[(size_t)i * out->f + j] = pixels[j] / 255.0f;
    }
    free(pixels);
    if (rc != CRATE_OK) feature_set_free(out);
    return rc;
}

int feature_set_classes(const feature_set *s) {
    int C = 0;
    for (int i = 0; i < s->n; i++) C = s->y[i] + 1 > C ? s->y[i] + 1 : C;
    return C;
}

void feature_set_free(feature_set *s) {
    free(s->X);
    free(s->y);
    memset(s, 0, sizeof *s);
}
