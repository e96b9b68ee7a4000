/* mae_reconstruct.h — a picture of what a saved CRATE-MAE model makes of
 * images: for each image a row of three cells, the original, the masked
 * input (the patches the encoder does not see drawn gray) and the
 * reconstruction (the visible patches as they are, the masked ones as the
 * decoder predicts them). The mask of image i is the one training draws for
 * sample `first + i` of its data set in epoch 0 with the run's seed, so the
 * picture shows what the loss of those samples scored.
 */
#ifndef CRATE_MAE_RECONSTRUCT_H
#define CRATE_MAE_RECONSTRUCT_H

#include <stdint.h>

#include "data/shard.h"

enum { MAE_RECONSTRUCT_MAX = 256 };

/* Images first … first + n − 1 of ds (n ≤ MAE_RECONSTRUCT_MAX) through the
 * MAE model of checkpoint ckpt (its trained weights), drawn into the PNG at
 * path; *loss is their masked-patch loss (the training loss, on the scale
 * of the model's targets). Fails naming the checkpoint if it is not a MAE
 * run's or was trained on images of another shape. */
int mae_reconstruct_picture(const char *ckpt, image_dataset *ds, uint64_t first, int n, const char *path,
                            double *loss);

#endif
