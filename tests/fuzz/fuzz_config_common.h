/* fuzz_config_common.h — the check fuzz_config.c and fuzz_overrides.c make
 * of every config the engine accepts: the round trip of a checkpoint, whose
 * manifest stores the resolved config as YAML (train_config_yaml) that a
 * resumed run, crate-probe and crate-generate load again. It must load, and
 * give the same YAML; anything else aborts (a config that would not resume
 * as itself).
 * (Found this way: override values that were not UTF-8 or held C1
 * controls, corpus/overrides/repro-*.)
 */
#ifndef CRATE_TESTS_FUZZ_CONFIG_COMMON_H
#define CRATE_TESTS_FUZZ_CONFIG_COMMON_H

#include "tests/fuzz/fuzz_common.h"

#include "pretrain/train_config.h"
#include "src/error.h"

static inline void fuzz_config_round_trip(const train_config *cfg, const char *harness) {
    char *y1 = train_config_yaml(cfg);
    if (!y1) {
        fprintf(stderr, "%s: an accepted config cannot be written: %s\n", harness, crate_errmsg());
        abort();
    }
    train_config again;
    config_sources src;
    if (train_config_load_text(&again, &src, y1, "resolved.yaml") != CRATE_OK) {
        fprintf(stderr, "%s: the resolved config does not load: %s\n", harness, crate_errmsg());
        abort();
    }
    config_sources_free(&src);
    char *y2 = train_config_yaml(&again);
    if (!y2 || strcmp(y1, y2)) {
        fprintf(stderr, "%s: the resolved config changes when loaded again\n", harness);
        abort();
    }
    free(y1);
    free(y2);
}

#endif
