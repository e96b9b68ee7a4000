/* train_config.h — the typed configuration of crate-pretrain (DESIGN §8).
 *
 * Defines: train_config, one nested struct per YAML section; the enums of its
 * choice keys (their values are indices into the schema's choices, in order);
 * train_config_load, which reads defaults, a YAML file and section.key=value
 * overrides through the config engine (src/config/config.h) and then checks the
 * rules that involve more than one key; train_config_help and
 * train_config_yaml. Every key, its default, range and meaning is in the
 * schema table in train_config.c, which is also what --help prints.
 */
#ifndef CRATE_TRAIN_CONFIG_H
#define CRATE_TRAIN_CONFIG_H

#include "src/config/config.h"

#include <stdint.h>
#include <stdio.h>

enum train_block { TRAIN_BLOCK_CRATE = 0, TRAIN_BLOCK_CRATE_ALPHA = 1 };
enum train_patch_embed { TRAIN_PATCH_EMBED_NORM = 0, TRAIN_PATCH_EMBED_LINEAR = 1 };
enum train_pos_embed { TRAIN_POS_EMBED_SINCOS = 0, TRAIN_POS_EMBED_LEARNED = 1 };
enum train_objective {
    TRAIN_OBJECTIVE_MAE = 0,
    TRAIN_OBJECTIVE_GPT2 = 1,
    TRAIN_OBJECTIVE_BERT = 2,
    TRAIN_OBJECTIVE_DINO = 3,
    TRAIN_OBJECTIVE_CLASSIFY = 4
};
enum train_bert_head { TRAIN_BERT_HEAD_DENSE = 0, TRAIN_BERT_HEAD_TIED = 1 };
enum train_dino_head_input { TRAIN_DINO_HEAD_INPUT_CLS = 0, TRAIN_DINO_HEAD_INPUT_MEAN = 1 };
enum train_mae_input { TRAIN_MAE_INPUT_VISIBLE = 0, TRAIN_MAE_INPUT_ALL = 1 };

typedef struct {
    char dir[CONFIG_STRING_MAX];
    int64_t seed, stop_after;
} train_run_config;

typedef struct {
    int64_t dim, heads, head_dim, depth, decoder_depth, patch;
    int64_t vocab_size, context; /* text models */
    double eta, lambda;
    int block;       /* enum train_block */
    int64_t ista_expand;
    int patch_embed; /* enum train_patch_embed */
    int pos_embed;   /* enum train_pos_embed */
    double init_std;
} train_model_config;

typedef struct {
    char from[CONFIG_STRING_MAX]; /* "" : the random init */
} train_init_config;

typedef struct {
    int name; /* enum train_objective */
} train_objective_config;

typedef struct {
    double mask_ratio;
    int encoder_input; /* enum train_mae_input */
    int norm_pix_loss;
} train_mae_config;

typedef struct {
    int64_t classes, crop_pad;
    double label_smoothing, flip_prob;
} train_classify_config;

typedef struct {
    int final_norm;
} train_gpt2_config;

typedef struct {
    double mask_prob, mask_token, random_token;
    int head; /* enum train_bert_head */
    int final_norm;
} train_bert_config;

/* dino: views (data/multicrop.h), projection head, teacher and loss. */
typedef struct {
    int64_t global_crops, local_crops, global_size, local_size;
    double global_scale_min, global_scale_max, local_scale_min, local_scale_max, ratio_min, ratio_max;
    double flip_prob, jitter_prob, brightness, contrast, blur_prob, blur_sigma_min, blur_sigma_max, solarize_prob;
    int64_t out_dim, hidden_dim, bottleneck_dim;
    int head_input; /* enum train_dino_head_input */
    double momentum, teacher_temp, warmup_teacher_temp, student_temp, center_momentum, weight_decay_end;
    int64_t teacher_temp_warmup_steps, freeze_last_layer;
} train_dino_config;

typedef struct {
    char train[CONFIG_STRING_MAX], test[CONFIG_STRING_MAX], val[CONFIG_STRING_MAX];
    int64_t prefetch, cache_mb;
} train_data_config;

typedef struct {
    double lr, min_lr, weight_decay, beta1, beta2, eps, clip;
} train_optim_config;

typedef struct {
    int64_t steps, warmup_steps, global_batch, micro_batch;
} train_schedule_config;

typedef struct {
    int64_t threads_per_rank, zero;
    double bucket_mb;
    int overlap;
} train_dist_config;

typedef struct {
    int gemm;      /* enum gemm_backend (src/kernels/gemm.h): auto, openblas, onednn */
    int precision; /* enum gemm_precision: auto, fp32, bf16 */
} train_compute_config;

typedef struct {
    int64_t every, keep_last;
    char resume[CONFIG_STRING_MAX];
    int64_t level;
} train_checkpoint_config;

typedef struct {
    int64_t every, train_samples, test_samples, knn, val_windows, whitebox;
    int feature; /* enum feature_kind (pretrain/frozen_encoder.h): cls, mean, cls+mean */
} train_eval_config;

typedef struct {
    int64_t every;
} train_log_config;

typedef struct {
    train_run_config run;
    train_model_config model;
    train_init_config init;
    train_objective_config objective;
    train_mae_config mae;
    train_classify_config classify;
    train_gpt2_config gpt2;
    train_bert_config bert;
    train_dino_config dino;
    train_data_config data;
    train_optim_config optim;
    train_schedule_config schedule;
    train_dist_config dist;
    train_compute_config compute;
    train_checkpoint_config checkpoint;
    train_eval_config eval;
    train_log_config log;
} train_config;

/* Loads *cfg from the defaults, the YAML file at path (NULL: none) and
 * overrides[0..noverrides) ("model.depth=12"), then checks the cross-key
 * rules. model.head_dim stays as configured (0 means dim/heads). On success
 * *src says where each value came from (free with config_sources_free); on
 * failure returns CRATE_EINPUT (CRATE_EINTERNAL if out of memory) with the
 * message recorded and nothing to free. */
int train_config_load(train_config *cfg, config_sources *src, const char *path, int noverrides, char **overrides);

/* The same from YAML text (the config stored in a checkpoint manifest). */
/* 1 for the objectives with a text model (gpt2, bert). */
int train_config_is_text(const train_config *cfg);
/* objective.name as the config spells it: "mae", "gpt2", "bert", "dino" or "classify". */
const char *train_config_objective_name(const train_config *cfg);

int train_config_load_text(train_config *cfg, config_sources *src, const char *text, const char *name);

/* Every key with its type, range or choices, default and meaning. */
void train_config_help(FILE *out);

/* The resolved config as deterministic YAML (malloc'd; NULL with the message
 * recorded on failure). Loading this text gives back the same config. */
char *train_config_yaml(const train_config *cfg);

#endif
