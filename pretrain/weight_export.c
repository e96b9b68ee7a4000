/* weight_export.c — see weight_export.h. */
#include "pretrain/weight_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard.h"
#include "encoders/positions.h"
#include "pretrain/official_names.h"
#include "pretrain/train_config.h"
#include "src/ckpt/checkpoint.h"
#include "src/error.h"
#include "src/io/safetensors.h"

#define EXPORT_MAX_DIMS (PARAM_MAX_DIMS + 2)

typedef struct {
    char name[OFFICIAL_NAME_MAX];
    int ndim;
    int64_t shape[EXPORT_MAX_DIMS];
    const float *data;
} export_entry;

typedef struct {
    export_entry *e;
    int n, cap;
    float *positions, *causal_mask; /* generated tensors, owned */
} export_list;

static export_entry *push(export_list *l, const char *name, int lead_ones, int ndim, const int64_t *shape,
                          const float *data) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        export_entry *e = realloc(l->e, (size_t)cap * sizeof *e);
        if (!e) {
            crate_fail(CRATE_EINTERNAL, "out of memory for the export's tensor list");
            return NULL;
        }
        l->e = e;
        l->cap = cap;
    }
    export_entry *x = &l->e[l->n++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->ndim = lead_ones + ndim;
    for (int k = 0; k < lead_ones; k++) x->shape[k] = 1;
    for (int k = 0; k < ndim; k++) x->shape[lead_ones + k] = shape[k];
    x->data = data;
    return x;
}

static int crate_list(export_list *l, const ckpt_manifest *m, const float *vec) {
    for (int i = 0; i < m->ntensors; i++)
        if (!push(l, m->tensors[i].name, 0, m->tensors[i].ndim, m->tensors[i].shape, vec + m->tensors[i].offset))
            return CRATE_EINTERNAL;
    return CRATE_OK;
}

/* The image size the fixed positions belong to: the request's, else the
 * stored data.train's (shard headers only). */
static int image_size(const weight_export_request *r, const train_config *cfg, int *H, int *W) {
    if (r->image_h > 0 && r->image_w > 0) {
        *H = r->image_h;
        *W = r->image_w;
        return CRATE_OK;
    }
    image_dataset *ds;
    if (image_dataset_open(&ds, cfg->data.train, 0) != CRATE_OK)
        return crate_fail(CRATE_EINPUT, "the official pos_embedding holds this model's fixed sin-cos positions, "
                          "which need the image size: the checkpoint's data.train (%s) cannot be read (%s); "
                          "give it with --image-size HxW", cfg->data.train, crate_errmsg());
    int C;
    image_dataset_shape(ds, &C, H, W);
    image_dataset_close(ds);
    return CRATE_OK;
}

/* pos_embedding (1, 1+N, d) of a model with fixed positions. */
static int push_positions(export_list *l, const weight_export_request *r, const train_config *cfg) {
    int H, W, p = (int)cfg->model.patch, d = (int)cfg->model.dim;
    int rc = image_size(r, cfg, &H, &W);
    if (rc != CRATE_OK) return rc;
    if (H % p || W % p)
        return crate_fail(CRATE_EINPUT, "images of %dx%d do not split into model.patch = %d patches: "
                          "check --image-size", H, W, p);
    int64_t shape[2] = {1 + (int64_t)(H / p) * (W / p), d};
    l->positions = crate_malloc((size_t)shape[0] * d * sizeof(float), "the sin-cos positions");
    if (!l->positions) return CRATE_EINTERNAL;
    pos_sincos_fill(l->positions, H / p, W / p, d);
    return push(l, "pos_embedding", 1, 2, shape, l->positions) ? CRATE_OK : CRATE_EINTERNAL;
}

/* lm_head.weight (tied: wte's floats again) and each layer's causal mask. */
static int push_causal_extras(export_list *l, const ckpt_manifest *m, const float *vec, int depth) {
    const ckpt_tensor *wte = NULL, *wpe = NULL;
    for (int i = 0; i < m->ntensors; i++) {
        if (!strcmp(m->tensors[i].name, "text.wte")) wte = &m->tensors[i];
        if (!strcmp(m->tensors[i].name, "text.wpe")) wpe = &m->tensors[i];
    }
    if (!wte || !wpe || wpe->ndim != 2) return crate_fail(CRATE_EINPUT, "the checkpoint's text model has no text.wte/wpe");
    if (!push(l, "lm_head.weight", 0, 2, wte->shape, vec + wte->offset)) return CRATE_EINTERNAL;
    int64_t T = wpe->shape[0], shape[2] = {T, T};
    l->causal_mask = crate_malloc((size_t)(T * T) * sizeof(float), "the causal mask");
    if (!l->causal_mask) return CRATE_EINTERNAL;
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) l->causal_mask[i * T + j] = j <= i ? 1.0f : 0.0f;
    char name[OFFICIAL_NAME_MAX];
    for (int layer = 0; layer < depth; layer++) {
        snprintf(name, sizeof name, "transformer.h.%d.attn.bias", layer);
        if (!push(l, name, 2, 2, shape, l->causal_mask)) return CRATE_EINTERNAL;
    }
    return CRATE_OK;
}

