/* text_cache.h — incremental decoding of a causal CRATE text encoder
 * (crate-generate): a new token costs one row through every layer, not a
 * forward over the whole prefix.
 *
 * MSSA's shared projection plays query, key and value at once (Q = K = V =
 * W = LN₁(Z) Uᵀ), so each layer caches ONE matrix, the rows w_j of W for the
 * tokens so far — half of a transformer's K/V cache. With causal attention
 * those rows never change when tokens are appended. For token x_t at position t:
 *
 *   z    = wte[x_t] + wpe[t]
 *   per layer:  x̃ = LN₁(z),  w_t = x̃ Uᵀ  (appended to the cache)
 *               a_j = softmax_{j ≤ t}(w_t,k · w_j,k / √p),  h_k = Σ_j a_j w_j,k   for every head k
 *               z½ = z + [h_1 … h_K] Oᵀ + b_O,   z = ReLU(y + y H − ηλ),  y = LN₂(z½)
 *               (H = η(D − DᵀD), ista.h: formed at position 0, so the
 *               parameters must not change between a reset and the steps after it)
 *   h    = LN(z) or z (final norm off),   logits = h wteᵀ
 *
 * which is row t of the full causal forward (tested against it). The layers'
 * own forward functions run on one row with the cache's buffers, so the math
 * is the training code's.
 */
#ifndef CRATE_TEXT_CACHE_H
#define CRATE_TEXT_CACHE_H

#include <stdint.h>

#include "encoders/text_encoder.h"

typedef struct {
    const text_encoder *enc;
    int T_max, pos, K, p, L, d;
    float *w;        /* (L, T_max, K·p): the cached projections */
    float *z, *x, *heads, *scores, *buf; /* one-row work buffers */
    float *gains;    /* (L, d, d): each layer's ISTA gain for this sequence */
} text_cache;

int text_cache_init(text_cache *c, const text_encoder *enc);
void text_cache_free(text_cache *c);
/* Forgets every cached token (pos = 0). */
void text_cache_reset(text_cache *c);
/* Appends token id at position c->pos (< T_max, then pos + 1) and writes the
 * next-token logits (V). */
void text_cache_step(text_cache *c, const param_store *ps, int32_t id, float *logits);

#endif
