/* knn_monitor.c — see knn_monitor.h. */
#include "pretrain/knn_monitor.h"

#include <stdio.h>
#include <string.h>

#include "src/error.h"
#include "src/eval/knn.h"

/* "data.train PATH" for messages. */
enum { SET_NAME_MAX = CONFIG_STRING_MAX + 16 };

int knn_monitor_open(knn_monitor *m, const train_config *cfg) {
    memset(m, 0, sizeof *m);
    m->train_samples = (int)cfg->eval.train_samples;
    m->test_samples = (int)cfg->eval.test_samples;
    m->k = (int)cfg->eval.knn;
    m->feature = (feature_kind)cfg->eval.feature;
    int rc = image_dataset_open(&m->train, cfg->data.train, 16u << 20);
    if (rc == CRATE_OK) rc = image_dataset_open(&m->test, cfg->data.test, 16u << 20);
    if (rc != CRATE_OK) return crate_fail_context(rc, "eval.every: data.test");
    /* Before the first step, not at the first evaluation: the images the
     * encoder cannot read and labels the vote cannot count. Every rank reads
     * the same few thousand labels and so fails alike. */
    char train_name[SET_NAME_MAX], test_name[SET_NAME_MAX];
    snprintf(train_name, sizeof train_name, "data.train %s", cfg->data.train);
    snprintf(test_name, sizeof test_name, "data.test %s", cfg->data.test);
    int classes = 0;
    rc = probe_features_same_shape(m->train, train_name, m->test, test_name);
    if (rc == CRATE_OK) rc = probe_features_labels(m->train, train_name, m->train_samples, 0, &classes);
    if (rc == CRATE_OK) rc = probe_features_labels(m->test, test_name, m->test_samples, classes, NULL);
    if (rc != CRATE_OK) return crate_fail_context(rc, "eval.every (the k-NN monitor)");
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
    /* What was used, for the summary: the sets may hold fewer images than
     * eval.train_samples and eval.test_samples ask for, and k is at most the bank. */
    m->bank_n = bank.n, m->queries_n = queries.n, m->k_used = m->k < bank.n ? m->k : bank.n;
    if (rc == CRATE_OK && c->rank == 0) {
        int C = feature_set_classes(&bank);
        knn_config kc = knn_config_default();
        kc.k = m->k_used;
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
    snprintf(out->summary, sizeof out->summary, "%sk-NN top-1 %.2f%% (k=%d, %d train / %d test images)", what,
             100 * top1, m->k_used, m->bank_n, m->queries_n);
    return CRATE_OK;
}

void knn_monitor_close(knn_monitor *m) {
    frozen_encoder_close(&m->fe);
    image_dataset_close(m->train);
    image_dataset_close(m->test);
    memset(m, 0, sizeof *m);
}
