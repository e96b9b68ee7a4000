/* test_shard.c — the shard format: crc32, round trips, atomic writes, and that
 * every kind of damage (block, header, truncation, index) is caught with a
 * message naming the file and block, without ever returning data. Also the
 * IDX reader on the installed Fashion-MNIST test split when present. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/io/crc32.h"
#include "data/idx.h"
#include "data/shard.h"
#include "src/error.h"
#include "src/nn/rng.h"
#include "tests/check.h"

static char tmpdir[] = "/tmp/crate-test-shard-XXXXXX";

/* Record id's content: compressible (runs) but id-specific, and a label that
 * is negative for some ids so the int32 sign survives. */
static void make_record(uint64_t id, int pixels_n, uint8_t *px, int32_t *label) {
    rng_stream s = rng_stream_make(99, 0, id, RNG_AUGMENT);
    for (int j = 0; j < pixels_n; j++) px[j] = (j % 5 == 0) ? (uint8_t)rng_u32(&s) : (uint8_t)(id + (uint64_t)j / 7);
    *label = (int32_t)(id * 7) - 1000;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(path);
}

static char *path_in_tmp(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz);
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(b, 1, n, f);
    fclose(f);
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void test_crc32(void) {
    CHECK(crc32_update(0, "123456789", 9) == 0xCBF43926u, "crc32 check value %08x", crc32_update(0, "123456789", 9));
    CHECK(crc32_update(0, "", 0) == 0, "crc of nothing");
    uint8_t buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (uint8_t)(i * 31 + 7);
    uint32_t whole = crc32_update(0, buf, 1000);
    for (int cut = 0; cut <= 1000; cut += 37) {
        uint32_t c = crc32_update(crc32_update(0, buf, (size_t)cut), buf + cut, (size_t)(1000 - cut));
        CHECK(c == whole, "chaining at %d", cut);
    }
    /* Against the bitwise definition, on unaligned tails too. */
    uint32_t ref = 0xFFFFFFFFu;
    for (int i = 0; i < 999; i++) {
        ref ^= buf[i + 1];
        for (int k = 0; k < 8; k++) ref = (ref & 1) ? 0xEDB88320u ^ (ref >> 1) : ref >> 1;
    }
    CHECK(crc32_update(0, buf + 1, 999) == ~ref, "bitwise reference");
}

enum { RC = 3, RH = 5, RW = 7, RPIX = RC * RH * RW };

