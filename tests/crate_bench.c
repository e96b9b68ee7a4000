/* crate_bench.c — `crate-bench`: training-step throughput of the CRATE-MAE,
 * CRATE-GPT and CRATE-BERT models next to the machine's own sgemm peak, measured in the
 * same run.
 *
 * Configs (synthetic images and tokens; no data files needed):
 *   a  Fashion-MNIST MAE: B=64, 28×28×1, patch 4, d=192, 3 heads, depth 6, decoder depth 4
 *   b  32×32×3, patch 4, d=384, 6 heads, depth 12, decoder depth 4, B=32
 *   c  causal LM: B=16, T=256, V=8192, d=384, 6 heads, depth 6
 *   d  causal LM: B=8, T=1024, V=32000, d=768, 12 heads, depth 12 (by name only)
 *   e  masked LM (bert, 15% selected, dense head): c's model and batch
 * A step is forward + backward + gradient norm + AdamW, as in the trainer.
 * Every config runs once per GEMM backend and precision asked for (--gemm,
 * --precision; src/kernels/gemm.h), one after the other, so the rows of one
 * config see the same machine. GFLOP/s counts the GEMM FLOPs of the step (the
 * objective's count) and is divided by the machine's limit measured first in
 * the same run, on the same threads, from 2048³ (--limit-size) products:
 *   fp32 limit = the best of OpenBLAS sgemm and oneDNN's fp32 GEMM,
 *   bf16 limit = oneDNN's bf16 matmul (operands rounded beforehand).
 * The last lines are one JSON object per config, backend and precision.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "data/token_source.h"
#include "pretrain/objective.h"
#include "pretrain/text_data.h"
#include "src/error.h"
#include "src/io/fs.h"
#include "src/kernels/gemm.h"
#include "src/optim/optim.h"
#include "src/nn/param_init.h"

/* text: 1 a causal LM, 2 a masked LM (channels = vocabulary, side =
 * context); 0 MAE on channels × side × side images. */
typedef struct {
    const char *name;
    int text, batch, channels, side, in_all; /* in_all: run by --config all */
    char *overrides[8];
} bench_config;

static const bench_config CONFIGS[] = {
    {"a", 0, 64, 1, 28, 1, {"model.dim=192", "model.heads=3", "model.depth=6", "model.decoder_depth=4", "model.patch=4"}},
    {"b", 0, 32, 3, 32, 1, {"model.dim=384", "model.heads=6", "model.depth=12", "model.decoder_depth=4", "model.patch=4"}},
    {"c", 1, 16, 8192, 256, 1, {"objective.name=gpt2", "model.dim=384", "model.heads=6", "model.depth=6",
                                "model.context=256"}},
    {"d", 1, 8, 32000, 1024, 0, {"objective.name=gpt2", "model.dim=768", "model.heads=12", "model.depth=12",
                                 "model.context=1024"}},
    {"e", 2, 16, 8192, 256, 1, {"objective.name=bert", "model.dim=384", "model.heads=6", "model.depth=6",
                                "model.context=256"}},
    /* CRATE-B MAE at ImageNet size: the compute side of the scaling analysis (launch/SCALING.md). */
    {"B", 0, 8, 3, 224, 0, {"model.dim=768", "model.heads=12", "model.depth=12", "model.decoder_depth=12", "model.patch=16"}},
};

typedef struct {
    double ms_per_step, samples_per_s, gflops;
    size_t parameters;
} bench_result;

/* One synthetic batch of the config's kind; the arrays stay valid until freed. */
typedef struct {
    image_batch images;
    token_batch tokens;
    uint8_t *pixels;
    int32_t *ids;
    uint64_t *sample_ids;
    uint32_t *epochs;
} bench_batch;

