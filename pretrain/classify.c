/* classify.c — supervised CRATE: the image classifier of the CRATE paper
 * (Yu et al. 2023), trained on the labels of data.train.
 *
 *   x  = crop_flip(image)                     (data/crop_flip.h; RNG_AUGMENT)
 *   h  = LN(Z^L)[cls]                         the encoder's final LayerNorm, cls row
 *   z  = h Wᵀ + b                             head.weight (classes, d), head.bias
 *   ℓ  = −Σ_v q_v log softmax(z)_v,  q = (1 − ε)·onehot(y) + ε/classes
 *
 * The official classifier's head is LayerNorm then Linear on the cls token of
 * a transformer without a closing norm; here the encoder's closing LN is that
 * LayerNorm (the official-name export maps it to mlp_head.0). The loss is
 * reported as (Σ ℓ_i, B) (objective.h). eval.every runs the classifier on
 * the first eval.test_samples images of data.test, without augmentation,
 * split over the ranks: test top-1 (and the test loss) into metrics.jsonl.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/crop_flip.h"
#include "data/image_source.h"
#include "data/loader.h"
#include "data/shard.h"
#include "pretrain/encoder_config.h"
#include "pretrain/objective.h"
#include "src/error.h"
#include "src/kernels/kernels.h"

typedef struct {
    int B, classes, num_patches, d, C, H, W, pad;
    double flip_prob;
    float smoothing;
    uint64_t seed;
    arena arena;
    image_encoder enc;
    linear_layer head;
    uint8_t *augmented; /* (B, C, H, W) */
    float *patches;     /* (B, num_patches, P) */
    int *idx;           /* (B, num_patches): every patch, in order */
    float *cls;         /* (B, d) the cls rows of the encoding */
    int32_t *labels;    /* (B) */
    uint64_t *ids;      /* (B) sample ids of an evaluation batch */
    float *dlogits, *dcls, *denc, *scratch;
    double flops;
    /* eval.every: the held-out images */
    image_dataset *test;
    int64_t test_samples;
} classify_state;

/* The cls rows of the encoding (B, 1+np, d) → s->cls (B, d). */
static void gather_cls(classify_state *s, int B) {
    const float *enc = s->enc.stack.final_ln.out;
    for (int b = 0; b < B; b++)
        memcpy(s->cls + (size_t)b * s->d, enc + (size_t)b * (1 + s->num_patches) * s->d, (size_t)s->d * sizeof(float));
}

/* Encoder and head on s->augmented's first B images → s->head.out (B, classes). */
static void forward(classify_state *s, const param_store *ps, int B) {
    patchify_images(s->patches, s->augmented, B, s->C, s->H, s->W, s->enc.embed.patch);
    image_encoder_forward(&s->enc, ps, s->patches, s->idx, NULL, B, s->num_patches);
    gather_cls(s, B);
    linear_layer_forward(&s->head, ps, s->cls, B);
}

static int check_labels(const classify_state *s, const int32_t *labels, const uint64_t *ids, int B, const char *what) {
    for (int b = 0; b < B; b++)
        if (labels[b] < 0 || labels[b] >= s->classes)
            return crate_fail(CRATE_EINPUT, "%s: sample %llu has label %d, outside 0 .. %d: set classify.classes to "
                              "the number of classes", what, (unsigned long long)ids[b], (int)labels[b],
                              s->classes - 1);
    return CRATE_OK;
}

