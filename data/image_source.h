/* image_source.h — image batches (data/loader.h's image_batch) as a
 * batch_source: the shuffled image loader with its prefetch thread behind the
 * interface the trainer uses. Objectives that read images (MAE, classify,
 * DINO's views are made from them) open it. */
#ifndef CRATE_DATA_IMAGE_SOURCE_H
#define CRATE_DATA_IMAGE_SOURCE_H

#include "data/batch_source.h"

/* Opens cfg->path; batches are const image_batch *. */
int image_source_open(batch_source **out, const batch_source_config *cfg);

/* The image shape of a dataset, from its shard headers (a model is declared
 * before its source is opened at the resumed step). */
int image_source_shape(const char *path, int *C, int *H, int *W);

#endif
