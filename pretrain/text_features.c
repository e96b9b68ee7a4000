/* text_features.c — see text_features.h. */
#include "pretrain/text_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"

int text_set_read(text_set *s, const char *dir, const frozen_text *ft) {
    memset(s, 0, sizeof *s);
    int rc = labelled_text_read(&s->text, dir);
    if (rc != CRATE_OK) return rc;
    int bos = spm_bos_id(ft->spm);
    if (bos < 0)
        rc = crate_fail(CRATE_EINPUT, "the checkpoint's tokenizer has no bos id, which starts every document the "
                        "model was trained on");
    s->n = s->text.count;
    s->start = crate_malloc((size_t)s->n * sizeof *s->start + 1, "token offsets");
    s->len = crate_malloc((size_t)s->n * sizeof *s->len + 1, "token counts");
    /* A text has at most T tokens, so n·T bounds them all. */
    s->ids = crate_malloc((size_t)s->n * (size_t)ft->T * sizeof *s->ids + 1, "tokens");
    if (rc == CRATE_OK && (!s->start || !s->len || !s->ids)) rc = CRATE_EINTERNAL;
    int64_t at = 0;
    for (int i = 0; rc == CRATE_OK && i < s->n; i++) {
        size_t bytes, n;
        const char *text = labelled_text_record(&s->text, i, &bytes);
        int32_t *ids;
        rc = spm_encode(ft->spm, text, bytes, &ids, &n);
        if (rc != CRATE_OK) {
            rc = crate_fail_context(rc, "%s: tokenizing text %d", dir, i + 1);
            break;
        }
        int keep = n + 1 > (size_t)ft->T ? ft->T : (int)n + 1;
        s->truncated += n + 1 > (size_t)ft->T;
        s->start[i] = at;
        s->len[i] = keep;
        s->ids[at] = bos;
        if (keep > 1) memcpy(s->ids + at + 1, ids, (size_t)(keep - 1) * sizeof *ids);
        at += keep;
        free(ids);
    }
    if (rc != CRATE_OK) text_set_free(s);
    return rc;
}

void text_set_free(text_set *s) {
    labelled_text_free(&s->text);
    free(s->ids);
    free(s->start);
    free(s->len);
    memset(s, 0, sizeof *s);
}

int text_features_dim(const frozen_text *ft, int layers) { return ft->enc.d * layers; }

/* ---- encodings ------------------------------------------------------------------- */

typedef struct {
    int len, i;
} text_length;

/* Shorter first; equal lengths in the set's order (a stable sort). */
static int by_length(const void *a, const void *b) {
    const text_length *x = a, *y = b;
    return x->len != y->len ? (x->len > y->len) - (x->len < y->len) : (x->i > y->i) - (x->i < y->i);
}

/* The pool of one text's rows x (T, d). */
static void pool_rows(const float *x, int T, int d, text_pool pool, float *out) {
    if (pool != TEXT_POOL_MEAN) {
        memcpy(out, x + (size_t)(pool == TEXT_POOL_FIRST ? 0 : T - 1) * d, (size_t)d * sizeof(float));
        return;
    }
    memset(out, 0, (size_t)d * sizeof(float));
    for (int t = 0; t < T; t++)
        for (int j = 0; j < d; j++) out[j] += x[(size_t)t * d + j];
    for (int j = 0; j < d; j++) out[j] /= (float)T;
}

/* One batch: texts order[lo, hi), all of length T, into rows X (hi − lo, f). */
static void encode_batch(frozen_text *ft, const text_set *s, const int *order, int lo, int hi, text_pool pool,
                         int layers, int32_t *ids, float *X) {
    int B = hi - lo, T = s->len[order[lo]], d = ft->enc.d, depth = ft->enc.stack.depth, f = d * layers;
    for (int b = 0; b < B; b++)
        memcpy(ids + (size_t)b * T, s->ids + s->start[order[lo + b]], (size_t)T * sizeof *ids);
    text_encoder_forward(&ft->enc, &ft->ps, ids, B, T);
    for (int l = 0; l < layers; l++) {
        const float *x =
            l == 0 ? text_encoder_output(&ft->enc) : block_stack_layer_output(&ft->enc.stack, depth - 1 - l);
        for (int b = 0; b < B; b++) pool_rows(x + (size_t)b * T * d, T, d, pool, X + (size_t)b * f + (size_t)l * d);
    }
}

