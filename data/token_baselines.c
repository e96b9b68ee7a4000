/* token_baselines.c — unigram and add-one bigram cross-entropies (see
 * token_baselines.h).
 *
 * Both streams are read in chunks through token_dataset_read, so memory is
 * O(V + distinct train pairs), not O(tokens). The pair table is open
 * addressing with linear probing on the key (a·2^32 + b) + 1 (0 marks an
 * empty slot), grown at half load; sums of logs are accumulated in double.
 */
#include "data/token_baselines.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"

#define CHUNK 65536
/* Both streams are read front to back: a few blocks of cache are enough. */
#define BASELINE_CACHE ((size_t)1 << 24)

typedef struct {
    uint64_t *keys;   /* 0: empty */
    uint32_t *counts;
    uint64_t cap, used;
} pair_table;

static uint64_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    return k ^ (k >> 33);
}

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1; }

/* The slot of key: where it is, or the empty slot where it would go. */
static uint64_t pair_slot(const pair_table *t, uint64_t key) {
    uint64_t i = pair_hash(key) & (t->cap - 1);
    while (t->keys[i] && t->keys[i] != key) i = (i + 1) & (t->cap - 1);
    return i;
}

static int pair_table_init(pair_table *t, uint64_t cap) {
    t->cap = cap;
    t->used = 0;
    t->keys = crate_calloc((size_t)cap, sizeof *t->keys, "bigram table");
    t->counts = crate_calloc((size_t)cap, sizeof *t->counts, "bigram table");
    if (!t->keys || !t->counts) {
        free(t->keys);
        free(t->counts);
        return CRATE_EINTERNAL;
    }
    return CRATE_OK;
}

static int pair_table_add(pair_table *t, uint64_t key) {
    if (2 * (t->used + 1) > t->cap) {
        pair_table g;
        if (pair_table_init(&g, t->cap * 2)) return CRATE_EINTERNAL;
        for (uint64_t i = 0; i < t->cap; i++)
            if (t->keys[i]) {
                uint64_t j = pair_slot(&g, t->keys[i]);
                g.keys[j] = t->keys[i];
                g.counts[j] = t->counts[i];
            }
        g.used = t->used;
        free(t->keys);
        free(t->counts);
        *t = g;
    }
    uint64_t i = pair_slot(t, key);
    if (!t->keys[i]) {
        t->keys[i] = key;
        t->used++;
    }
    if (t->counts[i] < UINT32_MAX) t->counts[i]++;
    return CRATE_OK;
}

static uint32_t pair_table_get(const pair_table *t, uint64_t key) {
    uint64_t i = pair_slot(t, key);
    return t->keys[i] ? t->counts[i] : 0;
}

/* Calls each(ctx, prev, cur) for every token of ds (prev = -1 for the first). */
typedef int (*token_fn)(void *ctx, int32_t prev, int32_t cur);
static int walk_tokens(token_dataset *ds, int32_t *buf, token_fn each, void *ctx) {
    uint64_t n = token_dataset_tokens(ds);
    int32_t prev = -1;
    for (uint64_t first = 0; first < n; first += CHUNK) {
        size_t k = n - first < CHUNK ? (size_t)(n - first) : CHUNK;
        int st = token_dataset_read(ds, first, k, buf);
        if (st) return st;
        for (size_t i = 0; i < k; i++) {
            if ((st = each(ctx, prev, buf[i]))) return st;
            prev = buf[i];
        }
    }
    return CRATE_OK;
}

typedef struct {
    int vocab;
    uint64_t *unigram, *context; /* (V) c(b), c(a ·) */
    pair_table pairs;
    uint64_t train_tokens;
    double uni_nats, bi_nats;
    uint64_t scored;
    int32_t mode;                    /* most frequent non-bos train id */
    double masked_nats;
    uint64_t masked_scored, mode_hits;
} counts;

static int count_train(void *arg, int32_t prev, int32_t cur) {
    counts *c = arg;
    c->unigram[cur]++;
    if (prev < 0) return CRATE_OK;
    c->context[prev]++;
    return pair_table_add(&c->pairs, pair_key(prev, cur));
}

static int score_val(void *arg, int32_t prev, int32_t cur) {
    counts *c = arg;
    if (cur != TOKEN_BOS_ID) {
        uint64_t ordinary = c->train_tokens - c->unigram[TOKEN_BOS_ID];
        c->masked_nats -= log(((double)c->unigram[cur] + 1.0) / ((double)ordinary + c->vocab - 1.0));
        c->mode_hits += cur == c->mode;
        c->masked_scored++;
    }
    if (prev < 0) return CRATE_OK;
    double V = (double)c->vocab;
    c->uni_nats -= log(((double)c->unigram[cur] + 1.0) / ((double)c->train_tokens + V));
    c->bi_nats -= log(((double)pair_table_get(&c->pairs, pair_key(prev, cur)) + 1.0) / ((double)c->context[prev] + V));
    c->scored++;
    return CRATE_OK;
}