static void test_round_trip(void) {
    const char *dir = path_in_tmp("rt");
    const uint64_t n = 2500;
    image_dataset_writer *w;
    int st = image_dataset_writer_open(&w, dir, RC, RH, RW, 1000, 64);
    CHECK(st == CRATE_OK, "writer open: %s", crate_errmsg());
    if (st) return;
    uint8_t px[RPIX], got[RPIX];
    int32_t label, got_label;
    for (uint64_t i = 0; i < n; i++) {
        make_record(i, RPIX, px, &label);
        st = image_dataset_writer_add(w, px, label);
        if (st) break;
    }
    CHECK(st == CRATE_OK, "add: %s", crate_errmsg());
    CHECK(!file_exists(dir), "the dataset must not exist under its name before close");
    image_dataset_stats stats;
    st = image_dataset_writer_close(w, &stats);
    CHECK(st == CRATE_OK, "writer close: %s", crate_errmsg());
    CHECK(stats.records == n && stats.shards == 3 && stats.blocks == 16 + 16 + 8, "stats %llu %d %llu",
          (unsigned long long)stats.records, stats.shards, (unsigned long long)stats.blocks);
    CHECK(!file_exists(path_in_tmp("rt.partial")), "partial directory renamed away");

    /* Cache smaller than one shard: 3 blocks of 64 records. */
    size_t rb = RPIX + 4;
    size_t caches[] = {3 * 64 * rb, 0, 100 * 64 * rb};
    for (int c = 0; c < 3; c++) {
        image_dataset *ds;
        st = image_dataset_open(&ds, dir, caches[c]);
        CHECK(st == CRATE_OK, "open: %s", crate_errmsg());
        if (st) return;
        int C, H, W;
        image_dataset_shape(ds, &C, &H, &W);
        CHECK(image_dataset_count(ds) == n && C == RC && H == RH && W == RW, "count/shape");
        image_dataset_stats s2;
        image_dataset_get_stats(ds, &s2);
        CHECK(s2.shards == 3 && s2.blocks == 40 && s2.file_bytes == stats.file_bytes && s2.raw_bytes == n * rb,
              "reader stats");
        /* Sequential, then a random order over the whole range, twice. */
        int bad = 0;
        rng_stream rs = rng_stream_make(5, (uint64_t)c, 0, RNG_PERMUTE);
        for (uint64_t k = 0; k < 3 * n; k++) {
            uint64_t i = k < n ? k : rng_below(&rs, (uint32_t)n);
            make_record(i, RPIX, px, &label);
            st = image_dataset_read(ds, i, got, &got_label);
            if (st || memcmp(px, got, RPIX) != 0 || got_label != label) bad++;
        }
        CHECK(bad == 0, "cache %zu: %d records read back wrong (%s)", caches[c], bad, crate_errmsg());
        st = image_dataset_read(ds, n, got, &got_label);
        CHECK(st != CRATE_OK, "reading past the end fails");
        uint64_t counts[16] = {0}, outside = 0;
        st = image_dataset_verify(ds, counts, 16, &outside);
        uint64_t sum = outside;
        for (int l = 0; l < 16; l++) sum += counts[l];
        CHECK(st == CRATE_OK && sum == n && counts[1] == 1 && counts[8] == 1 && counts[15] == 1, "verify: %s",
              crate_errmsg()); /* labels 7·id − 1000 */
        image_dataset_close(ds);
    }

    /* One shard file as the dataset: records 1000..1999. */
    image_dataset *one;
    char shard1[600];
    snprintf(shard1, sizeof shard1, "%s/shard-00001.crs", dir);
    st = image_dataset_open(&one, shard1, 1 << 20);
    CHECK(st == CRATE_OK && image_dataset_count(one) == 1000, "single shard open: %s", crate_errmsg());
    if (!st) {
        int bad = 0;
        for (uint64_t i = 0; i < 1000; i += 13) {
            make_record(1000 + i, RPIX, px, &label);
            if (image_dataset_read(one, i, got, &got_label) || memcmp(px, got, RPIX) || got_label != label) bad++;
        }
        CHECK(bad == 0, "single shard read");
        image_dataset_close(one);
    }

    /* Rewriting the dataset replaces it. */
    st = image_dataset_writer_open(&w, dir, RC, RH, RW, 0, 0);
    for (uint64_t i = 0; !st && i < 10; i++) {
        make_record(i, RPIX, px, &label);
        st = image_dataset_writer_add(w, px, label);
    }
    if (!st) st = image_dataset_writer_close(w, &stats);
    CHECK(st == CRATE_OK && stats.shards == 1 && stats.blocks == 1, "rewrite: %s", crate_errmsg());
    image_dataset *ds;
    st = image_dataset_open(&ds, dir, 0);
    CHECK(st == CRATE_OK && image_dataset_count(ds) == 10, "rewritten dataset has 10 records");
    if (!st) image_dataset_close(ds);

    /* A directory holding other files is not replaced. */
    char foreign[600];
    snprintf(foreign, sizeof foreign, "%s/notes.txt", dir);
    spit(foreign, (const uint8_t *)"mine", 4);
    st = image_dataset_writer_open(&w, dir, RC, RH, RW, 0, 0);
    if (!st) {
        make_record(0, RPIX, px, &label);
        image_dataset_writer_add(w, px, label);
        st = image_dataset_writer_close(w, NULL);
    }
    CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "notes.txt"), "foreign file protects the directory: %s",
          crate_errmsg());
    CHECK(file_exists(foreign), "foreign file kept");
    CHECK(!file_exists(path_in_tmp("rt.partial")), "partial removed after a failed close");

    /* An empty dataset is one empty shard. */
    const char *empty = path_in_tmp("empty");
    st = image_dataset_writer_open(&w, empty, 1, 2, 2, 0, 0);
    if (!st) st = image_dataset_writer_close(w, &stats);
    CHECK(st == CRATE_OK && stats.shards == 1 && stats.records == 0, "empty dataset: %s", crate_errmsg());
    st = image_dataset_open(&ds, empty, 0);
    CHECK(st == CRATE_OK && image_dataset_count(ds) == 0, "empty dataset opens: %s", crate_errmsg());
    if (!st) image_dataset_close(ds);

    /* A missing shard in the middle is an error, not a shorter dataset. */
    const char *gap = path_in_tmp("gap");
    st = image_dataset_writer_open(&w, gap, 1, 2, 2, 10, 4);
    uint8_t p4[4] = {1, 2, 3, 4};
    for (int i = 0; !st && i < 30; i++) st = image_dataset_writer_add(w, p4, i);
    if (!st) st = image_dataset_writer_close(w, &stats);
    CHECK(st == CRATE_OK && stats.shards == 3, "gap dataset written");
    char s1[600];
    snprintf(s1, sizeof s1, "%s/shard-00001.crs", gap);
    unlink(s1);
    st = image_dataset_open(&ds, gap, 0);
    CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "shard-00001.crs") && strstr(crate_errmsg(), "missing"),
          "missing shard: %s", crate_errmsg());
}

