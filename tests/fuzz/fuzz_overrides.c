/* fuzz_overrides.c — the command-line overrides of the config engine
 * (src/config/config.c: `section.key=value`, the value taken literally)
 * with crate-pretrain's schema (pretrain/train_config.c).
 *
 * Input: overrides, one a line (at most 64; a line is cut at a NUL, as an
 * argv string is). train_config_load without a file, as
 * `crate-pretrain - a=b c=d` would; on success the same round trip as
 * fuzz_config: the resolved YAML must load again to the same YAML.
 */
#include "tests/fuzz/fuzz_config_common.h"

#define MAX_OVERRIDES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1), *ov[MAX_OVERRIDES];
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    int n = 0;
    for (char *p = text; n < MAX_OVERRIDES && p < text + size;) {
        char *nl = memchr(p, '\n', (size_t)(text + size - p));
        if (nl) *nl = '\0';
        ov[n++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    train_config cfg;
    config_sources src;
    if (fuzz_note("train_config_load", train_config_load(&cfg, &src, NULL, n, ov)) == CRATE_OK) {
        config_where(&src, "data.train");
        config_sources_free(&src);
        fuzz_config_round_trip(&cfg, "fuzz_overrides");
    }
    free(text);
    return 0;
}