int text_features_encode(const comm_info *c, frozen_text *ft, const text_set *s, text_pool pool, int layers,
                         feature_set *out) {
    memset(out, 0, sizeof *out);
    int n = s->n, f = text_features_dim(ft, layers), B = ft->batch;
    out->n = n, out->f = f;
    text_length *byl = crate_malloc((size_t)n * sizeof *byl + 1, "text order");
    int *order = crate_malloc((size_t)n * sizeof *order + 1, "text order");
    int *cut = crate_malloc(((size_t)n + 1) * sizeof *cut, "batches"); /* batch k is order[cut[k], cut[k+1]) */
    int rc = byl && order && cut ? CRATE_OK : CRATE_EINTERNAL, nb = 0;
    if (rc == CRATE_OK) {
        for (int i = 0; i < n; i++) byl[i] = (text_length){s->len[i], i};
        qsort(byl, (size_t)n, sizeof *byl, by_length);
        for (int i = 0; i < n; i++) {
            order[i] = byl[i].i;
            if (i == 0 || byl[i].len != byl[i - 1].len || i - cut[nb - 1] == B) cut[nb++] = i;
        }
        cut[nb] = n;
    }
    free(byl);
    int k0 = (int)((int64_t)c->rank * nb / c->world), k1 = (int)((int64_t)(c->rank + 1) * nb / c->world);
    int first = rc == CRATE_OK ? cut[k0] : 0, end = rc == CRATE_OK ? cut[k1] : 0;
    float *X = crate_malloc((size_t)(end - first) * f * sizeof(float) + 1, "features");
    int32_t *ids = crate_malloc((size_t)B * ft->T * sizeof *ids, "token batch");
    if (rc == CRATE_OK && (!X || !ids)) rc = CRATE_EINTERNAL;
    for (int k = k0; rc == CRATE_OK && k < k1; k++)
        encode_batch(ft, s, order, cut[k], cut[k + 1], pool, layers, ids, X + (size_t)(cut[k] - first) * f);
    free(ids);
    /* Rank 0 receives the rows in sorted order, then puts row k at order[k]. */
    float *sorted = NULL;
    if (rc == CRATE_OK && c->rank == 0) {
        sorted = crate_malloc((size_t)n * f * sizeof(float) + 1, "features");
        out->X = crate_malloc((size_t)n * f * sizeof(float) + 1, "features");
        out->y = crate_malloc((size_t)n * sizeof(int) + 1, "labels");
        if (!sorted || !out->X || !out->y) rc = CRATE_EINTERNAL;
    }
    rc = comm_agree_message(c, rc);
    if (rc == CRATE_OK) probe_features_gather_rows(X, first, end, n, (size_t)f * sizeof(float), sorted);
    if (rc == CRATE_OK && c->rank == 0) {
        for (int k = 0; k < n; k++)
            memcpy(out->X + (size_t)order[k] * f, sorted + (size_t)k * f, (size_t)f * sizeof(float));
        memcpy(out->y, s->text.label, (size_t)n * sizeof(int));
    }
    free(sorted);
    free(X);
    free(order);
    free(cut);
    if (rc != CRATE_OK) feature_set_free(out);
    return rc;
}

/* ---- bag of words ---------------------------------------------------------------- */

int text_features_counts(const text_set *s, int V, feature_set *out) {
    memset(out, 0, sizeof *out);
    out->n = s->n, out->f = V;
    out->X = crate_calloc((size_t)s->n * V + 1, sizeof(float), "token counts");
    out->y = crate_malloc((size_t)s->n * sizeof(int) + 1, "labels");
    if (!out->X || !out->y) {
        feature_set_free(out);
        return CRATE_EINTERNAL;
    }
    for (int i = 0; i < s->n; i++) {
        float *row = out->X + (size_t)i * V;
        for (int t = 1; t < s->len[i]; t++) row[s->ids[s->start[i] + t]] += 1.0f; /* t = 0 is bos */
        out->y[i] = s->text.label[i];
    }
    return CRATE_OK;
}

/* Rows of s scaled by idf, then to unit length (an empty row stays 0). */
static void tfidf_rows(feature_set *s, const double *idf) {
    for (int i = 0; i < s->n; i++) {
        float *row = s->X + (size_t)i * s->f;
        double norm = 0;
        for (int j = 0; j < s->f; j++) {
            row[j] = (float)(row[j] * idf[j]);
            norm += (double)row[j] * row[j];
        }
        float scale = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0.0f;
        for (int j = 0; j < s->f; j++) row[j] *= scale;
    }
}

int text_features_tfidf(feature_set *train, feature_set *test) {
    int V = train->f;
    double *idf = crate_calloc((size_t)V + 1, sizeof *idf, "idf");
    if (!idf) return CRATE_EINTERNAL;
    for (int i = 0; i < train->n; i++)
        for (int j = 0; j < V; j++) idf[j] += train->X[(size_t)i * V + j] > 0; /* df_j for now */
    for (int j = 0; j < V; j++) idf[j] = log((1.0 + train->n) / (1.0 + idf[j])) + 1.0;
    tfidf_rows(train, idf);
    tfidf_rows(test, idf);
    free(idf);
    return CRATE_OK;
}
