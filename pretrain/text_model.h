/* text_model.h — what the two language objectives (gpt2.c, bert.c) share:
 * the text encoder declared from the config, its activations for B windows
 * of T tokens, the tokenizer attached to every checkpoint (tokenizer.model),
 * and data.val for eval.every.
 */
#ifndef CRATE_TEXT_MODEL_H
#define CRATE_TEXT_MODEL_H

#include "data/token_shard.h"
#include "encoders/text_encoder.h"
#include "pretrain/objective.h"
#include "pretrain/text_data.h"

/* Rows of logits a fused head holds at once: chunk·V floats ≤ 8 MiB. */
#define TEXT_HEAD_FLOATS ((size_t)1 << 21)

typedef struct {
    int B, T, V, d;
    int chunk;            /* rows per block of the fused head (lm_cross_entropy) */
    arena arena;          /* the encoder's activations and the objective's buffers */
    text_encoder enc;
    float *scratch;       /* text_encoder_backward's */
    text_data_info data;  /* owned */
    ckpt_file files[1];
    token_dataset *val;   /* data.val when eval.every > 0, else NULL */
    double val_tokens_per_byte;
} text_model;

/* Declares the encoder of cfg in ps ("text.*"), allocates its activations and
 * backward scratch for B windows of T = model.context, opens data.val when
 * eval.every > 0, and attaches the tokenizer to o. Takes data over (emptied
 * whatever the outcome); on failure t is freed. */
int text_model_init(text_model *t, objective *o, const train_config *cfg, text_data_info *data, int B,
                    param_store *ps);
void text_model_free(text_model *t);
/* This rank's share [lo, hi) of n evaluation windows. */
void text_model_eval_share(const comm_info *c, int64_t n, int64_t *lo, int64_t *hi);

#endif
