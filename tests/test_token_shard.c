/* test_token_shard.c — token datasets (data/token_shard.h) and token windows
 * (data/token_source.h):
 *   round trips with u16 and u32 ids (a vocabulary of 1000, exactly 65536,
 *   and 70000), across blocks and shards, with the bos id at every document
 *   start and nowhere else; the header fields of a token shard;
 *   the writer's refusals (ids outside the vocabulary or equal to bos) and
 *   what it may replace (a token dataset yes; a folder with a foreign file, an
 *   image dataset no);
 *   damage, each CRATE_EINPUT naming the file and the fix: a flipped byte in
 *   a block, a truncated shard, a meta edited (crc) or consistent but wrong,
 *   a tokenizer that is not the meta's, ids beyond the vocabulary, a missing
 *   meta, an image dataset opened as tokens and the reverse;
 *   windows: batches against an independent reference of the contract, the
 *   same tokens for 1, 2 and 4 rank splits, prefetch 0 and 2, a source opened
 *   at first_step = s vs one that ran from 0, sequential order, micro views
 *   (offset pointers, no copies), bad configs, a damaged block surfacing from
 *   next() with and without prefetch;
 *   the KJV parser on a snippet in bible-kjv's format (chapter documents,
 *   wrapped verses joined, out-of-order chapters and stray lines refused);
 *   paragraphs of a text file as documents (blank and whitespace-only lines,
 *   CRLF, a byte-order mark, no final newline; invalid UTF-8 and NUL refused). */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/kjv.h"
#include "data/shard.h"
#include "data/text_corpus.h"
#include "data/token_shard.h"
#include "data/token_source.h"
#include "src/error.h"
#include "src/io/crc32.h"
#include "src/nn/rng.h"
#include "tests/check.h"

static char tmpdir[] = "/tmp/crate-test-token-shard-XXXXXX";
static const char TOKENIZER[] = "an opaque tokenizer: the dataset only stores and checks its bytes";

static const char *tmp_path(const char *name) {
    static char buf[8][600];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 600, "%s/%s", tmpdir, name);
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }
static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void spit(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }
static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int has(const char *needle) { return strstr(crate_errmsg(), needle) != NULL; }

/* ---- a synthetic corpus ------------------------------------------------------------- */

/* Document d: length 0..max_len−1, ids spread over the whole vocabulary (so
 * ids above 65535 occur for a large one), never the bos id. */
static size_t doc_len(int d, int max_len) { return (size_t)((d * 37 + 11) % max_len); }
static int32_t doc_id(int d, size_t j, int vocab) {
    rng_stream s = rng_stream_make(7, (uint64_t)d, j, RNG_CORRUPT);
    int32_t v = (int32_t)rng_below(&s, (uint32_t)vocab);
    return v == TOKEN_BOS_ID ? vocab - 1 : v;
}

typedef struct {
    int32_t *stream; /* bos + ids of every document */
    uint64_t n, documents, text_bytes;
    uint64_t *starts; /* where each document's bos is */
} corpus;

static int write_corpus(const char *dir, int vocab, int docs, int max_len, uint64_t tps, uint32_t tpb,
                        corpus *c, token_dataset_stats *stats) {
    memset(c, 0, sizeof *c);
    uint64_t total = 0;
    for (int d = 0; d < docs; d++) total += 1 + doc_len(d, max_len);
    c->stream = malloc(total * sizeof *c->stream);
    c->starts = malloc((size_t)docs * sizeof *c->starts);
    int32_t *ids = malloc((size_t)max_len * sizeof *ids);
    token_dataset_writer *w;
    int st = token_dataset_writer_open(&w, dir, vocab, TOKENIZER, sizeof TOKENIZER, tps, tpb);
    for (int d = 0; !st && d < docs; d++) {
        size_t len = doc_len(d, max_len);
        for (size_t j = 0; j < len; j++) ids[j] = doc_id(d, j, vocab);
        st = token_dataset_writer_add_document(w, ids, len, len * 3 + 1);
        c->starts[d] = c->n;
        c->stream[c->n++] = TOKEN_BOS_ID;
        memcpy(c->stream + c->n, ids, len * sizeof *ids);
        c->n += len;
        c->documents++;
        c->text_bytes += len * 3 + 1;
    }
    if (!st) st = token_dataset_writer_close(w, stats);
    else token_dataset_writer_abort(w);
    free(ids);
    return st;
}

static void corpus_free(corpus *c) {
    free(c->stream);
    free(c->starts);
}

/* ---- round trips ---------------------------------------------------------------------- */

