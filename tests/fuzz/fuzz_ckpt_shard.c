/* fuzz_ckpt_shard.c — one checkpoint shard file (src/ckpt/shard.c:
 * ckpt_shard_read, the lz4 frame and the section ranges inside it).
 *
 * Input: one line saying what the manifest would expect, then the file:
 *
 *   v<version> want <lo> <hi> ranges <lo0> <hi0> [<lo1> <hi1> ...]\n<shard bytes>
 *
 * version is the shard format the manifest implies (1 or 2); ranges are the
 * sections' ranges the manifest gives the file (1 to CKPT_MAX_SECTIONS of
 * them, each bound below 2^40 as a manifest's are); want is the range a
 * reader of another rank count asks for in every section: its overlap with
 * each range is copied (an odd want.lo skips every other section, which is
 * still streamed and checksummed). The expected size and crc32 are those of
 * the bytes, so every input reaches the frame; the checkpoint harness covers
 * a manifest whose size or crc disagrees with the file. A line the harness
 * cannot read, or a want needing more than 2 M floats of buffers, is skipped.
 */
#include "tests/fuzz/fuzz_common.h"

#include "src/ckpt/shard.h"
#include "src/error.h"

#define MAX_FLOATS (1u << 21)            /* the harness's buffers, in all */
#define MAX_RANGE ((uint64_t)1 << 40)     /* CKPT_TOTAL_MAX: a manifest's bound */

/* The next unsigned number after optional spaces, or -1. */
static int next_u64(const char **p, const char *end, uint64_t *v) {
    while (*p < end && **p == ' ') (*p)++;
    if (*p >= end || **p < '0' || **p > '9') return -1;
    uint64_t x = 0;
    for (; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
        if (x > (UINT64_MAX - 9) / 10) return -1;
        x = x * 10 + (uint64_t)(**p - '0');
    }
    *v = x;
    return 0;
}

static int word(const char **p, const char *end, const char *w) {
    while (*p < end && **p == ' ') (*p)++;
    size_t n = strlen(w);
    if ((size_t)(end - *p) < n || memcmp(*p, w, n)) return -1;
    *p += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *nl = memchr(p, '\n', size);
    if (!nl) return 0;
    uint64_t version, wlo, whi;
    ckpt_range range[CKPT_MAX_SECTIONS + 1], want[CKPT_MAX_SECTIONS];
    int ns = 0;
    if (word(&p, nl, "v") || next_u64(&p, nl, &version) || word(&p, nl, "want") || next_u64(&p, nl, &wlo) ||
        next_u64(&p, nl, &whi) || word(&p, nl, "ranges") || wlo > whi || whi - wlo > MAX_FLOATS)
        return 0;
    while (ns <= CKPT_MAX_SECTIONS && !next_u64(&p, nl, &range[ns].lo) && !next_u64(&p, nl, &range[ns].hi)) ns++;
    if (ns < 1 || ns > CKPT_MAX_SECTIONS) return 0;
    /* Ranges as a manifest can give them (below 2^40 floats, lo <= hi not
     * assumed); only the harness's own buffers are bounded. */
    for (int s = 0; s < ns; s++)
        if (range[s].hi > MAX_RANGE || range[s].lo > MAX_RANGE) return 0;
    if (whi > MAX_RANGE || (whi - wlo) * (uint64_t)ns > MAX_FLOATS) return 0;

    const uint8_t *body = (const uint8_t *)nl + 1;
    size_t n = size - (size_t)(body - data);
    char path[1024];
    fuzz_write(fuzz_path(path, fuzz_dir(), "shard-00000-of-00001.lz4"), body, n);
    ckpt_shard_info expect = {.bytes = n, .crc32 = crc32_update(0, body, n), .version = (uint32_t)version};
    float *dst[CKPT_MAX_SECTIONS];
    for (int s = 0; s < ns; s++) {
        want[s] = (ckpt_range){wlo, whi};
        /* Every other section of an odd want is skipped, as a reader that
         * does not want the moments does. */
        dst[s] = (wlo & 1) && (s & 1) ? NULL : malloc((whi - wlo) * sizeof(float) + 1);
    }
    fuzz_note("ckpt_shard_read", ckpt_shard_read(path, &expect, ns, range, want, dst));
    for (int s = 0; s < ns; s++) free(dst[s]);
    return 0;
}
