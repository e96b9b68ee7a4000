/* token_shard.c — token datasets (see token_shard.h): the tokens.meta format,
 * the writer and the reader, on the kind-independent shard code of
 * shard_io.h.
 *
 * Design. The shard container does the heavy lifting (blocks, checksums,
 * crash-safe directories, the block cache); this file adds what is particular
 * to a token stream: ids as u16/u32 records, the bos id that starts every
 * document (counted per shard in the header), the tokenizer file and the
 * metadata that ties them together. The meta is parsed strictly, line by
 * line, and carries its own crc, because bits-per-byte numbers are computed
 * from its text_bytes: a hand-edited or damaged meta must not pass. Files
 * read from disk are bounded before they are read (the meta to
 * TOKEN_META_MAX_BYTES, the tokenizer to TOKEN_MAX_TOKENIZER_BYTES).
 */
#define _POSIX_C_SOURCE 200809L
#include "data/token_shard.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/shard_format.h"
#include "data/shard_io.h"
#include "src/error.h"
#include "src/io/crc32.h"
#include "src/io/fs.h"

#define TOKEN_META_MAX_BYTES 4096
#define TOKEN_FIX "re-create the dataset with crate-data"
#define STAGE_IDS 4096 /* ids converted to records per append */

static const char *const token_files[] = {TOKEN_META_FILE, TOKEN_TOKENIZER_FILE, NULL};
static const shard_dir_kind token_kind = {"token", token_files, TOKEN_META_FILE};

int token_dataset_check_output(const char *dir) { return shard_dir_check_replaceable(dir, &token_kind); }

/* ---- tokens.meta ------------------------------------------------------------------ */

typedef struct {
    uint64_t version, vocab, id_bytes, bos, documents, tokens, text_bytes, shards, tokenizer_bytes;
    uint32_t tokenizer_crc;
} token_meta;

/* The decimal keys, in file order, and where each value goes. */
#define META_DECIMALS 9
static const char *const META_KEYS[META_DECIMALS] = {"crate-tokens", "vocab",  "id_bytes",   "bos",
                                                     "documents",    "tokens", "text_bytes", "shards",
                                                     "tokenizer_bytes"};
static uint64_t *meta_field(token_meta *m, int k) {
    uint64_t *f[META_DECIMALS] = {&m->version, &m->vocab,      &m->id_bytes, &m->bos,            &m->documents,
                                  &m->tokens,  &m->text_bytes, &m->shards,   &m->tokenizer_bytes};
    return f[k];
}

/* The text of m, with its crc line, into buf (TOKEN_META_MAX_BYTES). */
static size_t meta_encode(token_meta m, char *buf) {
    size_t n = 0;
    for (int k = 0; k < META_DECIMALS; k++)
        n += (size_t)snprintf(buf + n, TOKEN_META_MAX_BYTES - n, "%s %" PRIu64 "\n", META_KEYS[k], *meta_field(&m, k));
    n += (size_t)snprintf(buf + n, TOKEN_META_MAX_BYTES - n, "tokenizer_crc32 %08x\n", m.tokenizer_crc);
    uint32_t crc = crc32_update(0, buf, n);
    n += (size_t)snprintf(buf + n, TOKEN_META_MAX_BYTES - n, "crc32 %08x\n", crc);
    return n;
}

/* A printable copy of the first bytes of a bad line, for messages. */
static void meta_snippet(const char *p, const char *end, char *out, size_t cap) {
    size_t i = 0;
    while (i + 1 < cap && p + i < end && p[i] != '\n') {
        out[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
        i++;
    }
    out[i] = '\0';
}

/* Line `line` of the meta at *p must be "key value\n", value decimal
 * (hex = 0) or eight lower-case hex digits (hex = 1). */
static int meta_line(const char *path, int line, const char **p, const char *end, const char *key, int hex,
                     uint64_t *value) {
    const char *s = *p;
    size_t kn = strlen(key);
    const char *v = s + kn + 1;
    int ok = (size_t)(end - s) > kn + 1 && !memcmp(s, key, kn) && s[kn] == ' ';
    uint64_t x = 0;
    int digits = 0;
    while (ok && v + digits < end && v[digits] != '\n') {
        char c = v[digits];
        int d = c >= '0' && c <= '9' ? c - '0' : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0 || digits >= (hex ? 8 : 20) || (!hex && x > (UINT64_MAX - (uint64_t)d) / 10)) ok = 0;
        else x = x * (hex ? 16 : 10) + (uint64_t)d;
        digits++;
    }
    if (ok) ok = v + digits < end && digits > 0 && (hex ? digits == 8 : digits == 1 || v[0] != '0');
    if (!ok) {
        char found[48];
        meta_snippet(s, end, found, sizeof found);
        return crate_fail(CRATE_EINPUT, "%s: line %d: expected \"%s <%s>\", found \"%s\": the file is damaged or "
                          "was not written by crate-data; " TOKEN_FIX, path, line, key,
                          hex ? "8 hex digits" : "number", found);
    }
    *value = x;
    *p = v + digits + 1;
    return CRATE_OK;
}