static void test_round_trip(int vocab, int docs, int max_len, uint64_t tps, uint32_t tpb) {
    char name[64];
    snprintf(name, sizeof name, "rt-%d", vocab);
    const char *dir = tmp_path(name);
    corpus c;
    token_dataset_stats ws;
    int st = write_corpus(dir, vocab, docs, max_len, tps, tpb, &c, &ws);
    CHECK(st == CRATE_OK, "V=%d: write: %s", vocab, crate_errmsg());
    uint64_t want_shards = (c.n + tps - 1) / tps;
    CHECK(ws.tokens == c.n && ws.documents == (uint64_t)docs && ws.text_bytes == c.text_bytes &&
          (uint64_t)ws.shards == want_shards && ws.raw_bytes == c.n * (vocab <= 65536 ? 2u : 4u),
          "V=%d: writer stats: %llu tokens, %llu documents, %d shards", vocab, (unsigned long long)ws.tokens,
          (unsigned long long)ws.documents, ws.shards);
    char partial[700];
    snprintf(partial, sizeof partial, "%s.partial", dir);
    CHECK(access(partial, F_OK) != 0, "no partial directory left");

    /* The header of a token shard: kind 2, C = record_bytes = id width, H = V, W = 1. */
    char shard0[700];
    snprintf(shard0, sizeof shard0, "%s/shard-00000.crs", dir);
    size_t hn;
    uint8_t *h = slurp(shard0, &hn);
    uint32_t width = vocab <= 65536 ? 2 : 4;
    CHECK(h && le32(h + 12) == SHARD_KIND_TOKENS && le32(h + 16) == width && le32(h + 20) == width &&
              le32(h + 24) == (uint32_t)vocab && le32(h + 28) == 1 && le32(h + 40) == tpb,
          "V=%d: header fields (kind, record bytes, C, H, W, block)", vocab);
    free(h);

    token_dataset *ds;
    st = token_dataset_open(&ds, dir, 1 << 20);
    CHECK(st == CRATE_OK, "V=%d: open: %s", vocab, crate_errmsg());
    if (st) {
        corpus_free(&c);
        return;
    }
    size_t tb;
    const void *tok = token_dataset_tokenizer(ds, &tb);
    CHECK(token_dataset_tokens(ds) == c.n && token_dataset_documents(ds) == c.documents &&
              token_dataset_text_bytes(ds) == c.text_bytes && token_dataset_vocab(ds) == vocab &&
              tb == sizeof TOKENIZER && !memcmp(tok, TOKENIZER, tb),
          "V=%d: counts and tokenizer", vocab);
    /* The whole stream, in reads of varying length that cross blocks and shards. */
    int32_t *got = malloc(c.n * sizeof *got);
    int bad = 0;
    for (uint64_t first = 0, k = 1; first < c.n && !bad; k = k * 7 % 1013) {
        size_t n = (size_t)(k % 700) + 1;
        if (n > c.n - first) n = (size_t)(c.n - first);
        st = token_dataset_read(ds, first, n, got + first);
        if (st) bad = 1;
        first += n;
    }
    CHECK(!bad && !memcmp(got, c.stream, c.n * sizeof *got), "V=%d: stream reads back: %s", vocab, crate_errmsg());
    /* Document boundaries: the bos id exactly at every document start. */
    uint64_t bos = 0, at_starts = 0;
    for (uint64_t i = 0; i < c.n; i++) bos += got[i] == TOKEN_BOS_ID;
    for (int d = 0; d < docs; d++) at_starts += got[c.starts[d]] == TOKEN_BOS_ID;
    CHECK(bos == c.documents && at_starts == c.documents, "V=%d: %llu bos ids for %llu documents", vocab,
          (unsigned long long)bos, (unsigned long long)c.documents);
    if (vocab > 65536) {
        int32_t hi = 0;
        for (uint64_t i = 0; i < c.n; i++) hi = got[i] > hi ? got[i] : hi;
        CHECK(hi > 65535, "V=%d: ids above 65535 survive (largest %d)", vocab, hi);
    }
    st = token_dataset_read(ds, c.n - 3, 4, got);
    CHECK(st == CRATE_EINTERNAL, "a read past the end is a caller bug");
    st = token_dataset_verify(ds);
    CHECK(st == CRATE_OK, "V=%d: verify: %s", vocab, crate_errmsg());
    token_dataset_stats rs;
    token_dataset_get_stats(ds, &rs);
    CHECK(rs.shards == ws.shards && rs.blocks == ws.blocks && rs.file_bytes == ws.file_bytes, "reader stats");
    token_dataset_close(ds);
    free(got);
    corpus_free(&c);
}

