/* weight_import.h — init.from: a fresh run starts from the weights of a
 * safetensors file instead of its random initialisation (fine-tuning, or
 * continuing elsewhere what was trained elsewhere). A resumed run continues
 * from its checkpoint and never reads the file again.
 *
 * The file's names are crate's (crate-probe --export-safetensors, the
 * default) or the official CRATE PyTorch code's (--names official, or a
 * state dict saved with safetensors.torch.save_file from model/crate.py's
 * CRATE or crate-lm's CRATE-GPT; pretrain/official_names.h), recognised by
 * the names themselves. Every tensor in the file must be one of this model's,
 * of its shape (an official cls_token (1,1,d) fills crate's (d)); F32, BF16
 * and F16 are read. What the official state dict holds but crate computes is
 * checked, not loaded: lm_head.weight must equal the tied wte, each
 * attn.bias must be the causal mask, and a model with fixed sin-cos positions
 * takes a pos_embedding only if it is such a table. The official classifier
 * (mlp_head.1) has no tensor in the pretraining objectives and is skipped,
 * as are crate-named tensors of another objective's parts (an MAE decoder in
 * a file a DINO run starts from); the model's tensors the file does not have
 * keep their initialisation (DINO's head then). Both are listed in the
 * report; a shared name of another shape is an error, and so is a file with
 * none of the model's tensors.
 */
#ifndef CRATE_WEIGHT_IMPORT_H
#define CRATE_WEIGHT_IMPORT_H

#include <stddef.h>

#include "pretrain/train_config.h"
#include "src/nn/params.h"

typedef struct {
    int loaded, kept, skipped; /* model tensors loaded, model tensors left as initialised, file tensors skipped */
    int official;              /* the file had official names */
    char kept_names[256], skipped_names[256]; /* their groups, ", "-separated: "decoder.*, head.*" */
} weight_import_report;

/* Loads `path` into ps (a model of cfg, allocated and initialised). On an
 * error (naming the file, the tensor and the fix) ps may be partly
 * overwritten: the caller initialises again or stops. */
int weight_import(const char *path, param_store *ps, const train_config *cfg, weight_import_report *rep);

#endif