static void test_atomic_writer(void) {
    const char *p = path_in_tmp("atomic.crs");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    shard_writer *w;
    int st = shard_writer_open(&w, p, 1, 2, 2, 3);
    CHECK(st == CRATE_OK, "open: %s", crate_errmsg());
    if (st) return;
    uint8_t px[4] = {9, 8, 7, 6};
    for (int i = 0; i < 7; i++) shard_writer_add(w, px, i);
    CHECK(!file_exists(p) && file_exists(tmp), "only the .tmp exists while writing");
    /* A reader must reject the unfinished file (zero header). */
    image_dataset *ds;
    st = image_dataset_open(&ds, tmp, 0);
    CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "magic"), "unfinished shard rejected: %s", crate_errmsg());
    uint64_t bytes = 0;
    st = shard_writer_close(w, &bytes);
    CHECK(st == CRATE_OK && file_exists(p) && !file_exists(tmp), "close renames");
    struct stat sb;
    stat(p, &sb);
    CHECK((uint64_t)sb.st_size == bytes, "reported size %llu vs %lld", (unsigned long long)bytes,
          (long long)sb.st_size);
    st = shard_writer_open(&w, path_in_tmp("aborted.crs"), 1, 2, 2, 3);
    if (!st) {
        shard_writer_add(w, px, 1);
        shard_writer_abort(w);
    }
    CHECK(!file_exists(path_in_tmp("aborted.crs")) && !file_exists(path_in_tmp("aborted.crs.tmp")),
          "abort leaves nothing");
    st = shard_writer_open(&w, path_in_tmp("nodir/x.crs"), 1, 2, 2, 3);
    CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "nodir"), "missing directory: %s", crate_errmsg());
    st = shard_writer_open(&w, p, 0, 2, 2, 3);
    CHECK(st == CRATE_EINPUT, "bad shape rejected");
}

/* ---- damage ---------------------------------------------------------------------- */

static const char *good_path, *bad_path;
static uint8_t *good;
static size_t good_n;

/* Writes the damaged variant and checks that opening (and reading record, if
 * open succeeds) fails with EINPUT and a message containing all of needles,
 * never returning data. Returns 1 if it failed as it should. */
static int expect_damage(const uint8_t *bytes, size_t n, uint64_t record, const char *const *needles) {
    spit(bad_path, bytes, n);
    image_dataset *ds;
    int st = image_dataset_open(&ds, bad_path, 1 << 20);
    if (st == CRATE_OK) {
        uint8_t px[RPIX];
        int32_t label = 12345;
        memset(px, 0xA5, sizeof px);
        st = image_dataset_read(ds, record, px, &label);
        int untouched = label == 12345;
        for (int j = 0; j < RPIX; j++) untouched &= px[j] == 0xA5;
        if (!untouched) {
            fprintf(stderr, "damaged read wrote to the output buffers\n");
            st = CRATE_OK;
        }
        if (st != CRATE_OK) { /* a second attempt must not be served from a cache */
            int st2 = image_dataset_read(ds, record, px, &label);
            if (st2 == CRATE_OK) st = CRATE_OK;
            else st = st2;
        }
        image_dataset_close(ds);
    }
    if (st != CRATE_EINPUT) return 0;
    const char *msg = crate_errmsg();
    if (!strstr(msg, bad_path)) return 0;
    for (int k = 0; needles && needles[k]; k++)
        if (!strstr(msg, needles[k])) {
            fprintf(stderr, "message lacks '%s': %s\n", needles[k], msg);
            return 0;
        }
    return 1;
}

