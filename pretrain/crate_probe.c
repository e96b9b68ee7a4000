/* crate_probe.c — `crate-probe CKPT --train SHARDS --test SHARDS [options]`
 * and `crate-probe CKPT --text-train DIR --text-test DIR [options]`: is the
 * frozen encoder of a checkpoint any good? Linear probe (MAE protocol:
 * standardized features, multinomial logistic regression, weight decay chosen
 * on a held-out tenth of TRAIN, retrained on all of train, scored on test),
 * k-NN (DINO protocol: cosine similarity, k neighbours voting exp(sim/0.07))
 * and the numbers to beat: with --baseline raw the same linear probe on raw
 * pixels; with --baseline bow on token counts and tf-idf of the same tokens
 * (and k-NN on tf-idf); with --random-init the encoder training would start
 * from. Runs under mpirun: ranks share the images or texts, rank 0 fits the
 * probes. Features come from pretrain/probe_features.h (images) and
 * pretrain/text_features.h (labelled texts, data/labelled_text.h); this file
 * parses, dispatches, probes and reports.
 * `crate-probe CKPT --export-safetensors FILE [--names crate|official]` writes
 * the model's tensors (pretrain/weight_export.h).
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, O_NONBLOCK */
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretrain/probe_features.h"
#include "pretrain/text_features.h"
#include "pretrain/trainer.h"
#include "pretrain/weight_export.h"
#include "src/ckpt/checkpoint.h"
#include "src/ckpt/manifest.h"
#include "src/dist/comm.h"
#include "src/error.h"
#include "src/io/fs.h"
#include "src/eval/knn.h"
#include "src/eval/linear_probe.h"
#include "src/io/json_line.h"
#include "src/io/npy.h"
#include "src/nn/param_init.h"

static const char *TOOL = "crate-probe";
static const char *FEATURE_NAMES[] = {"cls", "mean", "cls+mean"};
static const char *POOL_NAMES[] = {"mean", "first", "last"};
/* The default feature is the best one measured on MAE encoders (README,
 * Evaluating encoders): mean-pooled patch tokens of the last 4 layers; the
 * cls token alone, the weakest, falls below raw pixels. */
static const feature_kind DEFAULT_FEATURE = FEATURE_MEAN;
enum { DEFAULT_LAYERS = 4 };
/* Texts per forward pass by default: 8192 tokens' worth of the model's
 * context (64 texts at T 128), which bounds the activations of any context
 * size; most batches are smaller, as a batch holds texts of one length. */
enum { TEXT_BATCH_TOKENS = 8192 };
/* The checkpoint reader builds CKPT/latest, CKPT/step-N and the files in it
 * in PATH_CAP-byte buffers (src/ckpt/checkpoint.h): CKPT leaves room for
 * the step folder and the longest file name. */
enum { CKPT_PATH_MAX = PATH_CAP - 64 };