static int meta_parse(const char *path, const char *text, size_t len, token_meta *m) {
    const char *p = text, *end = text + len;
    uint64_t v;
    int st;
    for (int k = 0; k < META_DECIMALS; k++)
        if ((st = meta_line(path, k + 1, &p, end, META_KEYS[k], 0, meta_field(m, k)))) return st;
    if ((st = meta_line(path, META_DECIMALS + 1, &p, end, "tokenizer_crc32", 1, &v))) return st;
    m->tokenizer_crc = (uint32_t)v;
    uint32_t computed = crc32_update(0, text, (size_t)(p - text));
    if ((st = meta_line(path, META_DECIMALS + 2, &p, end, "crc32", 1, &v))) return st;
    if (p != end)
        return crate_fail(CRATE_EINPUT, "%s: %zu bytes after the crc32 line; the file is damaged; " TOKEN_FIX, path,
                          (size_t)(end - p));
    if ((uint32_t)v != computed)
        return crate_fail(CRATE_EINPUT, "%s: checksum mismatch (stored %08x, computed %08x): the file is damaged or "
                          "was edited; " TOKEN_FIX, path, (uint32_t)v, computed);
    if (m->version != TOKEN_META_VERSION)
        return crate_fail(CRATE_EINPUT, "%s: token dataset format %" PRIu64 ", this build reads %d; " TOKEN_FIX, path,
                          m->version, TOKEN_META_VERSION);
    if (m->vocab < 3 || m->vocab > SHARD_MAX_VOCAB || m->id_bytes != shard_token_id_bytes(m->vocab) ||
        m->bos != TOKEN_BOS_ID || m->documents > m->tokens || (m->tokens > 0 && m->documents == 0) ||
        m->shards < 1 || m->shards > INT32_MAX || m->tokenizer_bytes < 1 ||
        m->tokenizer_bytes > TOKEN_MAX_TOKENIZER_BYTES)
        return crate_fail(CRATE_EINPUT, "%s: inconsistent values (vocab %" PRIu64 ", id_bytes %" PRIu64 ", bos %" PRIu64
                          ", documents %" PRIu64 ", tokens %" PRIu64 ", shards %" PRIu64 ", tokenizer_bytes %" PRIu64
                          "); " TOKEN_FIX, path, m->vocab, m->id_bytes, m->bos, m->documents, m->tokens, m->shards,
                          m->tokenizer_bytes);
    return CRATE_OK;
}

/* Reads all of path, refusing one larger than max bytes before reading it. */
static int read_bounded(const char *path, size_t max, const char *what, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return crate_fail(CRATE_EINPUT, "%s: cannot open the %s: %s; " TOKEN_FIX, path, what, strerror(e));
    }
    struct stat sb;
    int st = CRATE_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = crate_fail(CRATE_EINPUT, "%s: the %s is not a regular file; " TOKEN_FIX, path, what);
    else if ((uint64_t)sb.st_size > max)
        st = crate_fail(CRATE_EINPUT, "%s: the %s is %lld bytes, more than the %zu it can be; " TOKEN_FIX, path, what,
                        (long long)sb.st_size, max);
    size_t n = st ? 0 : (size_t)sb.st_size, got = 0;
    uint8_t *buf = st ? NULL : crate_malloc(n + 1, what);
    if (!st && !buf) st = CRATE_EINTERNAL;
    while (!st && got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) st = crate_fail(CRATE_EINPUT, "%s: cannot read the %s: %s", path, what,
                                    k == 0 ? "it shrank while being read" : strerror(errno));
        else got += (size_t)k;
    }
    close(fd);
    if (st) {
        free(buf);
        return st;
    }
    *data = buf;
    *len = n;
    return CRATE_OK;
}

static char *path_in(const char *dir, const char *name) {
    char *a = shard_str_join(dir, "/", "path");
    char *p = a ? shard_str_join(a, name, "path") : NULL;
    free(a);
    return p;
}

