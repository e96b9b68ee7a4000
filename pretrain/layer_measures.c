/* layer_measures.c — see layer_measures.h. Per-image values are kept (depth
 * × images × 3 doubles) and reduced in image order after the batches, so the
 * means do not depend on the thread count. */
#include "pretrain/layer_measures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/encoder_block.h"
#include "src/error.h"
#include "src/eval/whitebox.h"

enum { RC, SPARSITY, RATE, MEASURES };

/* Mean and sample standard deviation of n values, two passes in order. */
static void mean_std(const double *v, int n, int stride, double *mean, double *std) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[(size_t)i * stride];
    *mean = s / n;
    for (int i = 0; i < n; i++) q += (v[(size_t)i * stride] - *mean) * (v[(size_t)i * stride] - *mean);
    *std = n > 1 ? sqrt(q / (n - 1)) : 0;
}

int layer_measures_images(frozen_encoder *fe, image_dataset *ds, int images, encoder_measures *out) {
    memset(out, 0, sizeof *out);
    uint64_t count = image_dataset_count(ds);
    int n_img = (uint64_t)images < count ? images : (int)count;
    if (n_img < 1) return crate_fail(CRATE_EINPUT, "no images to measure (the data set is empty)");
    const encoder_block *first = block_stack_at(&fe->enc.stack, 0);
    int depth = fe->depth, N = 1 + fe->num_patches, d = fe->d, K = first->mssa.K, p = first->mssa.p;
    *out = (encoder_measures){depth, n_img, N, K, p, d, whitebox_compression_bound(K, p, WHITEBOX_EPS2), NULL};
    size_t image = (size_t)fe->C * fe->H * fe->W;
    double *per = crate_malloc((size_t)depth * n_img * MEASURES * sizeof *per, "layer measures");
    uint8_t *pixels = crate_malloc((size_t)fe->batch * image, "image batch");
    float *feature = crate_malloc((size_t)fe->batch * d * sizeof *feature, "features");
    out->layers = crate_calloc((size_t)depth, sizeof *out->layers, "layer measures");
    int rc = per && pixels && feature && out->layers ? CRATE_OK : CRATE_EINTERNAL;
    for (int at = 0; at < n_img && rc == CRATE_OK; at += fe->batch) {
        int n = n_img - at < fe->batch ? n_img - at : fe->batch;
        for (int i = 0; i < n && rc == CRATE_OK; i++) {
            int32_t label;
            rc = image_dataset_read(ds, (uint64_t)(at + i), pixels + (size_t)i * image, &label);
        }
        if (rc != CRATE_OK) break;
        /* The forward pass; the measures read its activations, layer by layer. */
        frozen_encoder_features(fe, pixels, n, FEATURE_CLS, 1, feature);
#pragma omp parallel for collapse(2) schedule(dynamic)
        for (int l = 0; l < depth; l++)
            for (int b = 0; b < n; b++) {
                const encoder_block *blk = block_stack_at(&fe->enc.stack, l);
                const float *w = blk->mssa.proj_u.out + (size_t)b * N * K * p;
                const float *z = blk->out + (size_t)b * N * d;
                int width;
                const float *code = encoder_block_code(blk, &width);
                double *v = per + ((size_t)l * n_img + at + b) * MEASURES;
                v[RC] = whitebox_compression(w, N, K, p, WHITEBOX_EPS2);
                v[SPARSITY] = whitebox_sparsity(code + (size_t)b * N * width, (size_t)N * width);
                v[RATE] = whitebox_coding_rate(z, N, d, WHITEBOX_EPS2);
            }
    }
    for (int l = 0; l < depth && rc == CRATE_OK; l++) {
        const double *v = per + (size_t)l * n_img * MEASURES;
        layer_measure *m = &out->layers[l];
        mean_std(v + RC, n_img, MEASURES, &m->rc_mean, &m->rc_std);
        mean_std(v + SPARSITY, n_img, MEASURES, &m->sparsity_mean, &m->sparsity_std);
        mean_std(v + RATE, n_img, MEASURES, &m->rate_mean, &m->rate_std);
        if (!isfinite(m->rc_mean) || !isfinite(m->rate_mean))
            rc = crate_fail(CRATE_EINTERNAL, "layer %d: a logdet is not finite (out of memory?)", l);
    }
    free(per);
    free(pixels);
    free(feature);
    if (rc != CRATE_OK) encoder_measures_free(out);
    return rc;
}

void encoder_measures_free(encoder_measures *m) {
    free(m->layers);
    memset(m, 0, sizeof *m);
}