static int bench_batch_make(bench_batch *b, const bench_config *bc) {
    memset(b, 0, sizeof *b);
    int width = bc->text == 2 ? bc->side : bc->side + 1; /* tokens per window */
    size_t n = bc->text ? (size_t)bc->batch * width : (size_t)bc->batch * bc->channels * bc->side * bc->side;
    b->sample_ids = malloc(bc->batch * sizeof *b->sample_ids);
    b->epochs = calloc(bc->batch, sizeof *b->epochs);
    if (bc->text) b->ids = malloc(n * sizeof *b->ids);
    else b->pixels = malloc(n);
    if (!b->sample_ids || !b->epochs || (!b->ids && !b->pixels))
        return crate_fail(CRATE_EINTERNAL, "out of memory for the synthetic batch");
    for (int i = 0; i < bc->batch; i++) b->sample_ids[i] = (uint64_t)i;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = (uint32_t)(i * 2654435761u);
        if (bc->text) b->ids[i] = (int32_t)(r % (uint32_t)bc->channels);
        else b->pixels[i] = (uint8_t)(r >> 24);
    }
    b->images = (image_batch){bc->batch, bc->channels, bc->side, bc->side, b->pixels, NULL, b->sample_ids, b->epochs, 0};
    b->tokens = (token_batch){.n = bc->batch, .T = bc->side, .width = width, .tokens = b->ids, .sample_ids = b->sample_ids,
                              .epochs = b->epochs};
    return CRATE_OK;
}

static void bench_batch_free(bench_batch *b) {
    free(b->pixels);
    free(b->ids);
    free(b->sample_ids);
    free(b->epochs);
}

static int bench_objective(objective **obj, const bench_config *bc, const train_config *cfg, param_store *ps) {
    if (bc->text) {
        text_data_info data = {.vocab = bc->channels};
        return bc->text == 1 ? gpt2_objective_create(obj, cfg, &data, bc->batch, ps)
                             : bert_objective_create(obj, cfg, &data, bc->batch, ps);
    }
    data_shape shape = {bc->channels, bc->side, bc->side};
    return mae_objective_create(obj, cfg, &shape, bc->batch, ps);
}

/* The machine's limits, measured before any config (see the top). */
typedef struct {
    double openblas_fp32, onednn_fp32, onednn_bf16; /* GFLOP/s; 0 when not built */
} bench_limits;

static double limit_of(gemm_backend backend, gemm_precision precision, int n) {
    if (gemm_select(backend, precision) != CRATE_OK) return 0.0;
    return gemm_peak_gflops(n, 5);
}

static void measure_limits(bench_limits *l, int n) {
    l->openblas_fp32 = limit_of(GEMM_OPENBLAS, GEMM_FP32, n);
    l->onednn_fp32 = gemm_onednn_built() ? limit_of(GEMM_ONEDNN, GEMM_FP32, n) : 0.0;
    l->onednn_bf16 = gemm_onednn_built() ? limit_of(GEMM_ONEDNN, GEMM_BF16, n) : 0.0;
}

static double limit_for(const bench_limits *l, gemm_precision precision) {
    if (precision == GEMM_BF16) return l->onednn_bf16;
    return l->openblas_fp32 > l->onednn_fp32 ? l->openblas_fp32 : l->onednn_fp32;
}

