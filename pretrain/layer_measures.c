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

/* Sizes *out for `samples` samples of N tokens through stack and allocates
 * the per-sample values (depth × samples × MEASURES). */
static double *begin(const block_stack *stack, int samples, int N, encoder_measures *out) {
    const encoder_block *first = block_stack_at(stack, 0);
    int K = first->mssa.K, p = first->mssa.p;
    *out = (encoder_measures){stack->depth, samples, N, K, p, stack->d, whitebox_compression_bound(K, p, WHITEBOX_EPS2),
                              NULL};
    out->layers = crate_calloc((size_t)stack->depth, sizeof *out->layers, "layer measures");
    double *per = crate_malloc((size_t)stack->depth * samples * MEASURES * sizeof *per, "layer measures");
    if (!out->layers || !per) {
        free(per);
        encoder_measures_free(out);
        return NULL;
    }
    return per;
}

/* The measures of samples at … at + n − 1 from the activations the forward
 * pass over them left in stack's layers. */
static void measure_batch(const block_stack *stack, const encoder_measures *m, int at, int n, double *per) {
    int N = m->tokens, K = m->heads, p = m->head_dim, d = m->d;
#pragma omp parallel for collapse(2) schedule(dynamic)
    for (int l = 0; l < m->depth; l++)
        for (int b = 0; b < n; b++) {
            const encoder_block *blk = block_stack_at(stack, l);
            const float *w = blk->mssa.proj_u.out + (size_t)b * N * K * p;
            const float *z = blk->out + (size_t)b * N * d;
            int width;
            const float *code = encoder_block_code(blk, &width);
            double *v = per + ((size_t)l * m->images + at + b) * MEASURES;
            v[RC] = whitebox_compression(w, N, K, p, WHITEBOX_EPS2);
            v[SPARSITY] = whitebox_sparsity(code + (size_t)b * N * width, (size_t)N * width);
            v[RATE] = whitebox_coding_rate(z, N, d, WHITEBOX_EPS2);
        }
}

/* Means and spreads over the samples, in sample order; frees per. */
static int finish(encoder_measures *out, double *per, int rc) {
    for (int l = 0; l < out->depth && rc == CRATE_OK; l++) {
        const double *v = per + (size_t)l * out->images * MEASURES;
        layer_measure *m = &out->layers[l];
        mean_std(v + RC, out->images, MEASURES, &m->rc_mean, &m->rc_std);
        mean_std(v + SPARSITY, out->images, MEASURES, &m->sparsity_mean, &m->sparsity_std);
        mean_std(v + RATE, out->images, MEASURES, &m->rate_mean, &m->rate_std);
        if (!isfinite(m->rc_mean) || !isfinite(m->rate_mean))
            rc = crate_fail(CRATE_EINTERNAL, "layer %d: a logdet is not finite (out of memory?)", l);
    }
    free(per);
    if (rc != CRATE_OK) encoder_measures_free(out);
    return rc;
}

int layer_measures_images(frozen_encoder *fe, image_dataset *ds, int images, encoder_measures *out) {
    memset(out, 0, sizeof *out);
    uint64_t count = image_dataset_count(ds);
    int n_img = (uint64_t)images < count ? images : (int)count;
    if (n_img < 1) return crate_fail(CRATE_EINPUT, "no images to measure (the data set is empty)");
    double *per = begin(&fe->enc.stack, n_img, 1 + fe->num_patches, out);
    size_t image = (size_t)fe->C * fe->H * fe->W;
    uint8_t *pixels = crate_malloc((size_t)fe->batch * image, "image batch");
    float *feature = crate_malloc((size_t)fe->batch * fe->d * sizeof *feature, "features");
    int rc = per && pixels && feature ? CRATE_OK : CRATE_EINTERNAL;
    for (int at = 0; at < n_img && rc == CRATE_OK; at += fe->batch) {
        int n = n_img - at < fe->batch ? n_img - at : fe->batch;
        for (int i = 0; i < n && rc == CRATE_OK; i++) {
            int32_t label;
            rc = image_dataset_read(ds, (uint64_t)(at + i), pixels + (size_t)i * image, &label);
        }
        if (rc != CRATE_OK) break;
        frozen_encoder_features(fe, pixels, n, FEATURE_CLS, 1, feature);
        measure_batch(&fe->enc.stack, out, at, n, per);
    }
    free(pixels);
    free(feature);
    return per ? finish(out, per, rc) : rc;
}

int layer_measures_texts(frozen_text *ft, token_dataset *ds, int windows, encoder_measures *out) {
    memset(out, 0, sizeof *out);
    token_dataset_stats st;
    token_dataset_get_stats(ds, &st);
    int T = ft->T;
    uint64_t have = st.tokens / (uint64_t)T;
    int n_win = (uint64_t)windows < have ? windows : (int)have;
    if (n_win < 1)
        return crate_fail(CRATE_EINPUT, "the token data holds %llu tokens, not one window of the model's context "
                          "%d", (unsigned long long)st.tokens, T);
    if (token_dataset_vocab(ds) > ft->enc.V)
        return crate_fail(CRATE_EINPUT, "the token data has a vocabulary of %d ids, the model %d: it was made with "
                          "another tokenizer than the checkpoint's", token_dataset_vocab(ds), ft->enc.V);
    double *per = begin(&ft->enc.stack, n_win, T, out);
    int32_t *ids = crate_malloc((size_t)ft->batch * T * sizeof *ids, "token batch");
    int rc = per && ids ? CRATE_OK : CRATE_EINTERNAL;
    for (int at = 0; at < n_win && rc == CRATE_OK; at += ft->batch) {
        int n = n_win - at < ft->batch ? n_win - at : ft->batch;
        rc = token_dataset_read(ds, (uint64_t)at * T, (size_t)n * T, ids);
        if (rc != CRATE_OK) break;
        text_encoder_forward(&ft->enc, &ft->ps, ids, n, T);
        measure_batch(&ft->enc.stack, out, at, n, per);
    }
    free(ids);
    return per ? finish(out, per, rc) : rc;
}

void encoder_measures_free(encoder_measures *m) {
    free(m->layers);
    memset(m, 0, sizeof *m);
}
