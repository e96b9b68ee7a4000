/* train_config.c — the schema of crate-pretrain's config and the rules that
 * span keys (see train_config.h).
 *
 * The table is the single description of every key: the engine loads, checks,
 * emits and documents the config from it. Ranges are the widest values the
 * code can run with, not the recommended ones; the rules that need two keys
 * (dim vs heads, lr vs min_lr, warmup vs steps) are checked after loading,
 * and name both keys with where their values came from.
 */
#include "pretrain/train_config.h"

#include "src/error.h"

#include <stddef.h>
#include <string.h>

#define BIG 9007199254740991.0 /* 2^53 - 1: the largest integer a double bound holds exactly */

#define KEY(sec, name, type, def, lo, hi, choices, help) \
    { #sec, #name, type, offsetof(train_config, sec.name), def, lo, hi, choices, help }
#define KEY_INT(sec, name, def, lo, hi, help) KEY(sec, name, CONFIG_INT, def, lo, hi, NULL, help)
#define KEY_FLOAT(sec, name, def, lo, hi, help) KEY(sec, name, CONFIG_FLOAT, def, lo, hi, NULL, help)
#define KEY_BOOL(sec, name, def, help) KEY(sec, name, CONFIG_BOOL, def, 0, 0, NULL, help)
#define KEY_STRING(sec, name, def, help) KEY(sec, name, CONFIG_STRING, def, 0, 0, NULL, help)
#define KEY_ENUM(sec, name, def, choices, help) KEY(sec, name, CONFIG_ENUM, def, 0, 0, choices, help)

static const config_key train_schema[] = {
    /* run: where the run writes its checkpoints, logs and resolved config, and
     * the seed every random choice derives from (DESIGN §5). */
    KEY_STRING(run, dir, "runs/mae", "output directory: metrics.jsonl and ckpt/ (checkpoints, the last one final)"),
    KEY_INT(run, seed, "0", 0, BIG, "seed of all randomness (init, data order, masks, augmentation)"),
    KEY_INT(run, stop_after, "0", 0, BIG,
            "end after this step with a checkpoint, as if preempted there (0: run to schedule.steps)"),

    /* model: the CRATE encoder and decoder (DESIGN §2): width d, K heads of
     * width p, layer counts, and the ISTA step η and sparsity λ. */
    KEY_INT(model, dim, "192", 1, 65536, "token width d"),
    KEY_INT(model, heads, "3", 1, 4096, "attention heads K"),
    KEY_INT(model, head_dim, "0", 0, 65536, "head width p; 0 means dim/heads"),
    KEY_INT(model, depth, "6", 1, 1000, "encoder layers (MSSA + ISTA)"),
    KEY_INT(model, decoder_depth, "4", 1, 1000, "decoder layers"),
    KEY_INT(model, patch, "4", 1, 1024, "image patch side in pixels"),
    KEY_FLOAT(model, eta, "0.1", 0, 100, "ISTA step size eta"),
    KEY_FLOAT(model, lambda, "0.5", 0, 100, "ISTA sparsity lambda (0.1 classic CRATE, 0.5 CRATE-MAE)"),
    KEY_ENUM(model, block, "crate", "crate|crate-alpha",
             "encoder layer: crate (MSSA + one ISTA step) or crate-alpha (MSSA, two ISTA steps over an overcomplete "
             "dictionary, an output dictionary and a residual)"),
    KEY_INT(model, ista_expand, "4", 1, 64, "crate-alpha: the dictionary is d x (ista_expand*d)"),
    KEY_ENUM(model, patch_embed, "norm", "norm|linear",
             "image models: patch embedding LN -> Linear -> LN (CRATE) or Linear alone (CRATE-alpha)"),
    KEY_ENUM(model, pos_embed, "sincos", "sincos|learned", "position embedding: fixed 2D sin-cos or learned"),
    KEY_INT(model, vocab_size, "0", 0, 1 << 24, "text models: tokenizer vocabulary V; 0 takes the data.train tokenizer's"),
    KEY_INT(model, context, "256", 1, 1 << 20, "text models: tokens per window T (learned positions for T)"),
    KEY_FLOAT(model, init_std, "0.02", 0, 10, "std of the truncated-normal init of cls/mask tokens and learned positions (matrices: Xavier)"),

    /* init: where a fresh run's weights come from (pretrain/weight_import.h). */
    KEY_STRING(init, from, "",
               "safetensors file a fresh run starts from instead of the random init (crate or official CRATE "
               "names, crate-probe --export-safetensors); a resumed run ignores it"),

    /* objective: which pretraining objective drives the run (DESIGN §3). */
    KEY_ENUM(objective, name, "mae", "mae|gpt2|bert|dino|classify",
             "pretraining objective: masked autoencoding of images, causal language model, masked language model, "
             "self-distillation of images (DINO), supervised image classification (the CRATE classifier)"),

    /* mae: masked autoencoding; read only when objective.name is mae. */
    KEY_FLOAT(mae, mask_ratio, "0.75", 0, 0.99, "fraction of each image's patches that are masked"),
    KEY_ENUM(mae, encoder_input, "visible", "visible|all",
         "encoder sees only visible patches, or all with a mask token (CRATE-MAE)"),
    KEY_BOOL(mae, norm_pix_loss, "false", "normalise each target patch by its own mean and variance"),

    /* classify: the supervised CRATE classifier (cls -> final LayerNorm -> Linear) on the labels of
     * data.train; read only when objective.name is classify. */
    KEY_INT(classify, classes, "10", 2, 65536, "classes: the labels of data.train and data.test are 0 .. classes-1"),
    KEY_FLOAT(classify, label_smoothing, "0.1", 0, 0.999, "cross-entropy against (1-e)·onehot + e/classes"),
    KEY_INT(classify, crop_pad, "2", 0, 64, "random crop: the image padded by this many pixels (zeros), then cropped back"),
    KEY_FLOAT(classify, flip_prob, "0.5", 0, 1, "probability of a horizontal flip"),

    /* gpt2: the causal language model (CRATE-GPT); read only when objective.name is gpt2. */
    KEY_BOOL(gpt2, final_norm, "false", "LayerNorm after the last layer (CRATE-GPT has none)"),

    /* bert: the masked language model (CRATE-BERT); read only when objective.name is bert. */
    KEY_FLOAT(bert, mask_prob, "0.15", 0.001, 0.9, "fraction of each window's ordinary tokens selected for prediction"),
    KEY_FLOAT(bert, mask_token, "0.8", 0, 1, "fraction of the selected tokens replaced by the mask id"),
    KEY_FLOAT(bert, random_token, "0.1", 0, 1,
              "fraction of the selected tokens replaced by a random ordinary token (the rest stay as they are)"),
    KEY_ENUM(bert, head, "dense", "dense|tied",
             "MLM head: Dense, GELU, LayerNorm, then the tied decoder with a bias (CRATE-BERT), or the tied decoder alone"),
    KEY_BOOL(bert, final_norm, "true", "LayerNorm after the last encoder layer"),

    /* dino: self-distillation with an EMA teacher; read only when objective.name is dino. Views
     * (data/multicrop.h): random resized crops (bilinear), flip, brightness/contrast jitter, Gaussian
     * blur, solarization; the teacher sees the global crops only. */
    KEY_INT(dino, global_crops, "2", 1, 16, "global views per image (the teacher's)"),
    KEY_INT(dino, local_crops, "6", 0, 64, "local views per image (the student's alone)"),
    KEY_INT(dino, global_size, "28", 1, 4096, "side of a global view in pixels (a multiple of model.patch)"),
    KEY_INT(dino, local_size, "12", 1, 4096, "side of a local view in pixels (a multiple of model.patch)"),
    KEY_FLOAT(dino, global_scale_min, "0.4", 0.001, 1, "smallest area of a global crop, a fraction of the image"),
    KEY_FLOAT(dino, global_scale_max, "1", 0.001, 1, "largest area of a global crop"),
    KEY_FLOAT(dino, local_scale_min, "0.05", 0.001, 1, "smallest area of a local crop"),
    KEY_FLOAT(dino, local_scale_max, "0.4", 0.001, 1, "largest area of a local crop"),
    KEY_FLOAT(dino, ratio_min, "0.75", 0.01, 100, "smallest aspect ratio (width/height) of a crop, drawn log-uniformly"),
    KEY_FLOAT(dino, ratio_max, "1.3333333333", 0.01, 100, "largest aspect ratio of a crop"),
    KEY_FLOAT(dino, flip_prob, "0.5", 0, 1, "probability of a horizontal flip of a view"),
    KEY_FLOAT(dino, jitter_prob, "0.8", 0, 1, "probability of brightness and contrast jitter of a view"),
    KEY_FLOAT(dino, brightness, "0.4", 0, 1, "jitter: pixels scaled by a factor in [1-b, 1+b]"),
    KEY_FLOAT(dino, contrast, "0.4", 0, 1, "jitter: distance to the view's mean scaled by a factor in [1-c, 1+c]"),
    KEY_FLOAT(dino, blur_prob, "0.5", 0, 1, "probability of a Gaussian blur of a view"),
    KEY_FLOAT(dino, blur_sigma_min, "0.1", 0.01, 100, "smallest blur sigma, in pixels of the view"),
    KEY_FLOAT(dino, blur_sigma_max, "1", 0.01, 100, "largest blur sigma"),
    KEY_FLOAT(dino, solarize_prob, "0.2", 0, 1,
              "probability of solarizing (v >= 128 becomes 255 - v) a global view other than the first, as DINO"),
    KEY_ENUM(dino, head_input, "cls", "cls|mean",
             "what the projection head reads of each view: the cls token (DINO's) or the mean of its patch tokens"),
    KEY_INT(dino, out_dim, "1024", 2, 1 << 20, "prototypes K: width of the head's output"),
    KEY_INT(dino, hidden_dim, "512", 1, 1 << 20, "width of the head's two hidden layers"),
    KEY_INT(dino, bottleneck_dim, "128", 1, 1 << 20, "width of the L2-normalized bottleneck before the prototypes"),
    KEY_FLOAT(dino, momentum, "0.996", 0, 1, "teacher EMA momentum at step 0; a cosine takes it to 1 at schedule.steps"),
    KEY_FLOAT(dino, teacher_temp, "0.04", 0.001, 10, "teacher softmax temperature after its warmup"),
    KEY_FLOAT(dino, warmup_teacher_temp, "0.04", 0.001, 10, "teacher temperature at step 0"),
    KEY_INT(dino, teacher_temp_warmup_steps, "0", 0, BIG, "steps of linear warmup from warmup_teacher_temp to teacher_temp"),
    KEY_FLOAT(dino, student_temp, "0.1", 0.001, 10, "student softmax temperature"),
    KEY_FLOAT(dino, center_momentum, "0.9", 0, 1, "EMA momentum of the center (the teacher outputs' mean)"),
    KEY_INT(dino, freeze_last_layer, "0", 0, BIG, "steps during which the prototypes (the head's last layer) do not train"),
    KEY_FLOAT(dino, weight_decay_end, "0.4", 0, 10,
              "weight decay at schedule.steps: a cosine from optim.weight_decay (dino only)"),

    /* data: shard files (DESIGN §6) and how the reader stays ahead. */
    KEY_STRING(data, train, NULL, "training dataset: a shard directory (crate-data) or one shard file"),
    KEY_STRING(data, test, "", "held-out images (shard directory or file) for the k-NN monitor; empty for none"),
    KEY_STRING(data, val, "", "held-out tokens (crate-data text/kjv folder) for the text objectives' eval; empty for none"),
    KEY_INT(data, prefetch, "2", 0, 64, "batches prepared ahead by the prefetch thread"),
    KEY_INT(data, cache_mb, "512", 0, 1048576, "MiB of decompressed shard blocks kept in memory"),

    /* optim: AdamW (decoupled weight decay) with global-norm gradient clipping. */
    KEY_FLOAT(optim, lr, "1e-3", 0, 10, "peak learning rate, reached after warmup"),
    KEY_FLOAT(optim, min_lr, "1e-5", 0, 10, "learning rate at the end of the cosine decay"),
    KEY_FLOAT(optim, weight_decay, "0.05", 0, 10, "AdamW weight decay of matrices"),
    KEY_FLOAT(optim, beta1, "0.9", 0, 0.999999, "AdamW first-moment decay"),
    KEY_FLOAT(optim, beta2, "0.95", 0, 0.999999, "AdamW second-moment decay"),
    KEY_FLOAT(optim, eps, "1e-8", 1e-30, 1, "AdamW denominator epsilon"),
    KEY_FLOAT(optim, clip, "1.0", 0, 1e6, "clip the global gradient norm to this; 0 disables"),

    /* schedule: the length of the run and its batch, which fix the LR curve
     * and, with the seed, which samples every step consumes. */
    KEY_INT(schedule, steps, "1000", 1, BIG, "total optimizer steps the LR schedule is planned for"),
    KEY_INT(schedule, warmup_steps, "50", 0, BIG, "steps of linear LR warmup"),
    KEY_INT(schedule, global_batch, "64", 1, 1048576, "samples per step summed over all ranks"),
    KEY_INT(schedule, micro_batch, "0", 0, 1048576,
            "samples per forward/backward on a rank; 0 = the rank's whole share (no gradient accumulation)"),

    /* dist: how each MPI rank uses its cores (DESIGN §9). */
    KEY_INT(dist, threads_per_rank, "0", 0, 4096, "compute threads per rank; 0 means the node's cores / its ranks"),
    KEY_INT(dist, zero, "0", 0, 1, "1: shard AdamW state across ranks (ZeRO-1: reduce to owners, update own range, allgather)"),
    KEY_FLOAT(dist, bucket_mb, "4", 0.001, 8192, "MiB of gradients per non-blocking allreduce bucket (at most; at least 8 buckets)"),
    KEY_BOOL(dist, overlap, "true", "start each bucket's allreduce during backward (false: all after backward)"),

    /* compute: which library runs the GEMMs, at which precision (src/kernels/gemm.h). */
    KEY_ENUM(compute, gemm, "auto", "auto|openblas|onednn",
             "GEMM backend: onednn (the fastest here, README Speed), openblas (the reference); auto: "
             "$CRATE_GEMM if set, else onednn when built"),
    KEY_ENUM(compute, precision, "auto", "auto|fp32|bf16",
             "GEMM operands: fp32, or bf16 (onednn only; fp32 accumulation, weights, optimizer and losses); "
             "auto: $CRATE_PRECISION if set, else fp32"),

    /* checkpoint: sharded, checksummed, resumable on any rank count (DESIGN §7). */
    KEY_INT(checkpoint, every, "0", 0, BIG, "save every this many steps (0: only at the end, on a signal or run.stop_after)"),
    KEY_INT(checkpoint, keep_last, "3", 1, 1000000, "committed checkpoints kept; older ones are pruned after a save"),
    KEY_STRING(checkpoint, resume, "auto",
               "auto: newest usable checkpoint in run.dir/ckpt, else start fresh; none; or a checkpoint folder"),
    KEY_INT(checkpoint, level, "0", 0, 12, "lz4 level of the shard files (0: fast default; 3-12: lz4hc, slower)"),

    /* eval: the k-NN monitor of the encoder while it trains (DINO protocol). */
    KEY_INT(eval, every, "0", 0, BIG,
            "evaluate every this many steps, into metrics.jsonl (0: off): images k-NN top-1 (needs data.test), "
            "text validation loss (needs data.val)"),
    KEY_INT(eval, train_samples, "5000", 1, BIG, "first images of data.train that form the k-NN memory bank"),
    KEY_INT(eval, test_samples, "1000", 1, BIG, "first images of data.test that are classified"),
    KEY_INT(eval, knn, "20", 1, 10000, "neighbours that vote"),
    KEY_INT(eval, val_windows, "256", 1, BIG, "text: the first windows of data.val scored (the same every time)"),
    KEY_ENUM(eval, feature, "mean", "cls|mean|cls+mean",
             "image feature: MAE trains its cls token only through reconstruction, so mean pooling tells more"),
    KEY_INT(eval, whitebox, "0", 0, 100000,
            "at every eval.every, each layer's R^c, sparsity and R(Z) (crate-analyze's measures) over this many "
            "first images of data.test or windows of data.val, into metrics.jsonl as "
            "rc_L, sparsity_L, coding_rate_L (0: off)"),

    /* log: progress output. */
    KEY_INT(log, every, "10", 1, BIG, "print and record metrics every this many steps"),
};

#define TRAIN_NKEYS (sizeof train_schema / sizeof train_schema[0])

static int check_heads(const train_config *cfg, const config_sources *src) {
    const train_model_config *m = &cfg->model;
    if (m->head_dim != 0 || m->dim % m->heads == 0) return CRATE_OK;
    return crate_fail(CRATE_EINPUT,
                      "model.dim = %lld (%s) is not divisible by model.heads = %lld (%s): change one of them, "
                      "or set model.head_dim",
                      (long long)m->dim, config_where(src, "model.dim"), (long long)m->heads,
                      config_where(src, "model.heads"));
}

static int check_lr(const train_config *cfg, const config_sources *src) {
    if (cfg->optim.min_lr <= cfg->optim.lr) return CRATE_OK;
    return crate_fail(CRATE_EINPUT,
                      "optim.min_lr = %g (%s) is above optim.lr = %g (%s): the schedule decays from lr down to min_lr",
                      cfg->optim.min_lr, config_where(src, "optim.min_lr"), cfg->optim.lr,
                      config_where(src, "optim.lr"));
}

static int check_bert(const train_config *cfg, const config_sources *src) {
    if (cfg->bert.mask_token + cfg->bert.random_token <= 1.0) return CRATE_OK;
    return crate_fail(CRATE_EINPUT,
                      "bert.mask_token = %g (%s) plus bert.random_token = %g (%s) is more than 1: they are fractions "
                      "of the selected tokens (0.8 and 0.1 in BERT; the rest stay unchanged)",
                      cfg->bert.mask_token, config_where(src, "bert.mask_token"), cfg->bert.random_token,
                      config_where(src, "bert.random_token"));
}

/* DINO's views are grids of whole patches, and both grids take their
 * positions from the fixed sin-cos table (a learned table has one grid). */
static int check_dino(const train_config *cfg, const config_sources *src) {
    const train_dino_config *d = &cfg->dino;
    if (cfg->objective.name != TRAIN_OBJECTIVE_DINO) return CRATE_OK;
    int64_t p = cfg->model.patch;
    const char *key = d->global_size % p ? "dino.global_size" : d->local_size % p ? "dino.local_size" : NULL;
    if (key)
        return crate_fail(CRATE_EINPUT, "%s = %lld (%s) is not a multiple of model.patch = %lld (%s): a view must "
                          "be a grid of whole patches", key, (long long)(key[5] == 'g' ? d->global_size : d->local_size),
                          config_where(src, key), (long long)p, config_where(src, "model.patch"));
    const struct {
        const char *lo_key, *hi_key;
        double lo, hi;
    } ranges[] = {
        {"dino.global_scale_min", "dino.global_scale_max", d->global_scale_min, d->global_scale_max},
        {"dino.local_scale_min", "dino.local_scale_max", d->local_scale_min, d->local_scale_max},
        {"dino.ratio_min", "dino.ratio_max", d->ratio_min, d->ratio_max},
        {"dino.blur_sigma_min", "dino.blur_sigma_max", d->blur_sigma_min, d->blur_sigma_max},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (ranges[i].lo > ranges[i].hi)
            return crate_fail(CRATE_EINPUT, "%s = %g (%s) is above %s = %g (%s): a range goes from min to max",
                              ranges[i].lo_key, ranges[i].lo, config_where(src, ranges[i].lo_key), ranges[i].hi_key,
                              ranges[i].hi, config_where(src, ranges[i].hi_key));
    if (d->global_crops + d->local_crops < 2)
        return crate_fail(CRATE_EINPUT, "dino.global_crops = %lld (%s) with dino.local_crops = %lld (%s): the loss "
                          "pairs different views of an image, so it needs at least 2", (long long)d->global_crops,
                          config_where(src, "dino.global_crops"), (long long)d->local_crops,
                          config_where(src, "dino.local_crops"));
    if (cfg->model.pos_embed != TRAIN_POS_EMBED_SINCOS)
        return crate_fail(CRATE_EINPUT, "model.pos_embed = learned (%s): dino's global and local views are grids of "
                          "different sizes, each with its sin-cos positions; set model.pos_embed: sincos",
                          config_where(src, "model.pos_embed"));
    return CRATE_OK;
}

int train_config_is_text(const train_config *cfg) {
    return cfg->objective.name == TRAIN_OBJECTIVE_GPT2 || cfg->objective.name == TRAIN_OBJECTIVE_BERT;
}

const char *train_config_objective_name(const train_config *cfg) {
    /* indexed by enum train_objective, the order of objective.name's choices */
    static const char *const names[] = {"mae", "gpt2", "bert", "dino", "classify"};
    int i = cfg->objective.name;
    return i >= 0 && i < (int)(sizeof names / sizeof *names) ? names[i] : "unknown";
}

static int check_eval(const train_config *cfg, const config_sources *src) {
    int text = train_config_is_text(cfg);
    if (cfg->eval.whitebox > 0 && cfg->eval.every == 0)
        return crate_fail(CRATE_EINPUT, "eval.whitebox = %lld (%s) is measured at every eval.every, which is 0: set "
                          "eval.every too", (long long)cfg->eval.whitebox, config_where(src, "eval.whitebox"));
    if (cfg->eval.every == 0 || (text ? cfg->data.val[0] : cfg->data.test[0])) return CRATE_OK;
    if (text)
        return crate_fail(CRATE_EINPUT, "eval.every = %lld (%s) needs held-out text: set data.val (the val folder "
                          "crate-data kjv/text wrote), or eval.every=0", (long long)cfg->eval.every,
                          config_where(src, "eval.every"));
    return crate_fail(CRATE_EINPUT, "eval.every = %lld (%s) needs held-out images: set data.test (a crate-data folder)",
                      (long long)cfg->eval.every, config_where(src, "eval.every"));
}

static int check_warmup(const train_config *cfg, const config_sources *src) {
    if (cfg->schedule.warmup_steps <= cfg->schedule.steps) return CRATE_OK;
    return crate_fail(CRATE_EINPUT,
                      "schedule.warmup_steps = %lld (%s) is more than schedule.steps = %lld (%s): shorten the "
                      "warmup or plan more steps",
                      (long long)cfg->schedule.warmup_steps, config_where(src, "schedule.warmup_steps"),
                      (long long)cfg->schedule.steps, config_where(src, "schedule.steps"));
}

/* Checkpoint folders are listed one per line (src/ckpt/checkpoint.c): a
 * newline in run.dir would split its own path. */
static int check_run_dir(const train_config *cfg, const config_sources *src) {
    if (!strchr(cfg->run.dir, '\n')) return CRATE_OK;
    return crate_fail(CRATE_EINPUT, "run.dir (%s) contains a line break: name the folder without one",
                      config_where(src, "run.dir"));
}

static int check_rules(train_config *cfg, config_sources *src) {
    int rc = check_run_dir(cfg, src);
    if (rc == CRATE_OK) rc = check_heads(cfg, src);
    if (rc == CRATE_OK) rc = check_lr(cfg, src);
    if (rc == CRATE_OK) rc = check_warmup(cfg, src);
    if (rc == CRATE_OK) rc = check_eval(cfg, src);
    if (rc == CRATE_OK) rc = check_bert(cfg, src);
    if (rc == CRATE_OK) rc = check_dino(cfg, src);
    if (rc != CRATE_OK) config_sources_free(src);
    return rc;
}

int train_config_load(train_config *cfg, config_sources *src, const char *path, int noverrides, char **overrides) {
    memset(cfg, 0, sizeof *cfg);
    int rc = config_load(train_schema, TRAIN_NKEYS, cfg, path, noverrides, overrides, src);
    return rc == CRATE_OK ? check_rules(cfg, src) : rc;
}

int train_config_load_text(train_config *cfg, config_sources *src, const char *text, const char *name) {
    memset(cfg, 0, sizeof *cfg);
    int rc = config_load_text(train_schema, TRAIN_NKEYS, cfg, text, name, src);
    return rc == CRATE_OK ? check_rules(cfg, src) : rc;
}

void train_config_help(FILE *out) { config_print_help(out, train_schema, TRAIN_NKEYS); }

char *train_config_yaml(const train_config *cfg) { return config_to_yaml(train_schema, TRAIN_NKEYS, cfg); }
