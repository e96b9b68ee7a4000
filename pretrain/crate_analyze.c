/* crate_analyze.c — `crate-analyze CKPT --data SHARDS [options]`: CRATE's
 * white-box measures, layer by layer, on a saved image encoder
 * (pretrain/layer_measures.h): the compression term R^c of each layer's
 * shared projection, the sparsity and the coding rate R(Z) of its ISTA
 * output, mean ± spread over the first N images. A table, one JSON line per
 * layer, and a PNG of the curves across layers (src/io/plot.h), optionally
 * beside the same encoder at its random initialization. And pictures: a MAE
 * model's reconstructions (pretrain/mae_reconstruct.h), the cls token's
 * attention per head (pretrain/attention_maps.h).
 * Exit status: 0 done, 2 bad usage, checkpoint or data, 1 internal failure.
 */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "data/image_source.h"
#include "data/token_shard.h"
#include "pretrain/attention_maps.h"
#include "pretrain/frozen_text.h"
#include "pretrain/layer_measures.h"
#include "pretrain/mae_reconstruct.h"
#include "src/ckpt/checkpoint.h"
#include "src/config/cli.h"
#include "src/error.h"
#include "src/io/json_line.h"
#include "src/io/plot.h"
#include "src/nn/param_init.h"

static const char *TOOL = "crate-analyze";

typedef struct {
    const char *ckpt, *data, *weights, *out, *plot, *reconstruct_png, *attention_png;
    int images, batch, threads, random_init, with_random_init, no_measures, reconstruct, attention, layer;
    int first;
} analyze_args;

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-analyze CKPT --data SHARDS [--images N] [--weights params|teacher] [--random-init]\n"
            "                     [--with-random-init] [--plot FILE.png] [--out FILE.jsonl] [--batch B] [--threads T]\n"
            "                     [--reconstruct N [--reconstruct-png FILE]] [--attention N [--attention-png FILE]\n"
            "                     [--layer L]] [--first ID] [--no-measures]\n"
            "\n"
            "Measures what each CRATE layer does (DESIGN §13), on the encoder of checkpoint CKPT (a step\n"
            "folder, or run.dir/ckpt for its newest) over the first N samples of SHARDS: images through an\n"
            "image encoder (mae, dino, classify), or windows of the model's context through a text encoder\n"
            "(gpt2, bert):\n"
            "  R^c       the compression term of the layer's shared projection W = LN1(Z) U^T: each token's\n"
            "            per-head vector scaled to unit length, 1/2 sum_k logdet(I + p/(N eps^2) X_k X_k^T),\n"
            "            eps^2 = 0.01, N tokens (an image's with the cls token; a window's T) (bound\n"
            "            1/2 p ln(1 + 1/eps^2) K)\n"
            "  sparsity  the fraction of non-zeros of the layer's sparse code: the ISTA output Z (N x d), or\n"
            "            CRATE-alpha's A2 (N x m d)\n"
            "  R(Z)      the coding rate 1/2 logdet(I + d/(N eps^2) Z^T Z) of that output\n"
            "each as mean and standard deviation over the samples. In the paper, a trained CRATE's R^c falls\n"
            "and its sparsity rises with depth.\n"
            "\n"
            "  --data SHARDS        image shards (crate-data), of the encoder's image shape, or token shards\n"
            "                       (crate-data kjv|fortunes|text) made with the checkpoint's tokenizer; window\n"
            "                       i is tokens [i T, (i+1) T) of the documents back to back\n"
            "  --images N           samples measured (images or windows; default 1000)\n"
            "  --weights W          params (default) or teacher (a DINO checkpoint's EMA teacher)\n"
            "  --random-init        measure the encoder training started from instead (run.seed, model.init_std)\n"
            "  --with-random-init   measure both; the plot shows the two side by side\n"
            "  --plot FILE.png      the curves across layers: R^c (with its bound), sparsity, R(Z)\n"
            "  --out FILE           append the JSON lines to FILE too\n"
            "  --batch B            samples per forward pass (default 64)\n"
            "  --threads T          OpenMP threads (default: all cores)\n"
            "\n"
            "Pictures (PNG), of images ID ... ID+N-1 of SHARDS, one row per image:\n"
            "  --reconstruct N      a MAE checkpoint's reconstructions: the image, the masked input (hidden\n"
            "                       patches gray) and the reconstruction (visible patches as they are, hidden\n"
            "                       ones as the decoder predicts them); the masks are those training draws for\n"
            "                       these samples in epoch 0. Prints their masked-patch loss\n"
            "  --reconstruct-png F  where (default reconstruct.png)\n"
            "  --attention N        the image, then the cls token's attention over the patches for each head of\n"
            "                       layer L, each scaled to its largest weight, upsampled as a heat map (black\n"
            "                       0, yellow 1); any image encoder (mae, dino with --weights, classify)\n"
            "  --attention-png F    where (default attention.png)\n"
            "  --layer L            the layer the attention is taken from, 1 to depth (default: the last)\n"
            "  --first ID           the first image shown (default 0)\n"
            "  --no-measures        only the pictures\n"
            "  -h, --help           this text\n"
            "\n"
            "Prints a table, then one JSON line per layer: {\"layer\",\"rc\",\"rc_std\",\"rc_bound\",\"sparsity\",\n"
            "\"sparsity_std\",\"coding_rate\",\"coding_rate_std\",\"images\",\"tokens\",\"weights\",\"step\",\"checkpoint\"}.\n"
            "Exit status: 0 done, 2 bad usage, checkpoint or data, 1 internal failure.\n");
}

