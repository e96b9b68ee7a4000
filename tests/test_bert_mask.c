/* test_bert_mask.c — BERT's inputs: the document windows (data/doc_windows.h)
 * and the token corruption (pretrain/bert_mask.h).
 *
 * Windows: on a stream of documents of every kind of length (empty, shorter
 * than a window, exactly one, longer), every window is a bos and L = T − 1
 * tokens of the stream, starts ascend, every token is in some window, and a
 * window starts mid-document only inside a document longer than L.
 * Masking: over many windows the selected fraction is p ± 0.5% and the
 * split mask/random/kept 80/10/10 ± 1%; no special id is ever selected or
 * drawn; the same windows get the same masks whether one rank or two read
 * them through the token source.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/doc_windows.h"
#include "data/token_source.h"
#include "pretrain/bert_mask.h"
#include "src/error.h"
#include "tests/check.h"

enum { V = 100, T = 32, NSPECIAL = 5, MASK_ID = 4 };
static const int SPECIALS[NSPECIAL] = {0, 1, 2, 3, 4};
static const char TOKENIZER[] = "opaque";
static char tmpdir[] = "/tmp/crate-test-bert-mask-XXXXXX";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Document d's length: empty, short, exactly L, L + 1, long, cycling. */
static size_t doc_len(int d) {
    static const size_t lens[] = {0, 3, T - 1, T, 5, 200, 1, T - 2, 70, 2 * (T - 1)};
    return lens[d % 10] + (size_t)(d / 10 % 3);
}

/* Writes `docs` documents of ordinary ids (some unk and eos among them) to dir. */
static int write_docs(const char *dir, int docs) {
    token_dataset_writer *w;
    int st = token_dataset_writer_open(&w, dir, V, TOKENIZER, sizeof TOKENIZER, 0, 256);
    int32_t ids[512];
    for (int d = 0; st == CRATE_OK && d < docs; d++) {
        size_t n = doc_len(d);
        for (size_t j = 0; j < n; j++) ids[j] = (int32_t)(5 + (d * 31 + j * 7) % (V - 5));
        if (n > 4) ids[n / 2] = 1, ids[n - 1] = 3; /* unk inside, eos at the end */
        st = token_dataset_writer_add_document(w, ids, n, n);
    }
    if (st == CRATE_OK) return token_dataset_writer_close(w, NULL);
    token_dataset_writer_abort(w);
    return st;
}

static void test_windows(const char *dir) {
    token_dataset *ds;
    CHECK(token_dataset_open(&ds, dir, 1 << 20) == CRATE_OK, "%s", crate_errmsg());
    uint64_t N = token_dataset_tokens(ds), L = T - 1;
    int32_t *stream = malloc(N * sizeof *stream);
    CHECK(token_dataset_read(ds, 0, N, stream) == CRATE_OK, "read");
    doc_windows w;
    CHECK(doc_windows_build(&w, ds, T, dir) == CRATE_OK, "%s", crate_errmsg());
    uint8_t *covered = calloc(N, 1);
    int32_t ids[T];
    int ascending = 1, exact = 1, mid_ok = 1, doc_starts = 0;
    for (uint64_t k = 0; k < w.count; k++) {
        uint64_t s = w.starts[k];
        ascending &= k == 0 || s > w.starts[k - 1];
        CHECK(s + L <= N, "window %llu runs past the stream", (unsigned long long)k);
        doc_windows_read(ds, &w, k, ids);
        exact &= ids[0] == TOKEN_BOS_ID && memcmp(ids + 1, stream + s, L * sizeof *ids) == 0;
        memset(covered + s, 1, L);
        if (stream[s - 1] == TOKEN_BOS_ID) {
            doc_starts++;
        } else { /* mid-document: the document it is in must be longer than L */
            uint64_t a = s, q = s;
            while (stream[a - 1] != TOKEN_BOS_ID) a--;
            while (q < N && stream[q] != TOKEN_BOS_ID) q++;
            mid_ok &= q - a > L;
        }
    }
    CHECK(ascending && exact && mid_ok, "ascending %d, bos + stream %d, mid-document only in long ones %d", ascending,
          exact, mid_ok);
    int all = 1;
    for (uint64_t i = 0; i < N; i++) all &= covered[i] || stream[i] == TOKEN_BOS_ID;
    CHECK(all, "every token is in a window");
    double overlap = (double)w.count * L / (double)(N - token_dataset_documents(ds)) - 1;
    printf("windows: %llu of T = %d over %llu tokens, %d start a document, overlap %.1f%%\n",
           (unsigned long long)w.count, T, (unsigned long long)N, doc_starts, 100 * overlap);
    CHECK(overlap < 0.6, "overlap %.2f", overlap);
    doc_windows_free(&w);
    CHECK(doc_windows_build(&w, ds, (int)N + 1, dir) == CRATE_EINPUT && strstr(crate_errmsg(), dir),
          "a window longer than the data: %s", crate_errmsg());
    free(covered);
    free(stream);
    token_dataset_close(ds);
}

