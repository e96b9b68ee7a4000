/* arena.c — chunked bump allocator for activations (see arena.h). */
#include "src/nn/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"

#define ARENA_CHUNK_BYTES ((size_t)64 << 20)

struct arena_chunk {
    arena_chunk *next;
    size_t cap, used;
    unsigned char *mem;
};

void arena_init(arena *a) { memset(a, 0, sizeof *a); }

static void *arena_take(arena *a, size_t bytes) {
    bytes = (bytes + 63) / 64 * 64;
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = bytes > ARENA_CHUNK_BYTES ? bytes : ARENA_CHUNK_BYTES;
        c = crate_malloc(sizeof *c, "arena chunk header");
        if (!c) return NULL;
        c->mem = crate_aligned_zalloc(cap, "activation arena");
        if (!c->mem) {
            free(c);
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->mem + c->used;
    c->used += bytes;
    a->bytes += bytes;
    return p;
}

float *arena_floats(arena *a, size_t n) { return arena_take(a, n * sizeof(float)); }

int *arena_ints(arena *a, size_t n) { return arena_take(a, n * sizeof(int)); }

void *arena_bytes(arena *a, size_t n) { return arena_take(a, n); }

void arena_free(arena *a) {
    while (a->head) {
        arena_chunk *next = a->head->next;
        free(a->head->mem);
        free(a->head);
        a->head = next;
    }
    a->bytes = 0;
}