static int parse_args(int argc, char **argv, analyze_args *a) {
    *a = (analyze_args){.weights = "params", .images = 1000, .batch = 64, .reconstruct_png = "reconstruct.png",
                        .attention_png = "attention.png"};
    int rc = CRATE_OK;
    for (int i = 1; i < argc && rc == CRATE_OK; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (k[0] != '-') {
            if (a->ckpt) return crate_fail(CRATE_EINPUT, "two checkpoints given ('%s' and '%s'): give one", a->ckpt, k);
            a->ckpt = k, takes = 0;
        } else if (!strcmp(k, "--random-init")) {
            a->random_init = 1, takes = 0;
        } else if (!strcmp(k, "--with-random-init")) {
            a->with_random_init = 1, takes = 0;
        } else if (!strcmp(k, "--no-measures")) {
            a->no_measures = 1, takes = 0;
        } else if (!strcmp(k, "--data") || !strcmp(k, "--weights") || !strcmp(k, "--plot") || !strcmp(k, "--out") ||
                   !strcmp(k, "--images") || !strcmp(k, "--batch") || !strcmp(k, "--threads") ||
                   !strcmp(k, "--reconstruct") || !strcmp(k, "--reconstruct-png") || !strcmp(k, "--attention") ||
                   !strcmp(k, "--attention-png") || !strcmp(k, "--layer") || !strcmp(k, "--first")) {
            if (!v) return crate_fail(CRATE_EINPUT, "option %s needs a value", k);
            if (!strcmp(k, "--data")) a->data = v;
            else if (!strcmp(k, "--weights")) a->weights = v;
            else if (!strcmp(k, "--plot")) a->plot = v;
            else if (!strcmp(k, "--out")) a->out = v;
            else if (!strcmp(k, "--images")) rc = cli_int(k, v, 1, 1000000, &a->images);
            else if (!strcmp(k, "--batch")) rc = cli_int(k, v, 1, 4096, &a->batch);
            else if (!strcmp(k, "--reconstruct")) rc = cli_int(k, v, 1, MAE_RECONSTRUCT_MAX, &a->reconstruct);
            else if (!strcmp(k, "--reconstruct-png")) a->reconstruct_png = v;
            else if (!strcmp(k, "--attention")) rc = cli_int(k, v, 1, ATTENTION_MAPS_MAX, &a->attention);
            else if (!strcmp(k, "--attention-png")) a->attention_png = v;
            else if (!strcmp(k, "--layer")) rc = cli_int(k, v, 1, 4096, &a->layer);
            else if (!strcmp(k, "--first")) rc = cli_int(k, v, 0, INT_MAX, &a->first);
            else rc = cli_int(k, v, 1, 1024, &a->threads);
        } else {
            return crate_fail(CRATE_EINPUT, "unknown option '%s' (see %s --help)", k, TOOL);
        }
        i += takes;
    }
    if (rc != CRATE_OK) return rc;
    if (!a->ckpt || !a->data)
        return crate_fail(CRATE_EINPUT, "give a checkpoint and --data SHARDS (see %s --help)", TOOL);
    if (strcmp(a->weights, "params") && strcmp(a->weights, "teacher"))
        return crate_fail(CRATE_EINPUT, "--weights %s: params or teacher", a->weights);
    if (a->random_init && a->with_random_init)
        return crate_fail(CRATE_EINPUT, "--random-init and --with-random-init: give one");
    if (a->no_measures && !a->reconstruct && !a->attention)
        return crate_fail(CRATE_EINPUT, "--no-measures without --reconstruct or --attention leaves nothing to do");
    return CRATE_OK;
}