/* ---- the writer's refusals and what it may replace ------------------------------------- */

static void test_writer_rules(void) {
    const char *dir = tmp_path("rules");
    token_dataset_writer *w;
    int st = token_dataset_writer_open(&w, dir, 2, TOKENIZER, sizeof TOKENIZER, 0, 0);
    CHECK(st == CRATE_EINPUT, "a vocabulary of 2 has no room for bos");
    st = token_dataset_writer_open(&w, dir, 100, TOKENIZER, 0, 0, 0);
    CHECK(st == CRATE_EINPUT, "an empty tokenizer is refused");
    st = token_dataset_writer_open(&w, dir, 100, TOKENIZER, sizeof TOKENIZER, 0, 0);
    CHECK(st == CRATE_OK, "open: %s", crate_errmsg());
    if (st) return;
    int32_t ok[3] = {5, 6, 7}, high[2] = {5, 100}, bos[2] = {5, TOKEN_BOS_ID}, neg[1] = {-1};
    CHECK(token_dataset_writer_add_document(w, high, 2, 2) == CRATE_EINPUT && has("outside the vocabulary"),
          "an id >= vocab: %s", crate_errmsg());
    CHECK(token_dataset_writer_add_document(w, bos, 2, 2) == CRATE_EINPUT && has("bos"), "bos inside: %s",
          crate_errmsg());
    CHECK(token_dataset_writer_add_document(w, neg, 1, 1) == CRATE_EINPUT, "a negative id");
    CHECK(token_dataset_writer_add_document(w, ok, 3, 9) == CRATE_OK, "a good document after refused ones");
    token_dataset_stats s;
    st = token_dataset_writer_close(w, &s);
    CHECK(st == CRATE_OK && s.documents == 1 && s.tokens == 4, "refused documents left no trace (%llu tokens)",
          (unsigned long long)s.tokens);
    CHECK(token_dataset_check_output(dir) == CRATE_OK, "a token dataset may be replaced");
    /* Rewriting replaces it. */
    st = token_dataset_writer_open(&w, dir, 100, TOKENIZER, sizeof TOKENIZER, 0, 0);
    if (!st) st = token_dataset_writer_add_document(w, ok, 1, 1);
    if (!st) st = token_dataset_writer_close(w, &s);
    token_dataset *ds;
    if (!st) st = token_dataset_open(&ds, dir, 0);
    CHECK(st == CRATE_OK && token_dataset_tokens(ds) == 2, "rewritten: %s", crate_errmsg());
    if (!st) token_dataset_close(ds);
    /* A foreign file protects the directory. */
    char foreign[700];
    snprintf(foreign, sizeof foreign, "%s/notes.txt", dir);
    spit(foreign, "mine", 4);
    CHECK(token_dataset_check_output(dir) == CRATE_EINPUT && has("notes.txt"), "check_output: %s", crate_errmsg());
    st = token_dataset_writer_open(&w, dir, 100, TOKENIZER, sizeof TOKENIZER, 0, 0);
    if (!st) st = token_dataset_writer_close(w, NULL);
    CHECK(st == CRATE_EINPUT && has("notes.txt") && access(foreign, F_OK) == 0, "foreign file kept: %s",
          crate_errmsg());
    CHECK(access(tmp_path("rules.partial"), F_OK) != 0, "partial removed after a failed close");
    /* An image dataset is not replaced by tokens, nor a token dataset by images. */
    const char *img = tmp_path("img");
    image_dataset_writer *iw;
    uint8_t px[4] = {1, 2, 3, 4};
    st = image_dataset_writer_open(&iw, img, 1, 2, 2, 0, 0);
    if (!st) st = image_dataset_writer_add(iw, px, 3);
    if (!st) st = image_dataset_writer_close(iw, NULL);
    CHECK(st == CRATE_OK, "image dataset: %s", crate_errmsg());
    CHECK(token_dataset_check_output(img) == CRATE_EINPUT && has("tokens.meta"), "image dataset in the way: %s",
          crate_errmsg());
    unlink(foreign);
    st = image_dataset_writer_open(&iw, dir, 1, 2, 2, 0, 0);
    if (!st) st = image_dataset_writer_close(iw, NULL);
    CHECK(st == CRATE_EINPUT && access(tmp_path("rules/tokens.meta"), F_OK) == 0,
          "an image writer does not replace a token dataset: %s", crate_errmsg());
}

/* ---- damage ------------------------------------------------------------------------------ */

