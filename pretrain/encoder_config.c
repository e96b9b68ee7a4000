/* encoder_config.c — see encoder_config.h. */
#include "pretrain/encoder_config.h"

static block_kind block_kind_of(const train_config *cfg) {
    return cfg->model.block == TRAIN_BLOCK_CRATE_ALPHA ? BLOCK_CRATE_ALPHA : BLOCK_CRATE;
}

static int head_dim(const train_config *cfg) {
    return cfg->model.head_dim > 0 ? (int)cfg->model.head_dim : (int)(cfg->model.dim / cfg->model.heads);
}

image_encoder_config encoder_config_for_images(const train_config *cfg, int C, int H, int W) {
    int d = (int)cfg->model.dim, heads = (int)cfg->model.heads;
    return (image_encoder_config){
        .embed = {C, H, W, (int)cfg->model.patch, d, cfg->model.pos_embed == TRAIN_POS_EMBED_LEARNED,
                  cfg->objective.name == TRAIN_OBJECTIVE_MAE && cfg->mae.encoder_input == TRAIN_MAE_INPUT_ALL,
                  cfg->model.patch_embed == TRAIN_PATCH_EMBED_LINEAR},
        .block = {d, heads, head_dim(cfg), 0, (float)cfg->model.eta, (float)cfg->model.lambda, block_kind_of(cfg),
                  (int)cfg->model.ista_expand},
        .depth = (int)cfg->model.depth,
    };
}

text_encoder_config encoder_config_for_text(const train_config *cfg, int vocab) {
    const train_model_config *m = &cfg->model;
    int causal = cfg->objective.name == TRAIN_OBJECTIVE_GPT2; /* bert: bidirectional */
    return (text_encoder_config){
        .vocab = vocab, .context = (int)m->context, .depth = (int)m->depth,
        .block = {.d = (int)m->dim, .heads = (int)m->heads, .head_dim = head_dim(cfg),
                  .causal = causal, .eta = (float)m->eta,
                  .lambda = (float)m->lambda, .kind = block_kind_of(cfg), .expand = (int)m->ista_expand,
                  .skip_final_norm = !(causal ? cfg->gpt2.final_norm : cfg->bert.final_norm)},
    };
}