typedef struct {
    const char *ckpt, *train, *test, *text_train, *text_test, *save_features, *export_path, *out;
    const char *weights; /* checkpoint section: "params", "teacher", or NULL (the teacher if there is one) */
    feature_kind feature;
    text_pool pool;
    int layers, layers_given, knn_k, raw_baseline, bow_baseline, random_init, batch, batch_given, threads;
    int train_limit, test_limit, feature_given, pool_given;
    int official_names, image_h, image_w; /* --names official, --image-size HxW (exports) */
} probe_args;

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-probe CKPT --train SHARDS --test SHARDS [options]\n"
            "       crate-probe CKPT --text-train DIR --text-test DIR [options]\n"
            "       crate-probe CKPT --export-safetensors FILE [--names crate|official] [--image-size HxW]\n"
            "       mpirun -np N crate-probe CKPT ... (ranks share the images or texts)\n"
            "\n"
            "Evaluates the frozen encoder of a checkpoint (a run.dir/ckpt/step-NNNNNN folder, or\n"
            "run.dir/ckpt for its latest), written by any rank count: a linear probe (weight decay\n"
            "chosen on a held-out 10%% of train, never on test) and a k-NN classifier on its features.\n"
            "Image encoders (objectives mae, dino) take image shards, text models (gpt2, bert) labelled texts.\n"
            "Prints a summary and one JSON line: {\"linear_top1\", \"knn_top1\", ...}; top-5 (\"linear_top5\")\n"
            "only with more than 5 classes (with 5 or fewer it is always 100%%: left out, no key), and\n"
            "\"knn_k\" is the k used (--knn, or the train rows when there are fewer). Output paths (--out,\n"
            "--save-features, --export-safetensors) are checked writable before anything runs; the test\n"
            "set must have the train set's image shape (or class files), labels must be 0 ... 65535.\n"
            "\n"
            "Images:\n"
            "  --train DIR, --test DIR      image shards (crate-data fashion-mnist)\n"
            "  --feature cls|mean|cls+mean  which encoding of an image: the cls token, the mean of the patch\n"
            "                               tokens, or both (default mean)\n"
            "  --baseline raw               also probe raw pixels, standardized\n"
            "  --weights student|teacher    which encoder of a dino checkpoint: the trained student or its EMA\n"
            "                               teacher (the default when the checkpoint has one, as in DINO)\n"
            "  --train-limit N, --test-limit N  use only the first N images (quick looks)\n"
            "\n"
            "Texts:\n"
            "  --text-train DIR, --text-test DIR  labelled text folders: one file per class (the file's\n"
            "                               name), texts separated by lines that are exactly %% (crate-data\n"
            "                               fortunes writes OUT_DIR/train and OUT_DIR/test); both need the\n"
            "                               same class files. A text is tokenized with the checkpoint's own\n"
            "                               tokenizer as [bos] + its ids, cut to the model's context\n"
            "  --pool mean|first|last       how a layer's token encodings become a feature: their mean (bos\n"
            "                               included; the default), the first (bos: a cls-like token for bert;\n"
            "                               in a causal gpt2 it sees only itself, so it scores chance) or the\n"
            "                               last (the token a causal gpt2 has read everything at). Measured on\n"
            "                               configs/gpt2.yaml's model and crate-data fortunes: mean of the last\n"
            "                               4 layers 46.9%% linear top-1, mean of the last 1 45.2%%, last 34.5%%\n"
            "  --baseline bow               also probe bag-of-words of the same tokens: token counts and tf-idf\n"
            "                               (linear), and k-NN on tf-idf\n"
            "  --random-init                probe the encoder training would have started from (the\n"
            "                               checkpoint's shape, run.seed, the trainer's initialisation): the\n"
            "                               score of no training at all\n"
            "\n"
            "Both:\n"
            "  --layers K                   concatenate the feature of the last K layers, the last after the\n"
            "                               encoder's final LayerNorm when it has one (default 4, or all layers\n"
            "                               of an encoder with fewer). The defaults, mean of the last 4 layers,\n"
            "                               measured best on MAE encoders; cls of the last layer alone, the\n"
            "                               weakest, scores below raw pixels (README has the figures)\n"
            "  --knn K                      neighbours of the k-NN vote (default 20; 0 skips k-NN)\n"
            "  --save-features DIR          write {train,test}_{features,labels}.npy (float32 / int64)\n"
            "  --out FILE                   append the JSON line to FILE\n"
            "  --batch N                    images (default 256) or texts (default 8192 / context) per\n"
            "                               forward pass\n"
            "  --threads N                  OpenMP/OpenBLAS threads per rank (default: cores / ranks)\n"
            "\n"
            "Exports (instead of a probe):\n"
            "  --export-safetensors FILE    write the model's weights as safetensors and stop (--weights picks\n"
            "                               a dino checkpoint's student or teacher, default the teacher)\n"
            "  --names crate|official       crate: every tensor under crate's names (init.from reads them back);\n"
            "                               official: the names and shapes of the official CRATE PyTorch code\n"
            "                               (model/crate.py's CRATE for image encoders, crate-lm's CRATE-GPT for\n"
            "                               gpt2), loadable with load_state_dict(strict=True); default crate\n"
            "  --image-size HxW             the image size of an official export with fixed sin-cos positions\n"
            "                               (default: read from the checkpoint's data.train)\n"
            "Exit status: 0 ok, 2 bad usage or input, 1 internal failure.\n");
}

/* Every option that takes a value. */
static const char *VALUE_OPTIONS[] = {"--train", "--test", "--text-train", "--text-test", "--save-features",
                                      "--export-safetensors", "--names", "--image-size", "--weights", "--out",
                                      "--layers", "--knn", "--batch", "--threads", "--train-limit", "--test-limit",
                                      "--baseline", "--feature", "--pool"};

/* A whole decimal number from 0 to 2^31 − 1 (atoi took "-1" and "12x"). */
static int int_option(const char *k, const char *v, int *out) {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end || errno || n < 0 || n > INT_MAX)
        return crate_fail(CRATE_EINPUT, "option %s needs a whole number from 0 to %d, not '%s'", k, INT_MAX, v);
    *out = (int)n;
    return CRATE_OK;
}

/* The index of v in names[0, n), or -1. */
static int choice(const char *v, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) return i;
    return -1;
}

/* Options of one kind of data given with the other. */
static int check_mode(const probe_args *a) {
    int text = a->text_train || a->text_test, image = a->train || a->test;
    if (text && image)
        return crate_fail(CRATE_EINPUT, "--train/--test (image shards) and --text-train/--text-test (labelled "
                          "texts) do not go together: an encoder reads images or text");
    const char *wrong = NULL;
    if (text && a->feature_given) wrong = "--feature (images; texts take --pool)";
    else if (text && a->raw_baseline) wrong = "--baseline raw (images; texts take --baseline bow)";
    else if (text && (a->train_limit || a->test_limit)) wrong = "--train-limit/--test-limit (images)";
    else if (!text && a->pool_given) wrong = "--pool (texts; images take --feature)";
    else if (!text && a->bow_baseline) wrong = "--baseline bow (texts; images take --baseline raw)";
    else if (!text && a->random_init) wrong = "--random-init (texts)";
    else if (text && a->weights) wrong = "--weights (images: dino's teacher)";
    if (wrong)
        return crate_fail(CRATE_EINPUT, "%s does not apply to a probe with %s", wrong,
                          text ? "--text-train/--text-test" : "--train/--test");
    if (!a->export_path && text && (!a->text_train || !a->text_test))
        return crate_fail(CRATE_EINPUT, "--text-train and --text-test are both needed");
    if (!a->export_path && !text && (!a->train || !a->test))
        return crate_fail(CRATE_EINPUT, "--train and --test are both needed (or --text-train and --text-test, "
                          "or --export-safetensors)");
    return CRATE_OK;
}

