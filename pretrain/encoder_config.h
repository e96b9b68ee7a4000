/* encoder_config.h — the image encoder a training config describes, built in
 * one place: the MAE objective trains it, the frozen encoder (crate-probe and
 * the k-NN monitor) rebuilds it from a checkpoint's stored config, and both
 * must declare exactly the same tensors.
 */
#ifndef CRATE_ENCODER_CONFIG_H
#define CRATE_ENCODER_CONFIG_H

#include "encoders/image_encoder.h"
#include "pretrain/train_config.h"

/* model.* (and mae.encoder_input, which adds the mask token) for (C,H,W) images. */
image_encoder_config encoder_config_for_images(const train_config *cfg, int C, int H, int W);

#endif
