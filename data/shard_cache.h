/* shard_cache.h — private to data/shard_*.c: a bounded LRU cache of
 * decompressed shard blocks, for any record kind.
 *
 * Defines shard_cache. Blocks are identified by a dense global number
 * g in [0, nblocks) (a dataset numbers them shard by shard: the shard's first
 * block + the block in the shard), so the cache is a few arrays indexed by g
 * and a doubly linked LRU list through them: no hashing, O(1) per lookup. A
 * block is an opaque byte buffer; the cache knows nothing of what it holds.
 *
 * Not thread-safe: a lookup reorders the LRU list.
 */
#ifndef CRATE_DATA_SHARD_CACHE_H
#define CRATE_DATA_SHARD_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t nblocks;
    size_t cap, used;           /* bytes: the bound and what is resident */
    uint8_t **data;             /* (nblocks) NULL if not resident */
    uint32_t *bytes;            /* (nblocks) size of each resident block */
    int64_t *prev, *next;       /* (nblocks) the LRU list */
    int64_t head, tail;         /* most / least recently used, -1 if empty */
} shard_cache;

/* An empty cache for blocks 0 … nblocks−1 holding up to cap_bytes. A zeroed
 * shard_cache (never initialized) may be passed to shard_cache_free. */
int shard_cache_init(shard_cache *c, uint64_t nblocks, size_t cap_bytes);
/* Frees every resident block and the arrays. */
void shard_cache_free(shard_cache *c);

/* Block g if resident (it becomes the most recently used), else NULL. */
const uint8_t *shard_cache_get(shard_cache *c, uint64_t g);

/* Admits block g (not resident): buf, bytes long (< 2^32), from malloc, now
 * owned by the cache. Least recently used blocks are evicted until it fits;
 * it is admitted even if it alone exceeds the bound, so a bound of 0 works,
 * slowly. */
void shard_cache_put(shard_cache *c, uint64_t g, uint8_t *buf, size_t bytes);

#endif
