/* doc_windows.c — see doc_windows.h. */
#include "data/doc_windows.h"

#include <stdlib.h>
#include <string.h>

#include "src/error.h"

/* Tokens read at a time while looking for bos ids. */
#define SCAN_TOKENS 65536

typedef struct {
    uint64_t *at;
    uint64_t n, cap;
} u64_list;

static int u64_push(u64_list *l, uint64_t v) {
    if (l->n == l->cap) {
        uint64_t cap = l->cap ? 2 * l->cap : 1024;
        uint64_t *at = realloc(l->at, cap * sizeof *at);
        if (!at) return crate_fail(CRATE_EINTERNAL, "out of memory for %llu window starts", (unsigned long long)cap);
        l->at = at, l->cap = cap;
    }
    l->at[l->n++] = v;
    return CRATE_OK;
}

/* Positions of every bos id in the stream, ascending. */
static int find_bos(token_dataset *ds, u64_list *bos) {
    uint64_t N = token_dataset_tokens(ds);
    int32_t *buf = crate_malloc(SCAN_TOKENS * sizeof *buf, "token scan buffer");
    if (!buf) return CRATE_EINTERNAL;
    int rc = CRATE_OK;
    for (uint64_t first = 0; rc == CRATE_OK && first < N; first += SCAN_TOKENS) {
        size_t n = N - first < SCAN_TOKENS ? (size_t)(N - first) : SCAN_TOKENS;
        rc = token_dataset_read(ds, first, n, buf);
        for (size_t i = 0; rc == CRATE_OK && i < n; i++)
            if (buf[i] == TOKEN_BOS_ID) rc = u64_push(bos, first + i);
    }
    free(buf);
    return rc;
}

/* Index of the first bos at or after x (bos->n if none). */
static uint64_t first_at_or_after(const u64_list *bos, uint64_t x) {
    uint64_t lo = 0, hi = bos->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (bos->at[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The start after the window [s, s + L) (doc_windows.h). */
static uint64_t next_start(const u64_list *bos, uint64_t N, uint64_t s, uint64_t L) {
    uint64_t e = s + L, i = first_at_or_after(bos, s);
    uint64_t q = i < bos->n ? bos->at[i] : N;
    if (q > e) return q - e >= L ? e : q - L;
    if (q == e) return q + 1;
    uint64_t j = first_at_or_after(bos, e + 1); /* bos->at[j − 1] is the last bos <= e, and j > i */
    return bos->at[j - 1] + 1;
}

int doc_windows_build(doc_windows *w, token_dataset *ds, int T, const char *path) {
    memset(w, 0, sizeof *w);
    uint64_t N = token_dataset_tokens(ds), L = (uint64_t)T - 1;
    if (T < 2 || N < (uint64_t)T)
        return crate_fail(CRATE_EINPUT, "%s: %llu tokens, fewer than one window of model.context = %d needs (a bos id "
                          "and %d tokens of text); lower model.context or give more text", path,
                          (unsigned long long)N, T, T - 1);
    u64_list bos = {0}, starts = {0};
    int rc = find_bos(ds, &bos);
    uint64_t s = 1; /* the stream starts with a bos (token_dataset_open checks it) */
    while (rc == CRATE_OK && s + L <= N) {
        rc = u64_push(&starts, s);
        s = next_start(&bos, N, s, L);
    }
    /* The first window fits (N >= T), so starts.n >= 1; close with one that ends with the stream. */
    if (rc == CRATE_OK && starts.at[starts.n - 1] + L < N) rc = u64_push(&starts, N - L);
    free(bos.at);
    if (rc != CRATE_OK) {
        free(starts.at);
        return rc;
    }
    *w = (doc_windows){starts.at, starts.n, T};
    return CRATE_OK;
}

void doc_windows_free(doc_windows *w) {
    free(w->starts);
    memset(w, 0, sizeof *w);
}

int doc_windows_read(token_dataset *ds, const doc_windows *w, uint64_t k, int32_t *ids) {
    if (k >= w->count)
        return crate_fail(CRATE_EINTERNAL, "window %llu of %llu", (unsigned long long)k, (unsigned long long)w->count);
    ids[0] = TOKEN_BOS_ID;
    return token_dataset_read(ds, w->starts[k], (size_t)w->T - 1, ids + 1);
}
