/* text_model.c — see text_model.h. */
#include "pretrain/text_model.h"

#include <string.h>

#include "pretrain/encoder_config.h"
#include "src/error.h"

static int open_val(text_model *t, const train_config *cfg) {
    int rc = token_dataset_open(&t->val, cfg->data.val, 0);
    if (rc != CRATE_OK) return rc;
    t->val_tokens_per_byte = (double)token_dataset_tokens(t->val) / (double)token_dataset_text_bytes(t->val);
    return CRATE_OK;
}

int text_model_init(text_model *t, objective *o, const train_config *cfg, text_data_info *data, int B,
                    param_store *ps) {
    memset(t, 0, sizeof *t);
    arena_init(&t->arena);
    t->data = *data;
    memset(data, 0, sizeof *data);
    t->B = B;
    t->T = (int)cfg->model.context;
    t->V = t->data.vocab;
    t->d = (int)cfg->model.dim;
    size_t chunk = TEXT_HEAD_FLOATS / (size_t)t->V, M = (size_t)B * t->T;
    t->chunk = (int)(chunk < 1 ? 1 : chunk > M ? M : chunk);
    text_encoder_config tc = encoder_config_for_text(cfg, t->V);
    int rc = text_encoder_declare(&t->enc, ps, "text", &tc);
    if (rc == CRATE_OK) rc = text_encoder_alloc(&t->enc, &t->arena, B, t->T);
    if (rc == CRATE_OK) {
        t->scratch = arena_floats(&t->arena, text_encoder_scratch_floats(&t->enc, B, t->T));
        if (!t->scratch) rc = CRATE_EINTERNAL;
    }
    if (rc == CRATE_OK && cfg->eval.every > 0) rc = open_val(t, cfg);
    if (rc == CRATE_OK && t->data.tokenizer) {
        t->files[0] = (ckpt_file){TEXT_TOKENIZER_FILE, t->data.tokenizer, t->data.tokenizer_bytes};
        o->files = t->files;
        o->nfiles = 1;
    }
    if (rc != CRATE_OK) text_model_free(t);
    return rc;
}

void text_model_free(text_model *t) {
    text_encoder_destroy(&t->enc);
    token_dataset_close(t->val);
    text_data_info_free(&t->data);
    arena_free(&t->arena);
    memset(t, 0, sizeof *t);
}

void text_model_eval_share(const comm_info *c, int64_t n, int64_t *lo, int64_t *hi) {
    *lo = n * c->rank / c->world;
    *hi = n * (c->rank + 1) / c->world;
}
