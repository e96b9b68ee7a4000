/* crate_probe.c — `crate-probe CKPT --train SHARDS --test SHARDS [options]`:
 * is the frozen encoder of a checkpoint any good? Linear probe (MAE protocol:
 * standardized features, multinomial logistic regression, weight decay chosen
 * on a held-out tenth of TRAIN, retrained on all of train, scored on test),
 * k-NN (DINO protocol: cosine similarity, k neighbours voting exp(sim/0.07))
 * and, with --baseline raw, the same linear probe on raw pixels: the number
 * to beat. Runs under mpirun: ranks share the images, rank 0 fits the probes.
 * `crate-probe CKPT --export-safetensors FILE` writes the encoder's tensors.
 */
#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/probe_features.h"
#include "pretrain/trainer.h"
#include "src/ckpt/checkpoint.h"
#include "src/dist/comm.h"
#include "src/error.h"
#include "src/io/fs.h"
#include "src/eval/knn.h"
#include "src/eval/linear_probe.h"
#include "src/io/npy.h"
#include "src/io/safetensors.h"

static const char *TOOL = "crate-probe";
static const char *FEATURE_NAMES[] = {"cls", "mean", "cls+mean"};
/* The default feature is the best one measured on MAE encoders (README,
 * Evaluating encoders): mean-pooled patch tokens of the last 4 layers; the
 * cls token alone, the weakest, falls below raw pixels. */
static const feature_kind DEFAULT_FEATURE = FEATURE_MEAN;
enum { DEFAULT_LAYERS = 4 };
/* The checkpoint reader builds CKPT/latest, CKPT/step-N and the files in it
 * in PATH_CAP-byte buffers (src/ckpt/checkpoint.h): CKPT leaves room for
 * the step folder and the longest file name. */
enum { CKPT_PATH_MAX = PATH_CAP - 64 };

typedef struct {
    const char *ckpt, *train, *test, *save_features, *export_path, *out;
    feature_kind feature;
    int layers, layers_given, knn_k, raw_baseline, batch, threads, train_limit, test_limit;
} probe_args;

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-probe CKPT --train SHARDS --test SHARDS [options]\n"
            "       crate-probe CKPT --export-safetensors FILE\n"
            "       mpirun -np N crate-probe CKPT --train SHARDS --test SHARDS [options]\n"
            "\n"
            "Evaluates the frozen image encoder of a checkpoint (a run.dir/ckpt/step-NNNNNN folder,\n"
            "or run.dir/ckpt for its latest), written by any rank count: a linear probe (weight decay\n"
            "chosen on a held-out 10%% of train, never on test) and a k-NN classifier on its features.\n"
            "Prints a summary and one JSON line: {\"linear_top1\", \"knn_top1\", \"raw_linear_top1\", ...}.\n"
            "\n"
            "  --train DIR, --test DIR      image shards (crate-data)\n"
            "  --feature cls|mean|cls+mean  which encoding of an image: the cls token, the mean of the patch\n"
            "                               tokens, or both (default mean)\n"
            "  --layers K                   concatenate the feature of the last K layers, the last after the\n"
            "                               encoder's final LayerNorm (default 4, or all layers of an encoder\n"
            "                               with fewer). The defaults, mean of the last 4 layers, measured\n"
            "                               best on MAE encoders; cls of the last layer alone, the weakest,\n"
            "                               scores below raw pixels (README has the figures)\n"
            "  --knn K                      neighbours of the k-NN vote (default 20; 0 skips k-NN)\n"
            "  --baseline raw               also probe raw pixels, standardized\n"
            "  --save-features DIR          write {train,test}_{features,labels}.npy (float32 / int64)\n"
            "  --export-safetensors FILE    write the encoder's tensors (names: encoder.*) and stop\n"
            "  --out FILE                   append the JSON line to FILE\n"
            "  --batch N                    images per forward pass (default 256)\n"
            "  --threads N                  OpenMP/OpenBLAS threads per rank (default: cores / ranks)\n"
            "  --train-limit N, --test-limit N  use only the first N images (quick looks)\n"
            "Exit status: 0 ok, 2 bad usage or input, 1 internal failure.\n");
}