/* Opens dir and reads everything; the status of the first failure. */
static int open_and_read(const char *dir) {
    token_dataset *ds;
    int st = token_dataset_open(&ds, dir, 1 << 20);
    if (st) return st;
    uint64_t n = token_dataset_tokens(ds);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    st = token_dataset_read(ds, 0, (size_t)n, ids);
    free(ids);
    token_dataset_close(ds);
    return st;
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    uint8_t *b = slurp(from, &n);
    if (b) spit(to, b, n);
    free(b);
}

/* A fresh copy of the pristine dataset src at dst (its files are small). */
static void restore(const char *src, const char *dst) {
    mkdir(dst, 0755);
    DIR *d = opendir(src);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char a[700], b[700];
        snprintf(a, sizeof a, "%s/%s", src, e->d_name);
        snprintf(b, sizeof b, "%s/%s", dst, e->d_name);
        copy_file(a, b);
    }
    if (d) closedir(d);
}

/* Rewrites tokens.meta of dir with key's value replaced, crc recomputed. */
static void rewrite_meta(const char *dir, const char *key, const char *value) {
    char path[700];
    snprintf(path, sizeof path, "%s/tokens.meta", dir);
    size_t n;
    char *m = (char *)slurp(path, &n);
    if (!m) return;
    m[n] = '\0';
    char out[4096] = "";
    size_t o = 0;
    for (char *line = strtok(m, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "crc32 ", 6)) break;
        size_t kl = strlen(key);
        if (!strncmp(line, key, kl) && line[kl] == ' ')
            o += (size_t)snprintf(out + o, sizeof out - o, "%s %s\n", key, value);
        else
            o += (size_t)snprintf(out + o, sizeof out - o, "%s\n", line);
    }
    o += (size_t)snprintf(out + o, sizeof out - o, "crc32 %08x\n", crc32_update(0, out, o));
    spit(path, out, o);
    free(m);
}

