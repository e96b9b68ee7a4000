/* test_rng.c — Philox4x32-10 against the known-answer vectors of Salmon et
 * al.'s Random123 distribution, the stream layout (key = seed, counter =
 * (block, purpose, sample, epoch)), independence and reproducibility of
 * streams, and the ranges and moments of the derived distributions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/nn/rng.h"
#include "tests/check.h"

#define DRAWS 100000

static void test_known_answers(void) {
    static const struct {
        uint32_t key[2], ctr[4], out[4];
    } kat[] = {
        {{0, 0}, {0, 0, 0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0xa4093822, 0x299f31d0}, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t out[4];
        rng_philox4x32(kat[i].key, kat[i].ctr, out);
        CHECK(memcmp(out, kat[i].out, sizeof out) == 0,
              "philox known answer %zu: got %08x %08x %08x %08x", i, out[0], out[1], out[2], out[3]);
    }
}

/* The counter layout is part of the determinism contract: a checkpoint
 * resumed by another build must draw the same numbers. */
static void test_stream_layout(void) {
    uint64_t seed = 0x0123456789abcdefull;
    rng_stream s = rng_stream_make(seed, 3, 17, RNG_MASK);
    uint32_t key[2] = {0x89abcdef, 0x01234567};
    int ok = 1;
    for (uint32_t block = 0; block < 3; block++) {
        uint32_t ctr[4] = {block, RNG_MASK, 17, 3}, want[4];
        rng_philox4x32(key, ctr, want);
        for (int j = 0; j < 4; j++) ok &= rng_u32(&s) == want[j];
    }
    CHECK(ok, "stream numbers are not philox(seed, (block, purpose, sample, epoch))");
}

static void draw(rng_stream s, uint32_t out[8]) {
    for (int i = 0; i < 8; i++) out[i] = rng_u32(&s);
}

static void test_streams_differ(void) {
    uint32_t base[8], again[8], other[8];
    draw(rng_stream_make(42, 1, 7, RNG_MASK), base);
    draw(rng_stream_make(42, 1, 7, RNG_MASK), again);
    CHECK(memcmp(base, again, sizeof base) == 0, "same (seed, epoch, sample, purpose) differ");

    const rng_stream variants[] = {
        rng_stream_make(43, 1, 7, RNG_MASK),
        rng_stream_make(42, 2, 7, RNG_MASK),
        rng_stream_make(42, 1, 8, RNG_MASK),
        rng_stream_make(42, 1, 7, RNG_AUGMENT),
        rng_stream_make(42, 1, 7 + (1ull << 32), RNG_MASK), /* high half of the sample id */
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        draw(variants[i], other);
        CHECK(memcmp(base, other, sizeof base) != 0, "stream variant %zu repeats the base stream", i);
    }
}

static void test_uniform(void) {
    rng_stream s = rng_stream_make(1, 0, 0, RNG_INIT);
    double sum = 0.0;
    int in_range = 1;
    for (int i = 0; i < DRAWS; i++) {
        float u = rng_uniform(&s);
        in_range &= u >= 0.0f && u < 1.0f;
        sum += u;
    }
    CHECK(in_range, "rng_uniform left [0, 1)");
    /* σ of the mean is 0.289/√DRAWS ≈ 0.0009; 0.005 is over 5σ. */
    CHECK(fabs(sum / DRAWS - 0.5) < 0.005, "rng_uniform mean %g", sum / DRAWS);
}

static void test_below(void) {
    rng_stream s = rng_stream_make(2, 0, 0, RNG_PERMUTE);
    int ok = 1;
    for (int i = 0; i < 1000; i++) ok &= rng_below(&s, 1) == 0;
    CHECK(ok, "rng_below(1) is not always 0");

    int count[7] = {0};
    ok = 1;
    for (int i = 0; i < 7 * 10000; i++) {
        uint32_t r = rng_below(&s, 7);
        ok &= r < 7;
        if (r < 7) count[r]++;
    }
    CHECK(ok, "rng_below(7) out of range");
    for (int r = 0; r < 7; r++) /* expected 10000, σ ≈ 93 */
        CHECK(abs(count[r] - 10000) < 500, "rng_below(7) value %d drawn %d times", r, count[r]);

    /* Just above 2³¹ half the raw draws fall in the rejected region. */
    const uint32_t big = 0x80000001u;
    ok = 1;
    for (int i = 0; i < 10000; i++) ok &= rng_below(&s, big) < big;
    CHECK(ok, "rng_below(2^31 + 1) out of range");
}

static void test_normal(void) {
    rng_stream s = rng_stream_make(3, 0, 0, RNG_INIT);
    double sum = 0.0, sum2 = 0.0;
    int finite = 1;
    for (int i = 0; i < DRAWS; i++) {
        double x = rng_normal(&s);
        finite &= isfinite(x);
        sum += x;
        sum2 += x * x;
    }
    double mean = sum / DRAWS, var = sum2 / DRAWS - mean * mean;
    CHECK(finite, "rng_normal gave a non-finite value");
    /* σ of the mean ≈ 0.003, of the variance ≈ 0.0045. */
    CHECK(fabs(mean) < 0.02 && fabs(var - 1.0) < 0.03, "rng_normal mean %g var %g", mean, var);
}

int main(void) {
    test_known_answers();
    test_stream_layout();
    test_streams_differ();
    test_uniform();
    test_below();
    test_normal();
    return check_finish();
}