static int parse_args(int argc, char **argv, probe_args *a) {
    *a = (probe_args){.feature = DEFAULT_FEATURE, .layers = DEFAULT_LAYERS, .knn_k = 20, .batch = 256};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (k[0] != '-' && !a->ckpt) a->ckpt = k, takes = 0;
        else if (!v) return crate_fail(CRATE_EINPUT, "option %s needs a value (see --help)", k);
        else if (!strcmp(k, "--train")) a->train = v;
        else if (!strcmp(k, "--test")) a->test = v;
        else if (!strcmp(k, "--save-features")) a->save_features = v;
        else if (!strcmp(k, "--export-safetensors")) a->export_path = v;
        else if (!strcmp(k, "--out")) a->out = v;
        else if (!strcmp(k, "--layers")) a->layers = atoi(v), a->layers_given = 1;
        else if (!strcmp(k, "--knn")) a->knn_k = atoi(v);
        else if (!strcmp(k, "--batch")) a->batch = atoi(v);
        else if (!strcmp(k, "--threads")) a->threads = atoi(v);
        else if (!strcmp(k, "--train-limit")) a->train_limit = atoi(v);
        else if (!strcmp(k, "--test-limit")) a->test_limit = atoi(v);
        else if (!strcmp(k, "--baseline") && !strcmp(v, "raw")) a->raw_baseline = 1;
        else if (!strcmp(k, "--feature")) {
            int found = 0;
            for (int f = 0; f < 3; f++)
                if (!strcmp(v, FEATURE_NAMES[f])) a->feature = (feature_kind)f, found = 1;
            if (!found) return crate_fail(CRATE_EINPUT, "--feature %s: choose cls, mean or cls+mean", v);
        } else return crate_fail(CRATE_EINPUT, "unknown option or value '%s %s' (see --help)", k, v);
        i += takes;
    }
    if (!a->ckpt) return crate_fail(CRATE_EINPUT, "missing CKPT (see --help)");
    if (strlen(a->ckpt) > CKPT_PATH_MAX)
        return crate_fail(CRATE_EINPUT, "checkpoint path of %zu characters is longer than the %d the checkpoint "
                          "reader takes (PATH_CAP in src/ckpt/checkpoint.h, less room for the files in it): "
                          "name the checkpoint by a shorter path, e.g. a symlink", strlen(a->ckpt), CKPT_PATH_MAX);
    if (!a->export_path && (!a->train || !a->test))
        return crate_fail(CRATE_EINPUT, "--train and --test are both needed (or --export-safetensors)");
    if (a->layers < 1 || a->knn_k < 0 || a->batch < 1 || a->threads < 0)
        return crate_fail(CRATE_EINPUT, "--layers and --batch must be >= 1, --knn and --threads >= 0");
    return CRATE_OK;
}

/* The encoder's tensors as safetensors, straight from the checkpoint. */
static int export_safetensors(const probe_args *a) {
    ckpt_manifest m;
    float *params = NULL;
    int rc = checkpoint_read_params(a->ckpt, &m, &params);
    safetensors_tensor *t = rc == CRATE_OK ? crate_calloc((size_t)m.ntensors + 1, sizeof *t, "tensor list") : NULL;
    int n = 0;
    for (int i = 0; t && i < m.ntensors; i++) {
        if (strncmp(m.tensors[i].name, "encoder.", 8)) continue;
        t[n++] = (safetensors_tensor){m.tensors[i].name, m.tensors[i].ndim, m.tensors[i].shape,
                                      params + m.tensors[i].offset};
    }
    if (rc == CRATE_OK && !t) rc = CRATE_EINTERNAL;
    if (rc == CRATE_OK && n == 0) rc = crate_fail(CRATE_EINPUT, "%s has no image encoder (no encoder.* tensors)", a->ckpt);
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)m.step);
    safetensors_meta meta[] = {{"format", "pt"}, {"producer", "crate"}, {"step", step}, {"config", m.config}};
    if (rc == CRATE_OK) rc = safetensors_write(a->export_path, t, n, meta, 4);
    if (rc == CRATE_OK) printf("%s: wrote %d encoder tensors of step %s to %s\n", TOOL, n, step, a->export_path);
    free(t);
    free(params);
    ckpt_manifest_free(&m);
    return rc;
}

/* Linear probe with the weight-decay sweep; *top5 is -1 when C <= 5. */
static int linear(const feature_set *train, const feature_set *test, int C, probe_accuracy *acc, float *wd) {
    static const float decays[] = {1e-2f, 1e-3f, 1e-4f, 1e-5f};
    linear_probe_sweep_config cfg = {decays, 4, 0.1f, 0, linear_probe_config_default()};
    probe_split tr = {train->X, train->y, train->n}, te = {test->X, test->y, test->n};
    linear_probe_sweep_result r;
    int rc = linear_probe_sweep(&tr, &te, train->f, C, &cfg, &r);
    if (rc == CRATE_OK) *acc = r.test, *wd = r.weight_decay;
    linear_probe_sweep_result_free(&r);
    return rc;
}