static int parse_args(int argc, char **argv, probe_args *a) {
    *a = (probe_args){.feature = DEFAULT_FEATURE, .pool = TEXT_POOL_MEAN, .layers = DEFAULT_LAYERS, .knn_k = 20,
                      .batch = 256};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1, rc = CRATE_OK;
        if (k[0] != '-' && !a->ckpt) a->ckpt = k, takes = 0;
        else if (!strcmp(k, "--random-init")) a->random_init = 1, takes = 0;
        else if (choice(k, VALUE_OPTIONS, (int)(sizeof VALUE_OPTIONS / sizeof *VALUE_OPTIONS)) < 0)
            return crate_fail(CRATE_EINPUT, "unknown option '%s' (see --help)", k);
        else if (!v) return crate_fail(CRATE_EINPUT, "option %s needs a value (see --help)", k);
        else if (!strcmp(k, "--train")) a->train = v;
        else if (!strcmp(k, "--test")) a->test = v;
        else if (!strcmp(k, "--text-train")) a->text_train = v;
        else if (!strcmp(k, "--text-test")) a->text_test = v;
        else if (!strcmp(k, "--save-features")) a->save_features = v;
        else if (!strcmp(k, "--export-safetensors")) a->export_path = v;
        else if (!strcmp(k, "--names") && (!strcmp(v, "crate") || !strcmp(v, "official")))
            a->official_names = !strcmp(v, "official");
        else if (!strcmp(k, "--image-size") && sscanf(v, "%dx%d", &a->image_h, &a->image_w) == 2 &&
                 a->image_h > 0 && a->image_w > 0 && a->image_h <= 65536 && a->image_w <= 65536) {}
        else if (!strcmp(k, "--weights") && !strcmp(v, "student")) a->weights = "params";
        else if (!strcmp(k, "--weights") && !strcmp(v, "teacher")) a->weights = "teacher";
        else if (!strcmp(k, "--out")) a->out = v;
        else if (!strcmp(k, "--layers")) rc = int_option(k, v, &a->layers), a->layers_given = 1;
        else if (!strcmp(k, "--knn")) rc = int_option(k, v, &a->knn_k);
        else if (!strcmp(k, "--batch")) rc = int_option(k, v, &a->batch), a->batch_given = 1;
        else if (!strcmp(k, "--threads")) rc = int_option(k, v, &a->threads);
        else if (!strcmp(k, "--train-limit")) rc = int_option(k, v, &a->train_limit);
        else if (!strcmp(k, "--test-limit")) rc = int_option(k, v, &a->test_limit);
        else if (!strcmp(k, "--baseline") && !strcmp(v, "raw")) a->raw_baseline = 1;
        else if (!strcmp(k, "--baseline") && !strcmp(v, "bow")) a->bow_baseline = 1;
        else if (!strcmp(k, "--feature")) {
            int f = choice(v, FEATURE_NAMES, 3);
            if (f < 0) return crate_fail(CRATE_EINPUT, "--feature %s: choose cls, mean or cls+mean", v);
            a->feature = (feature_kind)f, a->feature_given = 1;
        } else if (!strcmp(k, "--pool")) {
            int p = choice(v, POOL_NAMES, 3);
            if (p < 0) return crate_fail(CRATE_EINPUT, "--pool %s: choose mean, first or last", v);
            a->pool = (text_pool)p, a->pool_given = 1;
        } else return crate_fail(CRATE_EINPUT, "option %s: '%s' is not one of its values (see --help)", k, v);
        if (rc != CRATE_OK) return rc;
        i += takes;
    }
    if (!a->ckpt) return crate_fail(CRATE_EINPUT, "missing CKPT (see --help)");
    if (strlen(a->ckpt) > CKPT_PATH_MAX)
        return crate_fail(CRATE_EINPUT, "checkpoint path of %zu characters is longer than the %d the checkpoint "
                          "reader takes (PATH_CAP in src/ckpt/checkpoint.h, less room for the files in it): "
                          "name the checkpoint by a shorter path, e.g. a symlink", strlen(a->ckpt), CKPT_PATH_MAX);
    int rc = check_mode(a);
    if (rc != CRATE_OK) return rc;
    if (a->layers < 1 || a->knn_k < 0 || a->batch < 1 || a->threads < 0)
        return crate_fail(CRATE_EINPUT, "--layers and --batch must be >= 1, --knn and --threads >= 0");
    return CRATE_OK;
}

/* ---- output paths, checked before anything runs ----
 * A probe takes minutes to hours; an output it cannot write must fail
 * before it starts, not after. Each check makes the file system call that
 * will be made (an append, a file created in the folder), since permission
 * bits alone do not tell (root ignores them; a read-only mount does not show
 * in them), and removes whatever it created. */

