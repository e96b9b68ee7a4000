/* text_sampler.c — see text_sampler.h. */
#include "pretrain/text_sampler.h"

#include <math.h>
#include <stdlib.h>

#include "src/error.h"

int text_sampler_init(text_sampler *s, int V, float temperature, int top_k, uint64_t seed) {
    s->V = V;
    s->temperature = temperature;
    s->top_k = top_k > 0 && top_k < V ? top_k : V;
    s->rng = rng_stream_make(seed, 0, 0, RNG_SAMPLE);
    s->order = crate_malloc((size_t)V * sizeof(int), "sampler");
    s->prob = crate_malloc((size_t)V * sizeof(float), "sampler");
    if (s->order && s->prob) return CRATE_OK;
    text_sampler_free(s);
    return CRATE_EINTERNAL;
}

void text_sampler_free(text_sampler *s) {
    free(s->order);
    free(s->prob);
    s->order = NULL;
    s->prob = NULL;
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Moves the k largest logits' ids to order[0..k) (a partial selection sort
 * would be O(kV); a heap-free quickselect keeps it O(V)). */
static void select_top_k(int *order, const float *logits, int V, int k) {
    for (int i = 0; i < V; i++) order[i] = i;
    int lo = 0, hi = V - 1;
    while (lo < hi) {
        float pivot = logits[order[(lo + hi) / 2]];
        int i = lo, j = hi;
        while (i <= j) {
            while (logits[order[i]] > pivot) i++;
            while (logits[order[j]] < pivot) j--;
            if (i <= j) {
                int t = order[i];
                order[i++] = order[j];
                order[j--] = t;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

int32_t text_sampler_pick(text_sampler *s, const float *logits) {
    if (s->temperature <= 0) return argmax(logits, s->V);
    int k = s->top_k;
    select_top_k(s->order, logits, s->V, k);
    float mx = -INFINITY;
    for (int i = 0; i < k; i++) mx = fmaxf(mx, logits[s->order[i]]);
    double sum = 0;
    for (int i = 0; i < k; i++) sum += s->prob[i] = expf((logits[s->order[i]] - mx) / s->temperature);
    double u = rng_uniform(&s->rng) * sum, acc = 0;
    for (int i = 0; i < k; i++) {
        acc += s->prob[i];
        if (u < acc) return s->order[i];
    }
    return s->order[k - 1];
}