static void test_damage(void) {
    const char *good = tmp_path("good"), *bad = tmp_path("bad");
    corpus c;
    int st = write_corpus(good, 1000, 60, 200, 4000, 256, &c, NULL); /* 2 shards, blocks of 256 */
    CHECK(st == CRATE_OK && c.n > 4000 && c.n < 8000, "write: %s (%llu tokens)", crate_errmsg(),
          (unsigned long long)c.n);
    if (st) return;
    char shard0[700], shard1[700], meta[700], tok[700];
    snprintf(shard0, sizeof shard0, "%s/shard-00000.crs", bad);
    snprintf(shard1, sizeof shard1, "%s/shard-00001.crs", bad);
    snprintf(meta, sizeof meta, "%s/tokens.meta", bad);
    snprintf(tok, sizeof tok, "%s/tokenizer.model", bad);
    restore(good, bad);
    CHECK(open_and_read(bad) == CRATE_OK, "the pristine copy reads: %s", crate_errmsg());

    /* A flipped byte in block 3 of shard 0: opening works, reading it fails. */
    size_t n;
    uint8_t *b = slurp(shard0, &n);
    uint64_t index = le64(b + 48);
    uint64_t off3 = le64(b + index + 3 * 24);
    uint32_t comp3 = le32(b + index + 3 * 24 + 8);
    b[off3 + comp3 / 2] ^= 0x20;
    spit(shard0, b, n);
    token_dataset *ds;
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_OK, "a damaged block 3 does not stop open: %s", crate_errmsg());
    if (!st) {
        int32_t ids[10];
        st = token_dataset_read(ds, 3 * 256 + 5, 10, ids);
        CHECK(st == CRATE_EINPUT && has(shard0) && has("block 3") && has("re-create it with crate-data"),
              "damaged block: %s", crate_errmsg());
        CHECK(token_dataset_read(ds, 10, 10, ids) == CRATE_OK, "block 0 still reads");
        CHECK(token_dataset_verify(ds) == CRATE_EINPUT && has("block 3"), "verify: %s", crate_errmsg());
        token_dataset_close(ds);
    }
    /* A truncated shard. */
    restore(good, bad);
    truncate(shard1, (off_t)(n > 100 ? 100 : n / 2));
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_EINPUT && has(shard1) && has("truncated"), "truncated shard: %s", crate_errmsg());
    /* A missing shard. */
    restore(good, bad);
    unlink(shard1);
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_EINPUT && has("lists 2 shards"), "missing last shard: %s", crate_errmsg());
    /* The meta: a hand edit breaks its crc; a consistent but wrong one disagrees with the shards. */
    restore(good, bad);
    size_t mn;
    char *m = (char *)slurp(meta, &mn);
    char *digit = strstr(m, "tokens ") + 7;
    *digit = *digit == '9' ? '8' : (char)(*digit + 1);
    spit(meta, m, mn);
    free(m);
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_EINPUT && has(meta) && has("checksum mismatch") && has("crate-data"), "edited meta: %s",
          crate_errmsg());
    restore(good, bad);
    rewrite_meta(bad, "tokens", "12345");
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_EINPUT && has("12345") && has("the shards hold"), "meta vs shards: %s", crate_errmsg());
    restore(good, bad);
    rewrite_meta(bad, "vocab", "999");
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_EINPUT && has("vocabulary of 1000"), "meta vocab vs header: %s", crate_errmsg());
    restore(good, bad);
    rewrite_meta(bad, "documents", "007");
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_EINPUT && has("line 5"), "a leading zero is not a number: %s", crate_errmsg());
    restore(good, bad);
    m = (char *)slurp(meta, &mn);
    spit(meta, m, mn - 1); /* no final newline */
    free(m);
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_EINPUT && has("crc32"), "a cut meta: %s", crate_errmsg());
    /* The tokenizer is not the one the meta names. */
    restore(good, bad);
    uint8_t *t = slurp(tok, &mn);
    t[3] ^= 1;
    spit(tok, t, mn);
    free(t);
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_EINPUT && has(tok) && has("crc32") && has("not the one"), "tokenizer crc: %s", crate_errmsg());
    /* ids beyond the vocabulary: meta and headers rewritten consistently for V = 500. */
    restore(good, bad);
    rewrite_meta(bad, "vocab", "500");
    for (int s = 0; s < 2; s++) {
        const char *p = s ? shard1 : shard0;
        uint8_t *hb = slurp(p, &n);
        put32(hb + 24, 500);
        put32(hb + 60, crc32_update(0, hb, 60));
        spit(p, hb, n);
        free(hb);
    }
    st = open_and_read(bad);
    CHECK(st == CRATE_EINPUT && has("outside the vocabulary of 500") && has("block"), "ids >= V: %s",
          crate_errmsg());
    /* No tokens.meta. */
    restore(good, bad);
    unlink(meta);
    st = token_dataset_open(&ds, bad, 0);
    CHECK(st == CRATE_EINPUT && has("tokens.meta is missing"), "missing meta: %s", crate_errmsg());
    /* An image dataset opened as tokens, and a token dataset as images. */
    const char *img = tmp_path("img-as-tokens");
    image_dataset_writer *iw;
    uint8_t px[4] = {1, 2, 3, 4};
    st = image_dataset_writer_open(&iw, img, 1, 2, 2, 0, 0);
    if (!st) st = image_dataset_writer_add(iw, px, 3);
    if (!st) st = image_dataset_writer_close(iw, NULL);
    st = token_dataset_open(&ds, img, 0);
    CHECK(st == CRATE_EINPUT && has("not a token dataset") && has("an image shard where a token shard was expected"),
          "image as tokens: %s", crate_errmsg());
    image_dataset *ids;
    st = image_dataset_open(&ids, good, 0);
    CHECK(st == CRATE_EINPUT && has("a token shard where an image shard was expected"), "tokens as images: %s",
          crate_errmsg());
    st = token_dataset_open(&ds, tmp_path("nothing-here"), 0);
    CHECK(st == CRATE_EINPUT && has("nothing-here") && has("crate-data"), "missing dataset: %s", crate_errmsg());
    free(b);
    corpus_free(&c);
}

/* ---- windows ------------------------------------------------------------------------------- */

enum { WT = 16, WG = 8, STEPS = 90 };
static corpus wc; /* the dataset of the window tests */
static const char *wdir;

/* The contract, written independently of sample_order.c. */
static uint64_t ref_window(uint64_t seed, int shuffle, uint64_t g, uint32_t n) {
    static uint32_t *perm[8];
    uint64_t e = g / n;
    if (!shuffle) return g % n;
    if (e >= 8) return UINT64_MAX;
    if (!perm[e]) {
        perm[e] = malloc(n * sizeof *perm[e]);
        for (uint32_t i = 0; i < n; i++) perm[e][i] = i;
        rng_stream s = rng_stream_make(seed, e, 0, RNG_PERMUTE);
        for (uint32_t i = n - 1; i > 0; i--) {
            uint32_t j = rng_below(&s, i + 1), t = perm[e][i];
            perm[e][i] = perm[e][j];
            perm[e][j] = t;
        }
    }
    return perm[e][g % n];
}

static batch_source_config wcfg(int64_t G, int64_t offset, int local, int64_t first, int prefetch) {
    return (batch_source_config){.path = wdir, .seed = 77, .global_batch = G, .rank_offset = offset,
                                 .local_batch = local, .first_step = first, .prefetch = prefetch, .cache_bytes = 0};
}

