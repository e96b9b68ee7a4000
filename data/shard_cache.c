/* shard_cache.c — the LRU cache of decompressed blocks (see shard_cache.h).
 *
 * Design. The reader touches blocks in an order the loader decides (shuffled
 * records spread over many blocks), and decompressing a block costs far more
 * than the lookup, so the cache is bounded by bytes, not by block count, and
 * evicts the least recently used block first. Arrays indexed by the global
 * block number replace a hash table: 28 bytes of bookkeeping per block of the
 * dataset, resident or not, is small beside the blocks themselves.
 */
#include "data/shard_cache.h"

#include <stdlib.h>
#include <string.h>

#include "src/error.h"

int shard_cache_init(shard_cache *c, uint64_t nblocks, size_t cap_bytes) {
    memset(c, 0, sizeof *c);
    c->head = c->tail = -1;
    c->cap = cap_bytes;
    size_t nb = nblocks ? (size_t)nblocks : 1;
    c->data = crate_calloc(nb, sizeof *c->data, "block cache");
    c->bytes = crate_calloc(nb, sizeof *c->bytes, "block cache");
    c->prev = crate_malloc(nb * sizeof *c->prev, "block cache");
    c->next = crate_malloc(nb * sizeof *c->next, "block cache");
    if (!c->data || !c->bytes || !c->prev || !c->next) {
        shard_cache_free(c);
        return CRATE_EINTERNAL;
    }
    c->nblocks = nblocks;
    return CRATE_OK;
}

void shard_cache_free(shard_cache *c) {
    if (c->data)
        for (uint64_t g = 0; g < c->nblocks; g++) free(c->data[g]);
    free(c->data);
    free(c->bytes);
    free(c->prev);
    free(c->next);
    memset(c, 0, sizeof *c);
    c->head = c->tail = -1;
}

static void lru_unlink(shard_cache *c, int64_t g) {
    int64_t p = c->prev[g], n = c->next[g];
    if (p >= 0) c->next[p] = n;
    else c->head = n;
    if (n >= 0) c->prev[n] = p;
    else c->tail = p;
}

static void lru_push_front(shard_cache *c, int64_t g) {
    c->prev[g] = -1;
    c->next[g] = c->head;
    if (c->head >= 0) c->prev[c->head] = g;
    c->head = g;
    if (c->tail < 0) c->tail = g;
}

const uint8_t *shard_cache_get(shard_cache *c, uint64_t g) {
    if (!c->data[g]) return NULL;
    if (c->head != (int64_t)g) {
        lru_unlink(c, (int64_t)g);
        lru_push_front(c, (int64_t)g);
    }
    return c->data[g];
}

void shard_cache_put(shard_cache *c, uint64_t g, uint8_t *buf, size_t bytes) {
    while (c->tail >= 0 && c->used + bytes > c->cap) {
        int64_t t = c->tail;
        lru_unlink(c, t);
        c->used -= c->bytes[t];
        free(c->data[t]);
        c->data[t] = NULL;
    }
    c->data[g] = buf;
    c->bytes[g] = (uint32_t)bytes;
    c->used += bytes;
    lru_push_front(c, (int64_t)g);
}
