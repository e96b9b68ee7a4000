/* crate_generate.c — `crate-generate CKPT --prompt TEXT [options]`: text from
 * a causal CRATE language model (objective gpt2). Everything comes from the
 * checkpoint folder: the model its stored config describes, its weights, and
 * the tokenizer saved in it. The prompt is encoded after a bos id (documents
 * start with bos in the token shards); each new token runs one row through
 * the layers against the per-layer cache of the shared projection
 * (encoders/text_cache.h). When the context window is full, the cache is
 * rebuilt from the last half of the text (a sliding window). Generation stops
 * after --tokens ids or at a bos id (the start of another document).
 * Exit status: 0 done, 2 bad usage or checkpoint, 1 internal failure.
 */
#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/text_cache.h"
#include "pretrain/frozen_text.h"
#include "pretrain/text_sampler.h"
#include "src/error.h"

static const char *TOOL = "crate-generate";

typedef struct {
    const char *ckpt, *prompt;
    int tokens, top_k, threads;
    float temperature;
    uint64_t seed;
} generate_args;

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-generate CKPT --prompt TEXT [--tokens N] [--temperature T] [--top-k K] [--seed S]\n"
            "\n"
            "Continues TEXT with the causal language model of a crate-pretrain checkpoint (objective gpt2;\n"
            "a run.dir/ckpt/step-NNNNNN folder, or run.dir/ckpt for its latest) and prints the prompt and\n"
            "its continuation. The tokenizer is the one saved in the checkpoint.\n"
            "\n"
            "  --prompt TEXT      the text to continue (may be empty)\n"
            "  --tokens N         new tokens at most (default 200); stops early at a document start (bos)\n"
            "  --temperature T    0 is greedy and deterministic; otherwise sample softmax(logits/T) (default 0.8)\n"
            "  --top-k K          sample among the K most likely tokens only; 0 = all (default 40)\n"
            "  --seed S           seed of the draws: the same seed prints the same text (default 0)\n"
            "  --threads N        compute threads (default 1: one row per token gains nothing from more)\n"
            "  -h, --help         this text\n"
            "\n"
            "Exit status: 0 done, 2 bad usage or checkpoint, 1 internal failure.\n");
}

static int parse_number(const char *flag, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "%s: %s %s: expected a number in [%g, %g]\n", TOOL, flag, v, lo, hi);
        return CRATE_EINPUT;
    }
    *out = x;
    return CRATE_OK;
}

static int parse_args(int argc, char **argv, generate_args *a) {
    *a = (generate_args){.tokens = 200, .top_k = 40, .threads = 1, .temperature = 0.8f};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (f[0] != '-') {
            if (a->ckpt) {
                fprintf(stderr, "%s: one checkpoint only (got %s and %s)\n", TOOL, a->ckpt, f);
                return CRATE_EINPUT;
            }
            a->ckpt = f;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value (see --help)\n", TOOL, f);
            return CRATE_EINPUT;
        }
        const char *v = argv[++i];
        double x;
        int rc = CRATE_OK;
        if (!strcmp(f, "--prompt")) a->prompt = v;
        else if (!strcmp(f, "--tokens") && !(rc = parse_number(f, v, 0, 1e7, &x))) a->tokens = (int)x;
        else if (!strcmp(f, "--temperature") && !(rc = parse_number(f, v, 0, 100, &x))) a->temperature = (float)x;
        else if (!strcmp(f, "--top-k") && !(rc = parse_number(f, v, 0, 1e8, &x))) a->top_k = (int)x;
        else if (!strcmp(f, "--seed") && !(rc = parse_number(f, v, 0, 9007199254740991.0, &x))) a->seed = (uint64_t)x;
        else if (!strcmp(f, "--threads") && !(rc = parse_number(f, v, 1, 4096, &x))) a->threads = (int)x;
        else if (rc == CRATE_OK) {
            fprintf(stderr, "%s: unknown option %s (see --help)\n", TOOL, f);
            return CRATE_EINPUT;
        }
        if (rc != CRATE_OK) return rc;
    }
    if (!a->ckpt || !a->prompt) {
        fprintf(stderr, "%s: need a checkpoint and --prompt TEXT (see --help)\n", TOOL);
        return CRATE_EINPUT;
    }
    return CRATE_OK;
}