/* Runs steps [first, first + steps) and copies each step's windows into
 * out[(step − first)·G·(T+1) + offset·(T+1) …]; checks ids, epochs, step. */
static int run_windows(const batch_source_config *cfg, int shuffle, int steps, int32_t *out, int *consistent) {
    batch_source *src;
    int st = token_source_open(&src, cfg, WT, TOKEN_WINDOWS_STREAM, shuffle);
    if (st) return st;
    uint32_t n = (uint32_t)src->samples;
    size_t w = WT + 1;
    for (int s = 0; s < steps && !st; s++) {
        const void *bp;
        st = batch_source_next(src, &bp);
        if (st) break;
        const token_batch *b = bp;
        int64_t step = cfg->first_step + s;
        if (b->step != step || b->n != cfg->local_batch || b->T != WT) *consistent = 0;
        for (int i = 0; i < b->n; i++) {
            uint64_t g = (uint64_t)step * (uint64_t)cfg->global_batch + (uint64_t)cfg->rank_offset + (uint64_t)i;
            if (b->sample_ids[i] != ref_window(cfg->seed, shuffle, g, n) || b->epochs[i] != g / n) *consistent = 0;
        }
        memcpy(out + ((size_t)s * (size_t)cfg->global_batch + (size_t)cfg->rank_offset) * w, b->tokens,
               (size_t)b->n * w * sizeof *out);
    }
    batch_source_close(src);
    return st;
}

static void test_windows(void) {
    wdir = tmp_path("windows");
    int st = write_corpus(wdir, 1000, 40, 250, 1500, 100, &wc, NULL); /* blocks of 100, shards of 1500 */
    CHECK(st == CRATE_OK, "write: %s", crate_errmsg());
    if (st) return;
    uint64_t windows = (wc.n - 1) / WT;
    size_t w = WT + 1, per_run = (size_t)STEPS * WG * w;

    /* The reference: step s takes windows perm_e[g mod N], g = s·G + i; window k is stream[k·T, k·T + T]. */
    int32_t *ref = malloc(per_run * sizeof *ref);
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < WG; i++) {
            uint64_t k = ref_window(77, 1, (uint64_t)s * WG + (uint64_t)i, (uint32_t)windows);
            memcpy(ref + ((size_t)s * WG + (size_t)i) * w, wc.stream + k * WT, w * sizeof *ref);
        }
    CHECK(STEPS * WG > 2 * windows, "the run crosses two epoch boundaries (%llu windows)",
          (unsigned long long)windows);

    batch_source *src;
    batch_source_config cfg = wcfg(WG, 0, WG, 0, 0);
    st = token_source_open(&src, &cfg, WT, TOKEN_WINDOWS_STREAM, 1);
    CHECK(st == CRATE_OK && src->samples == windows && !strcmp(src->unit, "tok") && src->units_per_sample == WT,
          "samples %llu (want %llu), unit, units per sample: %s", st ? 0ULL : (unsigned long long)src->samples,
          (unsigned long long)windows, crate_errmsg());
    if (!st) {
        /* Micro views point into the batch. */
        const void *bp;
        st = batch_source_next(src, &bp);
        const token_batch *b = bp;
        const token_batch *v = st ? NULL : batch_source_micro(src, b, 2, 3);
        CHECK(v && v->n == 3 && v->T == WT && v->tokens == b->tokens + 2 * w && v->sample_ids == b->sample_ids + 2 &&
                  v->epochs == b->epochs + 2 && v->step == b->step,
              "micro view: offset pointers, no copy");
        CHECK(v && !memcmp(v->tokens, ref + 2 * w, 3 * w * sizeof *ref), "micro view holds windows 2..4 of step 0");
        batch_source_close(src);
    }

    int32_t *got = malloc(per_run * sizeof *got);
    int ranks[] = {1, 2, 4}, prefetch[] = {0, 2};
    for (int r = 0; r < 3; r++)
        for (int p = 0; p < 2; p++) {
            memset(got, 0xff, per_run * sizeof *got);
            int consistent = 1, R = ranks[r];
            st = CRATE_OK;
            for (int k = 0; k < R && !st; k++) {
                batch_source_config c = wcfg(WG, (int64_t)k * (WG / R), WG / R, 0, prefetch[p]);
                st = run_windows(&c, 1, STEPS, got, &consistent);
            }
            CHECK(st == CRATE_OK && consistent && !memcmp(got, ref, per_run * sizeof *got),
                  "%d rank(s), prefetch %d: the reference's tokens, ids and epochs (%s)", R, prefetch[p],
                  crate_errmsg());
        }
    /* Resume: opened at step 37, it serves what the run from 0 served there. */
    int consistent = 1;
    memset(got, 0xff, per_run * sizeof *got);
    batch_source_config c = wcfg(WG, 0, WG, 37, 2);
    st = run_windows(&c, 1, STEPS - 37, got, &consistent);
    CHECK(st == CRATE_OK && consistent && !memcmp(got, ref + (size_t)37 * WG * w, (size_t)(STEPS - 37) * WG * w * 4),
          "resumed at step 37: %s", crate_errmsg());
    /* Sequential order (evaluation): window g mod N, in order. */
    c = wcfg(WG, 0, WG, 0, 1);
    st = run_windows(&c, 0, STEPS, got, &consistent);
    int seq = 1;
    for (int g = 0; g < STEPS * WG && seq; g++)
        seq = !memcmp(got + (size_t)g * w, wc.stream + (uint64_t)(g % windows) * WT, w * sizeof *got);
    CHECK(st == CRATE_OK && consistent && seq, "sequential windows: %s", crate_errmsg());
    free(got);
    free(ref);
}

