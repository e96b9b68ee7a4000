/* mae.c — the CRATE-MAE objective: masked autoencoding of image patches.
 *
 * For every sample a random subset of (1 − mask_ratio)·n patches is kept,
 * drawn from the counter-based stream (seed, epoch, sample id, RNG_MASK), so a
 * sample's mask does not depend on which rank or batch slot it lands in.
 * encoder_input = visible: the encoder sees cls + kept patches (standard MAE);
 * the decoder puts mask tokens where patches were dropped.
 * encoder_input = all: the encoder sees every patch, masked ones replaced by
 * a mask token (as in the CRATE-MAE paper); the decoder takes the whole sequence.
 * Loss: mean squared error over the pixels of masked patches only,
 *   L = Σ_{masked (b,j)} ‖pred_bj − target_bj‖² / (#masked · P),
 * with targets optionally normalised per patch (norm_pix_loss); reported as
 * (sum, count) = (Σ_{masked} ‖pred − target‖² / P, #masked) (objective.h).
 * eval.every runs the k-NN monitor on the encoder (pretrain/knn_monitor.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/image_source.h"
#include "data/loader.h"
#include "decoders/pixel_decoder.h"
#include "pretrain/encoder_config.h"
#include "pretrain/knn_monitor.h"
#include "pretrain/mae.h"
#include "pretrain/objective.h"
#include "src/error.h"
#include "src/kernels/kernels.h"
#include "src/nn/rng.h"

typedef struct {
    int B, num_patches, n_keep, n_tok, patch_dim, encode_all, norm_pix;
    uint64_t seed;
    arena arena;
    image_encoder enc;
    pixel_decoder dec;
    float *patches;    /* (B, num_patches, P) */
    float *target;     /* (B·(1+num_patches), P), row 0 of a sample unused */
    float *row_weight; /* (B·(1+num_patches)): 1 = masked patch, scored */
    int *enc_idx;      /* (B, n_tok) patch index of each encoder token */
    uint8_t *enc_masked; /* (B, n_tok) encode_all: 1 = mask token */
    int *dec_src;      /* (B, num_patches) encoder row of each patch or −1 */
    int *order;        /* (num_patches) shuffle buffer */
    uint8_t *keep;     /* (num_patches) 1 = patch kept visible */
    float *dpred, *denc, *scratch;
    double flops;
    int monitoring;      /* eval.every > 0: the k-NN monitor is open */
    knn_monitor monitor;
} mae_state;

/* Marks the kept patches of one sample: a partial Fisher–Yates shuffle of the
 * patch indices; the first n_keep are kept. keep[j] = 1 for kept patches. */
static void draw_mask(mae_state *m, const image_batch *batch, int b, uint8_t *keep) {
    rng_stream s = rng_stream_make(m->seed, batch->epochs[b], batch->sample_ids[b], RNG_MASK);
    for (int j = 0; j < m->num_patches; j++) m->order[j] = j;
    rng_partial_shuffle(&s, m->order, m->num_patches, m->n_keep);
    memset(keep, 0, (size_t)m->num_patches);
    for (int j = 0; j < m->n_keep; j++) keep[m->order[j]] = 1;
}

/* Fills the encoder's token list, the decoder's source rows and the loss
 * weights of sample b from its mask. Kept patches stay in ascending order. */
static void route_tokens(mae_state *m, int b, const uint8_t *keep) {
    int np = m->num_patches, *idx = m->enc_idx + (size_t)b * m->n_tok, *src = m->dec_src + (size_t)b * np;
    float *w = m->row_weight + (size_t)b * (1 + np);
    w[0] = 0.0f;
    for (int j = 0, t = 0; j < np; j++) {
        w[1 + j] = keep[j] ? 0.0f : 1.0f;
        if (m->encode_all) {
            idx[j] = j;
            m->enc_masked[(size_t)b * np + j] = !keep[j];
            src[j] = 1 + j;
        } else if (keep[j]) {
            idx[t] = j;
            src[j] = 1 + t++;
        } else {
            src[j] = -1;
        }
    }
}

/* A patch's mean and 1/√(var + 1e-6), var unbiased as in the MAE reference:
 * the norm_pix_loss target is (x − mean)·rs. */
static void patch_stats(const float *x, int P, double *mean, float *rs) {
    double s = 0, var = 0;
    for (int i = 0; i < P; i++) s += x[i];
    s /= P;
    for (int i = 0; i < P; i++) var += (x[i] - s) * (x[i] - s);
    var /= P - 1 > 0 ? P - 1 : 1;
    *mean = s;
    *rs = (float)(1.0 / sqrt(var + 1e-6));
}

