/* crate_plot.c — `crate-plot RUN... [--keys K,K] [--x KEY] [--out FILE.png]`:
 * the training curves of one or more runs (their metrics.jsonl) as one PNG, a
 * panel per key against step (or another key, such as elapsed_s, to compare
 * runs at equal time), the runs overlaid. For looking at a run (or
 * comparing two) rather than reading its numbers.
 * Exit status: 0 done, 2 bad usage or unreadable metrics, 1 internal failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/error.h"
#include "src/io/metrics_read.h"
#include "src/io/plot.h"

static const char *TOOL = "crate-plot";
enum { MAX_RUNS = 10, MAX_KEYS = 6 };

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-plot RUN [RUN ...] [--keys KEY[,KEY...]] [--x KEY] [--out FILE.png] [--linear]\n"
            "\n"
            "Plots the metrics of training runs against step: one panel per key, every run a line (up to\n"
            "%d runs, %d keys). RUN is a run.dir (its metrics.jsonl is read) or a metrics.jsonl file; runs are\n"
            "named by their folder in the legend.\n"
            "\n"
            "  --keys K,K   the keys to plot (default: loss, lr, and every evaluation key the runs logged,\n"
            "               e.g. knn_top1, val_loss); any key of metrics.jsonl works (grad_norm, ms_per_step,\n"
            "               eval.whitebox's rc_L, sparsity_L, coding_rate_L of layer L)\n"
            "  --x KEY      the horizontal axis (default step); elapsed_s compares runs at equal time (an\n"
            "               evaluation line takes the value of the training line of its step)\n"
            "  --out FILE   the PNG written (default curves.png)\n"
            "  --linear     loss keys on a linear axis (default: log10)\n"
            "  -h, --help   this text\n"
            "\n"
            "Exit status: 0 done, 2 bad usage or unreadable metrics, 1 internal failure.\n",
            MAX_RUNS, MAX_KEYS);
}

typedef struct {
    char name[256], path[4096];
    metrics_table t;
} run;

/* RUN as given: a folder holding metrics.jsonl, or the file itself. */
static void run_paths(run *r, const char *arg) {
    struct stat st;
    int dir = stat(arg, &st) == 0 && S_ISDIR(st.st_mode);
    snprintf(r->path, sizeof r->path, dir ? "%s/metrics.jsonl" : "%s", arg);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", arg);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
    if (!dir && n > 14 && !strcmp(tmp + n - 14, "/metrics.jsonl")) tmp[n -= 14] = 0;
    const char *slash = strrchr(tmp, '/');
    snprintf(r->name, sizeof r->name, "%s", slash ? slash + 1 : tmp);
}

/* eval.whitebox's per-layer keys (rc_3, sparsity_3, coding_rate_3) and its
 * sample count: many columns, left to --keys. */
static int layer_key(const char *k) {
    if (!strcmp(k, "whitebox_samples")) return 1;
    const char *u = strrchr(k, '_');
    if (!u || !u[1] || strspn(u + 1, "0123456789") != strlen(u + 1)) return 0;
    size_t n = (size_t)(u - k);
    return (n == 2 && !strncmp(k, "rc", 2)) || (n == 8 && !strncmp(k, "sparsity", 8)) ||
           (n == 11 && !strncmp(k, "coding_rate", 11));
}

/* Training lines carry loss; every other numeric key on lines without it is
 * an evaluation (knn_top1, val_loss, ...); eval_s is how long one took. */
static int default_keys(const run *runs, int nruns, const char **keys) {
    int n = 0;
    keys[n++] = "loss";
    keys[n++] = "lr";
    for (int r = 0; r < nruns; r++) {
        const metrics_table *t = &runs[r].t;
        int loss = metrics_table_column(t, "loss");
        for (int c = 0; c < t->columns && n < MAX_KEYS; c++) {
            const char *k = t->key[c];
            if (!strcmp(k, "step") || !strcmp(k, "eval_s") || layer_key(k)) continue;
            int eval = 0;
            for (int i = 0; i < t->rows && !eval; i++)
                eval = isfinite(t->value[(size_t)i * t->columns + c]) &&
                       (loss < 0 || !isfinite(t->value[(size_t)i * t->columns + loss]));
            int known = 0;
            for (int j = 0; j < n; j++) known |= !strcmp(keys[j], k);
            if (eval && !known) keys[n++] = k;
        }
    }
    return n;
}

static int split_keys(char *list, const char **keys, int *n) {
    *n = 0;
    for (char *k = strtok(list, ","); k; k = strtok(NULL, ",")) {
        if (*n == MAX_KEYS) return crate_fail(CRATE_EINPUT, "--keys: at most %d keys", MAX_KEYS);
        keys[(*n)++] = k;
    }
    return *n ? CRATE_OK : crate_fail(CRATE_EINPUT, "--keys: give at least one key");
}

/* Row i's value of column cx, or, where the row lacks it, that of another
 * row of the same step (an evaluation line's elapsed_s is its step's). */
