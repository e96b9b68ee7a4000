/* param_init.h — deterministic initialisation of the parameter store.
 * Each tensor is filled as its PARAM_INIT_* flag says, from its own
 * counter-based stream keyed by (seed, tensor id, RNG_INIT), so initial weights
 * depend only on the seed and the model's layout, never on ranks or threads. */
#ifndef CRATE_PARAM_INIT_H
#define CRATE_PARAM_INIT_H

#include <stdint.h>

#include "src/nn/params.h"

void param_store_initialize(param_store *ps, uint64_t seed, float normal_std);

#endif
