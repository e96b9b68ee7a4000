/* objective.c — picks the objective the config names (see objective.h). */
#include "pretrain/objective.h"

#include <stdlib.h>

#include "src/error.h"

int objective_create(objective **out, const train_config *cfg, const data_shape *shape, int batch, param_store *ps) {
    switch (cfg->objective.name) {
    case TRAIN_OBJECTIVE_MAE:
        return mae_objective_create(out, cfg, shape, batch, ps);
    }
    return crate_fail(CRATE_EINPUT, "objective.name: unsupported objective %d", cfg->objective.name);
}

void objective_destroy(objective *o) {
    if (o) o->ops->destroy(o);
}
