/* fuzz_token_shard.c — token datasets (data/token_shard.h: tokens.meta, the
 * tokenizer's size and crc, token shards through data/shard_read.c).
 *
 * Input: a bundle (fuzz_common.h) of tokens.meta, tokenizer.model, then one
 * or more shard files, written as a dataset folder. Mode 'F' recomputes the
 * shards' checksums and, in tokens.meta, the tokenizer_bytes and
 * tokenizer_crc32 values and the crc32 line, so mutations get past them.
 * Then what the text objectives and crate-data do: token_dataset_open
 * (strict meta, shards against the meta, the stream's first id), windows of
 * ids read across the stream (token_dataset_read), token_dataset_verify, the
 * stats and the tokenizer bytes.
 */
#include "tests/fuzz/fuzz_common.h"

#include <inttypes.h>

#include "data/token_shard.h"
#include "src/error.h"

/* meta with the values of its tokenizer_bytes, tokenizer_crc32 and crc32
 * lines replaced by those of tok (malloc'd, *n bytes). Lines it does not
 * recognise are kept as they are. */
static char *fix_meta(const fuzz_part *meta, const fuzz_part *tok, size_t *n) {
    size_t cap = meta->n + 64;
    char *out = malloc(cap);
    if (!out) abort();
    size_t o = 0;
    const char *p = (const char *)meta->p, *end = p + meta->n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        char line[64];
        if (len >= 16 && !memcmp(p, "tokenizer_bytes ", 16))
            snprintf(line, sizeof line, "tokenizer_bytes %zu\n", tok->n);
        else if (len >= 16 && !memcmp(p, "tokenizer_crc32 ", 16))
            snprintf(line, sizeof line, "tokenizer_crc32 %08x\n", crc32_update(0, tok->p, tok->n));
        else if (len >= 6 && !memcmp(p, "crc32 ", 6))
            snprintf(line, sizeof line, "crc32 %08x\n", crc32_update(0, out, o));
        else
            line[0] = '\0';
        size_t k = line[0] ? strlen(line) : len;
        if (o + k > cap) {
            cap = 2 * (o + k);
            if (!(out = realloc(out, cap))) abort();
        }
        memcpy(out + o, line[0] ? line : p, k);
        o += k;
        p += len;
    }
    *n = o;
    return out;
}

static void read_tokens(const char *dir) {
    token_dataset *ds;
    if (fuzz_note("token_dataset_open", token_dataset_open(&ds, dir, 64 << 10))) return;
    uint64_t tokens = token_dataset_tokens(ds);
    int32_t ids[1024];
    for (int k = 0; k < 8 && tokens; k++) {
        uint64_t first = tokens / 8 * (uint64_t)k;
        size_t want = tokens - first < 1024 ? (size_t)(tokens - first) : 1024;
        if (token_dataset_read(ds, first, want, ids) != CRATE_OK) break;
        int vocab = token_dataset_vocab(ds);
        for (size_t i = 0; i < want; i++)
            if (ids[i] < 0 || ids[i] >= vocab) abort(); /* the reader promises ids < vocab */
    }
    if (tokens) token_dataset_read(ds, tokens - 1, 1, ids);
    fuzz_note("token_dataset_verify", token_dataset_verify(ds));
    token_dataset_stats st;
    token_dataset_get_stats(ds, &st);
    size_t bytes;
    const void *t = token_dataset_tokenizer(ds, &bytes);
    if (!t) abort();
    token_dataset_close(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int fix = data[0] == 'F';
    fuzz_part parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data + 1, size - 1, parts, 6);
    char dir[1024], file[1024];
    fuzz_path(dir, fuzz_dir(), "tokens");
    fuzz_clear(dir);
    if (n >= 1) {
        size_t mn = parts[0].n;
        char *meta = fix && n >= 2 ? fix_meta(&parts[0], &parts[1], &mn) : (char *)fuzz_dup(&parts[0]);
        fuzz_write(fuzz_path(file, dir, TOKEN_META_FILE), meta, mn);
        free(meta);
    }
    if (n >= 2) fuzz_write(fuzz_path(file, dir, TOKEN_TOKENIZER_FILE), parts[1].p, parts[1].n);
    for (int i = 2; i < n; i++) {
        uint8_t *b = fuzz_dup(&parts[i]);
        if (fix) fuzz_fix_shard(b, parts[i].n);
        char name[32];
        snprintf(name, sizeof name, "shard-%05d.crs", i - 2);
        fuzz_write(fuzz_path(file, dir, name), b, parts[i].n);
        free(b);
    }
    read_tokens(dir);
    return 0;
}