static int save_features(const char *dir, const char *split, const feature_set *s) {
    char path[4096];
    int rc = fs_mkdir_p(dir);
    int64_t *labels = rc == CRATE_OK ? crate_malloc((size_t)s->n * sizeof *labels, "labels") : NULL;
    if (rc == CRATE_OK && !labels) rc = CRATE_EINTERNAL;
    for (int i = 0; rc == CRATE_OK && i < s->n; i++) labels[i] = s->y[i];
    snprintf(path, sizeof path, "%s/%s_features.npy", dir, split);
    if (rc == CRATE_OK) rc = npy_write_f32(path, s->X, s->n, s->f);
    snprintf(path, sizeof path, "%s/%s_labels.npy", dir, split);
    if (rc == CRATE_OK) rc = npy_write_i64(path, labels, s->n);
    free(labels);
    return rc;
}

typedef struct {
    probe_accuracy linear, knn, raw;
    float wd, raw_wd;
    int64_t step;
    int layers; /* used: --layers, or the default clamped to the encoder's depth */
} probe_report;

/* Rank 0: every probe on the gathered features. */
static int run_probes(const probe_args *a, feature_set *train, feature_set *test, image_dataset *ds_train,
                      image_dataset *ds_test, probe_report *rep) {
    int C = feature_set_classes(train), rc = CRATE_OK;
    if (a->save_features) rc = save_features(a->save_features, "train", train);
    if (rc == CRATE_OK && a->save_features) rc = save_features(a->save_features, "test", test);
    if (rc == CRATE_OK && a->knn_k > 0) {
        knn_config kc = knn_config_default();
        kc.k = a->knn_k < train->n ? a->knn_k : train->n;
        probe_split tr = {train->X, train->y, train->n}, te = {test->X, test->y, test->n};
        rc = knn_evaluate(&tr, &te, train->f, C, &kc, &rep->knn);
    }
    if (rc == CRATE_OK) rc = linear(train, test, C, &rep->linear, &rep->wd);
    if (rc == CRATE_OK && a->raw_baseline) {
        feature_set rtr, rte;
        rc = probe_features_raw(ds_train, a->train_limit, &rtr);
        if (rc == CRATE_OK) rc = probe_features_raw(ds_test, a->test_limit, &rte);
        if (rc == CRATE_OK) rc = linear(&rtr, &rte, C, &rep->raw, &rep->raw_wd);
        feature_set_free(&rtr);
        feature_set_free(&rte);
    }
    return rc;
}

/* ---- the JSON line ----
 * Built in a buffer that grows as needed, since it holds the checkpoint path
 * as given, of any length; strings are escaped as JSON requires. An
 * allocation failure marks the line failed rather than cutting it short. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} json_line;

/* Room for `more` bytes and the closing NUL. */
static int json_reserve(json_line *j, size_t more) {
    if (j->failed) return 0;
    if (j->len + more < j->cap) return 1;
    size_t cap = j->cap ? j->cap : 512;
    while (cap <= j->len + more) cap *= 2;
    char *s = realloc(j->s, cap);
    if (!s) return j->failed = 1, 0;
    j->s = s, j->cap = cap;
    return 1;
}

