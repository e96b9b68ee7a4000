/* probe_features.c — see probe_features.h. */
#include "pretrain/probe_features.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"

/* Rank 0 receives the features in rounds of at most PROBE_GATHER_BYTES:
 * MPI counts and displacements are ints, so a single gather of the whole set
 * would overflow past 2 GiB. Each round covers the rows [lo, hi) of the
 * result; every rank sends the part of its own block inside them, and as the
 * blocks are contiguous and in rank order, the parts arrive in place at row
 * lo, with no copy. (A smaller value, -DPROBE_GATHER_BYTES=4096, tests the
 * rounds on small data.) */
#ifndef PROBE_GATHER_BYTES
#define PROBE_GATHER_BYTES ((size_t)1 << 30)
#endif

/* Rows the probes take from ds: the first `limit` (<= 0: all), as an int. */
static int rows_of(image_dataset *ds, int limit, int *rows) {
    uint64_t n = image_dataset_count(ds);
    if (limit > 0 && (uint64_t)limit < n) n = (uint64_t)limit;
    if (n > INT_MAX)
        return crate_fail(CRATE_EINPUT, "a data set of %llu images is more than a probe takes (%d): use only the "
                          "first N (--train-limit, --test-limit)", (unsigned long long)n, INT_MAX);
    *rows = (int)n;
    return CRATE_OK;
}

int probe_features_same_shape(const image_dataset *train, const char *train_name, const image_dataset *test,
                              const char *test_name) {
    int C, H, W, c, h, w;
    image_dataset_shape(train, &C, &H, &W);
    image_dataset_shape(test, &c, &h, &w);
    if (c == C && h == H && w == W) return CRATE_OK;
    return crate_fail(CRATE_EINPUT, "%s: test images are %dx%dx%d but the train set and the encoder are %dx%dx%d "
                      "(H x W x C; the encoder is built for the images of %s): make the test set like the train set, "
                      "with the same crate-data command on the same kind of images", test_name, h, w, c, H, W, C,
                      train_name);
}

int probe_features_labels(image_dataset *ds, const char *name, int limit, int train_classes, int *classes) {
    int n, top = -1;
    int rc = rows_of(ds, limit, &n);
    for (int i = 0; rc == CRATE_OK && i < n; i++) {
        int32_t label;
        rc = image_dataset_read(ds, (uint64_t)i, NULL, &label);
        if (rc != CRATE_OK) break;
        if (label < 0 || label > PROBE_MAX_LABEL)
            rc = crate_fail(CRATE_EINPUT, "%s: record %d has label %d, outside [0, %d]: labels are class numbers "
                            "0, 1, ... (records are numbered from 0 over the folder's shards in order); re-create "
                            "the shards with each image's class number as its label", name, i, (int)label,
                            PROBE_MAX_LABEL);
        else if (train_classes > 0 && label >= train_classes)
            rc = crate_fail(CRATE_EINPUT, "%s: record %d has label %d, but the train set's labels go up to %d: a "
                            "test set is scored against its train set's classes, so a class the train set lacks "
                            "cannot be predicted; give test and train sets of the same classes (records are "
                            "numbered from 0 over the folder's shards in order)", name, i, (int)label,
                            train_classes - 1);
        else if (label > top) top = label;
    }
    if (rc == CRATE_OK && classes) *classes = top + 1;
    return rc;
}

void probe_features_gather_rows(const void *mine, int first, int end, int n, size_t row_bytes, void *all) {
    size_t per = PROBE_GATHER_BYTES / row_bytes;
    int per_round = per > INT_MAX ? INT_MAX : (int)per;
    for (int lo = 0, hi; lo < n; lo = hi) {
        hi = n - lo > per_round ? lo + per_round : n;
        int a = first > lo ? first : lo, b = end < hi ? end : hi;
        size_t rows = b > a ? (size_t)(b - a) : 0;
        const char *from = rows ? (const char *)mine + (size_t)(a - first) * row_bytes : mine;
        comm_gather_bytes(from, rows * row_bytes, all ? (char *)all + (size_t)lo * row_bytes : NULL);
    }
}

int probe_features_encode(const comm_info *c, frozen_encoder *fe, image_dataset *ds, int limit, feature_kind kind,
                          int layers, feature_set *out) {
    memset(out, 0, sizeof *out);
    int C, H, W, B = fe->batch;
    image_dataset_shape(ds, &C, &H, &W);
    /* The encoder reads C·H·W-byte images of its own shape: any other would be
     * read as garbage or past the end of the batch (probe_features_same_shape
     * names the folders first; this keeps every caller safe). */
    if (C != fe->C || H != fe->H || W != fe->W)
        return crate_fail(CRATE_EINPUT, "images are %dx%dx%d but the encoder is built for %dx%dx%d (H x W x C)", H, W,
                          C, fe->H, fe->W, fe->C);
    /* These checks give every rank the same answer: no rank is left in a gather. */
    int rc = rows_of(ds, limit, &out->n);
    if (rc != CRATE_OK) return rc;
    out->f = frozen_encoder_feature_dim(fe, kind, layers);
    if ((size_t)out->f * sizeof(float) > PROBE_GATHER_BYTES)
        return crate_fail(CRATE_EINPUT, "a feature row of %d floats is more than the probe gathers at once "
                          "(%zu bytes): use fewer --layers", out->f, (size_t)PROBE_GATHER_BYTES);
    int64_t nb = ((int64_t)out->n + B - 1) / B;
    int64_t first = c->rank * nb / c->world * B, end = (c->rank + 1) * nb / c->world * B;
    if (end > out->n) end = out->n;
    if (first > end) first = end;
    int mine = (int)(end - first);
    size_t image = (size_t)C * H * W;
    float *X = crate_malloc((size_t)(mine ? mine : 1) * out->f * sizeof(float), "features");
    int *y = crate_malloc((size_t)(mine ? mine : 1) * sizeof(int), "labels");
    uint8_t *pixels = crate_malloc((size_t)B * image, "image batch");
    rc = X && y && pixels ? CRATE_OK : CRATE_EINTERNAL;
    for (int64_t at = first; at < end && rc == CRATE_OK; at += B) {
        int n = end - at < B ? (int)(end - at) : B;
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
        probe_features_gather_rows(X, (int)first, (int)end, out->n, (size_t)out->f * sizeof(float), out->X);
        probe_features_gather_rows(y, (int)first, (int)end, out->n, sizeof(int), out->y);
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
    int rc = rows_of(ds, limit, &out->n);
    if (rc != CRATE_OK) return rc;
    out->f = C * H * W;
    out->X = crate_malloc((size_t)out->n * out->f * sizeof(float), "raw features");
    out->y = crate_malloc((size_t)out->n * sizeof(int), "labels");
    uint8_t *pixels = crate_malloc((size_t)out->f, "image");
    rc = out->X && out->y && pixels ? CRATE_OK : CRATE_EINTERNAL;
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
    int top = -1;
    for (int i = 0; i < s->n; i++) top = s->y[i] > top ? s->y[i] : top;
    return top < PROBE_MAX_LABEL ? top + 1 : PROBE_MAX_LABEL + 1; /* no overflow at INT_MAX */
}

void feature_set_free(feature_set *s) {
    free(s->X);
    free(s->y);
    memset(s, 0, sizeof *s);
}