static int classify_forward_backward(objective *o, param_store *ps, const void *batch_ptr, objective_arm *arm,
                                     objective_loss *loss) {
    classify_state *s = o->state;
    const image_batch *batch = batch_ptr;
    int B = batch->n;
    size_t image = (size_t)s->C * s->H * s->W;
    if (B > s->B) return crate_fail(CRATE_EINTERNAL, "classify: batch of %d exceeds the %d it was built for", B, s->B);
    int rc = check_labels(s, batch->labels, batch->sample_ids, B, "data.train");
    if (rc != CRATE_OK) return rc;
    for (int b = 0; b < B; b++) {
        crop_flip_draw d = crop_flip_sample(s->seed, batch->epochs[b], batch->sample_ids[b], s->pad, s->flip_prob);
        crop_flip_apply(s->augmented + b * image, batch->pixels + b * image, s->C, s->H, s->W, d);
    }
    forward(s, ps, B);
    loss->sum = softmax_cross_entropy(s->dlogits, s->head.out, batch->labels, B, s->classes, s->smoothing, 1.0f);
    loss->count = B;

    objective_last_backward(arm);
    memset(s->dcls, 0, (size_t)B * s->d * sizeof(float));
    linear_layer_backward(&s->head, ps, s->dcls, s->dlogits, s->cls, B);
    size_t row = (size_t)(1 + s->num_patches) * s->d;
    memset(s->denc, 0, (size_t)B * row * sizeof(float));
    for (int b = 0; b < B; b++) memcpy(s->denc + b * row, s->dcls + (size_t)b * s->d, (size_t)s->d * sizeof(float));
    image_encoder_backward(&s->enc, ps, s->denc, s->idx, NULL, B, s->num_patches, s->scratch);
    return CRATE_OK;
}

/* Test top-1 and loss: rank r classifies images [r·n/W, (r+1)·n/W). */
static int classify_evaluate(objective *o, const param_store *ps, const comm_info *c, objective_eval *out) {
    classify_state *s = o->state;
    uint64_t avail = image_dataset_count(s->test);
    int64_t n = (uint64_t)s->test_samples < avail ? s->test_samples : (int64_t)avail;
    int64_t lo = c->rank * n / c->world, hi = (c->rank + 1) * n / c->world;
    size_t image = (size_t)s->C * s->H * s->W;
    double acc[3] = {0, 0, 0}; /* correct, loss sum, count */
    int rc = CRATE_OK;
    for (int64_t at = lo; at < hi && rc == CRATE_OK; at += s->B) {
        int B = hi - at < s->B ? (int)(hi - at) : s->B;
        for (int b = 0; b < B && rc == CRATE_OK; b++) {
            s->ids[b] = (uint64_t)(at + b);
            rc = image_dataset_read(s->test, (uint64_t)(at + b), s->augmented + b * image, &s->labels[b]);
        }
        if (rc == CRATE_OK) rc = check_labels(s, s->labels, s->ids, B, "data.test");
        if (rc != CRATE_OK) break;
        forward(s, ps, B);
        acc[1] += softmax_cross_entropy(NULL, s->head.out, s->labels, B, s->classes, 0.0f, 1.0f);
        for (int b = 0; b < B; b++) {
            const float *z = s->head.out + (size_t)b * s->classes;
            int best = 0;
            for (int v = 1; v < s->classes; v++) best = z[v] > z[best] ? v : best;
            acc[0] += best == s->labels[b];
        }
        acc[2] += B;
    }
    rc = comm_agree_message(c, rc);
    if (rc != CRATE_OK) return rc;
    if (c->world > 1) comm_sum_doubles(acc, 3);
    double top1 = acc[2] > 0 ? acc[0] / acc[2] : 0, test_loss = acc[2] > 0 ? acc[1] / acc[2] : 0;
    metrics_values_add(&out->values, "test_top1", top1);
    metrics_values_add(&out->values, "test_loss", test_loss);
    snprintf(out->summary, sizeof out->summary, "test top-1 %.2f%% | test loss %.4f (%.0f images)", 100 * top1,
             test_loss, acc[2]);
    return CRATE_OK;
}

static double classify_flops(const objective *o) { return ((const classify_state *)o->state)->flops; }

static int classify_open_source(objective *o, const batch_source_config *cfg, batch_source **out) {
    return image_source_open(out, cfg);
}

static void classify_destroy(objective *o) {
    classify_state *s = o->state;
    image_encoder_destroy(&s->enc);
    if (s->test) image_dataset_close(s->test);
    arena_free(&s->arena);
    free(s);
    free(o);
}

