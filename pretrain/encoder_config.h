/* encoder_config.h — the image and text encoders a training config
 * describes, built in one place: the objectives train them, the frozen
 * encoders (crate-probe, crate-generate, the k-NN monitor) rebuild them from a
 * checkpoint's stored config, and both must declare exactly the same tensors.
 */
#ifndef CRATE_ENCODER_CONFIG_H
#define CRATE_ENCODER_CONFIG_H

#include "encoders/image_encoder.h"
#include "encoders/text_encoder.h"
#include "pretrain/train_config.h"

/* model.* (and mae.encoder_input, which adds the mask token) for (C,H,W) images. */
image_encoder_config encoder_config_for_images(const train_config *cfg, int C, int H, int W);
/* model.* and gpt2.final_norm for a vocabulary of V ids; causal for gpt2. */
text_encoder_config encoder_config_for_text(const train_config *cfg, int vocab);

#endif