/* ---- the writer ------------------------------------------------------------------- */

struct token_dataset_writer {
    shard_dir_writer *d;
    int vocab;
    uint32_t id_bytes;
    size_t tokenizer_bytes;
    uint32_t tokenizer_crc;
    uint64_t documents, text_bytes;
    uint8_t stage[STAGE_IDS * 4]; /* ids as records */
};

void token_dataset_writer_abort(token_dataset_writer *w) {
    if (!w) return;
    shard_dir_writer_abort(w->d);
    free(w);
}

int token_dataset_writer_open(token_dataset_writer **out, const char *dir, int vocab, const void *tokenizer,
                              size_t tokenizer_bytes, uint64_t tokens_per_shard, uint32_t tokens_per_block) {
    *out = NULL;
    if (vocab < 3)
        return crate_fail(CRATE_EINPUT, "%s: vocabulary of %d; a token dataset needs at least 3 ids (bos is id %d)",
                          dir, vocab, TOKEN_BOS_ID);
    if (!tokenizer || tokenizer_bytes < 1 || tokenizer_bytes > TOKEN_MAX_TOKENIZER_BYTES)
        return crate_fail(CRATE_EINPUT, "%s: a tokenizer of %zu bytes; it must be 1 to %zu bytes", dir,
                          tokenizer ? tokenizer_bytes : 0, TOKEN_MAX_TOKENIZER_BYTES);
    if (tokens_per_shard == 0) tokens_per_shard = TOKEN_DEFAULT_TOKENS_PER_SHARD;
    if (tokens_per_block == 0) tokens_per_block = TOKEN_DEFAULT_TOKENS_PER_BLOCK;
    token_dataset_writer *w = crate_calloc(1, sizeof *w, "token dataset writer");
    if (!w) return CRATE_EINTERNAL;
    w->vocab = vocab;
    w->id_bytes = shard_token_id_bytes((uint64_t)vocab);
    w->tokenizer_bytes = tokenizer_bytes;
    w->tokenizer_crc = crc32_update(0, tokenizer, tokenizer_bytes);
    shard_header shape = {.kind = SHARD_KIND_TOKENS, .record_bytes = w->id_bytes, .C = w->id_bytes,
                          .H = (uint32_t)vocab, .W = 1, .records_per_block = tokens_per_block};
    int st = shard_dir_writer_open(&w->d, dir, &shape, tokens_per_shard, &token_kind);
    if (!st) {
        char *p = path_in(shard_dir_writer_partial(w->d), TOKEN_TOKENIZER_FILE);
        st = p ? fs_write_file_synced(p, tokenizer, tokenizer_bytes) : CRATE_EINTERNAL;
        free(p);
    }
    if (st) {
        token_dataset_writer_abort(w);
        return st;
    }
    *out = w;
    return CRATE_OK;
}

/* Appends n ids as records, through the staging buffer. */
static int writer_append_ids(token_dataset_writer *w, const int32_t *ids, size_t n) {
    while (n > 0) {
        size_t k = n < STAGE_IDS ? n : STAGE_IDS;
        for (size_t i = 0; i < k; i++) {
            uint32_t v = (uint32_t)ids[i];
            uint8_t *r = w->stage + i * w->id_bytes;
            r[0] = (uint8_t)v;
            r[1] = (uint8_t)(v >> 8);
            if (w->id_bytes == 4) {
                r[2] = (uint8_t)(v >> 16);
                r[3] = (uint8_t)(v >> 24);
            }
        }
        int st = shard_dir_writer_append(w->d, w->stage, k);
        if (st) return st;
        ids += k;
        n -= k;
    }
    return CRATE_OK;
}

int token_dataset_writer_add_document(token_dataset_writer *w, const int32_t *ids, size_t n, uint64_t text_bytes) {
    /* Checked before anything is written: a refused document leaves no trace. */
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= w->vocab || ids[i] == TOKEN_BOS_ID)
            return crate_fail(CRATE_EINPUT, "document %" PRIu64 ": id %d at position %zu is %s; the ids must come "
                              "from the dataset's tokenizer (which adds no bos)", w->documents, ids[i], i,
                              ids[i] == TOKEN_BOS_ID ? "the bos id, which only starts documents"
                                                     : "outside the vocabulary");
    if (text_bytes > UINT64_MAX - w->text_bytes)
        return crate_fail(CRATE_EINPUT, "document %" PRIu64 ": the text byte count overflows", w->documents);
    const int32_t bos = TOKEN_BOS_ID;
    int st = shard_dir_writer_begin_document(w->d);
    if (!st) st = writer_append_ids(w, &bos, 1);
    if (!st) st = writer_append_ids(w, ids, n);
    if (st) return st;
    w->documents++;
    w->text_bytes += text_bytes;
    return CRATE_OK;
}

