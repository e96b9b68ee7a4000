/* metrics.h — what a run reports: a human progress line on stdout and one
 * JSON object per logged step in <run dir>/metrics.jsonl (flushed each time so
 * `tail -f` and a preempted job both see every line written). */
#ifndef CRATE_METRICS_H
#define CRATE_METRICS_H

#include <stdint.h>
#include <stdio.h>

/* Named values beyond the fixed fields (an objective's own measures). */
#define METRICS_VALUES_MAX 8
typedef struct {
    int n;
    const char *key[METRICS_VALUES_MAX];
    double value[METRICS_VALUES_MAX];
} metrics_values;

/* Appends key = value (dropped, silently, past METRICS_VALUES_MAX). */
void metrics_values_add(metrics_values *v, const char *key, double value);

typedef struct {
    int64_t step, total_steps; /* step is 1-based: steps completed */
    double loss, lr, grad_norm;
    double samples_per_s, ms_per_step, gflops;
    double comm_wait_ms; /* per step: blocked waiting for the gradient sums */
    double comm_early;   /* share of gradient floats summed before backward ended; < 0: one rank (not written) */
    double elapsed_s, eta_s;
    const metrics_values *extra; /* NULL or more "key":value pairs for the JSON line */
} metrics_record;

/* "step 120/1000 | loss 0.41230 | lr 9.80e-04 | grad_norm 0.532 | 812.0 img/s | 42.1 ms/step (comm wait 1.2)
 *  | 96.0 GFLOP/s | ETA 1m23s", with " | key value key value" of r->extra after grad_norm */
void metrics_print_progress(FILE *out, const metrics_record *r, const char *sample_unit);
/* One JSON object, newline-terminated, flushed. */
int metrics_write_json(FILE *out, const metrics_record *r);
/* {"step":N,"<key>":x,...,"eval_s":s}: an evaluation's line (eval.every). */
int metrics_write_eval(FILE *out, int64_t step, const metrics_values *v, double seconds);
/* {"step":N,"<name_0>_1":x,…,"<name_0>_L":x,"<name_1>_1":…,"<count_key>":count,"eval_s":s}: per-layer
 * values (eval.whitebox), value[k·layers + l] that of names[k] at layer l + 1. */
int metrics_write_layers(FILE *out, int64_t step, const char *const *names, int nnames, const double *value,
                         int layers, const char *count_key, int count, double seconds);
/* "1h02m03s", "4m05s", "12s" */
void metrics_format_duration(char *buf, size_t cap, double seconds);

#endif