static void test_window_errors(void) {
    batch_source *src;
    batch_source_config c = wcfg(WG, 0, WG, 0, 0);
    CHECK(token_source_open(&src, &c, 0, TOKEN_WINDOWS_STREAM, 1) == CRATE_EINPUT && has("T"), "T = 0: %s", crate_errmsg());
    c.local_batch = 0;
    CHECK(token_source_open(&src, &c, WT, TOKEN_WINDOWS_STREAM, 1) == CRATE_EINPUT && has("local batch"), "local batch 0: %s",
          crate_errmsg());
    c = wcfg(WG, 6, 4, 0, 0);
    CHECK(token_source_open(&src, &c, WT, TOKEN_WINDOWS_STREAM, 1) == CRATE_EINPUT, "offset + local > G");
    c = wcfg(WG, 0, WG, 0, 0);
    c.path = tmp_path("no-such-dataset");
    CHECK(token_source_open(&src, &c, WT, TOKEN_WINDOWS_STREAM, 1) == CRATE_EINPUT && has("no-such-dataset"), "missing: %s",
          crate_errmsg());
    /* A dataset of T + 1 tokens is too short (T + 2 needed). */
    const char *tiny = tmp_path("tiny");
    token_dataset_writer *w;
    int32_t ids[WT];
    for (int i = 0; i < WT; i++) ids[i] = 10 + i;
    int st = token_dataset_writer_open(&w, tiny, 1000, TOKENIZER, sizeof TOKENIZER, 0, 0);
    if (!st) st = token_dataset_writer_add_document(w, ids, WT, WT);
    if (!st) st = token_dataset_writer_close(w, NULL);
    c.path = tiny;
    st = token_source_open(&src, &c, WT, TOKEN_WINDOWS_STREAM, 1);
    CHECK(st == CRATE_EINPUT && has(tiny) && has("smaller T"), "too short: %s", crate_errmsg());
    st = token_source_open(&src, &c, WT - 1, TOKEN_WINDOWS_STREAM, 1);
    CHECK(st == CRATE_OK && src->samples == 1, "T + 2 tokens give one window: %s", crate_errmsg());
    if (!st) batch_source_close(src);

    /* A damaged block surfaces from next(), naming the shard and block, with and without prefetch. */
    const char *bad = tmp_path("windows-bad");
    restore(wdir, bad);
    char shard0[700];
    snprintf(shard0, sizeof shard0, "%s/shard-00000.crs", bad);
    size_t n;
    uint8_t *b = slurp(shard0, &n);
    uint64_t index = le64(b + 48);
    uint64_t off = le64(b + index + 5 * 24);
    b[off + 3] ^= 0x55;
    spit(shard0, b, n);
    free(b);
    for (int p = 0; p < 2; p++) {
        c = wcfg(WG, 0, WG, 0, p ? 2 : 0);
        c.path = bad;
        st = token_source_open(&src, &c, WT, TOKEN_WINDOWS_STREAM, 0);
        CHECK(st == CRATE_OK, "open the damaged copy: %s", crate_errmsg());
        if (st) continue;
        const void *bp = NULL;
        int steps = 0;
        while (steps < 100 && (st = batch_source_next(src, &bp)) == CRATE_OK) steps++;
        /* Block 5 holds tokens 500..599: window 31 (tokens 496..512) is in step 3. */
        CHECK(st == CRATE_EINPUT && steps == 3 && has(shard0) && has("block 5"), "prefetch %d: %d steps, then %s",
              p ? 2 : 0, steps, crate_errmsg());
        crate_errmsg_set("");
        CHECK(batch_source_next(src, &bp) == CRATE_EINPUT && has("block 5"), "the failure is sticky");
        batch_source_close(src);
    }
}