static const objective_ops classify_ops = {
    .name = "classify", .open_source = classify_open_source, .forward_backward = classify_forward_backward,
    .flops_per_batch = classify_flops, .evaluate = classify_evaluate, .destroy = classify_destroy,
};

static int classify_build(classify_state *s, const train_config *cfg, param_store *ps) {
    image_encoder_config ec = encoder_config_for_images(cfg, s->C, s->H, s->W);
    int rc = image_encoder_declare(&s->enc, ps, &s->arena, "encoder", &ec);
    if (rc == CRATE_OK) rc = linear_layer_declare(&s->head, ps, "head", s->d, s->classes, 1);
    if (rc != CRATE_OK) return rc;
    s->num_patches = s->enc.embed.num_patches;
    int B = s->B, np = s->num_patches, P = s->enc.embed.patch_dim, d = s->d;
    rc = image_encoder_alloc(&s->enc, &s->arena, B, np);
    if (rc == CRATE_OK) rc = linear_layer_alloc(&s->head, &s->arena, B);
    if (rc != CRATE_OK) return rc;
    arena *a = &s->arena;
    s->augmented = arena_bytes(a, (size_t)B * s->C * s->H * s->W);
    s->patches = arena_floats(a, (size_t)B * np * P);
    s->idx = arena_ints(a, (size_t)B * np);
    s->cls = arena_floats(a, (size_t)B * d);
    s->labels = arena_bytes(a, (size_t)B * sizeof(int32_t));
    s->ids = arena_bytes(a, (size_t)B * sizeof(uint64_t));
    s->dlogits = arena_floats(a, (size_t)B * s->classes);
    s->dcls = arena_floats(a, (size_t)B * d);
    s->denc = arena_floats(a, (size_t)B * (1 + np) * d);
    s->scratch = arena_floats(a, image_encoder_scratch_floats(&s->enc, B, np));
    if (!s->scratch) return CRATE_EINTERNAL;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < np; t++) s->idx[(size_t)b * np + t] = t;
    s->flops = image_encoder_flops(&s->enc, B, np) + linear_layer_flops(&s->head, B);
    return CRATE_OK;
}

int classify_objective_create(objective **out, const train_config *cfg, const data_shape *shape, int batch,
                              param_store *ps) {
    objective *o = objective_new(&classify_ops, sizeof(classify_state));
    if (!o) return CRATE_EINTERNAL;
    classify_state *s = o->state;
    arena_init(&s->arena);
    s->B = batch, s->C = shape->channels, s->H = shape->height, s->W = shape->width;
    s->d = (int)cfg->model.dim, s->classes = (int)cfg->classify.classes;
    s->pad = (int)cfg->classify.crop_pad, s->flip_prob = cfg->classify.flip_prob;
    s->smoothing = (float)cfg->classify.label_smoothing;
    s->seed = (uint64_t)cfg->run.seed;
    int rc = classify_build(s, cfg, ps);
    if (rc == CRATE_OK && cfg->eval.every > 0) {
        s->test_samples = cfg->eval.test_samples;
        rc = image_dataset_open(&s->test, cfg->data.test, (size_t)cfg->data.cache_mb << 20);
        int C, H, W;
        if (rc == CRATE_OK) image_dataset_shape(s->test, &C, &H, &W);
        if (rc == CRATE_OK && (C != s->C || H != s->H || W != s->W))
            rc = crate_fail(CRATE_EINPUT, "data.test %s holds %dx%dx%d images, data.train %dx%dx%d: evaluate on "
                            "images of the training set's shape", cfg->data.test, C, H, W, s->C, s->H, s->W);
        if (rc != CRATE_OK) rc = crate_fail_context(rc, "data.test");
    }
    if (rc != CRATE_OK) {
        classify_destroy(o);
        return rc;
    }
    *out = o;
    return CRATE_OK;
}