/* Feeds ids[0..n) into an empty cache; logits are those after the last. */
static void prime(text_cache *c, const param_store *ps, const int32_t *ids, size_t n, float *logits) {
    text_cache_reset(c);
    for (size_t i = 0; i < n; i++) text_cache_step(c, ps, ids[i], logits);
}

/* The whole sequence (bos, prompt, continuation) in *seq (malloc'd). */
static int generate(frozen_text *ft, const generate_args *a, int32_t **seq, size_t *n) {
    int32_t *prompt;
    size_t np;
    int rc = spm_encode(ft->spm, a->prompt, strlen(a->prompt), &prompt, &np);
    if (rc != CRATE_OK) return rc;
    int bos = spm_bos_id(ft->spm), T = ft->enc.T_max;
    size_t cap = 1 + np + (size_t)a->tokens;
    int32_t *s = crate_malloc(cap * sizeof *s, "generated ids");
    float *logits = crate_malloc((size_t)ft->enc.V * sizeof(float), "logits");
    text_cache cache = {0};
    text_sampler sampler = {0};
    if (!s || !logits) rc = CRATE_EINTERNAL;
    if (rc == CRATE_OK) rc = text_cache_init(&cache, &ft->enc);
    if (rc == CRATE_OK) rc = text_sampler_init(&sampler, ft->enc.V, a->temperature, a->top_k, a->seed);
    size_t len = 0;
    if (rc == CRATE_OK) {
        s[len++] = bos >= 0 ? bos : 0;
        memcpy(s + len, prompt, np * sizeof *s);
        len += np;
        /* A prompt longer than the window keeps its end. */
        size_t from = len > (size_t)T ? len - (size_t)T : 0;
        prime(&cache, &ft->ps, s + from, len - from, logits);
        for (int i = 0; i < a->tokens; i++) {
            int32_t next = text_sampler_pick(&sampler, logits);
            if (next == bos) break;
            s[len++] = next;
            if (i + 1 == a->tokens) break;
            if (cache.pos == T) prime(&cache, &ft->ps, s + len - T / 2, (size_t)T / 2, logits);
            else text_cache_step(&cache, &ft->ps, next, logits);
        }
    }
    text_sampler_free(&sampler);
    text_cache_free(&cache);
    free(logits);
    free(prompt);
    if (rc != CRATE_OK) {
        free(s);
        return rc;
    }
    *seq = s;
    *n = len;
    return CRATE_OK;
}

int main(int argc, char **argv) {
    generate_args a;
    if (parse_args(argc, argv, &a) != CRATE_OK) return 2;
    omp_set_num_threads(a.threads);
    openblas_set_num_threads(a.threads);
    frozen_text ft;
    int rc = frozen_text_open(&ft, a.ckpt, 1);
    if (rc == CRATE_OK && ft.cfg.objective.name != TRAIN_OBJECTIVE_GPT2) {
        frozen_text_close(&ft);
        rc = crate_fail(CRATE_EINPUT, "%s is a masked language model (objective bert): it fills in masked tokens "
                        "but cannot continue text; generate from a gpt2 checkpoint", a.ckpt);
    }
    if (rc != CRATE_OK) {
        fprintf(stderr, "%s: %s\n", TOOL, crate_errmsg());
        return rc == CRATE_EINPUT ? 2 : 1;
    }
    int32_t *seq = NULL;
    size_t n = 0;
    char *text = NULL;
    size_t text_len;
    rc = generate(&ft, &a, &seq, &n);
    /* Decode without the leading bos. */
    if (rc == CRATE_OK) rc = spm_decode(ft.spm, seq + 1, n - 1, &text, &text_len);
    if (rc == CRATE_OK) {
        fwrite(text, 1, text_len, stdout);
        fputc('\n', stdout);
    } else {
        fprintf(stderr, "%s: %s\n", TOOL, crate_errmsg());
    }
    free(text);
    free(seq);
    frozen_text_close(&ft);
    return rc == CRATE_OK ? 0 : rc == CRATE_EINPUT ? 2 : 1;
}
