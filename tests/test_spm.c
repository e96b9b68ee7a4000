/* test_spm.c — the SentencePiece C wrapper (data/spm.h) on a text every
 * Debian system ships (/usr/share/common-licenses/GPL-3, 35 KB):
 *   - unigram and BPE training from a file, and from an in-memory iterator
 *     (the same vocabulary as from the file, piece by piece);
 *   - the special ids (pad 0, unk 1, bos 2, eos 3) and the mask piece;
 *   - encode/decode round trips of every line (up to SentencePiece's
 *     whitespace normalization), piece <-> id;
 *   - serialize → load from bytes and from a file: the same ids;
 *   - our ids equal those of Debian's own `spm_encode` on the same model
 *     and text (an independent implementation of the encoder's front end);
 *   - byte fallback: an unseen character is bytes, not unk;
 *   - bad input: garbage model bytes, a missing file, an id outside the
 *     vocabulary, a too-small vocabulary, a failing iterator — each a clear
 *     CRATE_EINPUT or the callback's own message, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/spm.h"
#include "src/error.h"
#include "src/io/fs.h"
#include "tests/check.h"

static const char *CORPUS = "/usr/share/common-licenses/GPL-3";

/* SentencePiece's default normalization drops leading and trailing spaces
 * and collapses runs: the text a round trip must give back. */
static void squeeze(const char *in, char *out) {
    int space = 1;
    for (; *in; in++) {
        if (*in == ' ' || *in == '\t') {
            space = space || 0;
            if (!space) *out++ = ' ', space = 1;
            continue;
        }
        *out++ = *in, space = 0;
    }
    if (space && out[-1] == ' ') out--;
    *out = 0;
}

typedef struct {
    char *text;
    char *at;
    int fail_after; /* lines, or -1 */
    int served;
} line_feed;

static int next_line(void *ctx, const char **text, size_t *len) {
    line_feed *f = ctx;
    if (f->fail_after >= 0 && f->served == f->fail_after) {
        crate_fail(CRATE_EINPUT, "corpus.txt:%d: the test's reader failed here", f->served + 1);
        return CRATE_EINPUT;
    }
    if (!*f->at) return 0;
    char *nl = strchr(f->at, '\n');
    size_t n = nl ? (size_t)(nl - f->at) : strlen(f->at);
    *text = f->at;
    *len = n;
    f->at += n + (nl ? 1 : 0);
    f->served++;
    return 1;
}

static int same_ids(const spm_model *a, const spm_model *b, const char *text) {
    int32_t *x, *y;
    size_t nx, ny;
    if (spm_encode(a, text, strlen(text), &x, &nx) || spm_encode(b, text, strlen(text), &y, &ny)) return 0;
    int same = nx == ny && memcmp(x, y, nx * sizeof *x) == 0;
    free(x);
    free(y);
    return same;
}

static void test_round_trips(const spm_model *m, const char *corpus) {
    char *copy = strdup(corpus), *save = NULL, *want = malloc(strlen(corpus) + 1);
    int lines = 0, ok = 1;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int32_t *ids;
        size_t n, len;
        char *back;
        if (spm_encode(m, line, strlen(line), &ids, &n) || spm_decode(m, ids, n, &back, &len)) {
            ok = 0;
            break;
        }
        squeeze(line, want);
        if (strcmp(back, want)) {
            ok = 0;
            fprintf(stderr, "round trip of '%s' gave '%s'\n", want, back);
        }
        for (size_t i = 0; i < n; i++) ok &= ids[i] != spm_unk_id(m);
        free(ids);
        free(back);
        lines++;
    }
    CHECK(ok && lines > 500, "encode/decode round trips of %d lines, no unk", lines);
    free(copy);
    free(want);
}

