/* params.c — the flat parameter store (see params.h). Offsets are rounded up
 * to 16 floats (64 bytes) so every tensor starts on a cache line and SIMD
 * loads in the kernels are aligned. */
#include "src/nn/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"

#define PARAM_ALIGN_FLOATS 16

void param_store_init(param_store *ps) { memset(ps, 0, sizeof *ps); }

void param_store_free(param_store *ps) {
    free(ps->tensors);
    free(ps->data);
    free(ps->grad);
    memset(ps, 0, sizeof *ps);
}

int param_store_add(param_store *ps, const char *name, int ndim, const int64_t *shape, unsigned flags) {
    if (ps->data) {
        crate_fail(CRATE_EINTERNAL, "param_store_add(%s) after param_store_alloc", name);
        return -1;
    }
    if (ndim < 1 || ndim > PARAM_MAX_DIMS || strlen(name) >= PARAM_NAME_MAX) {
        crate_fail(CRATE_EINTERNAL, "param_store_add(%s): bad rank %d or name too long", name, ndim);
        return -1;
    }
    if (param_store_find(ps, name) >= 0) {
        crate_fail(CRATE_EINTERNAL, "param_store_add: tensor '%s' declared twice", name);
        return -1;
    }
    if (ps->count == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 64;
        param_tensor *t = realloc(ps->tensors, (size_t)cap * sizeof *t);
        if (!t) {
            crate_fail(CRATE_EINTERNAL, "out of memory growing the tensor table");
            return -1;
        }
        ps->tensors = t;
        ps->cap = cap;
    }
    param_tensor *t = &ps->tensors[ps->count];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->offset = ps->total;
    t->flags = flags;
    ps->total += (t->numel + PARAM_ALIGN_FLOATS - 1) / PARAM_ALIGN_FLOATS * PARAM_ALIGN_FLOATS;
    return ps->count++;
}

int param_store_add1(param_store *ps, const char *name, int64_t n, unsigned flags) {
    return param_store_add(ps, name, 1, &n, flags);
}

int param_store_add2(param_store *ps, const char *name, int64_t rows, int64_t cols, unsigned flags) {
    int64_t shape[2] = {rows, cols};
    return param_store_add(ps, name, 2, shape, flags);
}

void param_store_set_normal_init(param_store *ps, int id, float std) {
    param_tensor *t = &ps->tensors[id];
    t->flags = (t->flags & ~(unsigned)PARAM_INIT_MASK) | PARAM_INIT_NORMAL;
    t->init_std = std;
}

void param_store_pad_to(param_store *ps, size_t multiple) {
    ps->total = (ps->total + multiple - 1) / multiple * multiple;
}

int param_store_alloc(param_store *ps) {
    ps->data = crate_aligned_zalloc(ps->total * sizeof(float), "parameters");
    ps->grad = crate_aligned_zalloc(ps->total * sizeof(float), "gradients");
    return ps->data && ps->grad ? CRATE_OK : CRATE_EINTERNAL;
}

int param_store_alloc_untrained(param_store *ps) {
    ps->data = crate_aligned_zalloc(ps->total * sizeof(float), "parameters");
    return ps->data ? CRATE_OK : CRATE_EINTERNAL;
}

int param_store_find(const param_store *ps, const char *name) {
    for (int i = 0; i < ps->count; i++)
        if (strcmp(ps->tensors[i].name, name) == 0) return i;
    return -1;
}

int param_store_copy_by_name(param_store *dst, const param_store *src, int *lacking) {
    for (int id = 0; id < dst->count; id++) {
        const param_tensor *t = &dst->tensors[id];
        int from = param_store_find(src, t->name);
        *lacking = from < 0;
        if (from < 0 || src->tensors[from].ndim != t->ndim ||
            memcmp(src->tensors[from].shape, t->shape, (size_t)t->ndim * sizeof t->shape[0]))
            return id;
        memcpy(param_data(dst, id), param_data(src, from), t->numel * sizeof(float));
    }
    return -1;
}

size_t param_store_count(const param_store *ps) {
    size_t n = 0;
    for (int i = 0; i < ps->count; i++) n += ps->tensors[i].numel;
    return n;
}

void param_store_zero_grad(param_store *ps) {
    if (ps->grad) memset(ps->grad, 0, ps->total * sizeof(float));
}
