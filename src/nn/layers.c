/* layers.c — LayerNorm and Linear layers over the kernels (see layers.h). */
#include "src/nn/layers.h"

#include <stdio.h>

#include "src/error.h"
#include "src/kernels/kernels.h"

double linear_layer_flops(const linear_layer *l, int M) { return 3.0 * 2.0 * M * l->C * l->OC; }

const char *layer_name(char *buf, const char *prefix, const char *suffix) {
    snprintf(buf, PARAM_NAME_MAX, "%s.%s", prefix, suffix);
    return buf;
}

int ln_layer_declare(ln_layer *l, param_store *ps, const char *name, int C) {
    char buf[PARAM_NAME_MAX];
    l->C = C;
    l->gamma = param_store_add1(ps, layer_name(buf, name, "weight"), C, PARAM_GAIN);
    l->beta = param_store_add1(ps, layer_name(buf, name, "bias"), C, PARAM_BIAS);
    return l->gamma < 0 || l->beta < 0 ? CRATE_EINTERNAL : CRATE_OK;
}

int ln_layer_alloc(ln_layer *l, arena *a, int M) {
    l->out = arena_floats(a, (size_t)M * l->C);
    l->mean = arena_floats(a, (size_t)M);
    l->rstd = arena_floats(a, (size_t)M);
    return l->out && l->mean && l->rstd ? CRATE_OK : CRATE_EINTERNAL;
}

void ln_layer_forward(ln_layer *l, const param_store *ps, const float *inp, int M) {
    layernorm_forward(l->out, l->mean, l->rstd, inp, param_data(ps, l->gamma),
                      param_data(ps, l->beta), M, l->C);
}

void ln_layer_backward(const ln_layer *l, param_store *ps, float *dinp, const float *dout,
                       const float *inp, int M) {
    layernorm_backward(dinp, param_grad(ps, l->gamma), param_grad(ps, l->beta), dout, inp,
                       param_data(ps, l->gamma), l->mean, l->rstd, M, l->C);
}

int linear_layer_declare(linear_layer *l, param_store *ps, const char *name, int C, int OC, int with_bias) {
    char buf[PARAM_NAME_MAX];
    l->C = C;
    l->OC = OC;
    l->weight = param_store_add2(ps, layer_name(buf, name, "weight"), OC, C, PARAM_MATRIX);
    l->bias = with_bias ? param_store_add1(ps, layer_name(buf, name, "bias"), OC, PARAM_BIAS) : -1;
    return l->weight < 0 || (with_bias && l->bias < 0) ? CRATE_EINTERNAL : CRATE_OK;
}

int linear_layer_alloc(linear_layer *l, arena *a, int M) {
    l->out = arena_floats(a, (size_t)M * l->OC);
    return l->out ? CRATE_OK : CRATE_EINTERNAL;
}

void linear_layer_forward(linear_layer *l, const param_store *ps, const float *inp, int M) {
    linear_forward(l->out, inp, param_data(ps, l->weight), l->bias >= 0 ? param_data(ps, l->bias) : NULL,
                   M, l->C, l->OC);
}

void linear_layer_backward(const linear_layer *l, param_store *ps, float *dinp, const float *dout,
                           const float *inp, int M) {
    linear_backward(dinp, param_grad(ps, l->weight), l->bias >= 0 ? param_grad(ps, l->bias) : NULL,
                    dout, inp, param_data(ps, l->weight), M, l->C, l->OC);
}
