/* whitebox_monitor.c — see whitebox_monitor.h. */
#include "pretrain/whitebox_monitor.h"

#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/io/fs.h"
#include "src/io/metrics.h"

enum { IMAGE_BATCH = 64, TEXT_BATCH = 16 };

static int open_images(whitebox_monitor *m, const train_config *cfg) {
    int rc = image_dataset_open(&m->images, cfg->data.test, (size_t)cfg->data.cache_mb << 20);
    if (rc != CRATE_OK) return crate_fail_context(rc, "eval.whitebox (its images)");
    int C, H, W;
    image_dataset_shape(m->images, &C, &H, &W);
    return frozen_encoder_for_config(&m->fe, cfg, C, H, W, IMAGE_BATCH);
}

static int open_texts(whitebox_monitor *m, const train_config *cfg) {
    int rc = token_dataset_open(&m->tokens, cfg->data.val, (size_t)cfg->data.cache_mb << 20);
    if (rc != CRATE_OK) return crate_fail_context(rc, "eval.whitebox (its token windows)");
    return frozen_text_for_config(&m->ft, cfg, token_dataset_vocab(m->tokens), TEXT_BATCH);
}

int whitebox_monitor_open(whitebox_monitor *m, const train_config *cfg, int rank) {
    memset(m, 0, sizeof *m);
    m->samples = (int)cfg->eval.whitebox;
    m->text = train_config_is_text(cfg);
    if (rank != 0 || m->samples == 0) return CRATE_OK;
    m->open = 1;
    int rc = m->text ? open_texts(m, cfg) : open_images(m, cfg);
    if (rc != CRATE_OK) whitebox_monitor_close(m);
    return rc;
}

int whitebox_monitor_report(whitebox_monitor *m, const param_store *weights, int64_t step, FILE *metrics) {
    if (!m->open) return CRATE_OK;
    double start = fs_now();
    int lacking, bad = param_store_copy_by_name(m->text ? &m->ft.ps : &m->fe.ps, weights, &lacking);
    if (bad >= 0)
        return crate_fail(CRATE_EINTERNAL, "eval.whitebox: the training parameters %s a tensor its encoder needs",
                          lacking ? "lack" : "hold another shape of");
    encoder_measures e;
    int rc = m->text ? layer_measures_texts(&m->ft, m->tokens, m->samples, &e)
                     : layer_measures_images(&m->fe, m->images, m->samples, &e);
    if (rc != CRATE_OK) return crate_fail_context(rc, "eval.whitebox");
    int L = e.depth;
    double *v = crate_malloc((size_t)3 * L * sizeof *v, "white-box measures");
    if (!v) rc = CRATE_EINTERNAL;
    for (int l = 0; v && l < L; l++)
        v[l] = e.layers[l].rc_mean, v[L + l] = e.layers[l].sparsity_mean, v[2 * L + l] = e.layers[l].rate_mean;
    static const char *const names[3] = {"rc", "sparsity", "coding_rate"};
    if (rc == CRATE_OK) {
        double s = fs_now() - start;
        printf("whitebox step %lld | layers 1 -> %d over %d %s: R^c %.2f -> %.2f (bound %.1f) | sparsity %.3f -> %.3f "
               "| R(Z) %.2f -> %.2f (%.1f s)\n", (long long)step, L, e.images, m->text ? "windows" : "images",
               v[0], v[L - 1], e.rc_bound, v[L], v[2 * L - 1], v[2 * L], v[3 * L - 1], s);
        rc = metrics_write_layers(metrics, step, names, 3, v, L, "whitebox_samples", e.images, s);
    }
    free(v);
    encoder_measures_free(&e);
    return rc;
}

void whitebox_monitor_close(whitebox_monitor *m) {
    if (!m->open) return;
    if (m->text) {
        frozen_text_close(&m->ft);
        if (m->tokens) token_dataset_close(m->tokens);
    } else {
        frozen_encoder_close(&m->fe);
        if (m->images) image_dataset_close(m->images);
    }
    memset(m, 0, sizeof *m);
}
