/* knn_monitor.h — eval.every: while the encoder trains, the k-NN top-1 of
 * its eval.feature features (DINO protocol: cosine similarity, exp(sim/0.07) votes)
 * with the first eval.train_samples images of data.train as the memory bank
 * and the first eval.test_samples of data.test as queries. Ranks share the
 * forward passes; the value depends only on the parameters, so a resumed run
 * logs exactly what an uninterrupted one does. */
#ifndef CRATE_KNN_MONITOR_H
#define CRATE_KNN_MONITOR_H

#include "pretrain/objective.h"
#include "pretrain/probe_features.h"
#include "pretrain/train_config.h"

typedef struct {
    frozen_encoder fe;
    image_dataset *train, *test;
    int train_samples, test_samples, k;  /* eval.* */
    int bank_n, queries_n, k_used;        /* what the last run used: at most the images there are */
    feature_kind feature;
} knn_monitor;

/* Opens data.train and data.test and builds the encoder. Refuses (CRATE_EINPUT,
 * naming the key and the folder) a data.test of another image shape than
 * data.train, and labels of the images it will use outside [0, 65535] or,
 * in data.test, beyond data.train's. */
int knn_monitor_open(knn_monitor *m, const train_config *cfg);
/* Collective; *top1 is valid on rank 0. */
int knn_monitor_run(knn_monitor *m, const comm_info *c, const param_store *training, double *top1);
/* An image objective's evaluate: knn_monitor_run on `weights` into out
 * (knn_top1, and the summary "<what>k-NN top-1 …"; what may be ""). */
int knn_monitor_report(knn_monitor *m, const comm_info *c, const param_store *weights, const char *what,
                       objective_eval *out);
void knn_monitor_close(knn_monitor *m);

#endif
