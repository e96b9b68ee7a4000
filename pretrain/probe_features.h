/* probe_features.h — a data set's features for the probes, computed by all
 * ranks and gathered on rank 0.
 *
 * The images are cut into batches of `batch` consecutive records; rank r
 * encodes batches [r·nb/W, (r+1)·nb/W). Every batch holds the same images
 * whatever the rank count, so the features, and every probe result computed
 * from them, do not depend on how many ranks extracted them.
 *
 * A set holds up to INT_MAX rows of any width up to 1 GiB; rank 0 gathers it
 * in rounds of at most 1 GiB, so no MPI count or displacement overflows
 * however large the whole set is.
 *
 * Checks before the work. The encoder is built for the train set's images,
 * and the probes size their classifiers by the largest label, so a test set
 * of another image shape (read with the train set's: garbage, or past the
 * end of each image) and labels that are not small class numbers (a label of
 * 1e9 asks for terabytes, INT_MAX overflows) are refused up front, naming
 * the folder and the record: probe_features_same_shape and
 * probe_features_labels.
 */
#ifndef CRATE_PROBE_FEATURES_H
#define CRATE_PROBE_FEATURES_H

#include "data/shard.h"
#include "pretrain/frozen_encoder.h"
#include "src/dist/comm.h"

typedef struct {
    int n, f;      /* rows and floats per row */
    float *X;      /* (n, f) on rank 0, NULL elsewhere */
    int *y;        /* (n) labels on rank 0 */
} feature_set;

/* Labels are class numbers 0 … C − 1; C is at most PROBE_MAX_LABEL + 1. */
#define PROBE_MAX_LABEL 65535

/* CRATE_OK if the images of test have train's shape (C,H,W); else
 * CRATE_EINPUT, "<test_name>: test images are HxWxC but the train set and
 * the encoder are …" with the fix. The names say where the sets came from
 * ("--test DIR", "data.test DIR"). */
int probe_features_same_shape(const image_dataset *train, const char *train_name, const image_dataset *test,
                              const char *test_name);
/* Reads the labels of the first `limit` records of ds (limit <= 0: all;
 * `name` names ds in messages): each must be in [0, PROBE_MAX_LABEL], and
 * below train_classes when that is > 0 (a test set scored against a train
 * set of that many classes). Else CRATE_EINPUT naming the record and the
 * label. *classes (may be NULL) = 1 + the largest label. */
int probe_features_labels(image_dataset *ds, const char *name, int limit, int train_classes, int *classes);
/* Encoder features of the first `limit` records of ds (limit <= 0: all). Collective. */
int probe_features_encode(const comm_info *c, frozen_encoder *fe, image_dataset *ds, int limit, feature_kind kind,
                          int layers, feature_set *out);
/* Raw pixels scaled to [0, 1] (the baseline's features), rank 0 only. */
int probe_features_raw(image_dataset *ds, int limit, feature_set *out);
/* Rows [first, end) of an n-row set (each of row_bytes) are this rank's, in
 * mine; rank 0 gets all n rows in `all` (NULL on other ranks), in rounds of
 * at most 1 GiB. Collective: every rank makes the same rounds, so the ranks'
 * ranges must tile [0, n) in rank order. A row is at most 1 GiB. */
void probe_features_gather_rows(const void *mine, int first, int end, int n, size_t row_bytes, void *all);
/* 1 + the largest label (rank 0); labels are in [0, PROBE_MAX_LABEL] (checked by
 * probe_features_labels), negative ones are ignored. */
int feature_set_classes(const feature_set *s);
void feature_set_free(feature_set *s);

#endif