int token_baselines_compute(token_dataset *train, token_dataset *val, token_baselines *out) {
    memset(out, 0, sizeof *out);
    int V = token_dataset_vocab(train);
    size_t tb, vb;
    const void *tt = token_dataset_tokenizer(train, &tb), *vt = token_dataset_tokenizer(val, &vb);
    if (token_dataset_vocab(val) != V || tb != vb || memcmp(tt, vt, tb) != 0)
        return crate_fail(CRATE_EINPUT, "the train and val datasets were made with different tokenizers (vocabularies "
                          "%d and %d); make both in one crate-data run", V, token_dataset_vocab(val));
    if (V > TOKEN_BASELINES_MAX_VOCAB)
        return crate_fail(CRATE_EINPUT, "a vocabulary of %d; the baselines count up to %d ids", V,
                          TOKEN_BASELINES_MAX_VOCAB);
    if (token_dataset_tokens(val) < 2)
        return crate_fail(CRATE_EINPUT, "the val dataset holds %llu tokens; the baselines score at least 2",
                          (unsigned long long)token_dataset_tokens(val));
    counts c = {.vocab = V, .train_tokens = token_dataset_tokens(train)};
    c.unigram = crate_calloc((size_t)V, sizeof *c.unigram, "unigram counts");
    c.context = crate_calloc((size_t)V, sizeof *c.context, "bigram context counts");
    int32_t *buf = crate_malloc(CHUNK * sizeof *buf, "token buffer");
    int st = c.unigram && c.context && buf ? pair_table_init(&c.pairs, 1 << 16) : CRATE_EINTERNAL;
    int have_pairs = st == CRATE_OK;
    if (!st) st = walk_tokens(train, buf, count_train, &c);
    c.mode = TOKEN_BOS_ID == 0 ? 1 : 0;
    for (int v = 0; !st && v < V; v++)
        if (v != TOKEN_BOS_ID && c.unigram[v] > c.unigram[c.mode]) c.mode = v;
    if (!st) st = walk_tokens(val, buf, score_val, &c);
    if (!st) {
        double text = (double)token_dataset_text_bytes(val);
        *out = (token_baselines){.vocab = V, .train_tokens = c.train_tokens, .val_tokens = token_dataset_tokens(val),
                                 .scored = c.scored, .val_text_bytes = token_dataset_text_bytes(val),
                                 .distinct_pairs = c.pairs.used,
                                 .unigram_nats = c.uni_nats / (double)c.scored,
                                 .bigram_nats = c.bi_nats / (double)c.scored,
                                 .unigram_bpb = text > 0 ? c.uni_nats / text / log(2.0) : NAN,
                                 .bigram_bpb = text > 0 ? c.bi_nats / text / log(2.0) : NAN,
                                 .masked_scored = c.masked_scored, .mode_id = c.mode,
                                 .masked_mode_acc = c.masked_scored ? (double)c.mode_hits / c.masked_scored : NAN,
                                 .masked_unigram_nats = c.masked_scored ? c.masked_nats / c.masked_scored : NAN};
    }
    if (have_pairs) {
        free(c.pairs.keys);
        free(c.pairs.counts);
    }
    free(c.unigram);
    free(c.context);
    free(buf);
    return st;
}

int token_baselines_compute_paths(const char *train_dir, const char *val_dir, token_baselines *out) {
    token_dataset *train = NULL, *val = NULL;
    int st = token_dataset_open(&train, train_dir, BASELINE_CACHE);
    if (!st) st = token_dataset_open(&val, val_dir, BASELINE_CACHE);
    if (!st) st = token_baselines_compute(train, val, out);
    if (st) crate_fail_context(st, "baselines of %s under %s", val_dir, train_dir);
    token_dataset_close(train);
    token_dataset_close(val);
    return st;
}

void token_baselines_print(FILE *f, const char *indent, const token_baselines *b) {
    fprintf(f, "%sunigram (add-one)   %.4f nats/token  %.4f bits/byte\n", indent, b->unigram_nats, b->unigram_bpb);
    fprintf(f, "%sbigram (add-one)    %.4f nats/token  %.4f bits/byte\n", indent, b->bigram_nats, b->bigram_bpb);
    fprintf(f, "%s(val tokens %llu scored under counts of %llu train tokens, %llu distinct pairs; val text %llu "
            "bytes)\n", indent, (unsigned long long)b->scored, (unsigned long long)b->train_tokens,
            (unsigned long long)b->distinct_pairs, (unsigned long long)b->val_text_bytes);
    fprintf(f, "%smasked LM, over the %llu val tokens that are not bos: unigram %.4f nats/token, the most frequent "
            "token (id %d) %.2f%% accurate\n", indent, (unsigned long long)b->masked_scored, b->masked_unigram_nats,
            (int)b->mode_id, 100 * b->masked_mode_acc);
}

static void print_json_number(FILE *f, double x) {
    if (isfinite(x)) fprintf(f, "%.6f", x);
    else fputs("null", f);
}

void token_baselines_print_json(FILE *f, const char *name, const token_baselines *b) {
    fputs("{\"baselines\":\"", f);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fprintf(f, "\",\"vocab\":%d,\"train_tokens\":%llu,\"val_tokens\":%llu,\"scored\":%llu,\"val_text_bytes\":%llu,",
            b->vocab, (unsigned long long)b->train_tokens, (unsigned long long)b->val_tokens,
            (unsigned long long)b->scored, (unsigned long long)b->val_text_bytes);
    fputs("\"unigram_nats\":", f);
    print_json_number(f, b->unigram_nats);
    fputs(",\"unigram_bpb\":", f);
    print_json_number(f, b->unigram_bpb);
    fputs(",\"bigram_nats\":", f);
    print_json_number(f, b->bigram_nats);
    fputs(",\"bigram_bpb\":", f);
    print_json_number(f, b->bigram_bpb);
    fputs(",\"masked_unigram_nats\":", f);
    print_json_number(f, b->masked_unigram_nats);
    fputs(",\"masked_mode_acc\":", f);
    print_json_number(f, b->masked_mode_acc);
    fputs("}\n", f);
}
