/* fuzz_image_shard.c — image shard files and datasets (data/shard.h,
 * data/shard_read.c, data/shard_format.c, data/shard_cache.c).
 *
 * Input: a bundle (fuzz_common.h): mode byte ('F': checksums recomputed),
 * then one shard file, opened as a file, or several, written as
 * shard-00000.crs, shard-00001.crs, ... of a dataset folder and opened as
 * the folder. Then, as the trainer and crate-data do: image_dataset_open,
 * records read across the dataset (image_dataset_read: shard_set_locate,
 * shard_set_block through the block cache), image_dataset_verify with label
 * counts (shard_set_verify), the stats; and the same bytes opened as a token
 * shard set (a shard of the other kind must be refused, not misread).
 */
#include "tests/fuzz/fuzz_common.h"

#include "data/shard.h"
#include "data/shard_io.h"
#include "src/error.h"

static void read_images(const char *path) {
    image_dataset *ds;
    if (fuzz_note("image_dataset_open", image_dataset_open(&ds, path, 32 << 10))) return;
    int C, H, W;
    image_dataset_shape(ds, &C, &H, &W);
    uint64_t count = image_dataset_count(ds), pixels = (uint64_t)C * H * W;
    /* The caller's buffer: the harness bounds it itself (a huge record is
     * still read, without its pixels). */
    uint8_t *px = pixels <= (16u << 20) ? malloc(pixels) : NULL;
    for (uint64_t k = 0; k < 64 && k < count; k++) {
        uint64_t r = count <= 64 ? k : k * (count / 64) + (k * 7919) % (count / 64);
        int32_t label;
        if (image_dataset_read(ds, r, px, &label) != CRATE_OK) break;
    }
    if (count) {
        int32_t label;
        image_dataset_read(ds, count - 1, px, &label);
        image_dataset_read(ds, 0, px, &label); /* from the cache, or read again */
    }
    free(px);
    uint64_t labels[10] = {0}, out_of_range = 0;
    fuzz_note("image_dataset_verify", image_dataset_verify(ds, labels, 10, &out_of_range));
    image_dataset_stats st;
    image_dataset_get_stats(ds, &st);
    image_dataset_close(ds);
}

static int count_block(void *ctx, int shard, uint32_t b, const uint8_t *raw, uint64_t records) {
    (void)shard, (void)b, (void)raw;
    *(uint64_t *)ctx += records;
    return CRATE_OK;
}

static void read_as_tokens(const char *path) {
    shard_set *s;
    if (fuzz_note("shard_set_open (tokens)", shard_set_open(&s, path, SHARD_KIND_TOKENS, 0))) return;
    uint64_t count = shard_set_count(s), local, seen = 0;
    if (count) {
        int si = shard_set_locate(s, count - 1, &local);
        const uint8_t *data;
        shard_set_block(s, si, (uint32_t)(local / shard_set_header(s, si)->records_per_block), &data);
    }
    if (shard_set_verify(s, count_block, &seen) == CRATE_OK && seen != count) abort();
    shard_set_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int fix = data[0] == 'F';
    fuzz_part parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data + 1, size - 1, parts, 4);
    char path[1024], file[1024];
    if (n == 1) {
        fuzz_path(path, fuzz_dir(), "one.crs");
    } else {
        fuzz_path(path, fuzz_dir(), "set");
        fuzz_clear(path);
    }
    for (int i = 0; i < n; i++) {
        uint8_t *b = fuzz_dup(&parts[i]);
        if (fix) fuzz_fix_shard(b, parts[i].n);
        char name[32];
        snprintf(name, sizeof name, "shard-%05d.crs", i);
        fuzz_write(n == 1 ? path : fuzz_path(file, path, name), b, parts[i].n);
        free(b);
    }
    read_images(path);
    read_as_tokens(path);
    return 0;
}