#define OUTPUT_FIX "give a path in a folder that exists and that you can write (checked before the probe runs)"

/* CRATE_OK if a new file can be created in folder dir (a file created and removed). */
static int check_folder_writable(const char *option, const char *path, const char *dir) {
    char *probe = fs_path_join(dir, ".crate-probe-check-XXXXXX");
    if (!probe) return CRATE_EINTERNAL;
    int fd = mkstemp(probe), e = errno;
    if (fd >= 0) close(fd), unlink(probe);
    free(probe);
    if (fd >= 0) return CRATE_OK;
    return crate_fail(CRATE_EINPUT, "%s %s: cannot write in the folder %s: %s; " OUTPUT_FIX, option, path, dir,
                      strerror(e));
}

/* The folder of a file path: everything before its last '/', or ".". */
static char *folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    char *dir = crate_malloc(n + 1, "path");
    if (!dir) return NULL;
    if (!slash) memcpy(dir, ".", 2);
    else if (n == 0) memcpy(dir, "/", 2);
    else memcpy(dir, path, n), dir[n] = '\0';
    return dir;
}

/* --out FILE: appended to (created if missing). */
static int check_append(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return crate_fail(CRATE_EINPUT, "--out %s is a folder: give a file to append the JSON line to", path);
        /* O_NONBLOCK: a FIFO without a reader fails here instead of hanging. */
        int fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK);
        if (fd < 0)
            return crate_fail(CRATE_EINPUT, "--out %s: cannot append to it: %s; " OUTPUT_FIX, path, strerror(errno));
        close(fd);
        return CRATE_OK;
    }
    if (errno != ENOENT)
        return crate_fail(CRATE_EINPUT, "--out %s: %s; " OUTPUT_FIX, path, strerror(errno));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return crate_fail(CRATE_EINPUT, "--out %s: cannot create it: %s; " OUTPUT_FIX, path, strerror(errno));
    close(fd);
    unlink(path); /* created at the end, by the append: a failed probe leaves none */
    return CRATE_OK;
}

/* --export-safetensors FILE: replaced through FILE.tmp in its folder (fs_write_atomic). */
static int check_replace(const char *option, const char *path) {
    /* What is at path itself is fs_write_atomic's to refuse (anything but a
     * regular file, named); an export is only that write, so nothing is lost. */
    char *dir = folder_of(path);
    int rc = dir ? check_folder_writable(option, path, dir) : CRATE_EINTERNAL;
    free(dir);
    return rc;
}

/* --save-features DIR: created now (it would be before the first file), then written in. */
static int check_features_dir(const char *dir) {
    int rc = fs_mkdir_p(dir);
    if (rc != CRATE_OK) return crate_fail_context(CRATE_EINPUT, "--save-features %s", dir);
    return check_folder_writable("--save-features", dir, dir);
}

/* Every output path of a probe or an export (rank 0 writes them all). */
static int check_outputs(const probe_args *a) {
    int rc = CRATE_OK;
    if (a->export_path) return check_replace("--export-safetensors", a->export_path);
    if (a->out) rc = check_append(a->out);
    if (rc == CRATE_OK && a->save_features) rc = check_features_dir(a->save_features);
    return rc;
}

/* The weight decays the sweep tries, strongest first. Texts add stronger ones:
 * their features (bag-of-words: V = 4096 columns; several layers of an
 * encoder) are wide for a few thousand labelled rows, and the strongest image
 * decay, 1e-2, is where the text probes' choice sat. */
static const float IMAGE_DECAYS[] = {1e-2f, 1e-3f, 1e-4f, 1e-5f};
static const float TEXT_DECAYS[] = {1.0f, 3e-1f, 1e-1f, 3e-2f, 1e-2f, 1e-3f, 1e-4f};

/* Linear probe with the weight-decay sweep; *top5 is -1 when C <= 5. */
static int linear(const probe_args *a, const feature_set *train, const feature_set *test, int C,
                  probe_accuracy *acc, float *wd) {
    int text = a->text_train != NULL;
    linear_probe_sweep_config cfg = {text ? TEXT_DECAYS : IMAGE_DECAYS,
                                     text ? (int)(sizeof TEXT_DECAYS / sizeof *TEXT_DECAYS)
                                          : (int)(sizeof IMAGE_DECAYS / sizeof *IMAGE_DECAYS),
                                     0.1f, 0, linear_probe_config_default()};
    if (test->f != train->f)
        return crate_fail(CRATE_EINTERNAL, "linear probe: test rows of %d features, train rows of %d (a caller bug)",
                          test->f, train->f);
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
    probe_accuracy linear, knn, raw, bow, tfidf, tfidf_knn;
    float wd, raw_wd, bow_wd, tfidf_wd;
    int64_t step;
    int layers; /* used: --layers, or the default clamped to the encoder's depth */
    int n_train, n_test;
    int knn_k, tfidf_knn_k; /* the k used: --knn, or the train rows when there are fewer */
    const char *weights;    /* images: the checkpoint section probed */
} probe_report;