static int run_config(const bench_config *bc, int steps, bench_result *res) {
    char *ov[10];
    int n = 0;
    ov[n++] = "data.train=synthetic";
    for (int i = 0; i < 8 && bc->overrides[i]; i++) ov[n++] = bc->overrides[i];
    train_config cfg;
    config_sources src = {0};
    int rc = train_config_load(&cfg, &src, NULL, n, ov);
    if (rc != CRATE_OK) return rc;
    param_store ps;
    param_store_init(&ps);
    objective *obj = NULL;
    rc = bench_objective(&obj, bc, &cfg, &ps);
    if (rc == CRATE_OK) rc = param_store_alloc(&ps);
    res->parameters = param_store_count(&ps);
    float *m = rc == CRATE_OK ? crate_aligned_zalloc(ps.total * sizeof(float), "m") : NULL;
    float *v = rc == CRATE_OK ? crate_aligned_zalloc(ps.total * sizeof(float), "v") : NULL;
    bench_batch bb = {0};
    if (rc == CRATE_OK) rc = bench_batch_make(&bb, bc);
    if (rc == CRATE_OK && (!m || !v)) rc = CRATE_EINTERNAL;
    if (rc == CRATE_OK) {
        param_store_initialize(&ps, 0, 0.02f);
        const void *batch = bc->text ? (const void *)&bb.tokens : (const void *)&bb.images;
        adamw_config opt = {0.9f, 0.95f, 1e-8f, 0.05f};
        double t0 = 0;
        for (int s = 0; s < steps + 2 && rc == CRATE_OK; s++) {
            if (s == 2) t0 = fs_now(); /* two warm-up steps fault in every page */
            objective_loss loss;
            param_store_zero_grad(&ps);
            rc = obj->ops->forward_backward(obj, &ps, batch, NULL, &loss);
            double norm = sqrt(grad_sum_squares(ps.grad, ps.total));
            grad_clip(ps.grad, ps.total, norm, 1.0f);
            adamw_step_range(&ps, m, v, 0, ps.total, s + 1, 1e-4f, &opt);
        }
        double sec = (fs_now() - t0) / steps;
        res->ms_per_step = 1e3 * sec;
        res->samples_per_s = bc->batch * (bc->text ? bc->side : 1) / sec;
        res->gflops = obj->ops->flops_per_batch(obj) / sec / 1e9;
    }
    bench_batch_free(&bb);
    free(m);
    free(v);
    objective_destroy(obj);
    param_store_free(&ps);
    config_sources_free(&src);
    return rc;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-bench [--threads N] [--steps N] [--config a|b|c|d|e|B|all]\n"
            "                   [--gemm openblas|onednn|all] [--precision fp32|bf16|all] [--limit-size N]\n"
            "\n"
            "Times CRATE-MAE, CRATE-GPT and CRATE-BERT training steps on synthetic images and tokens, on each\n"
            "GEMM backend and precision, next to the machine's limit measured in the same run, and prints\n"
            "ms/step, images/s or tokens/s, GFLOP/s and the fraction of the limit.\n"
            "  a: B=64, 28x28x1, patch 4, d=192, 3 heads, depth 6, decoder depth 4\n"
            "  b: B=32, 32x32x3, patch 4, d=384, 6 heads, depth 12, decoder depth 4\n"
            "  c: causal LM, B=16, T=256, V=8192, d=384, 6 heads, depth 6\n"
            "  d: causal LM, B=8, T=1024, V=32000, d=768, 12 heads, depth 12 (only when asked for by name)\n"
            "  e: masked LM (bert, 15%% of the tokens through the MLM head), c's model and batch\n"
            "  B: B=8, 224x224x3, patch 16, d=768, 12 heads, depth 12, decoder depth 12 (CRATE-B MAE;\n"
            "     only when asked for by name)\n"
            "  --threads N        OpenMP, OpenBLAS and oneDNN threads (default: all cores)\n"
            "  --steps N          timed steps per row after 2 warm-up steps (default 10)\n"
            "  --gemm B           backend(s) to time (default all: openblas, and onednn when built)\n"
            "  --precision P      precision(s) to time (default all: fp32, and bf16 on onednn)\n"
            "  --limit-size N     the square product the limits are measured with (default 2048)\n"
            "Limits: fp32 = the best of OpenBLAS sgemm and oneDNN fp32 at N^3; bf16 = oneDNN bf16 matmul.\n"
            "The last lines are one JSON object per config, backend and precision.\n"
            "OpenBLAS reads OPENBLAS_CORETYPE at load time; the core in use is printed.\n");
}

/* 1 if the option value v (or "all") names x. */
static int wanted(const char *v, const char *x) { return !strcmp(v, "all") || !strcmp(v, x); }

