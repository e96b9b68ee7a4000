/* text_data.c — see text_data.h. */
#include "pretrain/text_data.h"

#include <stdlib.h>
#include <string.h>

#include "data/token_shard.h"
#include "src/error.h"

/* Reads the tokenizer of the token dataset at dir (a copy in *tok). */
static int read_tokenizer(const char *dir, int *vocab, void **tok, size_t *bytes) {
    *tok = NULL;
    token_dataset *ds;
    int rc = token_dataset_open(&ds, dir, 0);
    if (rc != CRATE_OK) return rc;
    const void *t = token_dataset_tokenizer(ds, bytes);
    *vocab = token_dataset_vocab(ds);
    *tok = crate_malloc(*bytes ? *bytes : 1, "tokenizer");
    if (*tok) memcpy(*tok, t, *bytes);
    token_dataset_close(ds);
    return *tok ? CRATE_OK : CRATE_EINTERNAL;
}

int text_data_info_read(text_data_info *out, const train_config *cfg) {
    memset(out, 0, sizeof *out);
    int vocab;
    int rc = read_tokenizer(cfg->data.train, &vocab, &out->tokenizer, &out->tokenizer_bytes);
    if (rc != CRATE_OK) return rc;
    out->vocab = vocab;
    if (cfg->model.vocab_size != 0 && cfg->model.vocab_size != vocab) {
        text_data_info_free(out);
        return crate_fail(CRATE_EINPUT, "data.train = %s: its tokenizer has %d ids but model.vocab_size = %lld: set "
                          "model.vocab_size=%d (or 0 to take the data's), or re-create the data with crate-data "
                          "--vocab %lld", cfg->data.train, vocab, (long long)cfg->model.vocab_size, vocab,
                          (long long)cfg->model.vocab_size);
    }
    if (!cfg->data.val[0]) return CRATE_OK;
    void *val_tok = NULL;
    size_t val_bytes;
    rc = read_tokenizer(cfg->data.val, &vocab, &val_tok, &val_bytes);
    if (rc == CRATE_OK && (val_bytes != out->tokenizer_bytes || memcmp(val_tok, out->tokenizer, val_bytes) != 0))
        rc = crate_fail(CRATE_EINPUT, "data.val = %s was tokenized with another tokenizer than data.train = %s "
                        "(their tokenizer.model files differ): make both with one crate-data run", cfg->data.val,
                        cfg->data.train);
    free(val_tok);
    if (rc != CRATE_OK) text_data_info_free(out);
    return rc;
}

void text_data_info_free(text_data_info *info) {
    free(info->tokenizer);
    memset(info, 0, sizeof *info);
}