/* The k of the k-NN vote: --knn, or all n train rows when there are fewer,
 * with a note (once) saying so. */
static int knn_k_used(const probe_args *a, int n) {
    static int noted;
    if (a->knn_k <= n) return a->knn_k;
    if (!noted++)
        fprintf(stderr, "%s: note: --knn %d is more than the %d train %s: k-NN uses k=%d\n", TOOL, a->knn_k, n,
                a->text_train ? "texts" : "images", n);
    return n;
}

/* k-NN (unless --knn 0; *k_used the k it used) and the linear probe of one
 * pair of feature sets. */
static int probe_pair(const probe_args *a, const feature_set *train, const feature_set *test, int knn,
                      probe_accuracy *lin, float *wd, probe_accuracy *kn, int *k_used) {
    int C = feature_set_classes(train), rc = CRATE_OK;
    *k_used = 0;
    if (knn && a->knn_k > 0 && test->f != train->f)
        return crate_fail(CRATE_EINTERNAL, "k-NN: test rows of %d features, train rows of %d (a caller bug)", test->f,
                          train->f);
    if (knn && a->knn_k > 0) {
        knn_config kc = knn_config_default();
        kc.k = *k_used = knn_k_used(a, train->n);
        probe_split tr = {train->X, train->y, train->n}, te = {test->X, test->y, test->n};
        rc = knn_evaluate(&tr, &te, train->f, C, &kc, kn);
    }
    if (rc == CRATE_OK) rc = linear(a, train, test, C, lin, wd);
    return rc;
}

/* Rank 0: --save-features, then the probes of the encoder's features. */
static int probe_encoder(const probe_args *a, const feature_set *train, const feature_set *test, probe_report *rep) {
    int rc = CRATE_OK;
    if (a->save_features) rc = save_features(a->save_features, "train", train);
    if (rc == CRATE_OK && a->save_features) rc = save_features(a->save_features, "test", test);
    if (rc == CRATE_OK) rc = probe_pair(a, train, test, 1, &rep->linear, &rep->wd, &rep->knn, &rep->knn_k);
    return rc;
}

/* The layers to take: --layers, or the default clamped to the encoder's
 * depth (mae-tiny and gpt2-tiny have 2), with a note. An explicit --layers
 * beyond the encoder is a mistake. */
static int choose_layers(const comm_info *c, const probe_args *a, int depth, int *layers) {
    *layers = a->layers;
    if (a->layers <= depth) return CRATE_OK;
    if (a->layers_given) return crate_fail(CRATE_EINPUT, "--layers %d: the encoder has %d layers", a->layers, depth);
    if (c->rank == 0)
        fprintf(stderr, "%s: note: the encoder has %d layer(s), fewer than the default --layers %d: using all %d\n",
                TOOL, depth, a->layers, depth);
    *layers = depth;
    return CRATE_OK;
}

/* The manifest of the checkpoint CKPT names and the config stored in it;
 * reads no tensors. Its failure is not reported: the loader that follows
 * names what is wrong with the checkpoint. */
static int read_manifest(const char *ckpt, ckpt_manifest *m, train_config *cfg) {
    char dir[PATH_CAP], *text = NULL;
    size_t len;
    memset(m, 0, sizeof *m);
    checkpoint_resolve(ckpt, dir);
    char *path = fs_path_join(dir, "manifest.yaml");
    int rc = path ? fs_read_file(path, &text, &len) : CRATE_EINTERNAL;
    if (rc == CRATE_OK) rc = ckpt_manifest_parse(m, text, len, path);
    config_sources src = {0};
    if (rc == CRATE_OK) rc = train_config_load_text(cfg, &src, m->config, "the checkpoint's config");
    if (rc == CRATE_OK) config_sources_free(&src);
    free(text);
    free(path);
    return rc;
}

/* The section an image probe reads: --weights, else the teacher when the
 * manifest m lists one (DINO evaluates its teacher), else the params. */
static const char *image_weights(const probe_args *a, const ckpt_manifest *m) {
    if (a->weights) return a->weights;
    return ckpt_manifest_section(m, "teacher") >= 0 ? "teacher" : "params";
}

/* CRATE_EINPUT when the checkpoint's encoder (its config: cfg) is not for this kind of data. */
static int check_kind(const probe_args *a, const train_config *cfg, int text) {
    if (train_config_is_text(cfg) == text) return CRATE_OK;
    const char *objective = train_config_objective_name(cfg);
    return text ? crate_fail(CRATE_EINPUT, "%s is an image model (objective %s): probe it with --train and --test "
                             "image shards, not labelled texts", a->ckpt, objective)
                : crate_fail(CRATE_EINPUT, "%s is a text model (objective %s): probe it with --text-train DIR "
                             "--text-test DIR (labelled text folders, e.g. from crate-data fortunes), not image "
                             "shards", a->ckpt, objective);
}


/* {"checkpoint":…,"step":…  — the head of every JSON line. */
static void json_head(json_line *j, const probe_args *a, int64_t step) {
    json_printf(j, "{\"checkpoint\":");
    json_string(j, a->ckpt);
    json_printf(j, ",\"step\":%lld", (long long)step);
}

