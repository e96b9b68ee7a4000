/* official_names.c — see official_names.h. */
#include "pretrain/official_names.h"

#include <stdio.h>
#include <string.h>

#include "src/error.h"

/* One correspondence. In both patterns '#' stands for a layer index (the same
 * decimal number on both sides); a pattern ending in '.' matches any name it
 * starts, and the rest (weight, bias) carries over unchanged; any other
 * pattern matches exactly. */
typedef struct {
    const char *crate, *official;
    int lead_ones;
} name_rule;

static const name_rule image_rules[] = {
    {"encoder.patch_norm_in.", "to_patch_embedding.1.", 0},
    {"encoder.patch_proj.", "to_patch_embedding.2.", 0},
    {"encoder.patch_norm_out.", "to_patch_embedding.3.", 0},
    {"encoder.cls_token", "cls_token", 2},
    {"encoder.pos_embed", "pos_embedding", 1},
    {"encoder.layers.norm.", "mlp_head.0.", 0},
    {"encoder.layers.#.ln1.", "transformer.layers.#.0.norm.", 0},
    {"encoder.layers.#.mssa.qkv.weight", "transformer.layers.#.0.fn.qkv.weight", 0},
    {"encoder.layers.#.mssa.out.", "transformer.layers.#.0.fn.to_out.0.", 0},
    {"encoder.layers.#.ln2.", "transformer.layers.#.1.norm.", 0},
    {"encoder.layers.#.ista.dict", "transformer.layers.#.1.fn.weight", 0},
};

static const name_rule causal_rules[] = {
    {"text.wte", "transformer.wte.weight", 0},
    {"text.wpe", "transformer.wpe.weight", 0},
    {"text.layers.#.ln1.", "transformer.h.#.prenorm_1.", 0},
    {"text.layers.#.mssa.qkv.weight", "transformer.h.#.attn.c_attn.weight", 0},
    {"text.layers.#.mssa.out.", "transformer.h.#.attn.c_proj.", 0},
    {"text.layers.#.ln2.", "transformer.h.#.prenorm_2.", 0},
    {"text.layers.#.ista.dict", "transformer.h.#.ista.weight", 0},
};

int official_model_of(const train_config *cfg, official_model *m) {
    const train_model_config *mc = &cfg->model;
    int64_t p = mc->head_dim ? mc->head_dim : mc->dim / mc->heads;
    if (mc->block == TRAIN_BLOCK_CRATE_ALPHA || mc->patch_embed == TRAIN_PATCH_EMBED_LINEAR)
        return crate_fail(CRATE_EINPUT, "model.block = crate-alpha / model.patch_embed = linear: the official CRATE "
                          "code (its image models and crate-lm) has only the crate layer and patch embedding: "
                          "use --names crate");
    switch (cfg->objective.name) {
    case TRAIN_OBJECTIVE_BERT:
        return crate_fail(CRATE_EINPUT, "the official CRATE code has no BERT model: export with --names crate");
    case TRAIN_OBJECTIVE_GPT2:
        if (cfg->gpt2.final_norm)
            return crate_fail(CRATE_EINPUT, "gpt2.final_norm is on, but the official CRATE-GPT (crate-lm) has no "
                              "final LayerNorm: export with --names crate");
        if (p * mc->heads != mc->dim)
            return crate_fail(CRATE_EINPUT, "model.head_dim = %lld with %lld heads is not model.dim = %lld, which "
                              "the official CRATE-GPT requires: export with --names crate", (long long)p,
                              (long long)mc->heads, (long long)mc->dim);
        *m = OFFICIAL_CAUSAL;
        return CRATE_OK;
    default:
        /* model/crate.py drops the output projection for one head as wide as
         * the model, which crate always has. */
        if (mc->heads == 1 && p == mc->dim)
            return crate_fail(CRATE_EINPUT, "one head of width model.dim has no output projection in the official "
                              "CRATE code: export with --names crate");
        *m = OFFICIAL_IMAGE;
        return CRATE_OK;
    }
}

/* Matches name against pattern; on success *layer is the index '#' matched
 * (-1 if none) and *rest the part a trailing '.' let through. */
static int match(const char *pattern, const char *name, long *layer, const char **rest) {
    *layer = -1;
    *rest = "";
    for (;;) {
        if (*pattern == '#') {
            if (*name < '0' || *name > '9' || (name[0] == '0' && name[1] >= '0' && name[1] <= '9')) return 0;
            long v = 0;
            while (*name >= '0' && *name <= '9' && v < 100000) v = v * 10 + (*name++ - '0');
            if (*name >= '0' && *name <= '9') return 0;
            *layer = v;
            pattern++;
            continue;
        }
        if (*pattern == '\0') return *name == '\0';
        if (*pattern != *name) return 0;
        if (*pattern == '.' && pattern[1] == '\0') {
            *rest = name + 1;
            return **rest != '\0';
        }
        pattern++;
        name++;
    }
}

/* Writes pattern with '#' replaced by layer, then rest. */
static int expand(const char *pattern, long layer, const char *rest, char *out, size_t cap) {
    size_t n = 0;
    for (const char *c = pattern; *c; c++) {
        int w = *c == '#' ? snprintf(out + n, cap - n, "%ld", layer) : snprintf(out + n, cap - n, "%c", *c);
        if (w < 0 || (size_t)w >= cap - n) return 0;
        n += (size_t)w;
    }
    int w = snprintf(out + n, cap - n, "%s", rest);
    return w >= 0 && (size_t)w < cap - n;
}

static int translate(official_model m, int to_official, const char *name, char *out, size_t cap, int *lead_ones) {
    const name_rule *rules = m == OFFICIAL_IMAGE ? image_rules : causal_rules;
    size_t n = m == OFFICIAL_IMAGE ? sizeof image_rules / sizeof *image_rules : sizeof causal_rules / sizeof *causal_rules;
    for (size_t i = 0; i < n; i++) {
        long layer;
        const char *rest;
        const char *from = to_official ? rules[i].crate : rules[i].official;
        const char *to = to_official ? rules[i].official : rules[i].crate;
        if (!match(from, name, &layer, &rest)) continue;
        if (!expand(to, layer, rest, out, cap)) return 0;
        *lead_ones = rules[i].lead_ones;
        return 1;
    }
    return 0;
}

int official_name(official_model m, const char *crate, char *out, size_t cap, int *lead_ones) {
    return translate(m, 1, crate, out, cap, lead_ones);
}

int official_to_crate(official_model m, const char *official, char *out, size_t cap, int *lead_ones) {
    return translate(m, 0, official, out, cap, lead_ones);
}