static double x_value(const metrics_table *t, int i, int cx, int cs) {
    double x = t->value[(size_t)i * t->columns + cx], step = t->value[(size_t)i * t->columns + cs];
    for (int j = 0; !isfinite(x) && j < t->rows; j++)
        if (t->value[(size_t)j * t->columns + cs] == step) x = t->value[(size_t)j * t->columns + cx];
    return x;
}

/* The (x, value) points of key in run r: the rows where both are finite. */
static int points(const metrics_table *t, const char *xkey, const char *key, double *x, double *y) {
    int cs = metrics_table_column(t, "step"), cx = metrics_table_column(t, xkey), ck = metrics_table_column(t, key);
    int n = 0;
    for (int i = 0; cs >= 0 && cx >= 0 && ck >= 0 && i < t->rows; i++) {
        double s = x_value(t, i, cx, cs), v = t->value[(size_t)i * t->columns + ck];
        if (isfinite(s) && isfinite(v)) x[n] = s, y[n++] = v;
    }
    return n;
}

static int draw(const char *out, const run *runs, int nruns, const char *xkey, const char **keys, int nkeys,
                int linear) {
    size_t rows = 0;
    for (int r = 0; r < nruns; r++) rows += (size_t)runs[r].t.rows;
    double *buf = crate_malloc(2 * (rows + 1) * nkeys * sizeof *buf, "plot points");
    if (!buf) return CRATE_EINTERNAL;
    plot_series series[MAX_KEYS][MAX_RUNS];
    plot_panel panels[MAX_KEYS];
    double *at = buf;
    int rc = CRATE_OK;
    for (int k = 0; k < nkeys && rc == CRATE_OK; k++) {
        int drawn = 0;
        for (int r = 0; r < nruns; r++) {
            double *x = at, *y = at + runs[r].t.rows;
            int n = points(&runs[r].t, xkey, keys[k], x, y);
            at += 2 * (size_t)runs[r].t.rows;
            series[k][r] = (plot_series){runs[r].name, x, y, NULL, n, n <= 30};
            drawn += n;
        }
        if (!drawn)
            rc = crate_fail(CRATE_EINPUT, "no run logged the key '%s' against '%s' (see %s --help)", keys[k], xkey,
                            TOOL);
        int log_y = !linear && strstr(keys[k], "loss") != NULL;
        panels[k] = (plot_panel){keys[k], xkey, keys[k], series[k], nruns, log_y, NAN, NULL};
    }
    if (rc == CRATE_OK) rc = plot_write_png(out, panels, nkeys, 440, 330);
    free(buf);
    return rc;
}

int main(int argc, char **argv) {
    const char *out = "curves.png", *xkey = "step", *keys[MAX_KEYS];
    char *key_list = NULL;
    int linear = 0, nruns = 0, nkeys = 0, rc = CRATE_OK;
    run *runs = calloc(MAX_RUNS, sizeof *runs);
    if (!runs) return CRATE_EINTERNAL;
    for (int i = 1; i < argc && rc == CRATE_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(runs);
            return 0;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--keys") || !strcmp(a, "--x")) {
            if (i + 1 == argc) rc = crate_fail(CRATE_EINPUT, "option %s needs a value", a);
            else if (!strcmp(a, "--out")) out = argv[++i];
            else if (!strcmp(a, "--x")) xkey = argv[++i];
            else key_list = argv[++i];
        } else if (!strcmp(a, "--linear")) {
            linear = 1;
        } else if (a[0] == '-') {
            rc = crate_fail(CRATE_EINPUT, "unknown option '%s' (see %s --help)", a, TOOL);
        } else if (nruns == MAX_RUNS) {
            rc = crate_fail(CRATE_EINPUT, "more than %d runs: plot fewer at once", MAX_RUNS);
        } else {
            run_paths(&runs[nruns], a);
            rc = metrics_table_read(runs[nruns].path, &runs[nruns].t);
            if (rc == CRATE_OK) nruns++;
        }
    }
    if (rc == CRATE_OK && !nruns) rc = crate_fail(CRATE_EINPUT, "give at least one run (see %s --help)", TOOL);
    if (rc == CRATE_OK && key_list) rc = split_keys(key_list, keys, &nkeys);
    else if (rc == CRATE_OK) nkeys = default_keys(runs, nruns, keys);
    if (rc == CRATE_OK) rc = draw(out, runs, nruns, xkey, keys, nkeys, linear);
    if (rc == CRATE_OK) {
        printf("%s: wrote %s:", TOOL, out);
        for (int k = 0; k < nkeys; k++) printf(" %s", keys[k]);
        printf(" against %s, %d run%s\n", xkey, nruns, nruns == 1 ? "" : "s");
    }
    for (int r = 0; r < nruns; r++) metrics_table_free(&runs[r].t);
    free(runs);
    if (rc != CRATE_OK) fprintf(stderr, "%s: %s\n", TOOL, crate_errmsg());
    return rc;
}