/* target row of patch j = its pixels, or (x − mean)·rs per patch. */
static void fill_targets(mae_state *m, int b) {
    int np = m->num_patches, P = m->patch_dim;
    for (int j = 0; j < np; j++) {
        const float *x = m->patches + ((size_t)b * np + j) * P;
        float *t = m->target + ((size_t)b * (1 + np) + 1 + j) * P;
        if (!m->norm_pix) {
            memcpy(t, x, (size_t)P * sizeof(float));
            continue;
        }
        double mean;
        float rs;
        patch_stats(x, P, &mean, &rs);
        for (int i = 0; i < P; i++) t[i] = (float)(x[i] - mean) * rs;
    }
}

/* Masks, encodes and decodes one micro-batch; the loss of its masked patches. */
static int mae_forward(mae_state *m, const param_store *ps, const image_batch *batch, objective_loss *loss) {
    int B = batch->n, np = m->num_patches, P = m->patch_dim, rows = B * (1 + np);
    if (B > m->B) return crate_fail(CRATE_EINTERNAL, "mae: batch of %d exceeds the %d it was built for", B, m->B);
    patchify_images(m->patches, batch->pixels, B, batch->C, batch->H, batch->W, m->enc.embed.patch);
    for (int b = 0; b < B; b++) {
        draw_mask(m, batch, b, m->keep);
        route_tokens(m, b, m->keep);
        fill_targets(m, b);
    }
    const uint8_t *masked = m->encode_all ? m->enc_masked : NULL;
    image_encoder_forward(&m->enc, ps, m->patches, m->enc_idx, masked, B, m->n_tok);
    pixel_decoder_forward(&m->dec, ps, m->enc.stack.final_ln.out, m->dec_src, B, 1 + m->n_tok);
    loss->sum = mse_forward(m->dec.head.out, m->target, m->row_weight, rows, P);
    loss->count = (double)B * (np - m->n_keep);
    return CRATE_OK;
}

static int mae_forward_backward(objective *o, param_store *ps, const void *batch_ptr, objective_arm *arm,
                                objective_loss *loss) {
    mae_state *m = o->state;
    const image_batch *batch = batch_ptr;
    int rc = mae_forward(m, ps, batch, loss);
    if (rc != CRATE_OK) return rc;
    int B = batch->n, P = m->patch_dim, rows = B * (1 + m->num_patches);
    const float *pred = m->dec.head.out;
    const uint8_t *masked = m->encode_all ? m->enc_masked : NULL;
    objective_last_backward(arm);
    memset(m->dpred, 0, (size_t)rows * P * sizeof(float));
    mse_backward(m->dpred, pred, m->target, m->row_weight, rows, P, 1.0f);
    memset(m->denc, 0, (size_t)B * (1 + m->n_tok) * m->enc.stack.d * sizeof(float));
    pixel_decoder_backward(&m->dec, ps, m->denc, m->dpred, m->dec_src, B, 1 + m->n_tok, m->scratch);
    image_encoder_backward(&m->enc, ps, m->denc, m->enc_idx, masked, B, m->n_tok, m->scratch);
    return CRATE_OK;
}

int mae_objective_predict(objective *o, const param_store *ps, const image_batch *batch, float *patches,
                          uint8_t *visible, objective_loss *loss) {
    mae_state *m = o->state;
    int rc = mae_forward(m, ps, batch, loss);
    int np = m->num_patches, P = m->patch_dim;
    for (int b = 0; rc == CRATE_OK && b < batch->n; b++)
        for (int j = 0; j < np; j++) {
            const float *x = m->patches + ((size_t)b * np + j) * P;
            const float *y = m->dec.head.out + ((size_t)b * (1 + np) + 1 + j) * P;
            float *out = patches + ((size_t)b * np + j) * P;
            visible[(size_t)b * np + j] = m->row_weight[(size_t)b * (1 + np) + 1 + j] == 0.0f;
            double mean = 0;
            float rs = 1.0f;
            if (m->norm_pix) patch_stats(x, P, &mean, &rs);
            for (int i = 0; i < P; i++) out[i] = (float)(y[i] / rs + mean); /* y = (x − mean)·rs */
        }
    return rc;
}

static double mae_flops(const objective *o) { return ((const mae_state *)o->state)->flops; }

static int mae_open_source(objective *o, const batch_source_config *cfg, batch_source **out) {
    return image_source_open(out, cfg);
}

static int mae_evaluate(objective *o, const param_store *ps, const comm_info *c, objective_eval *out) {
    return knn_monitor_report(&((mae_state *)o->state)->monitor, c, ps, "", out);
}

static void mae_destroy(objective *o) {
    mae_state *m = o->state;
    image_encoder_destroy(&m->enc);
    pixel_decoder_destroy(&m->dec);
    if (m->monitoring) knn_monitor_close(&m->monitor);
    arena_free(&m->arena);
    free(m);
    free(o);
}

static const objective_ops mae_ops = {
    .name = "mae", .open_source = mae_open_source, .forward_backward = mae_forward_backward,
    .flops_per_batch = mae_flops, .evaluate = mae_evaluate, .destroy = mae_destroy,
};

