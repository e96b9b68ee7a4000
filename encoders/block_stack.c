/* block_stack.c — see block_stack.h. */
#include "encoders/block_stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"
#include "src/kernels/kernels.h"

int block_stack_declare(block_stack *s, const block_ops *ops, size_t stride, int depth, param_store *ps,
                        const char *prefix, const block_config *cfg) {
    memset(s, 0, sizeof *s);
    s->ops = ops;
    s->stride = stride;
    s->depth = depth;
    s->d = cfg->d;
    s->blocks = crate_calloc((size_t)(depth > 0 ? depth : 1), stride, "block stack");
    s->first_tensor = crate_calloc((size_t)(depth > 0 ? depth : 1), sizeof(int), "block stack");
    if (!s->blocks || !s->first_tensor) return CRATE_EINTERNAL;
    char name[PARAM_NAME_MAX];
    for (int i = 0; i < depth; i++) {
        snprintf(name, sizeof name, "%s.%d", prefix, i);
        s->first_tensor[i] = ps->count;
        int rc = ops->declare(block_stack_at(s, i), ps, name, cfg);
        if (rc != CRATE_OK) return rc;
    }
    s->final_norm = !cfg->skip_final_norm;
    return s->final_norm ? ln_layer_declare(&s->final_ln, ps, layer_name(name, prefix, "norm"), s->d) : CRATE_OK;
}

void block_stack_destroy(block_stack *s) {
    free(s->blocks);
    free(s->first_tensor);
    s->blocks = NULL;
    s->first_tensor = NULL;
}

int block_stack_alloc(block_stack *s, arena *a, int B, int N) {
    for (int i = 0; i < s->depth; i++) {
        int rc = s->ops->alloc(block_stack_at(s, i), a, B, N);
        if (rc != CRATE_OK) return rc;
    }
    return s->final_norm ? ln_layer_alloc(&s->final_ln, a, B * N) : CRATE_OK;
}

int block_stack_activation_set(block_stack *dst, const block_stack *src, arena *a, int B, int N) {
    size_t n = (size_t)(src->depth > 0 ? src->depth : 1);
    *dst = *src;
    dst->blocks = crate_malloc(n * src->stride, "block stack");
    dst->first_tensor = crate_malloc(n * sizeof(int), "block stack");
    if (!dst->blocks || !dst->first_tensor) {
        block_stack_destroy(dst);
        return CRATE_EINTERNAL;
    }
    memcpy(dst->blocks, src->blocks, n * src->stride);
    memcpy(dst->first_tensor, src->first_tensor, n * sizeof(int));
    return block_stack_alloc(dst, a, B, N); /* every activation pointer is replaced */
}

const float *block_stack_layer_output(const block_stack *s, int i) {
    return s->ops->output(block_stack_at(s, i));
}

static const float *layer_input(const block_stack *s, const float *z0, int i) {
    return i == 0 ? z0 : block_stack_layer_output(s, i - 1);
}

const float *block_stack_output(const block_stack *s, const float *z0) {
    return s->final_norm ? s->final_ln.out : layer_input(s, z0, s->depth);
}

void block_stack_forward(block_stack *s, const param_store *ps, const float *z0, int B, int N) {
    for (int i = 0; i < s->depth; i++) s->ops->forward(block_stack_at(s, i), ps, layer_input(s, z0, i), B, N);
    if (s->final_norm) ln_layer_forward(&s->final_ln, ps, layer_input(s, z0, s->depth), B * N);
}

size_t block_stack_scratch_floats(const block_stack *s, int B, int N) {
    size_t inner = s->depth > 0 ? s->ops->scratch_floats(block_stack_at(s, 0), B, N) : 0;
    return 2 * (size_t)B * N * s->d + inner;
}

void block_stack_backward(block_stack *s, param_store *ps, float *dz0, const float *dout, const float *z0,
                          float *scratch, int B, int N) {
    size_t n = (size_t)B * N * s->d;
    float *g = scratch, *g_next = scratch + n, *inner = scratch + 2 * n;
    if (s->final_norm) {
        memset(g, 0, n * sizeof(float));
        ln_layer_backward(&s->final_ln, ps, g, dout, layer_input(s, z0, s->depth), B * N);
    } else {
        memcpy(g, dout, n * sizeof(float));
    }
    for (int i = s->depth - 1; i >= 0; i--) {
        /* The first layer's input gradient goes straight to the caller's buffer. */
        float *target = i == 0 ? dz0 : g_next;
        if (i > 0) memset(target, 0, n * sizeof(float));
        s->ops->backward(block_stack_at(s, i), ps, target, g, layer_input(s, z0, i), inner, B, N);
        /* Layers i..depth−1 and the closing norm are done: their gradients can travel. */
        param_store_grads_final_from(ps, s->first_tensor[i]);
        float *t = g;
        g = g_next;
        g_next = t;
    }
    if (s->depth == 0) axpy(dz0, 1.0f, g, n);
}

double block_stack_flops(const block_stack *s, int B, int N) {
    double f = 0;
    for (int i = 0; i < s->depth; i++) f += s->ops->flops(block_stack_at(s, i), B, N);
    return f;
}