int main(int argc, char **argv) {
    int threads = omp_get_num_procs(), steps = 10, size = 2048;
    const char *which = "all", *gemms = "all", *precisions = "all";
    for (int i = 1; i < argc; i++) {
        int has_value = i + 1 < argc;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--threads") && has_value) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--steps") && has_value) {
            steps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--config") && has_value) {
            which = argv[++i];
        } else if (!strcmp(argv[i], "--gemm") && has_value) {
            gemms = argv[++i];
        } else if (!strcmp(argv[i], "--precision") && has_value) {
            precisions = argv[++i];
        } else if (!strcmp(argv[i], "--limit-size") && has_value) {
            size = atoi(argv[++i]);
        } else {
            fprintf(stderr, "crate-bench: unknown or incomplete option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    /* 16384² floats are 1 GiB a matrix: the product needs three. */
    if (threads < 1 || steps < 1 || size < 64 || size > 16384) {
        fprintf(stderr, "crate-bench: --threads, --steps must be >= 1 and --limit-size from 64 to 16384\n");
        return 2;
    }
    if (!wanted(gemms, "openblas") && !wanted(gemms, "onednn")) {
        fprintf(stderr, "crate-bench: --gemm must be openblas, onednn or all\n");
        return 2;
    }
    if (!wanted(precisions, "fp32") && !wanted(precisions, "bf16")) {
        fprintf(stderr, "crate-bench: --precision must be fp32, bf16 or all\n");
        return 2;
    }
    if (!strcmp(gemms, "onednn") && !gemm_onednn_built()) {
        fprintf(stderr, "crate-bench: --gemm onednn: this build has no oneDNN (install libdnnl-dev, rebuild)\n");
        return 2;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    bench_limits lim;
    measure_limits(&lim, size);
    printf("%d threads, %d^3 products: OpenBLAS (core %s) fp32 %.1f GFLOP/s, oneDNN fp32 %.1f, oneDNN bf16 %.1f\n",
           threads, size, openblas_get_corename(), lim.openblas_fp32, lim.onednn_fp32, lim.onednn_bf16);
    /* Rows: (backend, precision) pairs that exist in this build. */
    static const struct { gemm_backend backend; gemm_precision precision; } ROWS[] = {
        {GEMM_OPENBLAS, GEMM_FP32}, {GEMM_ONEDNN, GEMM_FP32}, {GEMM_ONEDNN, GEMM_BF16}};
    char json[3 * sizeof CONFIGS / sizeof CONFIGS[0]][640];
    int njson = 0, nconfigs = 0;
    for (size_t c = 0; c < sizeof CONFIGS / sizeof CONFIGS[0]; c++) {
        const bench_config *bc = &CONFIGS[c];
        if (strcmp(which, bc->name) && (strcmp(which, "all") || !bc->in_all)) continue;
        nconfigs++;
        for (size_t k = 0; k < sizeof ROWS / sizeof ROWS[0]; k++) {
            gemm_backend be = ROWS[k].backend;
            gemm_precision pr = ROWS[k].precision;
            if (!wanted(gemms, gemm_backend_name(be)) || !wanted(precisions, gemm_precision_name(pr))) continue;
            if (be == GEMM_ONEDNN && !gemm_onednn_built()) continue;
            if (gemm_select(be, pr) != CRATE_OK) {
                fprintf(stderr, "crate-bench: %s %s: %s\n", gemm_backend_name(be), gemm_precision_name(pr),
                        crate_errmsg());
                return 2;
            }
            bench_result r = {0, 0, 0, 0};
            if (run_config(bc, steps, &r) != CRATE_OK) {
                fprintf(stderr, "crate-bench: config %s: %s\n", bc->name, crate_errmsg());
                return 1;
            }
            const char *unit = bc->text ? "tokens" : "images";
            double limit = limit_for(&lim, pr);
            printf("config %s %-8s %s (%zu parameters): %.2f ms/step, %.1f %s/s, %.1f GFLOP/s = %.1f%% of the "
                   "%s limit %.1f\n",
                   bc->name, gemm_backend_name(be), gemm_precision_name(pr), r.parameters, r.ms_per_step,
                   r.samples_per_s, unit, r.gflops, 100.0 * r.gflops / limit, gemm_precision_name(pr), limit);
            snprintf(json[njson++], sizeof json[0],
                     "{\"config\":\"%s\",\"gemm\":\"%s\",\"precision\":\"%s\",\"threads\":%d,\"ms_per_step\":%.4g,"
                     "\"%s_per_s\":%.6g,\"gflops\":%.5g,\"limit_gflops\":%.5g,\"fraction_of_limit\":%.4f,"
                     "\"openblas_fp32_gflops\":%.5g,\"onednn_fp32_gflops\":%.5g,\"onednn_bf16_gflops\":%.5g,"
                     "\"corename\":\"%s\"}",
                     bc->name, gemm_backend_name(be), gemm_precision_name(pr), threads, r.ms_per_step, unit,
                     r.samples_per_s, r.gflops, limit, r.gflops / limit, lim.openblas_fp32, lim.onednn_fp32,
                     lim.onednn_bf16, openblas_get_corename());
        }
    }
    if (nconfigs == 0) {
        fprintf(stderr, "crate-bench: --config must be a, b, c, d, e, B or all\n");
        return 2;
    }
    for (int i = 0; i < njson; i++) puts(json[i]);
    return 0;
}
