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
/* 1 + the largest label (rank 0). */
int feature_set_classes(const feature_set *s);
void feature_set_free(feature_set *s);

#endif
