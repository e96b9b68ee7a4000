/* frozen_text.c — see frozen_text.h. */
#include "pretrain/frozen_text.h"

#include <stdlib.h>
#include <string.h>

#include "pretrain/encoder_config.h"
#include "pretrain/text_data.h"
#include "src/ckpt/checkpoint.h"
#include "src/error.h"

int frozen_text_for_config(frozen_text *ft, const train_config *cfg, int vocab, int batch) {
    memset(ft, 0, sizeof *ft);
    ft->cfg = *cfg;
    ft->batch = batch;
    ft->T = (int)cfg->model.context;
    param_store_init(&ft->ps);
    arena_init(&ft->arena);
    if (!train_config_is_text(cfg))
        return crate_fail(CRATE_EINPUT, "the checkpoint's objective has no text model (objective.name is not gpt2 or bert)");
    text_encoder_config tc = encoder_config_for_text(cfg, vocab);
    int rc = text_encoder_declare(&ft->enc, &ft->ps, "text", &tc);
    if (rc == CRATE_OK) rc = param_store_alloc(&ft->ps);
    if (rc == CRATE_OK) rc = text_encoder_alloc(&ft->enc, &ft->arena, batch, ft->T);
    return rc;
}

/* Copies every tensor of ft->ps from the checkpoint's parameter vector by name. */
static int copy_tensors(frozen_text *ft, const ckpt_manifest *m, const float *params, const char *path) {
    int lacking, bad = ckpt_manifest_copy_tensors(m, params, &ft->ps, &lacking);
    if (bad < 0) return CRATE_OK;
    return crate_fail(CRATE_EINPUT, "%s: tensor %s is %s: the checkpoint does not hold the model its own config "
                      "describes (a damaged or hand-edited manifest?)", path, ft->ps.tensors[bad].name,
                      lacking ? "missing" : "of another shape");
}

int frozen_text_open(frozen_text *ft, const char *path, int batch) {
    memset(ft, 0, sizeof *ft);
    ckpt_manifest m;
    float *params = NULL;
    void *tok = NULL;
    size_t tok_bytes = 0;
    int rc = checkpoint_read_params(path, &m, &params);
    if (rc != CRATE_OK) return rc;
    train_config cfg;
    config_sources src = {0};
    rc = train_config_load_text(&cfg, &src, m.config, "the checkpoint's config");
    if (rc == CRATE_OK) {
        config_sources_free(&src);
        if (!train_config_is_text(&cfg))
            rc = crate_fail(CRATE_EINPUT, "%s: the checkpoint's objective has no text model (objective.name is not "
                            "gpt2 or bert): give a checkpoint of a language run", path);
    }
    if (rc == CRATE_OK) rc = checkpoint_read_file(path, TEXT_TOKENIZER_FILE, &tok, &tok_bytes);
    spm_model *spm = NULL;
    if (rc == CRATE_OK) rc = spm_load_bytes(&spm, tok, tok_bytes);
    if (rc == CRATE_OK) {
        rc = frozen_text_for_config(ft, &cfg, spm_vocab_size(spm), batch);
        ft->spm = spm;
        ft->step = m.step;
    }
    if (rc == CRATE_OK) rc = copy_tensors(ft, &m, params, path);
    free(tok);
    free(params);
    ckpt_manifest_free(&m);
    if (rc != CRATE_OK) frozen_text_close(ft);
    return rc;
}

void frozen_text_close(frozen_text *ft) {
    text_encoder_destroy(&ft->enc);
    param_store_free(&ft->ps);
    arena_free(&ft->arena);
    spm_free(ft->spm);
    memset(ft, 0, sizeof *ft);
}
