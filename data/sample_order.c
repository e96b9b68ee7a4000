/* sample_order.c — epoch permutations and global positions (see
 * sample_order.h). The code the image loader had inline, moved here so that
 * every batch source draws the same samples for the same (seed, G, step).
 */
#include "data/sample_order.h"

#include <stdlib.h>
#include <string.h>

#include "data/prefetch.h"
#include "src/error.h"
#include "src/nn/rng.h"

int sample_order_init(sample_order *o, const char *what, uint64_t seed, uint64_t n, int shuffle) {
    memset(o, 0, sizeof *o);
    o->perm_epoch[0] = o->perm_epoch[1] = -1;
    if (n == 0 || n > UINT32_MAX)
        return crate_fail(CRATE_EINPUT, "%s: %llu samples; a batch source needs 1 to 2^32 - 1", what,
                          (unsigned long long)n);
    o->seed = seed;
    o->n = (uint32_t)n;
    o->shuffle = shuffle;
    return CRATE_OK;
}

void sample_order_free(sample_order *o) {
    free(o->perm[0]);
    free(o->perm[1]);
    o->perm[0] = o->perm[1] = NULL;
}

int sample_order_check_slice(const char *what, int64_t global_batch, int64_t rank_offset, int local_batch,
                             int64_t first_step, int prefetch) {
    if (global_batch < 1 || local_batch < 1 || rank_offset < 0 || rank_offset + local_batch > global_batch ||
        first_step < 0 || prefetch < 0 || prefetch > PREFETCH_MAX_DEPTH)
        return crate_fail(CRATE_EINPUT, "%s: bad loader config: global batch %lld, rank offset %lld, local batch %d, "
                          "first step %lld, prefetch %d (need G >= 1, local >= 1, 0 <= offset, offset + local <= G, "
                          "first step >= 0, 0 <= prefetch <= %d)", what, (long long)global_batch,
                          (long long)rank_offset, local_batch, (long long)first_step, prefetch, PREFETCH_MAX_DEPTH);
    return CRATE_OK;
}

int sample_order_base(int64_t step, int64_t global_batch, int64_t rank_offset, uint64_t *base) {
    uint64_t G = (uint64_t)global_batch;
    if ((uint64_t)step > (UINT64_MAX - G) / G)
        return crate_fail(CRATE_EINPUT, "step %lld with a global batch of %llu overflows the sample counter",
                          (long long)step, (unsigned long long)G);
    *base = (uint64_t)step * G + (uint64_t)rank_offset;
    return CRATE_OK;
}

/* perm_e for epoch e, from one of the two slots or computed into the older. */
static int order_perm(sample_order *o, uint64_t e, const uint32_t **perm) {
    for (int k = 0; k < 2; k++)
        if (o->perm_epoch[k] == (int64_t)e) {
            *perm = o->perm[k];
            return CRATE_OK;
        }
    int k = o->perm_epoch[0] <= o->perm_epoch[1] ? 0 : 1; /* older or empty */
    if (!o->perm[k]) {
        o->perm[k] = crate_malloc((size_t)o->n * sizeof(uint32_t), "epoch permutation");
        if (!o->perm[k]) return CRATE_EINTERNAL;
    }
    uint32_t *p = o->perm[k];
    uint32_t n = o->n;
    for (uint32_t i = 0; i < n; i++) p[i] = i;
    rng_stream rs = rng_stream_make(o->seed, e, 0, RNG_PERMUTE);
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(&rs, i + 1);
        uint32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    o->perm_epoch[k] = (int64_t)e;
    *perm = p;
    return CRATE_OK;
}

int sample_order_at(sample_order *o, uint64_t g, uint64_t *sample, uint32_t *epoch) {
    uint64_t e = g / o->n, pos = g % o->n;
    if (e > UINT32_MAX)
        return crate_fail(CRATE_EINPUT, "global position %llu reaches epoch %llu, beyond the 2^32 epochs a batch "
                          "records", (unsigned long long)g, (unsigned long long)e);
    if (o->shuffle) {
        const uint32_t *perm;
        int st = order_perm(o, e, &perm);
        if (st) return st;
        pos = perm[pos];
    }
    *sample = pos;
    *epoch = (uint32_t)e;
    return CRATE_OK;
}
