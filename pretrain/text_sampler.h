/* text_sampler.h — choosing the next token from logits (crate-generate):
 * greedy at temperature 0, otherwise a draw from softmax(logits / τ)
 * restricted to the k most likely ids (k = 0: all), with the counter-based
 * RNG (seed, RNG_SAMPLE), so a seed fixes the text. */
#ifndef CRATE_TEXT_SAMPLER_H
#define CRATE_TEXT_SAMPLER_H

#include <stdint.h>

#include "src/nn/rng.h"

typedef struct {
    float temperature; /* 0: greedy (argmax, lowest id on ties) */
    int top_k;         /* 0: no cut */
    rng_stream rng;
    int *order;        /* (V) work */
    float *prob;       /* (V) work */
    int V;
} text_sampler;

int text_sampler_init(text_sampler *s, int V, float temperature, int top_k, uint64_t seed);
void text_sampler_free(text_sampler *s);
/* The chosen id for logits (V); logits is left unchanged. */
int32_t text_sampler_pick(text_sampler *s, const float *logits);

#endif