static void test_damage(void) {
    good_path = path_in_tmp("good.crs");
    bad_path = path_in_tmp("bad.crs");
    shard_writer *w;
    const uint64_t n = 300; /* 4 blocks of 64 and a partial one of 44 */
    int st = shard_writer_open(&w, good_path, RC, RH, RW, 64);
    uint8_t px[RPIX];
    int32_t label;
    for (uint64_t i = 0; !st && i < n; i++) {
        make_record(i, RPIX, px, &label);
        st = shard_writer_add(w, px, label);
    }
    if (!st) st = shard_writer_close(w, NULL);
    CHECK(st == CRATE_OK, "write: %s", crate_errmsg());
    good = slurp(good_path, &good_n);
    if (!good) return;
    uint8_t *b = malloc(good_n + 64);

    /* The undamaged copy reads fine through the same harness. */
    memcpy(b, good, good_n);
    spit(bad_path, b, good_n);
    image_dataset *ds;
    st = image_dataset_open(&ds, bad_path, 0);
    CHECK(st == CRATE_OK && image_dataset_count(ds) == n, "intact copy opens: %s", crate_errmsg());
    if (!st) image_dataset_close(ds);

    uint64_t index_offset = le64(good + 48);
    uint32_t block_count = le32(good + 44);
    CHECK(block_count == 5, "5 blocks, got %u", block_count);
    const uint8_t *entry2 = good + index_offset + 2 * 24;
    uint64_t off2 = le64(entry2);
    uint32_t comp2 = le32(entry2 + 8);

    /* A flipped byte anywhere in block 2: the block, and only it, fails. */
    const char *block2[] = {"block 2", "re-create it with crate-data", NULL};
    int caught = 0, tried = 0;
    for (uint32_t pos = 0; pos < comp2; pos += (comp2 / 61) + 1) {
        memcpy(b, good, good_n);
        b[off2 + pos] ^= 0xFF;
        tried++;
        caught += expect_damage(b, good_n, 2 * 64 + 5, block2);
    }
    CHECK(caught == tried, "flipped byte in block 2: %d of %d caught", caught, tried);
    /* Records of other blocks still read correctly from the damaged file. */
    memcpy(b, good, good_n);
    b[off2 + comp2 / 2] ^= 0x01;
    spit(bad_path, b, good_n);
    st = image_dataset_open(&ds, bad_path, 0);
    if (!st) {
        uint8_t got[RPIX];
        int32_t gl;
        make_record(3, RPIX, px, &label);
        st = image_dataset_read(ds, 3, got, &gl);
        CHECK(st == CRATE_OK && !memcmp(got, px, RPIX) && gl == label, "block 0 of a file damaged in block 2");
        st = image_dataset_verify(ds, NULL, 0, NULL);
        CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "block 2"), "verify finds block 2: %s", crate_errmsg());
        image_dataset_close(ds);
    }

    /* Every header byte matters. */
    caught = 0;
    for (int pos = 0; pos < SHARD_HEADER_BYTES; pos++) {
        memcpy(b, good, good_n);
        b[pos] ^= 0x10;
        caught += expect_damage(b, good_n, 0, NULL);
    }
    CHECK(caught == SHARD_HEADER_BYTES, "header flips: %d of %d caught", caught, SHARD_HEADER_BYTES);
    memcpy(b, good, good_n);
    b[20] ^= 0x01;
    const char *hdr[] = {"header", "re-create it with crate-data", NULL};
    CHECK(expect_damage(b, good_n, 0, hdr), "header flip message: %s", crate_errmsg());

    /* Truncations (and an appended tail) change the size the header implies. */
    size_t cuts[] = {0, 10, 63, 64, 79, 80, 200, (size_t)off2 + 3, (size_t)index_offset, good_n - 17, good_n - 1};
    caught = 0;
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) caught += expect_damage(good, cuts[k], 0, NULL);
    CHECK(caught == (int)(sizeof cuts / sizeof cuts[0]), "truncations: %d caught", caught);
    const char *trunc[] = {"truncated", NULL};
    CHECK(expect_damage(good, good_n - 100, 0, trunc), "truncation message: %s", crate_errmsg());
    memcpy(b, good, good_n);
    memset(b + good_n, 0, 64);
    CHECK(expect_damage(b, good_n + 64, 0, NULL), "appended bytes: %s", crate_errmsg());

    /* The index: any entry byte, the stored crc, the end magic. */
    const char *idx[] = {"index", NULL};
    caught = tried = 0;
    for (size_t pos = index_offset; pos < good_n; pos += 3) {
        memcpy(b, good, good_n);
        b[pos] ^= 0x40;
        tried++;
        caught += expect_damage(b, good_n, 0, idx);
    }
    CHECK(caught == tried, "index flips: %d of %d caught", caught, tried);

    /* A valid header with an unknown or reserved kind, or a future version. */
    uint32_t kinds[] = {2, 7}, versions[] = {2};
    for (int k = 0; k < 3; k++) {
        memcpy(b, good, good_n);
        uint32_t v = k < 2 ? kinds[k] : versions[0];
        int at = k < 2 ? 12 : 8;
        for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)(v >> (8 * i));
        uint32_t crc = crc32_update(0, b, 60);
        for (int i = 0; i < 4; i++) b[60 + i] = (uint8_t)(crc >> (8 * i));
        const char *want[] = {k == 0 ? "token" : k == 1 ? "kind" : "version", NULL};
        CHECK(expect_damage(b, good_n, 0, want), "kind/version %u: %s", v, crate_errmsg());
    }
    free(b);
    free(good);
}

