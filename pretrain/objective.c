/* objective.c — picks the objective the config names (see objective.h). */
#include "pretrain/objective.h"

#include <stdlib.h>

#include "data/image_source.h"
#include "pretrain/text_data.h"
#include "src/error.h"

int objective_create(objective **out, const train_config *cfg, int micro_batch, param_store *ps) {
    data_shape shape;
    int rc;
    switch (cfg->objective.name) {
    case TRAIN_OBJECTIVE_MAE:
    case TRAIN_OBJECTIVE_DINO:
    case TRAIN_OBJECTIVE_CLASSIFY:
        rc = image_source_shape(cfg->data.train, &shape.channels, &shape.height, &shape.width);
        if (rc != CRATE_OK) return rc;
        if (cfg->objective.name == TRAIN_OBJECTIVE_CLASSIFY)
            return classify_objective_create(out, cfg, &shape, micro_batch, ps);
        return cfg->objective.name == TRAIN_OBJECTIVE_MAE ? mae_objective_create(out, cfg, &shape, micro_batch, ps)
                                                          : dino_objective_create(out, cfg, &shape, micro_batch, ps);
    case TRAIN_OBJECTIVE_GPT2:
    case TRAIN_OBJECTIVE_BERT: {
        text_data_info data;
        rc = text_data_info_read(&data, cfg);
        if (rc != CRATE_OK) return rc;
        return cfg->objective.name == TRAIN_OBJECTIVE_GPT2 ? gpt2_objective_create(out, cfg, &data, micro_batch, ps)
                                                           : bert_objective_create(out, cfg, &data, micro_batch, ps);
    }
    }
    return crate_fail(CRATE_EINPUT, "objective.name: unsupported objective %d", cfg->objective.name);
}

objective *objective_new(const objective_ops *ops, size_t state_bytes) {
    objective *o = crate_calloc(1, sizeof *o, "objective");
    void *state = crate_calloc(1, state_bytes, "objective state");
    if (!o || !state) {
        free(o);
        free(state);
        return NULL;
    }
    o->ops = ops;
    o->state = state;
    return o;
}

void objective_destroy(objective *o) {
    if (o) o->ops->destroy(o);
}
