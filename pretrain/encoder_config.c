/* encoder_config.c — see encoder_config.h. */
#include "pretrain/encoder_config.h"

image_encoder_config encoder_config_for_images(const train_config *cfg, int C, int H, int W) {
    int d = (int)cfg->model.dim, heads = (int)cfg->model.heads;
    int head_dim = cfg->model.head_dim > 0 ? (int)cfg->model.head_dim : d / heads;
    return (image_encoder_config){
        .embed = {C, H, W, (int)cfg->model.patch, d, cfg->model.pos_embed == TRAIN_POS_EMBED_LEARNED,
                  cfg->mae.encoder_input == TRAIN_MAE_INPUT_ALL},
        .block = {d, heads, head_dim, 0, (float)cfg->model.eta, (float)cfg->model.lambda},
        .depth = (int)cfg->model.depth,
    };
}
