/* fuzz_config.c — the YAML config engine (src/config/config.c on libyaml)
 * with crate-pretrain's schema (pretrain/train_config.c): what
 * `crate-pretrain CONFIG.yaml` and a checkpoint's stored config go through.
 *
 * Input: the YAML text (cut at a NUL, as a C string is). train_config_load_text
 * (defaults, the document, required keys, the cross-key rules), and on
 * success the round trip a checkpoint makes: the resolved config as YAML
 * (train_config_yaml) must load again and give the same YAML (an abort here
 * is a config that would not resume as itself); config_where for a few keys.
 */
#include "tests/fuzz/fuzz_config_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    train_config cfg;
    config_sources src;
    if (fuzz_note("train_config_load_text", train_config_load_text(&cfg, &src, text, "fuzz.yaml")) == CRATE_OK) {
        config_where(&src, "model.dim");
        config_where(&src, "data.train");
        config_where(&src, "no.such_key");
        config_sources_free(&src);
        fuzz_config_round_trip(&cfg, "fuzz_config");
    }
    free(text);
    return 0;
}
