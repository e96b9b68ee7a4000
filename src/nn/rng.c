/* rng.c — Philox4x32-10 and the streams built on it (see rng.h). */
#include "src/nn/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void rng_philox4x32(const uint32_t key_in[2], const uint32_t ctr[4], uint32_t out[4]) {
    uint32_t k0 = key_in[0], k1 = key_in[1];
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

rng_stream rng_stream_make(uint64_t seed, uint64_t epoch, uint64_t sample, uint32_t purpose) {
    rng_stream s;
    s.seed = seed;
    s.purpose = purpose;
    s.sample_lo = (uint32_t)sample;
    s.epoch = (uint32_t)epoch ^ (uint32_t)(sample >> 32) * 0x85EBCA6Bu;
    s.block = 0;
    s.used = 4;
    return s;
}

uint32_t rng_u32(rng_stream *s) {
    if (s->used == 4) {
        uint32_t key[2] = {(uint32_t)s->seed, (uint32_t)(s->seed >> 32)};
        uint32_t ctr[4] = {s->block++, s->purpose, s->sample_lo, s->epoch};
        rng_philox4x32(key, ctr, s->buf);
        s->used = 0;
    }
    return s->buf[s->used++];
}

float rng_uniform(rng_stream *s) { return (float)(rng_u32(s) >> 8) * (1.0f / 16777216.0f); }

uint32_t rng_below(rng_stream *s, uint32_t n) {
    /* Lemire's multiply-shift with rejection of the biased low region. */
    uint64_t m = (uint64_t)rng_u32(s) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)rng_u32(s) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void rng_partial_shuffle(rng_stream *s, int *order, int n, int k) {
    for (int j = 0; j < k; j++) {
        int r = j + (int)rng_below(s, (uint32_t)(n - j));
        int t = order[j];
        order[j] = order[r];
        order[r] = t;
    }
}

float rng_normal(rng_stream *s) {
    float u1 = ((float)(rng_u32(s) >> 8) + 0.5f) * (1.0f / 16777216.0f); /* (0,1): log is finite */
    float u2 = rng_uniform(s);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530718f * u2);
}
