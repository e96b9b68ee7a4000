/* arena.h — activation memory, allocated once at model build time.
 *
 * Layers take their activation and scratch buffers from an arena while the
 * model is being built for its largest batch; nothing is allocated during a
 * training step (DESIGN §4: page faults and allocator churn cost a PyTorch CPU
 * run 2–3×). Memory comes in large 64-byte aligned chunks and is released all
 * at once by arena_free.
 */
#ifndef CRATE_ARENA_H
#define CRATE_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk;

typedef struct {
    arena_chunk *head;
    size_t bytes; /* handed out so far, for the memory report */
} arena;

void arena_init(arena *a);
/* n zeroed floats, 64-byte aligned; NULL with crate_fail set on OOM. */
float *arena_floats(arena *a, size_t n);
/* n zeroed ints; n zeroed bytes. */
int *arena_ints(arena *a, size_t n);
void *arena_bytes(arena *a, size_t n);
void arena_free(arena *a);

#endif