static int official_list(export_list *l, const ckpt_manifest *m, const float *vec, const train_config *cfg,
                         const weight_export_request *r, int *left_out) {
    official_model om;
    int rc = official_model_of(cfg, &om);
    if (rc != CRATE_OK) return rc;
    int learned_positions = 0;
    for (int i = 0; i < m->ntensors; i++) {
        char name[OFFICIAL_NAME_MAX];
        int lead;
        if (!official_name(om, m->tensors[i].name, name, sizeof name, &lead)) {
            (*left_out)++;
            continue;
        }
        learned_positions |= !strcmp(name, "pos_embedding");
        if (!push(l, name, lead, m->tensors[i].ndim, m->tensors[i].shape, vec + m->tensors[i].offset))
            return CRATE_EINTERNAL;
    }
    if (om == OFFICIAL_CAUSAL) return push_causal_extras(l, m, vec, (int)cfg->model.depth);
    return learned_positions ? CRATE_OK : push_positions(l, r, cfg);
}

/* The config's model section ("model:\n  dim: 192\n..."), malloc'd. */
static char *model_section(const train_config *cfg) {
    char *yaml = train_config_yaml(cfg);
    if (!yaml) return NULL;
    const char *start = !strncmp(yaml, "model:\n", 7) ? yaml : strstr(yaml, "\nmodel:\n");
    char *out = NULL;
    if (start) {
        start += *start == '\n';
        const char *end = start + 7; /* past "model:\n", then every indented line */
        while (*end == ' ') end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end);
        size_t n = (size_t)(end - start);
        if ((out = crate_malloc(n + 1, "the model section"))) {
            memcpy(out, start, n);
            out[n] = '\0';
        }
    } else {
        crate_fail(CRATE_EINTERNAL, "the resolved config has no model section");
    }
    free(yaml);
    return out;
}

static int write_list(const export_list *l, const weight_export_request *r, const train_config *cfg) {
    safetensors_tensor *t = crate_calloc((size_t)l->n + 1, sizeof *t, "the export's tensor list");
    char *model = model_section(cfg);
    int rc = t && model ? CRATE_OK : CRATE_EINTERNAL;
    for (int i = 0; rc == CRATE_OK && i < l->n; i++)
        t[i] = (safetensors_tensor){l->e[i].name, l->e[i].ndim, l->e[i].shape, l->e[i].data};
    safetensors_meta meta[] = {{"format", "pt"},
                               {"producer", "crate"},
                               {"names", r->official ? "official" : "crate"},
                               {"objective", train_config_objective_name(cfg)},
                               {"model", model ? model : ""}};
    if (rc == CRATE_OK) rc = safetensors_write(r->path, t, l->n, meta, 5);
    free(model);
    free(t);
    return rc;
}

int weight_export(const weight_export_request *r, weight_export_report *rep) {
    memset(rep, 0, sizeof *rep);
    ckpt_manifest m;
    float *vec = NULL;
    train_config cfg;
    config_sources src = {0};
    int rc = checkpoint_read_section(r->ckpt, r->weights, &m, &vec);
    if (rc != CRATE_OK) return rc;
    rc = train_config_load_text(&cfg, &src, m.config, "the checkpoint's config");
    if (rc == CRATE_OK) config_sources_free(&src);
    export_list l = {0};
    if (rc == CRATE_OK) rc = r->official ? official_list(&l, &m, vec, &cfg, r, &rep->left_out) : crate_list(&l, &m, vec);
    if (rc == CRATE_OK && l.n == 0) rc = crate_fail(CRATE_EINPUT, "%s has no tensors to export", r->ckpt);
    if (rc == CRATE_OK) rc = write_list(&l, r, &cfg);
    rep->written = rc == CRATE_OK ? l.n : 0;
    rep->step = (long long)m.step;
    free(l.e);
    free(l.positions);
    free(l.causal_mask);
    free(vec);
    ckpt_manifest_free(&m);
    return rc;
}
