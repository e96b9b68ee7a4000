/* params.h — the flat parameter store (DESIGN §4).
 *
 * Every trainable tensor of a model lives in ONE contiguous float buffer and
 * its gradient at the same offset of a second buffer. A table of named tensors
 * (name, shape, offset, flags) describes the layout. Models are built in two
 * phases: declare every tensor (param_store_add, which returns a stable id),
 * then param_store_alloc once; afterwards param_data/param_grad give pointers.
 * Allreduce, optimizer-state sharding and checkpoints then work on ranges of
 * one buffer without knowing the model.
 */
#ifndef CRATE_PARAMS_H
#define CRATE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define PARAM_NAME_MAX 64
#define PARAM_MAX_DIMS 4

enum param_flags {
    PARAM_DECAY = 1u, /* AdamW applies weight decay (matrices); not LN, biases, tokens, positions */
};

typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    size_t offset; /* in floats, from the start of the buffer; 16-float aligned */
    size_t numel;
    unsigned flags;
} param_tensor;

typedef struct {
    param_tensor *tensors;
    int count, cap;
    size_t total;  /* floats in the buffer, including alignment padding */
    float *data;   /* NULL until param_store_alloc */
    float *grad;
} param_store;

void param_store_init(param_store *ps);
void param_store_free(param_store *ps);

/* Declares a tensor; returns its id (>= 0) or -1 with crate_fail set
 * (duplicate name, called after alloc, out of memory). */
int param_store_add(param_store *ps, const char *name, int ndim, const int64_t *shape, unsigned flags);
int param_store_add1(param_store *ps, const char *name, int64_t n, unsigned flags);
int param_store_add2(param_store *ps, const char *name, int64_t rows, int64_t cols, unsigned flags);

/* Allocates data and grad (64-byte aligned, zeroed). */
int param_store_alloc(param_store *ps);

static inline float *param_data(const param_store *ps, int id) { return ps->data + ps->tensors[id].offset; }
static inline float *param_grad(const param_store *ps, int id) { return ps->grad + ps->tensors[id].offset; }

/* Id of the tensor with this name, or -1. */
int param_store_find(const param_store *ps, const char *name);

/* Sum of numel over tensors (the model's parameter count, without padding). */
size_t param_store_count(const param_store *ps);

void param_store_zero_grad(param_store *ps);

#endif
