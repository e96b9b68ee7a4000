/* weight_import.c — see weight_import.h. */
#include "pretrain/weight_import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/positions.h"
#include "pretrain/official_names.h"
#include "src/error.h"
#include "src/io/safetensors_read.h"

/* "(1, 64, 192)" */
static const char *shape_text(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int k = 0; k < ndim && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", k ? ", " : "", (long long)shape[k]);
    if (n < cap) snprintf(buf + n, cap - n, ")");
    return buf;
}

/* Adds the group of tensor `name` (its first component: "decoder.*") to the
 * ", "-separated list buf of cap bytes, once; "..." when full. */
static void list_group(char *buf, size_t cap, const char *name) {
    char group[OFFICIAL_NAME_MAX];
    const char *dot = strchr(name, '.');
    snprintf(group, sizeof group, "%.*s%s", dot ? (int)(dot - name) : (int)strlen(name), name, dot ? ".*" : "");
    size_t n = strlen(buf), g = strlen(group);
    for (const char *at = buf; (at = strstr(at, group)); at += g)
        if ((at == buf || at[-1] == ' ') && (at[g] == ',' || at[g] == '\0')) return;
    if (n >= 3 && !strcmp(buf + n - 3, "...")) return;
    if (n + g + 2 + 5 < cap) snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", group);
    else snprintf(buf + n, cap - n, "%s...", n ? ", " : "");
}

/* The file's floats of e, malloc'd. */
static float *read_floats(const safetensors_file *f, const safetensors_entry *e) {
    float *v = crate_malloc((e->count ? e->count : 1) * sizeof(float), "an imported tensor");
    if (v && safetensors_read_f32(f, e, v) != CRATE_OK) {
        free(v);
        return NULL;
    }
    return v;
}

static int file_is_official(const safetensors_file *f) {
    for (int i = 0; i < f->n; i++) {
        const char *n = f->entries[i].name;
        if (!strncmp(n, "transformer.", 12) || !strncmp(n, "to_patch_embedding.", 19) || !strcmp(n, "cls_token"))
            return 1;
    }
    return 0;
}

/* lm_head.weight of crate-lm is wte itself (weight tying). */
static int check_tied(const char *path, const safetensors_file *f, const safetensors_entry *head) {
    const safetensors_entry *wte = safetensors_find(f, "transformer.wte.weight");
    if (!wte || wte->count != head->count)
        return crate_fail(CRATE_EINPUT, "init.from=%s: lm_head.weight has no transformer.wte.weight of its size "
                          "to be tied to (crate's LM head is the token embedding)", path);
    float *a = read_floats(f, head), *b = a ? read_floats(f, wte) : NULL;
    int same = b && !memcmp(a, b, head->count * sizeof(float));
    int rc = !b ? CRATE_EINPUT : same ? CRATE_OK
             : crate_fail(CRATE_EINPUT, "init.from=%s: lm_head.weight differs from transformer.wte.weight, but "
                          "crate's LM head is tied to the token embedding: save the model with the two tied", path);
    free(a);
    free(b);
    return rc;
}

/* transformer.h.ℓ.attn.bias: the (1,1,T,T) lower-triangular ones. */
static int check_causal_mask(const char *path, const safetensors_file *f, const safetensors_entry *e) {
    int64_t T = e->ndim == 4 ? e->shape[3] : -1;
    if (T < 0 || e->shape[0] != 1 || e->shape[1] != 1 || e->shape[2] != T)
        return crate_fail(CRATE_EINPUT, "init.from=%s: %s is not a (1, 1, T, T) causal mask", path, e->name);
    float *v = read_floats(f, e);
    if (!v) return CRATE_EINPUT;
    int ok = 1;
    for (int64_t i = 0; i < T && ok; i++)
        for (int64_t j = 0; j < T && ok; j++) ok = v[i * T + j] == (j <= i ? 1.0f : 0.0f);
    free(v);
    return ok ? CRATE_OK
              : crate_fail(CRATE_EINPUT, "init.from=%s: %s is not the causal mask (ones on and below the diagonal), "
                           "which crate's gpt2 always applies", path, e->name);
}

/* A pos_embedding (1, 1+N, d) for a model with fixed positions must be the
 * sin-cos table of some grid gh × gw = N: anything else is learned positions
 * the run would silently drop. */
static int check_fixed_positions(const char *path, const safetensors_file *f, const safetensors_entry *e, int d) {
    int64_t rows = e->ndim == 3 && e->shape[0] == 1 && e->shape[2] == d ? e->shape[1] : 0, N = rows - 1;
    float *v = N >= 1 && rows <= (1 << 20) ? read_floats(f, e) : NULL;
    float *table = v ? crate_malloc((size_t)rows * d * sizeof(float), "a sin-cos table") : NULL;
    int match = 0;
    for (int64_t gh = 1; table && gh <= N && !match; gh++) {
        if (N % gh) continue;
        pos_sincos_fill(table, (int)gh, (int)(N / gh), d);
        match = 1;
        for (size_t i = 0; i < (size_t)rows * d && match; i++) match = fabsf(v[i] - table[i]) <= 1e-5f;
    }
    free(v);
    free(table);
    return match ? CRATE_OK
                 : crate_fail(CRATE_EINPUT, "init.from=%s: pos_embedding holds learned positions (not the fixed "
                              "sin-cos table of width %d), but this run's model.pos_embed is sincos: set "
                              "model.pos_embed: learned to start from them", path, d);
}