/* The finish callback of the directory writer: tokens.meta, from the shards'
 * final counts. */
static int writer_write_meta(void *ctx, const char *partial, const shard_dataset_stats *s) {
    token_dataset_writer *w = ctx;
    token_meta m = {.version = TOKEN_META_VERSION, .vocab = (uint64_t)w->vocab, .id_bytes = w->id_bytes,
                    .bos = TOKEN_BOS_ID, .documents = w->documents, .tokens = s->records,
                    .text_bytes = w->text_bytes, .shards = (uint64_t)s->shards,
                    .tokenizer_bytes = w->tokenizer_bytes, .tokenizer_crc = w->tokenizer_crc};
    char buf[TOKEN_META_MAX_BYTES];
    size_t n = meta_encode(m, buf);
    char *p = path_in(partial, TOKEN_META_FILE);
    int st = p ? fs_write_file_synced(p, buf, n) : CRATE_EINTERNAL;
    free(p);
    return st;
}

int token_dataset_writer_close(token_dataset_writer *w, token_dataset_stats *stats) {
    shard_dataset_stats s;
    shard_dir_writer *d = w->d;
    w->d = NULL; /* freed by its close whatever the outcome */
    int st = shard_dir_writer_close(d, &s, writer_write_meta, w);
    if (!st && stats)
        *stats = (token_dataset_stats){.documents = w->documents, .tokens = s.records, .text_bytes = w->text_bytes,
                                       .shards = s.shards, .blocks = s.blocks, .file_bytes = s.file_bytes,
                                       .raw_bytes = s.raw_bytes};
    free(w);
    return st;
}

/* ---- the reader ------------------------------------------------------------------- */

struct token_dataset {
    char *dir;
    shard_set *set;
    token_meta meta;
    uint8_t *tokenizer;
};

void token_dataset_close(token_dataset *ds) {
    if (!ds) return;
    shard_set_close(ds->set);
    free(ds->tokenizer);
    free(ds->dir);
    free(ds);
}

/* Why dir has no tokens.meta: names an image dataset or an empty folder as
 * what it is. */
static int explain_missing_meta(const char *dir, const char *meta_path) {
    shard_set *probe;
    int st = shard_set_open(&probe, dir, SHARD_KIND_TOKENS, 0);
    if (st) return crate_fail_context(st, "%s: no %s, so not a token dataset", dir, TOKEN_META_FILE);
    shard_set_close(probe);
    return crate_fail(CRATE_EINPUT, "%s is missing: the token dataset is incomplete; " TOKEN_FIX, meta_path);
}

/* The shards agree with the meta. */
static int check_shards(token_dataset *ds) {
    const token_meta *m = &ds->meta;
    int n = shard_set_shards(ds->set);
    if ((uint64_t)n != m->shards)
        return crate_fail(CRATE_EINPUT, "%s: %s lists %" PRIu64 " shards but the directory holds %d; the dataset is "
                          "incomplete or mixed; " TOKEN_FIX, ds->dir, TOKEN_META_FILE, m->shards, n);
    uint64_t documents = 0;
    for (int i = 0; i < n; i++) {
        const shard_header *h = shard_set_header(ds->set, i);
        if (h->H != m->vocab)
            return crate_fail(CRATE_EINPUT, "%s: token ids of a vocabulary of %u, but %s says %" PRIu64 "; the shard "
                              "belongs to another dataset; " TOKEN_FIX, shard_set_path(ds->set, i), h->H,
                              TOKEN_META_FILE, m->vocab);
        documents += h->documents;
    }
    uint64_t tokens = shard_set_count(ds->set);
    if (tokens != m->tokens || documents != m->documents)
        return crate_fail(CRATE_EINPUT, "%s: the shards hold %" PRIu64 " tokens in %" PRIu64 " documents but %s says "
                          "%" PRIu64 " in %" PRIu64 "; the dataset is incomplete or mixed; " TOKEN_FIX, ds->dir,
                          tokens, documents, TOKEN_META_FILE, m->tokens, m->documents);
    return CRATE_OK;
}

