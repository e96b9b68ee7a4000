/* param_init.c — see param_init.h. */
#include "src/nn/param_init.h"

#include <math.h>

#include "src/nn/rng.h"

static void fill_uniform(float *w, size_t n, float a, rng_stream *s) {
    for (size_t i = 0; i < n; i++) w[i] = a * (2.0f * rng_uniform(s) - 1.0f);
}

static void fill_truncated_normal(float *w, size_t n, float std, rng_stream *s) {
    for (size_t i = 0; i < n; i++) {
        float z;
        do z = rng_normal(s);
        while (fabsf(z) > 2.0f);
        w[i] = std * z;
    }
}

void param_store_initialize(param_store *ps, uint64_t seed, float normal_std) {
    for (int id = 0; id < ps->count; id++) {
        const param_tensor *t = &ps->tensors[id];
        float *w = param_data(ps, id);
        rng_stream s = rng_stream_make(seed, 0, (uint64_t)id, RNG_INIT);
        switch (t->flags & PARAM_INIT_MASK) {
        case PARAM_INIT_ONE:
            for (size_t i = 0; i < t->numel; i++) w[i] = 1.0f;
            break;
        case PARAM_INIT_XAVIER: {
            size_t fan_out = (size_t)t->shape[0], fan_in = t->numel / fan_out;
            fill_uniform(w, t->numel, sqrtf(6.0f / (float)(fan_in + fan_out)), &s);
            break;
        }
        case PARAM_INIT_NORMAL:
            fill_truncated_normal(w, t->numel, t->init_std > 0 ? t->init_std : normal_std, &s);
            break;
        default:
            for (size_t i = 0; i < t->numel; i++) w[i] = 0.0f;
        }
    }
}
