/* multicrop_source.h — image batches with their multi-crop views, as a
 * batch_source (DINO). The image loader (data/loader.h) serves the images of
 * each step; the views (data/multicrop.h) are computed from them in the same
 * prefetch worker thread, into buffers of the same ring slot, so the training
 * thread receives them ready. Views depend only on (seed, epoch, sample id,
 * view), so the batches of a step are the same on any rank count, with any
 * prefetch depth and after a resume.
 */
#ifndef CRATE_DATA_MULTICROP_SOURCE_H
#define CRATE_DATA_MULTICROP_SOURCE_H

#include "data/batch_source.h"
#include "data/loader.h"
#include "data/multicrop.h"

typedef struct {
    const image_batch *images; /* the n source images: labels, sample ids, epochs */
    int n, C, global_crops, local_crops, global_size, local_size;
    const float *global; /* (n, global_crops, C, global_size, global_size) */
    const float *local;  /* (n, local_crops, C, local_size, local_size); NULL when local_crops = 0 */
} multicrop_batch;

/* Opens cfg->path with the views of mc; batches are const multicrop_batch *;
 * micro() views a slice of samples without copying. */
int multicrop_source_open(batch_source **out, const batch_source_config *cfg, const multicrop_config *mc);

#endif