/* ---- the KJV parser ---------------------------------------------------------------------- */

static int parse_snippet(const char *text, text_corpus *c, kjv_stats *k) {
    text_corpus_free(c);
    text_corpus_init(c);
    return kjv_parse(text, strlen(text), c, k);
}

static int doc_is(const text_corpus *c, uint64_t i, const char *want) {
    return i < c->count && c->len[i] == strlen(want) && !memcmp(c->text + c->start[i], want, c->len[i]);
}

static void test_kjv_parse(void) {
    const char *good =
        "\nGenesis 1\n\n  1 In the beginning God created the heaven and the earth.\n"
        "  2 And the earth was without form, and void; and darkness was upon the face of\n"
        "the deep.  And the Spirit moved.\n\nGenesis 2\n\n  1 Thus the heavens were finished.\n"
        "\n1 Samuel 1\n\n  1 Now there was a certain man\n120 years old. \n";
    text_corpus c;
    text_corpus_init(&c);
    kjv_stats k;
    int st = parse_snippet(good, &c, &k);
    CHECK(st == CRATE_OK && k.books == 2 && k.chapters == 3 && k.verses == 4 && c.count == 3, "snippet: %s",
          crate_errmsg());
    CHECK(doc_is(&c, 0, "Genesis 1\nIn the beginning God created the heaven and the earth.\nAnd the earth was "
                        "without form, and void; and darkness was upon the face of the deep. And the Spirit moved."),
          "chapter document: heading, one verse per line, wraps joined, spaces single");
    CHECK(doc_is(&c, 2, "1 Samuel 1\nNow there was a certain man 120 years old."), "a book with a digit, a wrap "
          "starting with a digit");
    const char *bad[] = {
        "\nGenesis 1\n\n  1 A.\n\nGenesis 3\n\n  1 B.\n",      /* a chapter skipped */
        "\nGenesis 2\n\n  1 A.\n",                            /* a book not starting at 1 */
        "\nGenesis 1\n\n  1 A.\n  3 B.\n",                    /* a verse skipped */
        "\nGenesis 1\n\n  1 A.\n   indented\n",               /* a stray line */
        "\nGenesis 1\n\nno verse yet\n",                      /* text before the first verse */
        "  1 A verse before any heading.\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = parse_snippet(bad[i], &c, &k);
        CHECK(st == CRATE_EINPUT && has("line") && has("bible-kjv"), "bad snippet %zu: %s", i, crate_errmsg());
    }
    text_corpus_free(&c);
}

static void test_paragraphs(void) {
    const char *p = tmp_path("para.txt");
    const char text[] = "\xef\xbb\xbf" "First line\r\nsecond line\r\n\r\n \t \n\n  indented start\nend";
    spit(p, text, sizeof text - 1);
    text_corpus c;
    text_corpus_init(&c);
    int st = text_corpus_add_file(&c, p);
    CHECK(st == CRATE_OK && c.count == 2 && doc_is(&c, 0, "First line\nsecond line") &&
              doc_is(&c, 1, "  indented start\nend"),
          "paragraphs: %llu documents: %s", (unsigned long long)c.count, crate_errmsg());
    spit(p, "ok\n\xc3(\n", 6);
    CHECK(text_corpus_add_file(&c, p) == CRATE_EINPUT && has(p) && has("line 2") && has("UTF-8"),
          "invalid UTF-8: %s", crate_errmsg());
    spit(p, "a\0b\n", 4);
    CHECK(text_corpus_add_file(&c, p) == CRATE_EINPUT && has("NUL"), "a NUL byte: %s", crate_errmsg());
    spit(p, "\n \n", 3);
    CHECK(text_corpus_add_file(&c, p) == CRATE_EINPUT && has("no text"), "blank file: %s", crate_errmsg());
    CHECK(c.count == 2, "refused files add nothing");
    text_corpus_free(&c);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip(1000, 120, 300, 5000, 256);           /* u16, 4 shards */
    test_round_trip(65536, 50, 300, 3000, 100);           /* the largest u16 vocabulary */
    test_round_trip(70000, 120, 300, 4000, 1000);         /* u32 */
    test_writer_rules();
    test_damage();
    test_windows();
    test_window_errors();
    test_kjv_parse();
    test_paragraphs();
    corpus_free(&wc);
    rm_tree(tmpdir);
    return check_finish();
}