/* The summary lines and JSON keys of the encoder's own probes. */
static void report_probes(json_line *j, const probe_args *a, const probe_report *r) {
    /* top-5 is -1 with 5 classes or fewer, where it would always be 1: left
     * out of the summary and the JSON line (no "linear_top5" key). */
    printf("  linear probe   top-1 %6.2f%%", 100 * r->linear.top1);
    if (r->linear.top5 >= 0) printf("  top-5 %6.2f%%", 100 * r->linear.top5);
    printf("  (weight decay %g)\n", r->wd);
    if (a->knn_k > 0) {
        char what[32];
        snprintf(what, sizeof what, "k-NN (k=%d)", r->knn_k);
        printf("  %-14s top-1 %6.2f%%\n", what, 100 * r->knn.top1);
    }
    json_printf(j, ",\"layers\":%d,\"n_train\":%d,\"n_test\":%d,\"linear_top1\":%.6f", r->layers, r->n_train,
                r->n_test, r->linear.top1);
    if (r->linear.top5 >= 0) json_printf(j, ",\"linear_top5\":%.6f", r->linear.top5);
    json_printf(j, ",\"weight_decay\":%g", r->wd);
    if (a->knn_k > 0) json_printf(j, ",\"knn_k\":%d,\"knn_top1\":%.6f", r->knn_k, r->knn.top1);
}

/* Closes the line, prints it and appends it to --out. */
static int json_finish(json_line *j, const probe_args *a, double seconds) {
    printf("  %.1f s\n", seconds);
    json_printf(j, ",\"seconds\":%.2f}", seconds);
    if (j->failed) {
        free(j->s);
        return crate_fail(CRATE_EINTERNAL, "out of memory building the JSON line");
    }
    puts(j->s);
    fflush(stdout);
    int rc = CRATE_OK;
    if (a->out) {
        /* Checked writable before the probe: what fails now is the write itself (a full disk). */
        errno = 0;
        FILE *f = fopen(a->out, "a");
        int e = f ? 0 : errno;
        if (f && fprintf(f, "%s\n", j->s) < 0) e = errno ? errno : EIO;
        if (f && fclose(f) != 0 && !e) e = errno ? errno : EIO;
        if (e)
            rc = crate_fail(fs_errno_status(e), "--out %s: appending the JSON line failed: %s (the line is printed "
                            "above)", a->out, strerror(e));
    }
    free(j->s);
    return rc;
}

static int print_report(const probe_args *a, const probe_report *r, double seconds) {
    int teacher = !strcmp(r->weights, "teacher");
    printf("\n%s: %s (step %lld%s), feature %s x %d layer(s), %d train / %d test images\n", TOOL, a->ckpt,
           (long long)r->step, teacher ? ", teacher" : "", FEATURE_NAMES[a->feature], r->layers, r->n_train,
           r->n_test);
    json_line j = {0};
    json_head(&j, a, r->step);
    json_printf(&j, ",\"weights\":\"%s\"", teacher ? "teacher" : "student");
    json_printf(&j, ",\"feature\":");
    json_string(&j, FEATURE_NAMES[a->feature]);
    report_probes(&j, a, r);
    if (a->raw_baseline) {
        printf("  raw pixels     top-1 %6.2f%%  (linear probe: the number to beat)\n", 100 * r->raw.top1);
        json_printf(&j, ",\"raw_linear_top1\":%.6f", r->raw.top1);
    }
    return json_finish(&j, a, seconds);
}