/* What the official state dict holds but crate computes: 1 when e was such a
 * tensor (checked, rc set), 0 when it is an ordinary tensor. */
static int official_extra(official_model om, const char *path, const safetensors_file *f, const safetensors_entry *e,
                          const param_store *ps, const train_config *cfg, int *rc, weight_import_report *rep) {
    int layer, end = 0;
    if (om == OFFICIAL_IMAGE && !strncmp(e->name, "mlp_head.1.", 11)) {
        rep->skipped++; /* the classifier: no tensor in a pretraining objective */
        list_group(rep->skipped_names, sizeof rep->skipped_names, e->name);
        *rc = CRATE_OK;
        return 1;
    }
    if (om == OFFICIAL_IMAGE && !strcmp(e->name, "pos_embedding") && param_store_find(ps, "encoder.pos_embed") < 0) {
        *rc = check_fixed_positions(path, f, e, (int)cfg->model.dim);
        return 1;
    }
    if (om == OFFICIAL_CAUSAL && !strcmp(e->name, "lm_head.weight")) {
        *rc = check_tied(path, f, e);
        return 1;
    }
    if (om == OFFICIAL_CAUSAL && sscanf(e->name, "transformer.h.%d.attn.bias%n", &layer, &end) == 1 &&
        e->name[end] == '\0') {
        *rc = check_causal_mask(path, f, e);
        return 1;
    }
    return 0;
}

/* Loads file tensor e into crate tensor `name` of ps (its official shape
 * having lead_ones leading 1-dims); a crate name ps lacks is skipped. */
static int load_tensor(const char *path, const safetensors_file *f, const safetensors_entry *e, const char *name,
                       int official, int lead_ones, param_store *ps, unsigned char *loaded, weight_import_report *rep) {
    int id = param_store_find(ps, name);
    if (id < 0 && !official) {
        rep->skipped++; /* another objective's part */
        list_group(rep->skipped_names, sizeof rep->skipped_names, name);
        return CRATE_OK;
    }
    if (id < 0)
        return crate_fail(CRATE_EINPUT, "init.from=%s: tensor '%s'%s%s%s is not in this model (objective, model "
                          "section and data decide its tensors): is the file for another model?", path, e->name,
                          strcmp(e->name, name) ? " (crate's '" : "", strcmp(e->name, name) ? name : "",
                          strcmp(e->name, name) ? "')" : "");
    const param_tensor *t = &ps->tensors[id];
    int ok = e->ndim == lead_ones + t->ndim;
    for (int k = 0; ok && k < e->ndim; k++) ok = e->shape[k] == (k < lead_ones ? 1 : t->shape[k - lead_ones]);
    if (!ok) {
        char have[96], want[96];
        return crate_fail(CRATE_EINPUT, "init.from=%s: tensor '%s' is %s in the file but %s%s in this model: "
                          "change the model section to the one the file was trained with", path, e->name,
                          shape_text(have, sizeof have, e->ndim, e->shape), lead_ones ? "(1, ..., 1) + " : "",
                          shape_text(want, sizeof want, t->ndim, t->shape));
    }
    int rc = safetensors_read_f32(f, e, param_data(ps, id));
    if (rc == CRATE_OK) loaded[id] = 1;
    return rc == CRATE_OK ? rc : crate_fail_context(rc, "init.from=%s", path);
}

int weight_import(const char *path, param_store *ps, const train_config *cfg, weight_import_report *rep) {
    memset(rep, 0, sizeof *rep);
    safetensors_file f;
    int rc = safetensors_open(&f, path);
    if (rc != CRATE_OK) return crate_fail_context(rc, "init.from");
    official_model om = OFFICIAL_IMAGE;
    rep->official = file_is_official(&f);
    if (rep->official && (rc = official_model_of(cfg, &om)) != CRATE_OK)
        rc = crate_fail_context(rc, "init.from=%s has the official CRATE names, but this run's model has no "
                                "official counterpart", path);
    unsigned char *loaded = rc == CRATE_OK ? crate_calloc((size_t)ps->count + 1, 1, "the import's tensor flags") : NULL;
    if (rc == CRATE_OK && !loaded) rc = CRATE_EINTERNAL;
    for (int i = 0; rc == CRATE_OK && i < f.n; i++) {
        const safetensors_entry *e = &f.entries[i];
        char name[OFFICIAL_NAME_MAX];
        int lead = 0;
        if (rep->official && official_extra(om, path, &f, e, ps, cfg, &rc, rep)) continue;
        if (rep->official && !official_to_crate(om, e->name, name, sizeof name, &lead))
            rc = crate_fail(CRATE_EINPUT, "init.from=%s: '%s' is no parameter of the official %s that crate knows",
                            path, e->name, om == OFFICIAL_IMAGE ? "CRATE (model/crate.py)" : "CRATE-GPT (crate-lm)");
        else
            rc = load_tensor(path, &f, e, rep->official ? name : e->name, rep->official, lead, ps, loaded, rep);
    }
    if (rc == CRATE_OK) {
        for (int i = 0; i < ps->count; i++) {
            rep->loaded += loaded[i];
            if (loaded[i]) continue;
            rep->kept++;
            list_group(rep->kept_names, sizeof rep->kept_names, ps->tensors[i].name);
        }
        if (rep->loaded == 0) rc = crate_fail(CRATE_EINPUT, "init.from=%s holds none of this model's tensors", path);
    }
    free(loaded);
    safetensors_close(&f);
    return rc;
}
