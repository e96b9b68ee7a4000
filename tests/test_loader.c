/* test_loader.c — the determinism contract of the image loader (DESIGN §5):
 * batches match an independent reference of "step s takes perm_e[g mod N] for
 * g = s·G + offset + i"; ranks splitting G serve the same samples; a resumed
 * loader continues an uninterrupted one; every epoch is a permutation;
 * prefetch does not change anything; a damaged block surfaces from next()
 * with the file and block named; and the loader's throughput is printed. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/loader.h"
#include "data/shard.h"
#include "src/error.h"
#include "src/nn/rng.h"
#include "tests/check.h"

static char tmpdir[] = "/tmp/crate-test-loader-XXXXXX";
static char ds_path[600];
enum { N = 1000, LC = 1, LH = 2, LW = 3, LPIX = LC * LH * LW };

/* Record id: its pixels spell the id, its label is the id. */
static void make_record(uint64_t id, uint8_t *px) {
    for (int j = 0; j < LPIX; j++) px[j] = (uint8_t)((id >> (8 * (j % 4))) + (uint64_t)j * 17);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

static int write_dataset(const char *path, uint64_t n, int C, int H, int W, int rps, int rpb) {
    image_dataset_writer *w;
    int st = image_dataset_writer_open(&w, path, C, H, W, rps, rpb);
    size_t pix = (size_t)C * H * W;
    uint8_t *px = calloc(pix, 1);
    for (uint64_t i = 0; !st && i < n; i++) {
        if (pix == LPIX) make_record(i, px);
        else px[i % pix] = (uint8_t)i;
        st = image_dataset_writer_add(w, px, (int32_t)i);
    }
    free(px);
    if (!st) st = image_dataset_writer_close(w, NULL);
    return st;
}

/* The contract, written independently of loader.c. */
static uint32_t *ref_perm(uint64_t seed, uint64_t e, uint32_t n) {
    uint32_t *p = malloc(n * sizeof *p);
    for (uint32_t i = 0; i < n; i++) p[i] = i;
    rng_stream s = rng_stream_make(seed, e, 0, RNG_PERMUTE);
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(&s, i + 1), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return p;
}

static uint64_t ref_id(uint64_t seed, int shuffle, uint64_t g, uint32_t n) {
    static uint32_t *cache[64];
    static uint64_t cache_seed[64];
    uint64_t e = g / n;
    if (!shuffle) return g % n;
    if (e >= 64) return UINT64_MAX;
    if (!cache[e] || cache_seed[e] != seed) {
        free(cache[e]);
        cache[e] = ref_perm(seed, e, n);
        cache_seed[e] = seed;
    }
    return cache[e][g % n];
}

static image_loader_config base_config(int64_t G) {
    return (image_loader_config){.seed = 1234, .global_batch = G, .rank_offset = 0, .local_batch = (int)G,
                                 .first_step = 0, .prefetch = 2, .shuffle = 1, .cache_bytes = 0};
}

/* Runs `steps` batches and stores ids/epochs/labels/pixels-ok per sample. */
typedef struct {
    uint64_t *ids;
    uint32_t *epochs;
    int64_t count;
} run_result;

static int run(const char *path, const image_loader_config *cfg, int steps, run_result *r) {
    image_loader *ld;
    int st = image_loader_open(&ld, path, cfg);
    if (st) return st;
    r->count = (int64_t)steps * cfg->local_batch;
    r->ids = malloc((size_t)r->count * sizeof *r->ids);
    r->epochs = malloc((size_t)r->count * sizeof *r->epochs);
    int64_t k = 0;
    int consistent = 1;
    for (int s = 0; s < steps && !st; s++) {
        const image_batch *b;
        st = image_loader_next(ld, &b);
        if (st) break;
        if (b->step != cfg->first_step + s || b->n != cfg->local_batch || b->C != LC || b->H != LH || b->W != LW)
            consistent = 0;
        for (int i = 0; i < b->n; i++, k++) {
            r->ids[k] = b->sample_ids[i];
            r->epochs[k] = b->epochs[i];
            uint8_t px[LPIX];
            make_record(b->sample_ids[i], px);
            if (b->labels[i] != (int32_t)b->sample_ids[i] || memcmp(px, b->pixels + (size_t)i * LPIX, LPIX))
                consistent = 0;
        }
    }
    image_loader_close(ld);
    if (!st && !consistent) st = crate_fail(CRATE_EINTERNAL, "batch fields, labels or pixels disagree with ids");
    return st;
}

static void run_free(run_result *r) {
    free(r->ids);
    free(r->epochs);
}

static void test_reference_and_ranks(void) {
    const int64_t G = 40;
    const int steps = 60; /* 2.4 epochs */
    image_loader_config cfg = base_config(G);
    run_result one;
    int st = run(ds_path, &cfg, steps, &one);
    CHECK(st == CRATE_OK, "single rank: %s", crate_errmsg());
    if (st) return;
    int bad = 0;
    for (int64_t g = 0; g < one.count; g++)
        if (one.ids[g] != ref_id(cfg.seed, 1, (uint64_t)g, N) || one.epochs[g] != (uint32_t)(g / N)) bad++;
    CHECK(bad == 0, "%d samples differ from the reference contract", bad);

    /* 2 and 4 even ranks, 3 uneven ranks: concatenated per step = one rank. */
    int splits[][5] = {{2, 20, 20}, {4, 10, 10, 10, 10}, {3, 13, 13, 14}};
    for (int t = 0; t < 3; t++) {
        int R = splits[t][0];
        run_result parts[4];
        int64_t offset = 0;
        for (int r = 0; r < R; r++) {
            image_loader_config c = cfg;
            c.rank_offset = offset;
            c.local_batch = splits[t][1 + r];
            c.prefetch = r % 2 ? 0 : 3;
            offset += c.local_batch;
            st = run(ds_path, &c, steps, &parts[r]);
            CHECK(st == CRATE_OK, "rank %d of %d: %s", r, R, crate_errmsg());
        }
        int mismatch = 0;
        for (int s = 0; s < steps; s++) {
            int64_t g = (int64_t)s * G;
            for (int r = 0; r < R; r++) {
                int lb = splits[t][1 + r];
                for (int i = 0; i < lb; i++, g++)
                    if (parts[r].ids[(int64_t)s * lb + i] != one.ids[g] ||
                        parts[r].epochs[(int64_t)s * lb + i] != one.epochs[g])
                        mismatch++;
            }
        }
        CHECK(mismatch == 0, "%d ranks: %d samples differ from one rank", R, mismatch);
        for (int r = 0; r < R; r++) run_free(&parts[r]);
    }

    /* Resume at step 37 = the uninterrupted run from step 37. */
    image_loader_config c = cfg;
    c.first_step = 37;
    run_result resumed;
    st = run(ds_path, &c, steps - 37, &resumed);
    CHECK(st == CRATE_OK && memcmp(resumed.ids, one.ids + 37 * G, (size_t)resumed.count * sizeof(uint64_t)) == 0 &&
              memcmp(resumed.epochs, one.epochs + 37 * G, (size_t)resumed.count * sizeof(uint32_t)) == 0,
          "resume at step 37: %s", crate_errmsg());
    run_free(&resumed);

    /* Prefetch 0 and 3 serve the same. */
    c = cfg;
    c.prefetch = 0;
    run_result p0, p3;
    st = run(ds_path, &c, steps, &p0);
    c.prefetch = 3;
    st |= run(ds_path, &c, steps, &p3);
    CHECK(st == CRATE_OK && !memcmp(p0.ids, one.ids, (size_t)one.count * sizeof(uint64_t)) &&
              !memcmp(p3.ids, one.ids, (size_t)one.count * sizeof(uint64_t)),
          "prefetch 0 / 3 identical");
    run_free(&p0);
    run_free(&p3);

    /* Each epoch is a permutation, not the identity, and epochs differ. */
    for (int e = 0; e < 2; e++) {
        static int seen[N];
        memset(seen, 0, sizeof seen);
        int dup = 0, identity = 1;
        for (int i = 0; i < N; i++) {
            uint64_t id = one.ids[e * N + i];
            if (id >= N || seen[id]++) dup++;
            if (id != (uint64_t)i) identity = 0;
        }
        CHECK(dup == 0 && !identity, "epoch %d: %d duplicates, identity %d", e, dup, identity);
    }
    CHECK(memcmp(one.ids, one.ids + N, N * sizeof(uint64_t)) != 0, "epochs 0 and 1 differ");

    /* Another seed, another order. */
    c = cfg;
    c.seed = 1235;
    run_result other;
    st = run(ds_path, &c, 5, &other);
    CHECK(st == CRATE_OK && memcmp(other.ids, one.ids, (size_t)other.count * sizeof(uint64_t)) != 0,
          "seed changes the order");
    run_free(&other);
    run_free(&one);
}

static void test_uneven_and_sequential(void) {
    /* G = 48 does not divide N: batches straddle epochs; G = 2500 > N: a batch
     * spans three epochs. Both follow the reference. */
    int64_t Gs[] = {48, 2500};
    int stepss[] = {70, 3};
    for (int t = 0; t < 2; t++) {
        image_loader_config cfg = base_config(Gs[t]);
        cfg.local_batch = (int)Gs[t] - 5;
        cfg.rank_offset = 5;
        run_result r;
        int st = run(ds_path, &cfg, stepss[t], &r);
        CHECK(st == CRATE_OK, "G=%lld: %s", (long long)Gs[t], crate_errmsg());
        if (st) continue;
        int bad = 0;
        int64_t k = 0;
        for (int s = 0; s < stepss[t]; s++)
            for (int i = 0; i < cfg.local_batch; i++, k++) {
                uint64_t g = (uint64_t)s * (uint64_t)Gs[t] + 5 + (uint64_t)i;
                if (r.ids[k] != ref_id(cfg.seed, 1, g, N) || r.epochs[k] != g / N) bad++;
            }
        CHECK(bad == 0, "G=%lld: %d samples off the reference", (long long)Gs[t], bad);
        run_free(&r);
    }
    /* shuffle = 0: g mod N. */
    image_loader_config cfg = base_config(64);
    cfg.shuffle = 0;
    run_result r;
    int st = run(ds_path, &cfg, 20, &r);
    int bad = 0;
    for (int64_t g = 0; !st && g < r.count; g++)
        if (r.ids[g] != (uint64_t)g % N || r.epochs[g] != (uint64_t)g / N) bad++;
    CHECK(st == CRATE_OK && bad == 0, "sequential order: %d off (%s)", bad, crate_errmsg());
    if (!st) run_free(&r);
}

static void test_bad_config(void) {
    image_loader *ld;
    image_loader_config cfg = base_config(8);
    cfg.rank_offset = 4;
    cfg.local_batch = 5;
    CHECK(image_loader_open(&ld, ds_path, &cfg) == CRATE_EINPUT, "offset + local > G");
    cfg = base_config(0);
    CHECK(image_loader_open(&ld, ds_path, &cfg) == CRATE_EINPUT, "G = 0");
    cfg = base_config(8);
    cfg.first_step = -1;
    CHECK(image_loader_open(&ld, ds_path, &cfg) == CRATE_EINPUT, "negative first step");
    cfg = base_config(8);
    char missing[700];
    snprintf(missing, sizeof missing, "%s/none", tmpdir);
    CHECK(image_loader_open(&ld, missing, &cfg) == CRATE_EINPUT && strstr(crate_errmsg(), missing),
          "missing dataset: %s", crate_errmsg());
}

/* Flips a byte in the middle of block b of a shard file. */
static void damage_block(const char *path, uint32_t b) {
    FILE *f = fopen(path, "r+b");
    uint8_t h[64], e[24];
    if (fread(h, 1, 64, f) != 64) abort();
    uint64_t index_offset = 0;
    for (int i = 7; i >= 0; i--) index_offset = index_offset << 8 | h[48 + i];
    fseek(f, (long)(index_offset + 24ull * b), SEEK_SET);
    if (fread(e, 1, 24, f) != 24) abort();
    uint64_t off = 0;
    for (int i = 7; i >= 0; i--) off = off << 8 | e[i];
    uint32_t comp = (uint32_t)e[8] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24;
    fseek(f, (long)(off + comp / 2), SEEK_SET);
    int c = fgetc(f);
    fseek(f, (long)(off + comp / 2), SEEK_SET);
    fputc(c ^ 0xFF, f);
    fclose(f);
}

static void test_worker_error(void) {
    char dir[700], shard[760];
    snprintf(dir, sizeof dir, "%s/damaged", tmpdir);
    int st = write_dataset(dir, N, LC, LH, LW, 0, 64);
    CHECK(st == CRATE_OK, "write: %s", crate_errmsg());
    snprintf(shard, sizeof shard, "%s/shard-00000.crs", dir);
    damage_block(shard, 5); /* records 320..383 */
    for (int prefetch = 0; prefetch <= 3; prefetch += 3) {
        image_loader_config cfg = base_config(32);
        cfg.shuffle = 0;
        cfg.prefetch = prefetch;
        image_loader *ld;
        st = image_loader_open(&ld, dir, &cfg);
        CHECK(st == CRATE_OK, "open: %s", crate_errmsg());
        if (st) continue;
        const image_batch *b = NULL;
        int served = 0;
        while ((st = image_loader_next(ld, &b)) == CRATE_OK && served < 100) served++;
        CHECK(served == 10, "prefetch %d: %d good batches before the damaged block, want 10", prefetch, served);
        CHECK(st == CRATE_EINPUT && b == NULL, "prefetch %d: status %d", prefetch, st);
        const char *msg = crate_errmsg();
        CHECK(strstr(msg, shard) && strstr(msg, "block 5") && strstr(msg, "crate-data"),
              "prefetch %d: message names file and block: %s", prefetch, msg);
        crate_errmsg_set("");
        st = image_loader_next(ld, &b);
        CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "block 5"), "the failure is sticky");
        image_loader_close(ld);
    }
    /* Shuffled: the damage surfaces within the first epoch. */
    image_loader_config cfg = base_config(50);
    image_loader *ld;
    st = image_loader_open(&ld, dir, &cfg);
    int served = 0;
    const image_batch *b;
    while (!st && (st = image_loader_next(ld, &b)) == CRATE_OK && served < 1000) served++;
    CHECK(st == CRATE_EINPUT && served < N / 50 && strstr(crate_errmsg(), "block 5"), "shuffled: %d served, %s",
          served, crate_errmsg());
    image_loader_close(ld);
    /* Close while the worker is blocked on a full ring, and right after open. */
    cfg = base_config(16);
    cfg.prefetch = 4;
    cfg.shuffle = 0;
    st = image_loader_open(&ld, ds_path, &cfg);
    if (!st) {
        image_loader_next(ld, &b);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        image_loader_close(ld);
    }
    st = image_loader_open(&ld, ds_path, &cfg);
    if (!st) image_loader_close(ld);
    CHECK(1, "close joins");
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_throughput(void) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/big", tmpdir);
    const uint64_t n = 20000;
    int st = write_dataset(dir, n, 1, 28, 28, 8192, 256);
    CHECK(st == CRATE_OK, "write big: %s", crate_errmsg());
    image_loader_config cfg = base_config(256);
    image_loader *ld;
    st = image_loader_open(&ld, dir, &cfg);
    if (st) return;
    const image_batch *b;
    double t0 = now_seconds();
    int steps = 0;
    uint64_t sum = 0;
    while (steps < 400 && image_loader_next(ld, &b) == CRATE_OK) { /* 5 epochs */
        sum += b->pixels[0];
        steps++;
    }
    double t = now_seconds() - t0;
    image_loader_close(ld);
    double rate = steps * 256.0 / t;
    printf("loader throughput: %.0f images/s (28x28, G=256, prefetch 2, %d steps in %.3f s, first epoch "
           "decompresses)%s\n", rate, steps, t, sum ? "" : " ");
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
    CHECK(steps == 400, "throughput run completed");
#else
    CHECK(steps == 400 && rate > 10000, "loader must sustain well over 10k images/s, got %.0f", rate);
#endif
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(ds_path, sizeof ds_path, "%s/ds", tmpdir);
    int st = write_dataset(ds_path, N, LC, LH, LW, 300, 32); /* 4 shards, partial blocks */
    CHECK(st == CRATE_OK, "write: %s", crate_errmsg());
    if (!st) {
        test_reference_and_ranks();
        test_uneven_and_sequential();
        test_bad_config();
        test_worker_error();
        test_throughput();
    }
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish();
}