/* The weights training started from: param_store_initialize with the run's
 * seed and init_std, which reproduces them when the encoder's tensors have
 * the ids here that they had in training (the objective declared them first,
 * as every image objective does): the manifest's tensor table says. */
static int reinitialize(param_store *ps, const char *ckpt) {
    ckpt_manifest m;
    int none[CKPT_MAX_SECTIONS] = {0};
    float *vec[CKPT_MAX_SECTIONS];
    int rc = checkpoint_read_all(ckpt, &m, none, vec);
    train_config cfg;
    config_sources src = {0};
    if (rc == CRATE_OK) rc = train_config_load_text(&cfg, &src, m.config, "the checkpoint's config");
    config_sources_free(&src);
    for (int id = 0; rc == CRATE_OK && id < ps->count; id++)
        if (id >= m.ntensors || strcmp(m.tensors[id].name, ps->tensors[id].name))
            rc = crate_fail(CRATE_EINPUT, "%s: tensor %d is %s in the checkpoint and %s in the encoder: the objective "
                            "declared other tensors first, so its initial weights cannot be rebuilt", ckpt, id,
                            id < m.ntensors ? m.tensors[id].name : "missing", ps->tensors[id].name);
    if (rc == CRATE_OK) param_store_initialize(ps, (uint64_t)cfg.run.seed, (float)cfg.model.init_std);
    ckpt_manifest_free(&m);
    return rc;
}

/* Whether --data is a folder of token shards (crate-data's text sets) rather than image shards. */
static int is_token_data(const char *dir) {
    char meta[4096];
    snprintf(meta, sizeof meta, "%s/%s", dir, TOKEN_META_FILE);
    return access(meta, F_OK) == 0;
}

/* The text encoder's measures over token windows of --data. */
static int measure_texts(const analyze_args *a, int random_init, encoder_measures *out, int64_t *step) {
    if (strcmp(a->weights, "params"))
        return crate_fail(CRATE_EINPUT, "--weights %s: a text model has only its trained weights (params)", a->weights);
    frozen_text ft;
    int rc = frozen_text_open(&ft, a->ckpt, a->batch);
    if (rc != CRATE_OK) return rc;
    *step = random_init ? 0 : ft.step;
    if (random_init) rc = reinitialize(&ft.ps, a->ckpt);
    token_dataset *ds = NULL;
    if (rc == CRATE_OK) rc = token_dataset_open(&ds, a->data, (size_t)64 << 20);
    if (rc == CRATE_OK) rc = layer_measures_texts(&ft, ds, a->images, out);
    if (ds) token_dataset_close(ds);
    frozen_text_close(&ft);
    return rc;
}