static int mae_declare(mae_state *m, const train_config *cfg, const data_shape *shape, param_store *ps) {
    image_encoder_config ec = encoder_config_for_images(cfg, shape->channels, shape->height, shape->width);
    int learned = ec.embed.pos_learned;
    int rc = image_encoder_declare(&m->enc, ps, &m->arena, "encoder", &ec);
    if (rc != CRATE_OK) return rc;
    const patch_embed *pe = &m->enc.embed;
    pixel_decoder_config dc = {
        .block = ec.block, .depth = (int)cfg->model.decoder_depth, .grid_h = pe->grid_h, .grid_w = pe->grid_w,
        .patch_dim = pe->patch_dim, .pos_learned = learned, .with_mask_token = !m->encode_all,
    };
    rc = pixel_decoder_declare(&m->dec, ps, &m->arena, "decoder", &dc);
    if (rc != CRATE_OK) return rc;
    m->flops = image_encoder_flops(&m->enc, m->B, m->n_tok) + pixel_decoder_flops(&m->dec, m->B);
    return CRATE_OK;
}

static int mae_alloc(mae_state *m) {
    int B = m->B, np = m->num_patches, P = m->patch_dim, d = m->enc.stack.d;
    int rc = image_encoder_alloc(&m->enc, &m->arena, B, m->n_tok);
    if (rc == CRATE_OK) rc = pixel_decoder_alloc(&m->dec, &m->arena, B);
    if (rc != CRATE_OK) return rc;
    size_t enc_s = image_encoder_scratch_floats(&m->enc, B, m->n_tok);
    size_t dec_s = pixel_decoder_scratch_floats(&m->dec, B);
    arena *a = &m->arena;
    m->patches = arena_floats(a, (size_t)B * np * P);
    m->target = arena_floats(a, (size_t)B * (1 + np) * P);
    m->row_weight = arena_floats(a, (size_t)B * (1 + np));
    m->enc_idx = arena_ints(a, (size_t)B * m->n_tok);
    m->enc_masked = arena_bytes(a, (size_t)B * np);
    m->dec_src = arena_ints(a, (size_t)B * np);
    m->order = arena_ints(a, (size_t)np);
    m->keep = arena_bytes(a, (size_t)np);
    m->dpred = arena_floats(a, (size_t)B * (1 + np) * P);
    m->denc = arena_floats(a, (size_t)B * (1 + m->n_tok) * d);
    m->scratch = arena_floats(a, enc_s > dec_s ? enc_s : dec_s);
    return m->scratch ? CRATE_OK : CRATE_EINTERNAL;
}

/* Declares the model's tensors in ps and sizes every activation for
 * micro-batches of `batch` samples once; parameter memory itself is
 * allocated later by the caller. */
int mae_objective_create(objective **out, const train_config *cfg, const data_shape *shape, int batch,
                         param_store *ps) {
    objective *o = objective_new(&mae_ops, sizeof(mae_state));
    if (!o) {
        return CRATE_EINTERNAL;
    }
    mae_state *m = o->state;
    arena_init(&m->arena);
    m->B = batch;
    m->seed = (uint64_t)cfg->run.seed;
    m->encode_all = cfg->mae.encoder_input == TRAIN_MAE_INPUT_ALL;
    m->norm_pix = cfg->mae.norm_pix_loss;
    int p = (int)cfg->model.patch;
    m->num_patches = p > 0 ? (shape->height / p) * (shape->width / p) : 0;
    m->patch_dim = p * p * shape->channels;
    m->n_keep = (int)(m->num_patches * (1.0 - cfg->mae.mask_ratio));
    if (m->n_keep < 1) m->n_keep = 1;
    m->n_tok = m->encode_all ? m->num_patches : m->n_keep;
    /* Nothing masked: the loss would be 0 at every step and train nothing. */
    int rc = m->num_patches > 0 && m->n_keep >= m->num_patches
                 ? crate_fail(CRATE_EINPUT, "mae.mask_ratio = %g masks none of the %d patches of a %dx%d image "
                              "(model.patch = %d): the loss would be 0; raise mae.mask_ratio or use a smaller "
                              "model.patch", cfg->mae.mask_ratio, m->num_patches, shape->height, shape->width, p)
                 : CRATE_OK;
    if (rc == CRATE_OK) rc = mae_declare(m, cfg, shape, ps);
    if (rc == CRATE_OK) rc = mae_alloc(m);
    if (rc == CRATE_OK && cfg->eval.every > 0 && (rc = knn_monitor_open(&m->monitor, cfg)) == CRATE_OK)
        m->monitoring = 1;
    if (rc != CRATE_OK) {
        mae_destroy(o);
        return rc;
    }
    *out = o;
    return CRATE_OK;
}
