/* fuzz_spm.c — SentencePiece model bytes (data/spm.cc over Debian's
 * libsentencepiece): the tokenizer.model that token datasets and text
 * checkpoints carry and the text objectives load.
 *
 * Input: the serialized model. spm_load_bytes, then what crate-data and
 * crate-generate do with a model: encode short texts (ASCII, and UTF-8 that
 * a normalization rule may rewrite), decode the ids back, decode every id
 * of a small vocabulary, the piece <-> id maps, the special ids,
 * spm_serialize; ids out of the vocabulary must be refused.
 * The library itself is not instrumented: coverage guides the fuzzer
 * through crate's wrapper and protobuf's parse only as far as the wrapper
 * sees it; crashes inside the library still show.
 */
#include "tests/fuzz/fuzz_common.h"

#include "data/spm.h"
#include "src/error.h"

static const char *const TEXTS[] = {
    "In the beginning God created the heaven and the earth.\n",
    "\xef\xac\x81ne \xef\xbc\xa1\xe3\x80\x80\xc3\x85 caf\xc3\xa9 [MASK] <s></s> \xf0\x9f\x98\x80",
    "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    spm_model *m;
    if (fuzz_note("spm_load_bytes", spm_load_bytes(&m, data, size))) return 0;
    int vocab = spm_vocab_size(m);
    for (size_t t = 0; t < sizeof TEXTS / sizeof TEXTS[0]; t++) {
        int32_t *ids;
        size_t n;
        if (spm_encode(m, TEXTS[t], strlen(TEXTS[t]), &ids, &n) != CRATE_OK) continue;
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= vocab) abort();
        char *text;
        size_t len;
        if (spm_decode(m, ids, n, &text, &len) == CRATE_OK) free(text);
        free(ids);
    }
    int k = vocab < 512 ? vocab : 512;
    int32_t *all = malloc(((size_t)k + 2) * sizeof *all);
    if (!all) abort();
    for (int i = 0; i < k; i++) {
        all[i] = i;
        const char *piece = spm_id_to_piece(m, i);
        if (!piece) abort();
        spm_piece_to_id(m, piece);
    }
    char *text;
    size_t len;
    if (spm_decode(m, all, (size_t)k, &text, &len) == CRATE_OK) free(text);
    all[0] = vocab;
    all[1] = -1;
    if (spm_decode(m, all, 2, &text, &len) == CRATE_OK) abort(); /* outside the vocabulary */
    free(all);
    spm_piece_to_id(m, "[MASK]");
    spm_unk_id(m), spm_bos_id(m), spm_eos_id(m), spm_pad_id(m);
    char *bytes;
    if (spm_serialize(m, &bytes, &len) == CRATE_OK) free(bytes);
    spm_free(m);
    return 0;
}
