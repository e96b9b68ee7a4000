/* frozen_text.h — the text model of a saved checkpoint, for sampling
 * (crate-generate) and evaluation: the text encoder its stored config
 * describes, its tensors copied by name from the checkpoint (any rank count
 * wrote it), and the tokenizer stored in the checkpoint (tokenizer.model), so
 * nothing but the checkpoint folder is needed.
 */
#ifndef CRATE_FROZEN_TEXT_H
#define CRATE_FROZEN_TEXT_H

#include <stdint.h>

#include "data/spm.h"
#include "encoders/text_encoder.h"
#include "pretrain/train_config.h"
#include "src/nn/params.h"

typedef struct {
    train_config cfg;  /* the checkpoint's */
    text_encoder enc;
    param_store ps;    /* the text model's tensors only */
    arena arena;
    spm_model *spm;
    int batch, T;      /* activations for batch sequences of up to T tokens */
    int64_t step;
} frozen_text;

/* Loads checkpoint `path` (a step folder or one with `latest`); batch ≥ 1.
 * Errors name the checkpoint: not a text model, no tokenizer in it. */
int frozen_text_open(frozen_text *ft, const char *path, int batch);
/* Declares and allocates the model of cfg for V ids without loading weights
 * (tests build a model this way and fill ps themselves). */
int frozen_text_for_config(frozen_text *ft, const train_config *cfg, int vocab, int batch);
void frozen_text_close(frozen_text *ft);

#endif