static void test_statistics(void) {
    bert_masker m;
    CHECK(bert_masker_init(&m, 7, 0.15f, 0.8f, 0.1f, V, MASK_ID, SPECIALS, NSPECIAL, T) == CRATE_OK, "init");
    int32_t ids[T], in[T], tg[T];
    long ordinary = 0, selected = 0, masked = 0, replaced = 0, kept = 0, special_hit = 0, special_drawn = 0;
    for (int k = 0; k < 20000; k++) {
        for (int t = 0; t < T; t++) ids[t] = (int32_t)(5 + (k * 13 + t * 29) % (V - 5));
        ids[0] = 2, ids[7] = 1, ids[T - 1] = 3; /* bos, unk, eos */
        int n = bert_mask_window(&m, 0, (uint64_t)k, ids, in, tg);
        int counted = 0;
        for (int t = 0; t < T; t++) {
            ordinary += ids[t] >= NSPECIAL;
            if (tg[t] < 0) {
                CHECK(in[t] == ids[t], "an unselected position changed");
                continue;
            }
            counted++;
            special_hit += ids[t] < NSPECIAL;
            if (in[t] == MASK_ID) masked++;
            else if (in[t] == ids[t]) kept++;
            else replaced++, special_drawn += in[t] < NSPECIAL;
        }
        selected += counted;
        CHECK(counted == n, "returned %d, %d targets", n, counted);
    }
    double frac = (double)selected / ordinary;
    printf("selected %.4f of ordinary tokens; mask %.4f, random %.4f, kept %.4f\n", frac, (double)masked / selected,
           (double)replaced / selected, (double)kept / selected);
    CHECK(frac > 0.145 && frac < 0.155, "selected fraction %.4f", frac);
    CHECK(masked > 0.79 * selected && masked < 0.81 * selected, "mask share %.4f", (double)masked / selected);
    /* a random draw can give the original id back (1 in V − 5): those count as kept */
    CHECK(replaced > 0.09 * selected && replaced < 0.11 * selected, "random share");
    CHECK(kept > 0.09 * selected && kept < 0.11 * selected, "kept share");
    CHECK(special_hit == 0 && special_drawn == 0, "special ids selected %ld, drawn %ld", special_hit, special_drawn);
    /* The key is all: the same (epoch, sample) gives the same corruption, another epoch another one. */
    int32_t in2[T], tg2[T];
    bert_mask_window(&m, 3, 11, ids, in, tg);
    bert_mask_window(&m, 3, 11, ids, in2, tg2);
    CHECK(!memcmp(in, in2, sizeof in) && !memcmp(tg, tg2, sizeof tg), "same key, same masks");
    bert_mask_window(&m, 4, 11, ids, in2, tg2);
    CHECK(memcmp(tg, tg2, sizeof tg) != 0, "another epoch, other masks");
    bert_masker_free(&m);
}

/* Corrupts every window of step `step` as the objective does, for a rank
 * taking [offset, offset + local) of a global batch of G. */
static void mask_step(const char *dir, int G, int offset, int local, int64_t step, int32_t *inputs,
                      int32_t *targets) {
    bert_masker m;
    bert_masker_init(&m, 5, 0.15f, 0.8f, 0.1f, V, MASK_ID, SPECIALS, NSPECIAL, T);
    batch_source_config cfg = {.path = dir, .seed = 5, .global_batch = G, .rank_offset = offset,
                               .local_batch = local, .first_step = step, .prefetch = 1};
    batch_source *src;
    const void *bp;
    CHECK(token_source_open(&src, &cfg, T, TOKEN_WINDOWS_DOCUMENTS, 1) == CRATE_OK, "%s", crate_errmsg());
    CHECK(batch_source_next(src, &bp) == CRATE_OK, "%s", crate_errmsg());
    const token_batch *b = bp;
    CHECK(b->width == T && b->n == local, "batch of %d windows of %d", b->n, b->width);
    for (int i = 0; i < b->n; i++)
        bert_mask_window(&m, b->epochs[i], b->sample_ids[i], b->tokens + (size_t)i * T, inputs + (size_t)i * T,
                         targets + (size_t)i * T);
    batch_source_close(src);
    bert_masker_free(&m);
}

static void test_ranks(const char *dir) {
    enum { G = 8 };
    int32_t in1[G * T], tg1[G * T], in2[G * T], tg2[G * T];
    for (int64_t step = 0; step < 40; step += 13) { /* past an epoch boundary too */
        mask_step(dir, G, 0, G, step, in1, tg1);
        mask_step(dir, G, 0, G / 2, step, in2, tg2);
        mask_step(dir, G, G / 2, G / 2, step, in2 + G / 2 * T, tg2 + G / 2 * T);
        CHECK(!memcmp(in1, in2, sizeof in1) && !memcmp(tg1, tg2, sizeof tg1), "step %lld: 1 and 2 ranks differ",
              (long long)step);
    }
}

int main(void) {
    CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/docs", tmpdir);
    CHECK(write_docs(dir, 60) == CRATE_OK, "%s", crate_errmsg());
    test_windows(dir);
    test_statistics();
    test_ranks(dir);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish();
}
