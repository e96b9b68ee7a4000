/* knn.h — weighted k-nearest-neighbour classification of frozen features, the
 * DINO protocol (Caron et al. 2021, eval_knn.py): cosine similarity to every
 * train row, the k most similar vote with weight exp(s/T).
 *
 * Defines knn_config, knn_scores and knn_evaluate. Shapes: train (n_train,f),
 * test (n_test,f) row-major float, C classes; probe_split and probe_accuracy
 * come from linear_probe.h.
 *
 *   s_ij = x_i · t_j / (‖x_i‖ ‖t_j‖)              (norms floored at 1e-12)
 *   N_i  = the k train rows of largest s_ij       (ties: the lower train index)
 *   score_ic = Σ_{j ∈ N_i, y_j = c} exp((s_ij − s_i*) / T),   s_i* = max_j s_ij
 *   prediction_i = argmax_c score_ic
 *
 * The shift by s_i* multiplies every weight of row i by the same exp(−s_i* / T),
 * so each comparison within a row is DINO's exp(s/T) vote exactly, while the
 * weights stay in (0,1] for any T (exp(1/T) overflows float below T ≈ 0.011).
 *
 * Similarities come from sgemm over blocks of test rows, so memory is
 * block_rows × n_train floats, never n_test × n_train (2.4 GB for 10k × 60k).
 * Normalizing is folded into the scan: raw products are scaled by 1/‖t_j‖
 * there and by 1/‖x_i‖ only for the k chosen, so no copy of the features is
 * made.
 */
#ifndef CRATE_KNN_H
#define CRATE_KNN_H

#include "src/eval/linear_probe.h"

typedef struct {
    int k;             /* neighbours that vote, <= n_train */
    float temperature; /* T > 0 */
    int block_rows;    /* test rows per similarity block */
} knn_config;

/* k 20, T 0.07, 256 rows per block (256 × 60000 floats = 61 MB). */
knn_config knn_config_default(void);

/* scores (n_test,C) as above; train->y must be in [0,C). */
int knn_scores(const probe_split *train, const float *test_X, int n_test, int f, int C,
               const knn_config *cfg, float *scores);

/* knn_scores, then top-1 (and top-5 when C > 5) against test->y. */
int knn_evaluate(const probe_split *train, const probe_split *test, int f, int C,
                 const knn_config *cfg, probe_accuracy *acc);

#endif