static void test_cli_agrees(const spm_model *m) {
    char dir[] = "/tmp/crate-spm-XXXXXX";
    if (!mkdtemp(dir)) return;
    char model[64], text[64], out[64], cmd[512];
    snprintf(model, sizeof model, "%s/m.model", dir);
    snprintf(text, sizeof text, "%s/t.txt", dir);
    snprintf(out, sizeof out, "%s/ids.txt", dir);
    char *bytes;
    size_t len;
    CHECK(spm_serialize(m, &bytes, &len) == CRATE_OK, "serialize: %s", crate_errmsg());
    const char *sample = "Everyone is permitted to copy and distribute verbatim copies\n"
                         "of this license document, but changing it is not allowed.\n"
                         "Tokenizers disagree about nothing here: zebras, quixotic, 1234567.\n";
    FILE *f = fopen(model, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    f = fopen(text, "w");
    fputs(sample, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "spm_encode --model=%s --output_format=id < %s > %s", model, text, out);
    int rc = system(cmd);
    CHECK(rc == 0, "spm_encode ran (is Debian's sentencepiece installed?)");
    char *theirs;
    size_t theirs_len;
    if (rc == 0 && fs_read_file(out, &theirs, &theirs_len) == CRATE_OK) {
        /* Ours, one line per sample line, in spm_encode's "id id id" form. */
        char *copy = strdup(sample), *save = NULL, *ours = calloc(1, 1 << 16);
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            int32_t *ids;
            size_t n;
            spm_encode(m, line, strlen(line), &ids, &n);
            for (size_t i = 0; i < n; i++) sprintf(ours + strlen(ours), i ? " %d" : "%d", ids[i]);
            strcat(ours, "\n");
            free(ids);
        }
        CHECK(strcmp(ours, theirs) == 0, "our ids equal spm_encode's:\n%s---\n%s", ours, theirs);
        free(copy);
        free(ours);
        free(theirs);
    }
    spm_model *from_file;
    CHECK(spm_load_file(&from_file, model) == CRATE_OK && same_ids(m, from_file, sample),
          "a model loaded from its file encodes as the original");
    spm_free(from_file);
    free(bytes);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
}

static void test_errors(const spm_model *m, char *corpus) {
    spm_model *bad = NULL;
    CHECK(spm_load_bytes(&bad, "not a model at all", 18) == CRATE_EINPUT && !bad &&
              strstr(crate_errmsg(), "sentencepiece"),
          "garbage model bytes: %s", crate_errmsg());
    CHECK(spm_load_file(&bad, "/nonexistent/x.model") == CRATE_EINPUT && strstr(crate_errmsg(), "/nonexistent/x.model"),
          "a missing model file is named: %s", crate_errmsg());
    int32_t ids[2] = {5, 1 << 20};
    char *text;
    size_t len;
    CHECK(spm_decode(m, ids, 2, &text, &len) == CRATE_EINPUT && strstr(crate_errmsg(), "outside the vocabulary"),
          "an id outside the vocabulary: %s", crate_errmsg());
    spm_train_options tiny = spm_train_options_default(4);
    const char *files[] = {CORPUS};
    CHECK(spm_train_files(&bad, files, 1, &tiny) == CRATE_EINPUT, "vocab size 4 refused: %s", crate_errmsg());
    const char *missing[] = {"/nonexistent/corpus.txt"};
    spm_train_options o = spm_train_options_default(200);
    CHECK(spm_train_files(&bad, missing, 1, &o) != CRATE_OK && !bad, "a missing corpus: %s", crate_errmsg());
    line_feed f = {corpus, corpus, 50, 0};
    int rc = spm_train_iter(&bad, next_line, &f, &o);
    CHECK(rc != CRATE_OK && !bad && strstr(crate_errmsg(), "corpus.txt:51: the test's reader failed here"),
          "a failing iterator carries its own message: %s", crate_errmsg());
}

