/* mae.h — the MAE objective (pretrain/mae.c) beyond the objective
 * interface: its prediction of a batch, for pictures of what a saved model
 * reconstructs (pretrain/mae_reconstruct.h). The objective itself is made by
 * mae_objective_create (pretrain/objective.h).
 */
#ifndef CRATE_MAE_H
#define CRATE_MAE_H

#include <stdint.h>

#include "data/loader.h"
#include "pretrain/objective.h"

/* What a MAE objective made of `batch` (at most its micro-batch): each
 * sample's mask as training draws it (run seed, batch->epochs, sample ids),
 * the decoder's prediction of every patch, patches (n, num_patches, P) on
 * the pixel scale of patchify_images (a norm_pix_loss prediction mapped back
 * with the patch's own mean and spread), visible (n, num_patches) 1 = the
 * encoder saw the patch, and the loss of the masked patches. */
int mae_objective_predict(objective *o, const param_store *ps, const image_batch *batch, float *patches,
                          uint8_t *visible, objective_loss *loss);

#endif
