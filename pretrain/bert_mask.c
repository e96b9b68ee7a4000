/* bert_mask.c — see bert_mask.h. */
#include "pretrain/bert_mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/nn/rng.h"

int bert_masker_init(bert_masker *m, uint64_t seed, float select, float mask_token, float random_token, int V,
                     int mask_id, const int *specials, int nspecial, int T) {
    memset(m, 0, sizeof *m);
    *m = (bert_masker){.seed = seed, .select = select, .mask_token = mask_token, .random_token = random_token,
                       .V = V, .mask_id = mask_id, .T = T};
    m->special = crate_calloc((size_t)V, 1, "special ids");
    m->ordinary = crate_malloc((size_t)V * sizeof *m->ordinary, "ordinary ids");
    m->order = crate_malloc((size_t)T * sizeof *m->order, "mask order");
    if (!m->special || !m->ordinary || !m->order) {
        bert_masker_free(m);
        return CRATE_EINTERNAL;
    }
    for (int i = 0; i < nspecial; i++)
        if (specials[i] >= 0 && specials[i] < V) m->special[specials[i]] = 1;
    for (int v = 0; v < V; v++)
        if (!m->special[v]) m->ordinary[m->nordinary++] = v;
    if (mask_id < 0 || mask_id >= V || !m->special[mask_id] || m->nordinary == 0) {
        bert_masker_free(m);
        return crate_fail(CRATE_EINTERNAL, "bert masker: mask id %d of V = %d must be one of the special ids, and "
                          "some id must be ordinary", mask_id, V);
    }
    return CRATE_OK;
}

void bert_masker_free(bert_masker *m) {
    free(m->special);
    free(m->ordinary);
    free(m->order);
    memset(m, 0, sizeof *m);
}

int bert_mask_window(bert_masker *m, uint64_t epoch, uint64_t sample, const int32_t *ids, int32_t *inputs,
                     int32_t *targets) {
    rng_stream s = rng_stream_make(m->seed, epoch, sample, RNG_CORRUPT);
    int n = 0;
    for (int t = 0; t < m->T; t++) {
        inputs[t] = ids[t];
        targets[t] = -1;
        if (!m->special[ids[t]]) m->order[n++] = t;
    }
    int k = (int)floorf(m->select * (float)n + rng_uniform(&s));
    if (k > n) k = n;
    rng_partial_shuffle(&s, m->order, n, k);
    for (int j = 0; j < k; j++) {
        int t = m->order[j];
        float u = rng_uniform(&s);
        targets[t] = ids[t];
        if (u < m->mask_token) inputs[t] = m->mask_id;
        else if (u < m->mask_token + m->random_token) inputs[t] = m->ordinary[rng_below(&s, (uint32_t)m->nordinary)];
    }
    return k;
}
