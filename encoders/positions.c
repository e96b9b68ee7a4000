/* positions.c — see positions.h. */
#include "encoders/positions.h"

#include <math.h>

#include "src/error.h"

static void sincos_1d(float *out, int dims, double x) {
    int quarter = dims / 2;
    for (int i = 0; i < quarter; i++) {
        double omega = pow(10000.0, -(double)i / quarter);
        out[i] = (float)sin(x * omega);
        out[quarter + i] = (float)cos(x * omega);
    }
}

void pos_sincos_fill(float *table, int grid_h, int grid_w, int d) {
    for (int c = 0; c < d; c++) table[c] = 0.0f;
    for (int gy = 0; gy < grid_h; gy++)
        for (int gx = 0; gx < grid_w; gx++) {
            float *row = table + (size_t)(1 + gy * grid_w + gx) * d;
            sincos_1d(row, d / 2, gy);
            sincos_1d(row + d / 2, d / 2, gx);
        }
}

int pos_table_declare(pos_table *t, param_store *ps, arena *a, const char *name, int grid_h, int grid_w,
                      int d, int learned) {
    t->rows = 1 + grid_h * grid_w;
    t->d = d;
    t->learned = -1;
    t->fixed = NULL;
    if (learned) {
        t->learned = param_store_add2(ps, name, t->rows, d, PARAM_EMBEDDING);
        return t->learned < 0 ? CRATE_EINTERNAL : CRATE_OK;
    }
    if (d % 4 != 0)
        return crate_fail(CRATE_EINPUT, "model.dim = %d: sin-cos positions need a multiple of 4 "
                          "(change model.dim or set model.pos_embed: learned)", d);
    t->fixed = arena_floats(a, (size_t)t->rows * d);
    if (!t->fixed) return CRATE_EINTERNAL;
    pos_sincos_fill(t->fixed, grid_h, grid_w, d);
    return CRATE_OK;
}
