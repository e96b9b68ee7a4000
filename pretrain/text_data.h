/* text_data.h — what a text objective needs to know about its data before it
 * declares its model: the vocabulary and the tokenizer of data.train's token
 * shards (data/token_shard.h), checked against the config and against
 * data.val. The tokenizer bytes travel into every checkpoint (tokenizer.model),
 * so crate-generate and crate-probe never need the original model file. */
#ifndef CRATE_TEXT_DATA_H
#define CRATE_TEXT_DATA_H

#include <stddef.h>

#include "pretrain/train_config.h"

typedef struct text_data_info {
    int vocab;             /* V: model.vocab_size, or the tokenizer's when that is 0 */
    void *tokenizer;       /* serialized SentencePiece model (malloc'd; NULL in benchmarks) */
    size_t tokenizer_bytes;
} text_data_info;

/* The name of the tokenizer file in checkpoints. */
#define TEXT_TOKENIZER_FILE "tokenizer.model"

/* Opens cfg->data.train (and cfg->data.val when set) and fills *out. Errors
 * name the folder and the fix: a vocab that differs from model.vocab_size, a
 * val set made with another tokenizer. */
int text_data_info_read(text_data_info *out, const train_config *cfg);
void text_data_info_free(text_data_info *info);

#endif
