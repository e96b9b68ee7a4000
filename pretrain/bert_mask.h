/* bert_mask.h — BERT's token corruption (DESIGN §3, §5): which positions of a
 * window the masked-LM predicts, and what the encoder sees there.
 *
 * Per window of T ids, with every choice drawn from the counter-based stream
 * rng_stream_make(seed, epoch, sample, RNG_CORRUPT), so a window's corruption
 * depends on nothing but its key (not on the rank, the micro-batch or the
 * resume point):
 *   1. n = the window's ordinary positions (ids that are not special: pad,
 *      unk, bos, eos, mask); select m = ⌊p·n + u⌋ of them, u ~ U[0,1): a
 *      stochastic rounding, so E[m] = p·n exactly for any window length;
 *   2. the m positions: a uniform m-subset (rng_partial_shuffle);
 *   3. each selected position, u ~ U[0,1): u < mask_token → the mask id;
 *      u < mask_token + random_token → an ordinary id drawn uniformly; else
 *      the id stays (BERT: p 0.15 and 0.8 / 0.1 / 0.1).
 * Outputs: the encoder's input ids, and targets = the original id at
 * selected positions, −1 elsewhere (lm_cross_entropy's "ignored").
 */
#ifndef CRATE_BERT_MASK_H
#define CRATE_BERT_MASK_H

#include <stdint.h>

typedef struct {
    uint64_t seed;
    float select, mask_token, random_token; /* p and the two fractions of step 3 */
    int V, mask_id;
    uint8_t *special;   /* (V) 1: never selected, never drawn */
    int32_t *ordinary;  /* the ids that are not special, ascending */
    int nordinary;
    int *order;         /* (T) work */
    int T;
} bert_masker;

/* specials[0..nspecial): ids in [0,V) (the mask id among them; out-of-range
 * entries, −1 for a special the tokenizer lacks, are skipped). */
int bert_masker_init(bert_masker *m, uint64_t seed, float select, float mask_token, float random_token, int V,
                     int mask_id, const int *specials, int nspecial, int T);
void bert_masker_free(bert_masker *m);

/* One window: ids (T) → inputs (T), targets (T); returns the selected count. */
int bert_mask_window(bert_masker *m, uint64_t epoch, uint64_t sample, const int32_t *ids, int32_t *inputs,
                     int32_t *targets);

#endif