/* One measurement: the checkpoint's weights, or its random init. */
static int measure(const analyze_args *a, int random_init, encoder_measures *out, int64_t *step) {
    if (is_token_data(a->data)) return measure_texts(a, random_init, out, step);
    int C, H, W;
    int rc = image_source_shape(a->data, &C, &H, &W);
    frozen_encoder fe;
    if (rc == CRATE_OK) rc = frozen_encoder_open(&fe, a->ckpt, a->weights, C, H, W, a->batch);
    if (rc != CRATE_OK) return rc;
    *step = random_init ? 0 : fe.step;
    if (random_init) rc = reinitialize(&fe.ps, a->ckpt);
    image_dataset *ds = NULL;
    if (rc == CRATE_OK) rc = image_dataset_open(&ds, a->data, (size_t)64 << 20);
    if (rc == CRATE_OK) rc = layer_measures_images(&fe, ds, a->images, out);
    if (ds) image_dataset_close(ds);
    frozen_encoder_close(&fe);
    return rc;
}

static void report(const analyze_args *a, const encoder_measures *m, int64_t step, const char *label, FILE *also) {
    printf("%s: %s, %s (step %lld): %d %s of %d tokens, %d heads of %d, d %d; R^c bound %.2f\n", TOOL, a->ckpt,
           label, (long long)step, m->images, is_token_data(a->data) ? "text windows" : "images", m->tokens, m->heads,
           m->head_dim, m->d, m->rc_bound);
    printf("  layer        R^c             sparsity          R(Z)\n");
    for (int l = 0; l < m->depth; l++) {
        const layer_measure *x = &m->layers[l];
        printf("  %5d  %8.3f ± %-7.3f  %6.4f ± %-7.4f  %8.3f ± %.3f\n", l + 1, x->rc_mean, x->rc_std,
               x->sparsity_mean, x->sparsity_std, x->rate_mean, x->rate_std);
    }
    for (int l = 0; l < m->depth; l++) {
        const layer_measure *x = &m->layers[l];
        json_line j = {0};
        json_printf(&j, "{\"layer\":%d,\"rc\":%.6g,\"rc_std\":%.6g,\"rc_bound\":%.6g,\"sparsity\":%.6g,"
                    "\"sparsity_std\":%.6g,\"coding_rate\":%.6g,\"coding_rate_std\":%.6g,\"images\":%d,"
                    "\"tokens\":%d,\"weights\":", l + 1, x->rc_mean, x->rc_std, m->rc_bound, x->sparsity_mean,
                    x->sparsity_std, x->rate_mean, x->rate_std, m->images, m->tokens);
        json_string(&j, label);
        json_printf(&j, ",\"step\":%lld,\"checkpoint\":", (long long)step);
        json_string(&j, a->ckpt);
        json_printf(&j, "}\n");
        if (j.failed) continue; /* out of memory: the table above holds the numbers */
        fputs(j.s, stdout);
        if (also) fputs(j.s, also);
        free(j.s);
    }
}

/* The three curves against the layer index, each run a series. */
static int plot(const char *path, const encoder_measures *runs, const char *const *labels, int nruns) {
    int depth = runs[0].depth;
    double *x = malloc((size_t)depth * sizeof *x), *v = malloc((size_t)nruns * 6 * depth * sizeof *v);
    if (!x || !v) {
        free(x), free(v);
        return crate_fail(CRATE_EINTERNAL, "out of memory plotting");
    }
    plot_series s[3][2];
    for (int l = 0; l < depth; l++) x[l] = l + 1;
    for (int r = 0; r < nruns; r++) {
        double *rv = v + (size_t)r * 6 * depth;
        for (int l = 0; l < depth; l++) {
            const layer_measure *m = &runs[r].layers[l];
            rv[l] = m->rc_mean, rv[depth + l] = m->rc_std;
            rv[2 * depth + l] = m->sparsity_mean, rv[3 * depth + l] = m->sparsity_std;
            rv[4 * depth + l] = m->rate_mean, rv[5 * depth + l] = m->rate_std;
        }
        for (int k = 0; k < 3; k++)
            s[k][r] = (plot_series){labels[r], x, rv + 2 * k * depth, rv + (2 * k + 1) * depth, depth, 1};
    }
    char bound[64];
    snprintf(bound, sizeof bound, "bound %.1f", runs[0].rc_bound);
    plot_panel panels[3] = {
        {"compression R^c of each layer's projection", "layer", "R^c (nats)", s[0], nruns, 0, runs[0].rc_bound, bound},
        {"sparsity of each layer's ISTA output", "layer", "fraction non-zero", s[1], nruns, 0, NAN, NULL},
        {"coding rate R(Z) of each layer's output", "layer", "R(Z) (nats)", s[2], nruns, 0, NAN, NULL},
    };
    int rc = plot_write_png(path, panels, 3, 460, 340);
    free(x), free(v);
    return rc;
}

