/* text_corpus.c — documents, paragraphs and the train/val tokenization (see
 * text_corpus.h).
 *
 * Design. The corpus is one growing buffer plus (start, length) per
 * document, so a document is a pointer and a length wherever it goes (the
 * tokenizer's sentence iterator, the encoder). Output directories are checked
 * first and the tokenizer trained second, so that the one slow step never
 * runs only to fail at the end; the two datasets are then written in one pass
 * over the documents, each through its own crash-safe writer; if either
 * fails neither is left (the train split, committed first, is removed when
 * the val split then fails), since the two share one tokenizer.
 */
#define _POSIX_C_SOURCE 200809L
#include "data/text_corpus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/error.h"
#include "src/io/fs.h"
#include "src/io/utf8.h"

void text_corpus_init(text_corpus *c) { memset(c, 0, sizeof *c); }

void text_corpus_free(text_corpus *c) {
    free(c->text);
    free(c->start);
    free(c->len);
    memset(c, 0, sizeof *c);
}

int text_corpus_add(text_corpus *c, const char *text, size_t len) {
    if (c->count == c->cap_docs) {
        uint64_t cap = c->cap_docs ? c->cap_docs * 2 : 256;
        size_t *s = realloc(c->start, (size_t)cap * sizeof *s);
        if (s) c->start = s;
        size_t *l = s ? realloc(c->len, (size_t)cap * sizeof *l) : NULL;
        if (!s || !l) return crate_fail(CRATE_EINTERNAL, "out of memory for %" PRIu64 " documents", cap);
        c->len = l;
        c->cap_docs = cap;
    }
    if (len > c->cap - c->bytes) {
        size_t cap = c->cap ? c->cap : 1 << 16;
        while (cap - c->bytes < len) {
            if (cap > SIZE_MAX / 2) return crate_fail(CRATE_EINTERNAL, "text corpus too large");
            cap *= 2;
        }
        char *t = realloc(c->text, cap);
        if (!t) return crate_fail(CRATE_EINTERNAL, "out of memory for %zu bytes of text", cap);
        c->text = t;
        c->cap = cap;
    }
    if (len) memcpy(c->text + c->bytes, text, len);
    c->start[c->count] = c->bytes;
    c->len[c->count] = len;
    c->bytes += len;
    c->count++;
    return CRATE_OK;
}

/* ---- paragraphs of a file ------------------------------------------------------- */

static int check_utf8(const char *path, const char *data, size_t n) {
    size_t bad;
    uint64_t line;
    if (utf8_valid_text(data, n, &bad, &line)) return CRATE_OK;
    return crate_fail(CRATE_EINPUT, "%s: line %" PRIu64 ", byte %zu: %s; crate-data reads UTF-8 text files "
                      "(convert it, e.g. with iconv, or leave it out)", path, line, bad,
                      data[bad] ? "not valid UTF-8" : "a NUL byte");
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 0;
    return 1;
}

/* The paragraphs of data[0, n) as documents; *added counts them. */
static int add_paragraphs(text_corpus *c, const char *data, size_t n, uint64_t *added) {
    *added = 0;
    char *doc = NULL;
    size_t doc_len = 0, doc_cap = 0;
    int st = CRATE_OK;
    for (size_t i = 0; !st && i <= n;) {
        const char *nl = i < n ? memchr(data + i, '\n', n - i) : NULL;
        size_t e = nl ? (size_t)(nl - data) : n, len = e - i;
        if (len > 0 && data[i + len - 1] == '\r') len--;
        int blank = is_blank(data + i, len);
        if (!blank) { /* one more line of the document */
            if (doc_len + len + 1 > doc_cap) {
                doc_cap = (doc_len + len + 1) * 2;
                char *d = realloc(doc, doc_cap);
                if (!d) {
                    st = crate_fail(CRATE_EINTERNAL, "out of memory for a paragraph of %zu bytes", doc_len + len);
                    break;
                }
                doc = d;
            }
            if (doc_len) doc[doc_len++] = '\n';
            memcpy(doc + doc_len, data + i, len);
            doc_len += len;
        }
        if ((blank || e >= n) && doc_len) {
            st = text_corpus_add(c, doc, doc_len);
            doc_len = 0;
            (*added)++;
        }
        if (e >= n) break;
        i = e + 1;
    }
    free(doc);
    return st;
}