static void json_printf(json_line *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_printf(json_line *j, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) j->failed = 1;
    if (n < 0 || !json_reserve(j, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(j->s + j->len, j->cap - j->len, fmt, ap);
    va_end(ap);
    j->len += (size_t)n;
}

/* v as a JSON string: quoted; \" \\ \n \t \r escaped, other control
 * characters as \u00XX; other bytes (UTF-8 included) as they are. */
static void json_string(json_line *j, const char *v) {
    size_t n = strlen(v);
    if (!json_reserve(j, 6 * n + 2)) return; /* \u00XX is the longest escape */
    char *o = j->s + j->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') *o++ = '\\', *o++ = (char)*p;
        else if (*p == '\n') *o++ = '\\', *o++ = 'n';
        else if (*p == '\t') *o++ = '\\', *o++ = 't';
        else if (*p == '\r') *o++ = '\\', *o++ = 'r';
        else if (*p < 0x20) o += sprintf(o, "\\u%04x", *p);
        else *o++ = (char)*p;
    }
    *o++ = '"';
    *o = 0;
    j->len = (size_t)(o - j->s);
}

static int print_report(const probe_args *a, const probe_report *r, int n_train, int n_test, double seconds) {
    printf("\n%s: %s (step %lld), feature %s x %d layer(s), %d train / %d test images\n", TOOL, a->ckpt,
           (long long)r->step, FEATURE_NAMES[a->feature], r->layers, n_train, n_test);
    printf("  linear probe   top-1 %6.2f%%  top-5 %6.2f%%  (weight decay %g)\n", 100 * r->linear.top1,
           100 * r->linear.top5, r->wd);
    if (a->knn_k > 0) printf("  k-NN (k=%d)    top-1 %6.2f%%\n", a->knn_k, 100 * r->knn.top1);
    if (a->raw_baseline) printf("  raw pixels     top-1 %6.2f%%  (linear probe: the number to beat)\n", 100 * r->raw.top1);
    printf("  %.1f s\n", seconds);
    json_line j = {0};
    json_printf(&j, "{\"checkpoint\":");
    json_string(&j, a->ckpt);
    json_printf(&j, ",\"step\":%lld,\"feature\":", (long long)r->step);
    json_string(&j, FEATURE_NAMES[a->feature]);
    json_printf(&j, ",\"layers\":%d,\"n_train\":%d,\"n_test\":%d,\"linear_top1\":%.6f,\"linear_top5\":%.6f,"
                "\"weight_decay\":%g", r->layers, n_train, n_test, r->linear.top1, r->linear.top5, r->wd);
    if (a->knn_k > 0) json_printf(&j, ",\"knn_k\":%d,\"knn_top1\":%.6f", a->knn_k, r->knn.top1);
    if (a->raw_baseline) json_printf(&j, ",\"raw_linear_top1\":%.6f", r->raw.top1);
    json_printf(&j, ",\"seconds\":%.2f}", seconds);
    if (j.failed) {
        free(j.s);
        return crate_fail(CRATE_EINTERNAL, "out of memory building the JSON line");
    }
    puts(j.s);
    FILE *f = a->out ? fopen(a->out, "a") : NULL;
    if (a->out && !f) fprintf(stderr, "%s: cannot append to %s: %s\n", TOOL, a->out, strerror(errno));
    if (f) fprintf(f, "%s\n", j.s), fclose(f);
    free(j.s);
    return CRATE_OK;
}

static int probe(const comm_info *c, const probe_args *a) {
    double start = fs_now();
    image_dataset *ds_train = NULL, *ds_test = NULL;
    int rc = image_dataset_open(&ds_train, a->train, 64u << 20);
    if (rc == CRATE_OK) rc = image_dataset_open(&ds_test, a->test, 64u << 20);
    int C, H, W;
    frozen_encoder fe;
    memset(&fe, 0, sizeof fe);
    if (rc == CRATE_OK) {
        image_dataset_shape(ds_train, &C, &H, &W);
        rc = frozen_encoder_open(&fe, a->ckpt, C, H, W, a->batch);
    }
    /* An explicit --layers beyond the encoder is a mistake; the default
     * takes what a shallower encoder has (mae-tiny has 2 layers). */
    int layers = a->layers;
    if (rc == CRATE_OK && layers > fe.depth && a->layers_given)
        rc = crate_fail(CRATE_EINPUT, "--layers %d: the encoder has %d layers", layers, fe.depth);
    else if (rc == CRATE_OK && layers > fe.depth) {
        if (c->rank == 0)
            fprintf(stderr, "%s: note: the encoder has %d layer(s), fewer than the default --layers %d: using all %d\n",
                    TOOL, fe.depth, layers, fe.depth);
        layers = fe.depth;
    }
    rc = comm_agree_message(c, rc);
    feature_set train = {0}, test = {0};
    if (rc == CRATE_OK) rc = probe_features_encode(c, &fe, ds_train, a->train_limit, a->feature, layers, &train);
    if (rc == CRATE_OK) rc = probe_features_encode(c, &fe, ds_test, a->test_limit, a->feature, layers, &test);
    if (rc == CRATE_OK && c->rank == 0) {
        probe_report rep = {.step = fe.step, .layers = layers};
        rc = run_probes(a, &train, &test, ds_train, ds_test, &rep);
        if (rc == CRATE_OK) rc = print_report(a, &rep, train.n, test.n, fs_now() - start);
    }
    feature_set_free(&train);
    feature_set_free(&test);
    frozen_encoder_close(&fe);
    image_dataset_close(ds_train);
    image_dataset_close(ds_test);
    return rc;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    comm_info c;
    if (comm_init(&argc, &argv, &c) != CRATE_OK) {
        fprintf(stderr, "%s: %s\n", TOOL, crate_errmsg());
        return CRATE_EINTERNAL;
    }
    probe_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == CRATE_OK) {
        int threads = trainer_threads(a.threads, &c);
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
        rc = a.export_path ? (c.rank == 0 ? export_safetensors(&a) : CRATE_OK) : probe(&c, &a);
    }
    rc = comm_agree_report(&c, TOOL, rc);
    comm_finalize();
    return rc;
}
