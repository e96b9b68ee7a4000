/* fuzz_manifest.c — the manifest.yaml of a checkpoint (src/ckpt/manifest.c
 * on libyaml's document loader).
 *
 * Input: a mode byte ('F': the `manifest_crc32` line a version-3 manifest
 * ends with is recomputed, so mutations get past it), then the manifest's
 * text. ckpt_manifest_parse, and on success what a reader relies on: every
 * section's range of every shard lies inside its layout (an abort here is a
 * parser that let a bad table through); the section and file lookups; and
 * the round trip a resumed run makes: emit, parse the emitted text (must
 * succeed), emit again (must give the same bytes).
 */
#include "tests/fuzz/fuzz_common.h"

#include "src/ckpt/manifest.h"
#include "src/error.h"

static void check_tables(const ckpt_manifest *m) {
    if (m->nsections < 1 || m->nsections > CKPT_MAX_SECTIONS || m->nshards < 1 || m->world < 1) abort();
    for (int s = 0; s < m->nsections; s++) {
        uint64_t total = m->sections[s].buffer_layout ? m->buffer_total : m->total;
        for (int r = 0; r < m->nshards; r++) {
            ckpt_range g = ckpt_manifest_range(m, s, r);
            if (g.lo > g.hi || g.hi > total) {
                fprintf(stderr, "fuzz_manifest: section %d shard %d: range [%llu, %llu) outside %llu\n", s, r,
                        (unsigned long long)g.lo, (unsigned long long)g.hi, (unsigned long long)total);
                abort();
            }
        }
    }
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].offset > m->total) abort();
    ckpt_manifest_section(m, "params");
    ckpt_manifest_file(m, "tokenizer.model");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    fuzz_part text = {data + 1, size - 1};
    uint8_t *t = fuzz_dup(&text);
    if (data[0] == 'F') fuzz_fix_manifest(t, text.n);
    ckpt_manifest m;
    int rc = fuzz_note("ckpt_manifest_parse", ckpt_manifest_parse(&m, (const char *)t, text.n, "fuzz/manifest.yaml"));
    free(t);
    if (rc == CRATE_OK) {
        check_tables(&m);
        size_t n1 = 0, n2 = 0;
        char *e1 = ckpt_manifest_emit(&m, &n1);
        if (!e1) abort(); /* a parsed manifest is always writable */
        ckpt_manifest m2;
        if (ckpt_manifest_parse(&m2, e1, n1, "fuzz/emitted.yaml") != CRATE_OK) {
            fprintf(stderr, "fuzz_manifest: the emitted manifest does not parse: %s\n", crate_errmsg());
            abort();
        }
        char *e2 = ckpt_manifest_emit(&m2, &n2);
        if (!e2 || n1 != n2 || memcmp(e1, e2, n1) != 0) {
            fprintf(stderr, "fuzz_manifest: emit(parse(emit(m))) differs from emit(m)\n");
            abort();
        }
        free(e1);
        free(e2);
        ckpt_manifest_free(&m2);
    }
    ckpt_manifest_free(&m);
    return 0;
}
