/* fuzz_safetensors.c — safetensors files (src/io/safetensors_read.c on
 * src/io/json_scan.c): what init.from=FILE.safetensors reads.
 *
 * Input: the file's bytes. safetensors_parse, then, as weight import does,
 * every tensor read as float32 (safetensors_read_f32: F32, BF16 and F16;
 * other dtypes must be refused), the lookups by name and metadata key, and
 * safetensors_close (twice: it must be safe to repeat).
 */
#include "tests/fuzz/fuzz_common.h"

#include "src/error.h"
#include "src/io/safetensors_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    safetensors_file f;
    if (fuzz_note("safetensors_parse", safetensors_parse(&f, data, size, "fuzz.safetensors")) == CRATE_OK) {
        for (int i = 0; i < f.n; i++) {
            const safetensors_entry *e = &f.entries[i];
            /* The parser promises count elements fit in the data section. */
            if (e->end > f.size - f.data_start) abort();
            float *out = malloc(e->count * sizeof(float) + 1);
            if (!out) abort();
            fuzz_note("safetensors_read_f32", safetensors_read_f32(&f, e, out));
            free(out);
            if (safetensors_find(&f, e->name) == NULL) abort();
        }
        for (int i = 0; i < f.nmeta; i++)
            if (safetensors_meta_get(&f, f.meta[i].key) == NULL) abort();
        safetensors_find(&f, "encoder.patch_proj.weight");
        safetensors_meta_get(&f, "format");
    }
    safetensors_close(&f);
    safetensors_close(&f);
    return 0;
}