int token_dataset_open(token_dataset **out, const char *dir, size_t cache_bytes) {
    *out = NULL;
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        int e = errno;
        return crate_fail(CRATE_EINPUT, "%s: cannot open token dataset: %s; create it with crate-data text or "
                          "crate-data kjv", dir, strerror(e));
    }
    if (!S_ISDIR(sb.st_mode))
        return crate_fail(CRATE_EINPUT, "%s: not a directory; a token dataset is a directory of shards with %s and "
                          "%s", dir, TOKEN_META_FILE, TOKEN_TOKENIZER_FILE);
    token_dataset *ds = crate_calloc(1, sizeof *ds, "token dataset");
    if (!ds) return CRATE_EINTERNAL;
    ds->dir = shard_str_dup(dir, "dataset path");
    char *meta_path = path_in(dir, TOKEN_META_FILE), *tok_path = path_in(dir, TOKEN_TOKENIZER_FILE);
    int st = ds->dir && meta_path && tok_path ? CRATE_OK : CRATE_EINTERNAL;
    uint8_t *text = NULL;
    size_t len = 0;
    if (!st) {
        if (access(meta_path, F_OK) != 0 && errno == ENOENT) st = explain_missing_meta(dir, meta_path);
        else st = read_bounded(meta_path, TOKEN_META_MAX_BYTES, "dataset metadata", &text, &len);
    }
    if (!st) st = meta_parse(meta_path, (const char *)text, len, &ds->meta);
    free(text);
    size_t tok_bytes = 0;
    if (!st) st = read_bounded(tok_path, TOKEN_MAX_TOKENIZER_BYTES, "tokenizer", &ds->tokenizer, &tok_bytes);
    if (!st) {
        uint32_t crc = crc32_update(0, ds->tokenizer, tok_bytes);
        if (tok_bytes != ds->meta.tokenizer_bytes || crc != ds->meta.tokenizer_crc)
            st = crate_fail(CRATE_EINPUT, "%s: %zu bytes with crc32 %08x, but %s says %" PRIu64 " bytes with crc32 "
                            "%08x: the tokenizer is not the one these tokens were made with; " TOKEN_FIX, tok_path,
                            tok_bytes, crc, TOKEN_META_FILE, ds->meta.tokenizer_bytes, ds->meta.tokenizer_crc);
    }
    if (!st) st = shard_set_open(&ds->set, dir, SHARD_KIND_TOKENS, cache_bytes);
    if (!st) st = check_shards(ds);
    if (!st && ds->meta.tokens > 0) {
        int32_t first;
        st = token_dataset_read(ds, 0, 1, &first);
        if (!st && first != TOKEN_BOS_ID)
            st = crate_fail(CRATE_EINPUT, "%s: the token stream starts with id %d, not the bos id %d that starts "
                            "every document; " TOKEN_FIX, shard_set_path(ds->set, 0), first, TOKEN_BOS_ID);
    }
    free(meta_path);
    free(tok_path);
    if (st) {
        token_dataset_close(ds);
        return st;
    }
    *out = ds;
    return CRATE_OK;
}

uint64_t token_dataset_tokens(const token_dataset *ds) { return ds->meta.tokens; }
uint64_t token_dataset_documents(const token_dataset *ds) { return ds->meta.documents; }
uint64_t token_dataset_text_bytes(const token_dataset *ds) { return ds->meta.text_bytes; }
int token_dataset_vocab(const token_dataset *ds) { return (int)ds->meta.vocab; }

const void *token_dataset_tokenizer(const token_dataset *ds, size_t *bytes) {
    if (bytes) *bytes = (size_t)ds->meta.tokenizer_bytes;
    return ds->tokenizer;
}

void token_dataset_get_stats(const token_dataset *ds, token_dataset_stats *stats) {
    shard_dataset_stats s;
    shard_set_get_stats(ds->set, &s);
    *stats = (token_dataset_stats){.documents = ds->meta.documents, .tokens = ds->meta.tokens,
                                   .text_bytes = ds->meta.text_bytes, .shards = s.shards, .blocks = s.blocks,
                                   .file_bytes = s.file_bytes, .raw_bytes = s.raw_bytes};
}

/* Decodes ids [0, n) of raw, each checked < vocab; *bad gets the position of
 * the first that is not (n if none). */
static void decode_ids(const uint8_t *raw, size_t n, uint32_t id_bytes, uint64_t vocab, int32_t *ids, size_t *bad) {
    *bad = n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = raw + i * id_bytes;
        uint32_t v = (uint32_t)r[0] | (uint32_t)r[1] << 8;
        if (id_bytes == 4) v |= (uint32_t)r[2] << 16 | (uint32_t)r[3] << 24;
        if (v >= vocab) {
            *bad = i;
            return;
        }
        ids[i] = (int32_t)v;
    }
}

