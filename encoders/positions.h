/* positions.h — position tables for a (1 + grid_h·grid_w)-token image sequence
 * (row 0 is the cls token). Either fixed 2D sin-cos (MAE / CRATE-MAE): the first
 * d/2 channels encode the patch row, the last d/2 the column, each as
 *   [sin(x·ω_i), cos(x·ω_i)],  ω_i = 10000^(−i/(d/4)),  i < d/4
 * with the cls row all zeros; or a learned (rows, d) table (the CRATE
 * classification models, which the parameter-count test pins).
 */
#ifndef CRATE_POSITIONS_H
#define CRATE_POSITIONS_H

#include "src/nn/arena.h"
#include "src/nn/params.h"

typedef struct {
    int rows, d;
    int learned;  /* param id of the learned table, or -1 */
    float *fixed; /* (rows, d) sin-cos table when not learned */
} pos_table;

int pos_table_declare(pos_table *t, param_store *ps, arena *a, const char *name, int grid_h, int grid_w,
                      int d, int learned);
/* The fixed table (1 + grid_h·grid_w, d), d a multiple of 4, into table:
 * also what an export writes for the positions and an import checks. */
void pos_sincos_fill(float *table, int grid_h, int grid_w, int d);
static inline const float *pos_table_data(const pos_table *t, const param_store *ps) {
    return t->learned >= 0 ? param_data(ps, t->learned) : t->fixed;
}
/* Gradient of the table, or NULL when it is fixed. */
static inline float *pos_table_grad(const pos_table *t, param_store *ps) {
    return t->learned >= 0 ? param_grad(ps, t->learned) : NULL;
}

#endif