/* The IDX reader, on the installed test split; skipped if not installed. */
static void test_idx(void) {
    const char *img = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *lab = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    uint8_t *pixels = NULL, *labels = NULL;
    uint64_t n = 0, nl = 0;
    int rows = 0, cols = 0;
    int st = idx_read_images(path_in_tmp("nonexistent-images.gz"), &pixels, &n, &rows, &cols);
    CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "apt-get install dataset-fashion-mnist"),
          "missing IDX file: %s", crate_errmsg());
    if (!file_exists(img)) {
        printf("skipping IDX checks: %s not installed\n", img);
        return;
    }
    st = idx_read_images(img, &pixels, &n, &rows, &cols);
    CHECK(st == CRATE_OK && n == 10000 && rows == 28 && cols == 28, "t10k images: %s", crate_errmsg());
    st = idx_read_labels(lab, &labels, &nl);
    CHECK(st == CRATE_OK && nl == 10000, "t10k labels: %s", crate_errmsg());
    if (pixels && labels) {
        int hist[10] = {0}, badlab = 0;
        for (uint64_t i = 0; i < nl; i++) labels[i] < 10 ? hist[labels[i]]++ : badlab++;
        CHECK(badlab == 0 && hist[0] == 1000 && hist[9] == 1000, "t10k has 1000 of each class");
        /* Through a dataset and back. */
        const char *dir = path_in_tmp("fm");
        image_dataset_writer *w;
        st = image_dataset_writer_open(&w, dir, 1, 28, 28, 4096, 0);
        for (uint64_t i = 0; !st && i < n; i++) st = image_dataset_writer_add(w, pixels + i * 784, labels[i]);
        if (!st) st = image_dataset_writer_close(w, NULL);
        image_dataset *ds;
        if (!st) st = image_dataset_open(&ds, dir, 64 << 20);
        CHECK(st == CRATE_OK, "fm dataset: %s", crate_errmsg());
        if (!st) {
            int bad = 0;
            uint8_t got[784];
            int32_t gl;
            for (uint64_t i = 0; i < n; i++)
                if (image_dataset_read(ds, i, got, &gl) || memcmp(got, pixels + i * 784, 784) || gl != labels[i]) bad++;
            CHECK(bad == 0, "fm round trip: %d bad", bad);
            image_dataset_close(ds);
        }
    }
    /* A truncated .gz: gzip fails, and so must we. */
    size_t gz_n;
    uint8_t *gz = slurp(lab, &gz_n);
    if (gz) {
        const char *cut = path_in_tmp("cut-labels.gz");
        spit(cut, gz, gz_n / 2);
        uint8_t *l2 = NULL;
        uint64_t n2;
        st = idx_read_labels(cut, &l2, &n2);
        CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), cut) && l2 == NULL, "truncated gz: %s", crate_errmsg());
        /* Images where labels are expected: wrong magic. */
        st = idx_read_labels(img, &l2, &n2);
        CHECK(st == CRATE_EINPUT && strstr(crate_errmsg(), "magic"), "wrong IDX type: %s", crate_errmsg());
        /* A path with a quote survives the shell. */
        const char *q = path_in_tmp("it's labels.gz");
        spit(q, gz, gz_n);
        st = idx_read_labels(q, &l2, &n2);
        CHECK(st == CRATE_OK && n2 == 10000, "quoted path: %s", crate_errmsg());
        free(l2);
        free(gz);
    }
    free(pixels);
    free(labels);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_crc32();
    test_round_trip();
    test_atomic_writer();
    test_damage();
    test_idx();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish();
}