int main(void) {
    char *corpus;
    size_t corpus_len;
    if (fs_read_file(CORPUS, &corpus, &corpus_len) != CRATE_OK) {
        CHECK(0, "%s: %s", CORPUS, crate_errmsg());
        return check_finish();
    }
    const char *files[] = {CORPUS};
    spm_train_options o = spm_train_options_default(300);
    spm_model *uni = NULL, *bpe = NULL, *iter = NULL, *bytes_model = NULL, *fallback = NULL;
    CHECK(spm_train_files(&uni, files, 1, &o) == CRATE_OK, "unigram training: %s", crate_errmsg());
    if (!uni) return check_finish();
    CHECK(spm_vocab_size(uni) == 300, "vocab size %d", spm_vocab_size(uni));
    CHECK(spm_pad_id(uni) == 0 && spm_unk_id(uni) == 1 && spm_bos_id(uni) == 2 && spm_eos_id(uni) == 3,
          "special ids pad %d unk %d bos %d eos %d", spm_pad_id(uni), spm_unk_id(uni), spm_bos_id(uni),
          spm_eos_id(uni));
    int mask = spm_piece_to_id(uni, "[MASK]");
    CHECK(mask == 4 && strcmp(spm_id_to_piece(uni, mask), "[MASK]") == 0, "mask piece at id %d", mask);
    CHECK(spm_piece_to_id(uni, "surely-not-a-piece") == -1, "an unknown piece has no id");
    CHECK(spm_piece_to_id(uni, spm_id_to_piece(uni, 1)) == 1, "the unk piece maps to unk");
    CHECK(spm_id_to_piece(uni, 300) == NULL && spm_id_to_piece(uni, -1) == NULL, "pieces out of range are NULL");
    int32_t *ids;
    size_t n;
    const char *masked = "the [MASK] of this License";
    CHECK(spm_encode(uni, masked, strlen(masked), &ids, &n) == CRATE_OK, "encode");
    int has_mask = 0;
    for (size_t i = 0; i < n; i++) has_mask |= ids[i] == mask;
    CHECK(has_mask, "the mask piece in text encodes as the mask id");
    free(ids);
    test_round_trips(uni, corpus);

    char *ser;
    size_t ser_len;
    CHECK(spm_serialize(uni, &ser, &ser_len) == CRATE_OK && spm_load_bytes(&bytes_model, ser, ser_len) == CRATE_OK,
          "serialize and load from bytes: %s", crate_errmsg());
    CHECK(bytes_model && same_ids(uni, bytes_model, "This License applies to any program or other work"),
          "a model loaded from bytes encodes as the original");

    line_feed f = {corpus, corpus, -1, 0};
    CHECK(spm_train_iter(&iter, next_line, &f, &o) == CRATE_OK, "iterator training: %s", crate_errmsg());
    /* The serialized protos differ only in the trainer spec they record
     * (the file's name); the vocabularies must be the same, piece by piece. */
    int same_vocab = iter && spm_vocab_size(iter) == spm_vocab_size(uni);
    for (int id = 0; same_vocab && id < spm_vocab_size(uni); id++)
        same_vocab = strcmp(spm_id_to_piece(iter, id), spm_id_to_piece(uni, id)) == 0;
    CHECK(same_vocab && same_ids(uni, iter, "Each licensee is addressed as \"you\"."),
          "training from the iterator gives the file's vocabulary, piece by piece");

    o.type = SPM_BPE;
    CHECK(spm_train_files(&bpe, files, 1, &o) == CRATE_OK && spm_vocab_size(bpe) == 300, "BPE training: %s",
          crate_errmsg());
    if (bpe) test_round_trips(bpe, corpus);

    o = spm_train_options_default(600); /* 256 byte pieces + the corpus's characters */
    o.byte_fallback = 1;
    CHECK(spm_train_files(&fallback, files, 1, &o) == CRATE_OK, "byte-fallback training: %s", crate_errmsg());
    const char *unseen = "price: 5 \xe2\x82\xac";  /* the euro sign is not in the GPL */
    if (fallback && spm_encode(fallback, unseen, strlen(unseen), &ids, &n) == CRATE_OK) {
        int unk = 0;
        for (size_t i = 0; i < n; i++) unk |= ids[i] == spm_unk_id(fallback);
        char *back;
        size_t len;
        CHECK(!unk && spm_decode(fallback, ids, n, &back, &len) == CRATE_OK && strcmp(back, unseen) == 0,
              "byte fallback: an unseen character round-trips without unk");
        free(ids);
        free(back);
    }

    test_cli_agrees(uni);
    test_errors(uni, corpus);
    free(ser);
    spm_free(uni);
    spm_free(bpe);
    spm_free(iter);
    spm_free(bytes_model);
    spm_free(fallback);
    free(corpus);
    return check_finish();
}
