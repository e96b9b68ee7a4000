/* official_names.h — crate's tensor names and the parameter names of the
 * official CRATE PyTorch code, both ways, for exports PyTorch users load with
 * load_state_dict(strict=True) and for imports of their weights (init.from).
 *
 * Two official models have a crate counterpart:
 *
 *   image   the CRATE classifier of Ma-Lab-Berkeley/CRATE, model/crate.py:
 *           to_patch_embedding.{1,2,3} (LN, Linear, LN), cls_token (1,1,d),
 *           pos_embedding (1,1+N,d), transformer.layers.ℓ.0 (PreNorm: norm, fn.qkv,
 *           fn.to_out.0) and .1 (PreNorm: norm, fn.weight = the ISTA dictionary D),
 *           mlp_head.0 (the LayerNorm crate's encoder ends with; mlp_head.1, the
 *           classifier Linear, has no crate tensor)
 *   causal  CRATE-GPT of crate-lm/crate-lm, crate.py: transformer.wte, .wpe,
 *           transformer.h.ℓ.{prenorm_1, attn.c_attn, attn.c_proj, prenorm_2,
 *           ista.weight}, lm_head.weight (tied to wte), and the buffer
 *           transformer.h.ℓ.attn.bias, the (1,1,T,T) lower-triangular mask
 *
 * The layouts agree without transposes: nn.Linear stores (out, in) as crate
 * does, the official ISTA computes x + η(x W − x Wᵀ W) − ηλ with W = crate's D
 * (DESIGN §2), heads are contiguous column blocks of the shared projection in
 * both, and patches flatten as (row, column, channel) in both. Only shapes
 * differ: cls_token and pos_embedding carry leading 1-dims.
 */
#ifndef CRATE_OFFICIAL_NAMES_H
#define CRATE_OFFICIAL_NAMES_H

#include <stddef.h>

#include "pretrain/train_config.h"

typedef enum { OFFICIAL_IMAGE = 0, OFFICIAL_CAUSAL = 1 } official_model;

/* Longest official name written or read, with its NUL. */
#define OFFICIAL_NAME_MAX 96

/* The official model of cfg's architecture, or CRATE_EINPUT naming why there
 * is none (BERT; CRATE-GPT with its final LayerNorm on; a shared projection
 * the official code cannot express). */
int official_model_of(const train_config *cfg, official_model *m);

/* The official name of crate tensor `crate` in model m into out (cap bytes)
 * and the number of leading 1-dims its official shape adds; returns 0 when
 * the official model has no such tensor (MAE's decoder, a mask token, DINO's
 * head), 1 when mapped. */
int official_name(official_model m, const char *crate, char *out, size_t cap, int *lead_ones);
/* The inverse: the crate tensor of official name `official`; 0 when none. */
int official_to_crate(official_model m, const char *official, char *out, size_t cap, int *lead_ones);

#endif
