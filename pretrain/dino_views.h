/* dino_views.h — DINO's views as a run's config describes them: the
 * multicrop_config of the dino.* keys (data/multicrop.h), and a contact
 * sheet that shows what the augmentation does to a few images
 * (crate-views).
 */
#ifndef CRATE_DINO_VIEWS_H
#define CRATE_DINO_VIEWS_H

#include <stdint.h>
#include <stdio.h>

#include "data/multicrop.h"
#include "pretrain/train_config.h"

/* cfg->dino's view keys as a multicrop_config (no checks: multicrop_check). */
multicrop_config dino_multicrop_config(const train_config *cfg);

/* The gray of a sheet's background and padding. */
#define DINO_SHEET_GRAY 128
/* Pixels between cells and around the sheet. */
#define DINO_SHEET_MARGIN 2

/* Renders the views of samples first … first + images − 1 of data.train, as
 * the trainer draws them in epoch 0 with run.seed, into the PNG at path: one
 * row per image, with cells of side max(global_size, local_size, the shown
 * original) separated by DINO_SHEET_MARGIN gray pixels: the original
 * (upscaled nearest-neighbour so its longer side is global_size if it is
 * smaller, else as is), then global views 0 … G−1, then local views, each at
 * its own size, centred in its cell on gray. Images of 3 or more channels
 * are drawn in RGB from their first three, others in gray from channel 0.
 * report (may be NULL) gets one line per image with what each view drew.
 * *width and *height (may be NULL) receive the sheet's size. */
int dino_views_sheet(const train_config *cfg, uint64_t first, int images, const char *path, FILE *report,
                     int *width, int *height);

#endif