static int probe(const comm_info *c, const probe_args *a) {
    double start = fs_now();
    image_dataset *ds_train = NULL, *ds_test = NULL;
    ckpt_manifest m;
    train_config cfg;
    int rc = read_manifest(a->ckpt, &m, &cfg) == CRATE_OK ? check_kind(a, &cfg, 0) : CRATE_OK;
    const char *weights = image_weights(a, &m);
    ckpt_manifest_free(&m);
    if (rc == CRATE_OK) rc = image_dataset_open(&ds_train, a->train, 64u << 20);
    if (rc == CRATE_OK) rc = image_dataset_open(&ds_test, a->test, 64u << 20);
    char train_name[PATH_CAP + 16], test_name[PATH_CAP + 16];
    snprintf(train_name, sizeof train_name, "--train %s", a->train);
    snprintf(test_name, sizeof test_name, "--test %s", a->test);
    if (rc == CRATE_OK) rc = probe_features_same_shape(ds_train, train_name, ds_test, test_name);
    rc = comm_agree_message(c, rc);
    /* Rank 0 reads every label the probes will see (the ranks would each
     * read all of them otherwise); the others wait in the agreement, and
     * rank 0 reports. Each step below runs only after an agreed success, so
     * every rank takes the same branches (and a message is prefixed once). */
    int classes = 0;
    if (rc == CRATE_OK) {
        if (c->rank == 0) rc = probe_features_labels(ds_train, train_name, a->train_limit, 0, &classes);
        if (rc == CRATE_OK && c->rank == 0)
            rc = probe_features_labels(ds_test, test_name, a->test_limit, classes, NULL);
        rc = comm_agree(rc);
    }
    int C, H, W, layers = 0;
    frozen_encoder fe;
    memset(&fe, 0, sizeof fe);
    if (rc == CRATE_OK) {
        image_dataset_shape(ds_train, &C, &H, &W);
        rc = frozen_encoder_open(&fe, a->ckpt, weights, C, H, W, a->batch);
        if (rc == CRATE_OK) rc = choose_layers(c, a, fe.depth, &layers);
        rc = comm_agree_message(c, rc);
    }
    feature_set train = {0}, test = {0};
    if (rc == CRATE_OK) rc = probe_features_encode(c, &fe, ds_train, a->train_limit, a->feature, layers, &train);
    if (rc == CRATE_OK) rc = probe_features_encode(c, &fe, ds_test, a->test_limit, a->feature, layers, &test);
    if (rc == CRATE_OK && c->rank == 0) {
        probe_report rep = {.step = fe.step, .layers = layers, .n_train = train.n, .n_test = test.n,
                            .weights = weights};
        rc = probe_encoder(a, &train, &test, &rep);
        feature_set rtr = {0}, rte = {0};
        if (rc == CRATE_OK && a->raw_baseline) rc = probe_features_raw(ds_train, a->train_limit, &rtr);
        if (rc == CRATE_OK && a->raw_baseline) rc = probe_features_raw(ds_test, a->test_limit, &rte);
        if (rc == CRATE_OK && a->raw_baseline) rc = linear(a, &rtr, &rte, feature_set_classes(&train), &rep.raw,
                                                           &rep.raw_wd);
        feature_set_free(&rtr);
        feature_set_free(&rte);
        if (rc == CRATE_OK) rc = print_report(a, &rep, fs_now() - start);
    }
    feature_set_free(&train);
    feature_set_free(&test);
    frozen_encoder_close(&fe);
    image_dataset_close(ds_train);
    image_dataset_close(ds_test);
    return rc;
}

/* ---- texts ---- */

/* --random-init: the weights the trainer starts from, param_store_initialize
 * with run.seed and model.init_std. Every tensor's numbers come from a
 * stream keyed by its id in the store, so this rebuilds them only if the
 * text model's tensors have the same ids here as in training (the objective
 * declared them first); the checkpoint's tensor table, in training's order,
 * says whether they do. */
static int reinitialize(frozen_text *ft, const ckpt_manifest *m, const char *ckpt) {
    for (int id = 0; id < ft->ps.count; id++)
        if (id >= m->ntensors || strcmp(m->tensors[id].name, ft->ps.tensors[id].name))
            return crate_fail(CRATE_EINTERNAL, "%s: tensor %d is %s in the checkpoint and %s in the text model: "
                              "the objective declared other tensors before its text model, so --random-init cannot "
                              "rebuild training's initial weights (each tensor's are keyed by its id)", ckpt, id,
                              id < m->ntensors ? m->tensors[id].name : "missing", ft->ps.tensors[id].name);
    param_store_initialize(&ft->ps, (uint64_t)ft->cfg.run.seed, (float)ft->cfg.model.init_std);
    return CRATE_OK;
}

/* Rank 0: the baselines of --baseline bow: linear probes on token counts
 * and on tf-idf (the counts rescaled in place), and k-NN on tf-idf. */
static int probe_bow(const probe_args *a, const text_set *tr, const text_set *te, int V, probe_report *rep) {
    feature_set ctr, cte;
    int rc = text_features_counts(tr, V, &ctr);
    if (rc == CRATE_OK) rc = text_features_counts(te, V, &cte);
    else memset(&cte, 0, sizeof cte);
    if (rc == CRATE_OK) rc = linear(a, &ctr, &cte, tr->text.classes, &rep->bow, &rep->bow_wd);
    if (rc == CRATE_OK) rc = text_features_tfidf(&ctr, &cte);
    if (rc == CRATE_OK)
        rc = probe_pair(a, &ctr, &cte, 1, &rep->tfidf, &rep->tfidf_wd, &rep->tfidf_knn, &rep->tfidf_knn_k);
    feature_set_free(&ctr);
    feature_set_free(&cte);
    return rc;
}

static int print_text_report(const probe_args *a, const probe_report *r, const frozen_text *ft, const text_set *tr,
                             const text_set *te, double seconds) {
    const char *objective = train_config_objective_name(&ft->cfg);
    printf("\n%s: %s (step %lld%s), %s encoder, pool %s x %d layer(s), %d classes, %d train / %d test texts\n",
           TOOL, a->ckpt, (long long)r->step, a->random_init ? ", weights replaced by its random init" : "",
           objective, POOL_NAMES[a->pool], r->layers, tr->text.classes, r->n_train, r->n_test);
    printf("  texts longer than the context (T = %d tokens with bos) were cut: %d train, %d test\n", ft->T,
           tr->truncated, te->truncated);
    json_line j = {0};
    json_head(&j, a, r->step);
    json_printf(&j, ",\"objective\":\"%s\",\"random_init\":%s,\"pool\":\"%s\",\"classes\":%d,\"context\":%d,"
                "\"truncated_train\":%d,\"truncated_test\":%d", objective, a->random_init ? "true" : "false",
                POOL_NAMES[a->pool], tr->text.classes, ft->T, tr->truncated, te->truncated);
    report_probes(&j, a, r);
    if (a->bow_baseline) {
        printf("  token counts   top-1 %6.2f%%  (linear probe)\n", 100 * r->bow.top1);
        printf("  tf-idf         top-1 %6.2f%%  (linear probe)\n", 100 * r->tfidf.top1);
        if (a->knn_k > 0) printf("  tf-idf k-NN    top-1 %6.2f%%\n", 100 * r->tfidf_knn.top1);
        json_printf(&j, ",\"bow_linear_top1\":%.6f,\"tfidf_linear_top1\":%.6f", r->bow.top1, r->tfidf.top1);
        if (a->knn_k > 0) json_printf(&j, ",\"tfidf_knn_top1\":%.6f", r->tfidf_knn.top1);
    }
    return json_finish(&j, a, seconds);
}