static int bad_id(const token_dataset *ds, int shard, uint32_t b, uint64_t token, const uint8_t *r) {
    uint32_t v = (uint32_t)r[0] | (uint32_t)r[1] << 8;
    if (ds->meta.id_bytes == 4) v |= (uint32_t)r[2] << 16 | (uint32_t)r[3] << 24;
    return crate_fail(CRATE_EINPUT, "%s: block %u: token %" PRIu64 " has id %u, outside the vocabulary of %" PRIu64
                      ": the shard was not made with this tokenizer; " TOKEN_FIX, shard_set_path(ds->set, shard), b,
                      token, v, ds->meta.vocab);
}

int token_dataset_read(token_dataset *ds, uint64_t first, size_t n, int32_t *ids) {
    if (first > ds->meta.tokens || n > ds->meta.tokens - first)
        return crate_fail(CRATE_EINTERNAL, "%s: tokens [%" PRIu64 ", +%zu) requested from a dataset of %" PRIu64
                          " (a caller bug)", ds->dir, first, n, ds->meta.tokens);
    uint32_t id_bytes = (uint32_t)ds->meta.id_bytes;
    while (n > 0) {
        uint64_t local;
        int si = shard_set_locate(ds->set, first, &local);
        const shard_header *h = shard_set_header(ds->set, si);
        uint32_t b = (uint32_t)(local / h->records_per_block);
        uint64_t off = local % h->records_per_block;
        uint64_t left = shard_records_in_block(h->record_count, h->records_per_block, b) - off;
        size_t k = n < left ? n : (size_t)left;
        const uint8_t *data;
        int st = shard_set_block(ds->set, si, b, &data);
        if (st) return st;
        size_t bad;
        decode_ids(data + off * id_bytes, k, id_bytes, ds->meta.vocab, ids, &bad);
        if (bad < k) return bad_id(ds, si, b, first + bad, data + (off + bad) * id_bytes);
        first += k;
        ids += k;
        n -= k;
    }
    return CRATE_OK;
}

typedef struct {
    token_dataset *ds;
    uint64_t *bos;   /* per shard */
    uint64_t token;  /* global number of the block's first token */
    int32_t ids[STAGE_IDS];
} verify_ctx;

static int verify_block(void *arg, int shard, uint32_t b, const uint8_t *raw, uint64_t records) {
    verify_ctx *c = arg;
    uint32_t id_bytes = (uint32_t)c->ds->meta.id_bytes;
    for (uint64_t i = 0; i < records; i += STAGE_IDS) {
        size_t k = records - i < STAGE_IDS ? (size_t)(records - i) : STAGE_IDS, bad;
        decode_ids(raw + i * id_bytes, k, id_bytes, c->ds->meta.vocab, c->ids, &bad);
        if (bad < k) return bad_id(c->ds, shard, b, c->token + i + bad, raw + (i + bad) * id_bytes);
        if (c->token + i == 0 && c->ids[0] != TOKEN_BOS_ID)
            return crate_fail(CRATE_EINPUT, "%s: the token stream starts with id %d, not the bos id %d; " TOKEN_FIX,
                              shard_set_path(c->ds->set, shard), c->ids[0], TOKEN_BOS_ID);
        for (size_t j = 0; j < k; j++) c->bos[shard] += c->ids[j] == TOKEN_BOS_ID;
    }
    c->token += records;
    return CRATE_OK;
}

int token_dataset_verify(token_dataset *ds) {
    int n = shard_set_shards(ds->set);
    verify_ctx *c = crate_calloc(1, sizeof *c, "verify state");
    uint64_t *bos = crate_calloc((size_t)n, sizeof *bos, "bos counts");
    int st = c && bos ? CRATE_OK : CRATE_EINTERNAL;
    if (!st) {
        *c = (verify_ctx){.ds = ds, .bos = bos};
        st = shard_set_verify(ds->set, verify_block, c);
    }
    for (int i = 0; !st && i < n; i++)
        if (bos[i] != shard_set_header(ds->set, i)->documents)
            st = crate_fail(CRATE_EINPUT, "%s: %" PRIu64 " bos ids but its header counts %u documents; the shard is "
                            "damaged; " TOKEN_FIX, shard_set_path(ds->set, i), bos[i],
                            shard_set_header(ds->set, i)->documents);
    free(bos);
    free(c);
    return st;
}