int text_corpus_add_file(text_corpus *c, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = errno;
        return crate_fail(CRATE_EINPUT, "%s: cannot read the input: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode))
        return crate_fail(CRATE_EINPUT, "%s: not a regular file; give text files as inputs", path);
    char *data;
    size_t n;
    int st = fs_read_file(path, &data, &n);
    if (st) return st;
    const char *text = data;
    if (n >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) text += 3, n -= 3; /* a byte-order mark */
    uint64_t added = 0;
    st = check_utf8(path, text, n);
    if (!st) st = add_paragraphs(c, text, n, &added);
    free(data);
    if (!st && added == 0)
        st = crate_fail(CRATE_EINPUT, "%s: no text (the file is empty or holds only blank lines); leave it out of "
                        "the inputs", path);
    return st;
}

/* ---- the split -------------------------------------------------------------------- */

static int is_val(uint64_t i, const text_split_options *o) {
    return (o->train_only_from == 0 || i < o->train_only_from) && (i + 1) % (uint64_t)o->val_every == 0;
}

/* The tokenizer's sentences: the lines of the train documents. */
typedef struct {
    const text_corpus *c;
    const text_split_options *o;
    uint64_t doc;   /* current document */
    size_t off;     /* next line's offset in it */
    uint64_t lines;
} line_iter;

static int next_line(void *arg, const char **text, size_t *len) {
    line_iter *it = arg;
    const text_corpus *c = it->c;
    for (; it->doc < c->count; it->doc++, it->off = 0) {
        if (is_val(it->doc, it->o) || it->off > c->len[it->doc]) continue;
        const char *d = c->text + c->start[it->doc];
        size_t n = c->len[it->doc], o = it->off;
        const char *nl = memchr(d + o, '\n', n - o);
        size_t e = nl ? (size_t)(nl - d) : n;
        it->off = e + 1; /* past the end after the last line */
        *text = d + o;
        *len = e - o;
        it->lines++;
        return 1;
    }
    return 0;
}

static const char *type_name(spm_type t) { return t == SPM_BPE ? "bpe" : "unigram"; }
static const char *source_name(const text_split_options *o) { return o->source ? o->source : "the text"; }

/* The tokenizer: trained on the train documents, or loaded. */
static int get_tokenizer(const text_corpus *c, const text_split_options *o, uint64_t train_docs,
                         uint64_t train_bytes, spm_model **m, text_split_stats *s) {
    double t0 = fs_now();
    int st;
    if (o->spm_model) {
        struct stat sb;
        if (stat(o->spm_model, &sb) != 0 || !S_ISREG(sb.st_mode))
            return crate_fail(CRATE_EINPUT, "--spm %s: no such model file; give the tokenizer.model of a token "
                              "dataset (e.g. OUT_DIR/train/tokenizer.model of an earlier run) or train one with "
                              "--spm-train V", o->spm_model);
        st = spm_load_file(m, o->spm_model);
        if (st)
            return crate_fail_context(st, "--spm %s: not a usable SentencePiece model (give the tokenizer.model of a "
                                      "token dataset, or train one with --spm-train V)", o->spm_model);
    } else {
        spm_train_options opt = spm_train_options_default(o->vocab);
        opt.type = o->type;
        line_iter it = {.c = c, .o = o};
        st = spm_train_iter(m, next_line, &it, &opt);
        if (st && strstr(crate_errmsg(), "Vocabulary size too high"))
            return crate_fail_context(st, "%s: the %" PRIu64 " train documents (%" PRIu64 " bytes) are too little "
                                      "text for a %s tokenizer of %d pieces; give more text or a smaller %s V "
                                      "(SentencePiece names the largest it can reach)", source_name(o), train_docs,
                                      train_bytes, type_name(o->type), o->vocab,
                                      o->vocab_flag ? o->vocab_flag : "vocabulary");
        if (st)
            return crate_fail_context(st, "%s: training a %s tokenizer of %d pieces on the %" PRIu64 " train "
                                      "documents", source_name(o), type_name(o->type), o->vocab, train_docs);
        s->tokenizer_lines = it.lines;
    }
    s->tokenizer_seconds = fs_now() - t0;
    if (spm_bos_id(*m) != TOKEN_BOS_ID) {
        st = crate_fail(CRATE_EINPUT, "%s: the tokenizer's bos id is %d; crate token datasets start every document "
                        "with bos id %d: train the model with --bos_id=%d (crate-data text --spm-train does)",
                        o->spm_model ? o->spm_model : "(trained)", spm_bos_id(*m), TOKEN_BOS_ID, TOKEN_BOS_ID);
        spm_free(*m);
        *m = NULL;
        return st;
    }
    s->vocab = spm_vocab_size(*m);
    return CRATE_OK;
}

/* Encodes every document into the writer of its split. */
static int encode_all(const text_corpus *c, const spm_model *m, const text_split_options *o,
                      token_dataset_writer *train, token_dataset_writer *val) {
    for (uint64_t i = 0; i < c->count; i++) {
        int32_t *ids;
        size_t n;
        int st = spm_encode(m, c->text + c->start[i], c->len[i], &ids, &n);
        if (st) return crate_fail_context(st, "encoding document %" PRIu64, i + 1);
        st = token_dataset_writer_add_document(is_val(i, o) ? val : train, ids, n, c->len[i]);
        free(ids);
        if (st) return st;
    }
    return CRATE_OK;
}

int text_corpus_write_split(const text_corpus *c, const char *out_dir, const text_split_options *o,
                            text_split_stats *stats) {
    memset(stats, 0, sizeof *stats);
    if (o->val_every < 2)
        return crate_fail(CRATE_EINPUT, "--val-every %d: every K-th document goes to val, so K must be at least 2",
                          o->val_every);
    if (!o->spm_model && o->vocab < 8)
        return crate_fail(CRATE_EINPUT, "%s %d: a tokenizer needs at least 8 pieces",
                          o->vocab_flag ? o->vocab_flag : "vocabulary", o->vocab);
    uint64_t n_val = 0, train_bytes = 0;
    for (uint64_t i = 0; i < c->count; i++) {
        if (is_val(i, o)) n_val++;
        else train_bytes += c->len[i];
    }
    uint64_t n_train = c->count - n_val;
    if (n_val == 0)
        return crate_fail(CRATE_EINPUT, "%s: only %" PRIu64 " documents: with --val-every %d none goes to val; give "
                          "more text (a blank line ends a document) or a smaller --val-every", source_name(o),
                          c->count, o->val_every);
    struct stat sb;
    if (stat(out_dir, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return crate_fail(CRATE_EINPUT, "%s exists and is not a directory; remove it or choose another OUT_DIR",
                          out_dir);
    char *train_dir = fs_path_join(out_dir, "train"), *val_dir = fs_path_join(out_dir, "val");
    spm_model *m = NULL;
    char *model = NULL;
    size_t model_bytes = 0;
    token_dataset_writer *tw = NULL, *vw = NULL;
    int st = train_dir && val_dir ? CRATE_OK : CRATE_EINTERNAL;
    if (!st) st = token_dataset_check_output(train_dir);
    if (!st) st = token_dataset_check_output(val_dir);
    if (!st) st = get_tokenizer(c, o, n_train, train_bytes, &m, stats);
    if (!st) st = spm_serialize(m, &model, &model_bytes);
    double t0 = fs_now();
    if (!st) st = fs_mkdir_p(out_dir);
    if (!st) st = token_dataset_writer_open(&tw, train_dir, stats->vocab, model, model_bytes, o->tokens_per_shard,
                                            o->tokens_per_block);
    if (!st) st = token_dataset_writer_open(&vw, val_dir, stats->vocab, model, model_bytes, o->tokens_per_shard,
                                            o->tokens_per_block);
    if (!st) st = encode_all(c, m, o, tw, vw);
    if (!st) {
        token_dataset_writer *w = tw;
        tw = NULL;
        st = token_dataset_writer_close(w, &stats->train);
    }
    if (!st) {
        token_dataset_writer *w = vw;
        vw = NULL;
        st = token_dataset_writer_close(w, &stats->val);
        if (st) { /* neither split without the other: they share the tokenizer */
            char msg[2048];
            snprintf(msg, sizeof msg, "%s", crate_errmsg());
            fs_remove_tree(train_dir);
            crate_errmsg_set(msg);
        }
    }
    stats->encode_seconds = fs_now() - t0;
    token_dataset_writer_abort(tw);
    token_dataset_writer_abort(vw);
    spm_free(m);
    free(model);
    free(train_dir);
    free(val_dir);
    return st;
}
