/* metrics.c — see metrics.h. */
#include "src/io/metrics.h"

#include "src/error.h"

void metrics_format_duration(char *buf, size_t cap, double seconds) {
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, cap, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
    else if (s >= 60)
        snprintf(buf, cap, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, cap, "%lds", s);
}

void metrics_print_progress(FILE *out, const metrics_record *r, const char *sample_unit) {
    char eta[32];
    metrics_format_duration(eta, sizeof eta, r->eta_s);
    fprintf(out, "step %lld/%lld | loss %.5f | lr %.2e | grad_norm %.3f", (long long)r->step, (long long)r->total_steps,
            r->loss, r->lr, r->grad_norm);
    /* An objective's own measures (DINO's collapse monitors) on the same line. */
    for (int i = 0; r->extra && i < r->extra->n; i++)
        fprintf(out, "%s%s %.4g", i ? " " : " | ", r->extra->key[i], r->extra->value[i]);
    fprintf(out, " | %.1f %s/s | %.1f ms/step (comm wait %.1f) | %.1f GFLOP/s | ETA %s\n", r->samples_per_s,
            sample_unit, r->ms_per_step, r->comm_wait_ms, r->gflops, eta);
    fflush(out);
}

void metrics_values_add(metrics_values *v, const char *key, double value) {
    if (v->n >= METRICS_VALUES_MAX) return;
    v->key[v->n] = key;
    v->value[v->n++] = value;
}

static void write_values(FILE *out, const metrics_values *v) {
    for (int i = 0; v && i < v->n; i++) fprintf(out, ",\"%s\":%.9g", v->key[i], v->value[i]);
}

static int end_line(FILE *out) {
    fputs("}\n", out);
    if (fflush(out) != 0 || ferror(out)) return crate_fail(CRATE_EINTERNAL, "writing metrics.jsonl failed");
    return CRATE_OK;
}

int metrics_write_json(FILE *out, const metrics_record *r) {
    fprintf(out,
            "{\"step\":%lld,\"loss\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g,\"samples_per_s\":%.6g,"
            "\"ms_per_step\":%.6g,\"comm_wait_ms\":%.6g,\"gflops\":%.6g,\"elapsed_s\":%.6g",
            (long long)r->step, r->loss, r->lr, r->grad_norm, r->samples_per_s, r->ms_per_step, r->comm_wait_ms,
            r->gflops, r->elapsed_s);
    if (r->comm_early >= 0) fprintf(out, ",\"comm_early\":%.4g", r->comm_early);
    write_values(out, r->extra);
    return end_line(out);
}

int metrics_write_layers(FILE *out, int64_t step, const char *const *names, int nnames, const double *value,
                         int layers, const char *count_key, int count, double seconds) {
    fprintf(out, "{\"step\":%lld", (long long)step);
    for (int k = 0; k < nnames; k++)
        for (int l = 0; l < layers; l++) fprintf(out, ",\"%s_%d\":%.9g", names[k], l + 1, value[k * layers + l]);
    fprintf(out, ",\"%s\":%d,\"eval_s\":%.3g", count_key, count, seconds);
    return end_line(out);
}

int metrics_write_eval(FILE *out, int64_t step, const metrics_values *v, double seconds) {
    fprintf(out, "{\"step\":%lld", (long long)step);
    write_values(out, v);
    fprintf(out, ",\"eval_s\":%.3g", seconds);
    return end_line(out);
}
