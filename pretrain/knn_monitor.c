/* knn_monitor.c — see knn_monitor.h. */
#include "pretrain/knn_monitor.h"

#include <stdio.h>
#include <string.h>

#include "src/error.h"
#include "src/eval/knn.h"

int knn_monitor_open(knn_monitor *m, const train_config *cfg) {
    memset(m, 0, sizeof *m);
    m->train_samples = (int)cfg->eval.train_samples;
    m->test_samples = (int)cfg->eval.test_samples;
    m->k = (int)cfg->eval.knn;
    m->feature = (feature_kind)cfg->eval.feature;
    int rc = image_dataset_open(&m->train, cfg->data.train, 16u << 20);
    if (rc == CRATE_OK) rc = image_dataset_open(&m->test, cfg->data.test, 16u << 20);
    if (rc != CRATE_OK) return crate_fail_context(rc, "eval.every: data.test");
    int C, H, W;
    image_dataset_shape(m->train, &C, &H, &W);
    return frozen_encoder_for_config(&m->fe, cfg, C, H, W, 256);
}

int knn_monitor_run(knn_monitor *m, const comm_info *c, const param_store *training, double *top1) {
    feature_set bank = {0}, queries = {0};
    /* Every rank holds the same store, so a failed copy fails everywhere;
     * agreeing anyway keeps a rank from entering the gathers alone. */
    int rc = comm_agree_message(c, frozen_encoder_copy(&m->fe, training));
    if (rc == CRATE_OK) rc = probe_features_encode(c, &m->fe, m->train, m->train_samples, m->feature, 1, &bank);
    if (rc == CRATE_OK) rc = probe_features_encode(c, &m->fe, m->test, m->test_samples, m->feature, 1, &queries);
    if (rc == CRATE_OK && c->rank == 0) {
        int C = feature_set_classes(&bank);
        knn_config kc = knn_config_default();
        kc.k = m->k < bank.n ? m->k : bank.n;
        probe_split tr = {bank.X, bank.y, bank.n}, te = {queries.X, queries.y, queries.n};
        probe_accuracy acc;
        rc = knn_evaluate(&tr, &te, bank.f, C, &kc, &acc);
        if (rc == CRATE_OK) *top1 = acc.top1;
    }
    feature_set_free(&bank);
    feature_set_free(&queries);
    return rc;
}

int knn_monitor_report(knn_monitor *m, const comm_info *c, const param_store *weights, const char *what,
                       objective_eval *out) {
    double top1 = 0;
    int rc = knn_monitor_run(m, c, weights, &top1);
    if (rc != CRATE_OK) return rc;
    metrics_values_add(&out->values, "knn_top1", top1);
    snprintf(out->summary, sizeof out->summary, "%sk-NN top-1 %.2f%% (%d train / %d test images)", what, 100 * top1,
             m->train_samples, m->test_samples);
    return CRATE_OK;
}

void knn_monitor_close(knn_monitor *m) {
    frozen_encoder_close(&m->fe);
    image_dataset_close(m->train);
    image_dataset_close(m->test);
    memset(m, 0, sizeof *m);
}