static int probe_text(const comm_info *c, const probe_args *a) {
    double start = fs_now();
    frozen_text ft;
    text_set tr, te;
    memset(&ft, 0, sizeof ft);
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    ckpt_manifest m;
    train_config cfg;
    int have = read_manifest(a->ckpt, &m, &cfg) == CRATE_OK, layers = 0;
    int rc = have ? check_kind(a, &cfg, 1) : CRATE_OK;
    if (rc == CRATE_OK) {
        int T = have ? (int)cfg.model.context : 0;
        int batch = a->batch_given ? a->batch : T > 0 && T < TEXT_BATCH_TOKENS ? TEXT_BATCH_TOKENS / T : 1;
        rc = frozen_text_open(&ft, a->ckpt, batch);
    }
    /* frozen_text_open read the manifest too: it is there. */
    if (rc == CRATE_OK && a->random_init) rc = reinitialize(&ft, &m, a->ckpt);
    ckpt_manifest_free(&m);
    if (rc == CRATE_OK) rc = choose_layers(c, a, ft.enc.stack.depth, &layers);
    if (rc == CRATE_OK) rc = text_set_read(&tr, a->text_train, &ft);
    if (rc == CRATE_OK) rc = text_set_read(&te, a->text_test, &ft);
    if (rc == CRATE_OK) rc = labelled_text_same_classes(&tr.text, a->text_train, &te.text, a->text_test);
    if (rc == CRATE_OK && tr.text.classes < 2)
        rc = crate_fail(CRATE_EINPUT, "%s holds one class file: a probe tells classes apart, so it needs at least 2",
                        a->text_train);
    rc = comm_agree_message(c, rc);
    feature_set ftr = {0}, fte = {0};
    if (rc == CRATE_OK) rc = text_features_encode(c, &ft, &tr, a->pool, layers, &ftr);
    if (rc == CRATE_OK) rc = text_features_encode(c, &ft, &te, a->pool, layers, &fte);
    if (rc == CRATE_OK && c->rank == 0) {
        probe_report rep = {.step = ft.step, .layers = layers, .n_train = tr.n, .n_test = te.n};
        rc = probe_encoder(a, &ftr, &fte, &rep);
        if (rc == CRATE_OK && a->bow_baseline) rc = probe_bow(a, &tr, &te, ft.enc.V, &rep);
        if (rc == CRATE_OK) rc = print_text_report(a, &rep, &ft, &tr, &te, fs_now() - start);
    }
    feature_set_free(&ftr);
    feature_set_free(&fte);
    text_set_free(&tr);
    text_set_free(&te);
    frozen_text_close(&ft);
    return rc;
}

/* --export-safetensors: the weights --weights names (default: as the probe). */
static int export_weights(const probe_args *a) {
    ckpt_manifest m;
    train_config cfg;
    int rc = read_manifest(a->ckpt, &m, &cfg);
    const char *weights = rc == CRATE_OK ? image_weights(a, &m) : a->weights ? a->weights : "params";
    ckpt_manifest_free(&m);
    weight_export_request r = {a->ckpt, weights, a->export_path, a->official_names, a->image_h, a->image_w};
    weight_export_report rep;
    rc = weight_export(&r, &rep);
    if (rc == CRATE_OK) {
        printf("%s: wrote %d tensors of step %lld (%s, %s names) to %s", TOOL, rep.written, rep.step,
               strcmp(weights, "teacher") ? "trained weights" : "teacher", a->official_names ? "official" : "crate",
               a->export_path);
        if (rep.left_out) printf("; %d tensors the official model has no place for were left out", rep.left_out);
        printf("\n");
    }
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
    /* Only rank 0 writes, so only it checks; comm_agree_report prints its message. */
    if (rc == CRATE_OK) rc = comm_agree(c.rank == 0 ? check_outputs(&a) : CRATE_OK);
    if (rc == CRATE_OK) {
        int threads = trainer_threads(a.threads, &c);
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
        if (a.export_path) rc = c.rank == 0 ? export_weights(&a) : CRATE_OK;
        else rc = a.text_train ? probe_text(&c, &a) : probe(&c, &a);
    }
    rc = comm_agree_report(&c, TOOL, rc);
    comm_finalize();
    return rc;
}
