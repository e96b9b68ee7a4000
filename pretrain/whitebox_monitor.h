/* whitebox_monitor.h — eval.whitebox: CRATE's per-layer measures
 * (pretrain/layer_measures.h: R^c, sparsity, R(Z)) of the encoder while it
 * trains, on a fixed subset: the first eval.whitebox images of data.test
 * (image objectives) or windows of data.val (text objectives), which
 * eval.every needs anyway. Run at every eval.every on rank 0
 * alone (no collective), from the weights the objective evaluates (DINO's
 * teacher), so the values depend only on the parameters: a resumed run logs
 * what an uninterrupted one does, on any rank count.
 *
 * One line in metrics.jsonl per evaluation, flat so crate-plot reads it:
 *   {"step":N,"rc_1":…,"sparsity_1":…,"coding_rate_1":…,…,"rc_L":…,
 *    "whitebox_samples":n,"eval_s":s}
 */
#ifndef CRATE_WHITEBOX_MONITOR_H
#define CRATE_WHITEBOX_MONITOR_H

#include <stdint.h>
#include <stdio.h>

#include "pretrain/layer_measures.h"
#include "pretrain/train_config.h"

typedef struct {
    int text, samples, open;
    frozen_encoder fe;
    image_dataset *images;
    frozen_text ft;
    token_dataset *tokens;
} whitebox_monitor;

/* Opens the data set and builds the encoder of cfg (on rank 0; elsewhere it
 * only records that it is off there). Fails naming eval.whitebox and the
 * folder. */
int whitebox_monitor_open(whitebox_monitor *m, const train_config *cfg, int rank);
/* Rank 0: measures the encoder of `weights` (the training store or DINO's
 * teacher) and writes the line to metrics and a summary to stdout. */
int whitebox_monitor_report(whitebox_monitor *m, const param_store *weights, int64_t step, FILE *metrics);
void whitebox_monitor_close(whitebox_monitor *m);

#endif