/* The pictures asked for, of images first … of --data. */
static int pictures(const analyze_args *a) {
    image_dataset *ds = NULL;
    int rc = image_dataset_open(&ds, a->data, (size_t)64 << 20);
    if (rc == CRATE_OK && a->reconstruct) {
        double loss;
        rc = mae_reconstruct_picture(a->ckpt, ds, (uint64_t)a->first, a->reconstruct, a->reconstruct_png, &loss);
        if (rc == CRATE_OK)
            printf("%s: wrote %s: %d images (from %lld), original | masked | reconstruction; masked-patch loss %.5f\n",
                   TOOL, a->reconstruct_png, a->reconstruct, (long long)a->first, loss);
    }
    if (rc == CRATE_OK && a->attention) {
        int layer, heads;
        rc = attention_maps_picture(a->ckpt, a->weights, ds, (uint64_t)a->first, a->attention, a->layer,
                                    a->attention_png, &layer, &heads);
        if (rc == CRATE_OK)
            printf("%s: wrote %s: %d images (from %lld), the image | cls attention of heads 1-%d of layer %d\n", TOOL,
                   a->attention_png, a->attention, (long long)a->first, heads, layer);
    }
    if (ds) image_dataset_close(ds);
    return rc;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    analyze_args a;
    int rc = parse_args(argc, argv, &a);
    FILE *out = NULL;
    if (rc == CRATE_OK && a.out && !(out = fopen(a.out, "a")))
        rc = crate_fail(CRATE_EINPUT, "--out %s: cannot write it", a.out);
    if (rc == CRATE_OK && a.threads) omp_set_num_threads(a.threads);
    encoder_measures runs[2] = {{0}};
    const char *labels[2];
    int nruns = 0;
    int64_t step = 0;
    const char *trained = strcmp(a.weights, "teacher") ? "trained" : "teacher";
    if (rc == CRATE_OK && (a.reconstruct || a.attention)) rc = pictures(&a);
    if (rc == CRATE_OK && !a.random_init && !a.no_measures) {
        rc = measure(&a, 0, &runs[nruns], &step);
        if (rc == CRATE_OK) labels[nruns] = trained, report(&a, &runs[nruns], step, trained, out), nruns++;
    }
    if (rc == CRATE_OK && !a.no_measures && (a.random_init || a.with_random_init)) {
        rc = measure(&a, 1, &runs[nruns], &step);
        if (rc == CRATE_OK) labels[nruns] = "random init", report(&a, &runs[nruns], step, "random init", out), nruns++;
    }
    if (rc == CRATE_OK && a.plot) {
        rc = plot(a.plot, runs, labels, nruns);
        if (rc == CRATE_OK) printf("%s: wrote %s\n", TOOL, a.plot);
    }
    for (int r = 0; r < nruns; r++) encoder_measures_free(&runs[r]);
    if (out && fclose(out) != 0 && rc == CRATE_OK) rc = crate_fail(CRATE_EINPUT, "--out %s: writing failed", a.out);
    if (rc != CRATE_OK) fprintf(stderr, "%s: %s\n", TOOL, crate_errmsg());
    return rc;
}
