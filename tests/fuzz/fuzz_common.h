/* fuzz_common.h — what the harnesses of tests/fuzz/ share (README.md there).
 *
 * Defines: the bundle format of the harnesses whose parser reads several
 * files (a dataset folder, a checkpoint folder): a mode byte, then the files
 * back to back, separated by FUZZ_SEP (fuzz_split); a per-process temporary
 * folder created on first use and removed at exit (fuzz_dir); small file
 * helpers (fuzz_write, fuzz_clear, fuzz_note); and the checksum fix-up of crate shard
 * files (fuzz_fix_shard), which lets the fuzzer reach the code behind the
 * checksums: a bundle whose mode byte is 'F' has its checksums recomputed by
 * the harness before the parser sees it, any other mode byte is used as is.
 *
 * Everything is static: each harness is one file plus this header, linked
 * with libFuzzer (fuzz_NAME) or with replay_main.c (replay_NAME).
 */
#ifndef CRATE_TESTS_FUZZ_COMMON_H
#define CRATE_TESTS_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, mkdtemp */
#endif
#include <dirent.h>
#include <ftw.h>
#include <lz4.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/error.h"
#include "src/io/crc32.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Between the files of a bundle. */
#define FUZZ_SEP "\n==crate-fuzz-part==\n"
#define FUZZ_SEP_LEN (sizeof FUZZ_SEP - 1)
#define FUZZ_MAX_PARTS 16

typedef struct {
    const uint8_t *p;
    size_t n;
} fuzz_part;

/* Cuts data[0..size) at each FUZZ_SEP into at most max parts (the last one
 * keeps any further separators); returns the number of parts (>= 1). */
static inline int fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts, int max) {
    int n = 0;
    while (n < max - 1) {
        const uint8_t *s = size >= FUZZ_SEP_LEN ? memmem(data, size, FUZZ_SEP, FUZZ_SEP_LEN) : NULL;
        if (!s) break;
        parts[n++] = (fuzz_part){data, (size_t)(s - data)};
        size -= (size_t)(s - data) + FUZZ_SEP_LEN;
        data = s + FUZZ_SEP_LEN;
    }
    parts[n++] = (fuzz_part){data, size};
    return n;
}

static inline int fuzz_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static inline void fuzz_rm_tree(const char *path) { nftw(path, fuzz_rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char fuzz_tmp[512];

static inline void fuzz_cleanup(void) {
    if (fuzz_tmp[0]) fuzz_rm_tree(fuzz_tmp);
}

/* The process's temporary folder ($TMPDIR or /tmp), made on first use. */
static inline const char *fuzz_dir(void) {
    if (!fuzz_tmp[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_tmp, sizeof fuzz_tmp, "%s/crate-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_tmp)) {
            perror("crate fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    return fuzz_tmp;
}

/* dir/name into out (a buffer of 1024 bytes). */
static inline const char *fuzz_path(char *out, const char *dir, const char *name) {
    if (snprintf(out, 1024, "%s/%s", dir, name) >= 1024) abort();
    return out;
}

/* Writes path (replaced); a failure of the harness itself aborts. */
static inline void fuzz_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* An empty folder at path: made if missing, emptied (recursively) if not. */
static inline void fuzz_clear(const char *path) {
    fuzz_rm_tree(path);
    if (mkdir(path, 0755) != 0) {
        perror(path);
        abort();
    }
}

static inline uint32_t fuzz_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t fuzz_le64(const uint8_t *p) { return (uint64_t)fuzz_le32(p) | (uint64_t)fuzz_le32(p + 4) << 32; }
static inline void fuzz_put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes, in place, the checksums of a crate shard file (data/shard.h):
 * each block's crc32 of its decompressed bytes (when its index entry
 * locates it inside the file and it decompresses), the index crc and the
 * header crc. Leaves bytes it cannot locate alone. */
static inline void fuzz_fix_shard(uint8_t *b, size_t n) {
    enum { HEADER = 64, ENTRY = 24, TRAILER = 16 };
    if (n < HEADER + TRAILER) return;
    uint32_t blocks = fuzz_le32(b + 44);
    uint64_t index = fuzz_le64(b + 48);
    if (index >= HEADER && index <= n && (n - index) % ENTRY == TRAILER && (n - index - TRAILER) / ENTRY == blocks) {
        uint8_t *ib = b + index;
        for (uint32_t k = 0; k < blocks; k++) {
            uint8_t *e = ib + (size_t)k * ENTRY;
            uint64_t off = fuzz_le64(e);
            uint32_t comp = fuzz_le32(e + 8), raw = fuzz_le32(e + 12);
            if (off > index || comp > index - off || comp > (1u << 24) || raw > (1u << 24)) continue;
            char *out = malloc(raw ? raw : 1);
            if (!out) abort();
            int got = LZ4_decompress_safe((const char *)b + off, out, (int)comp, (int)raw);
            if (got == (int)raw) fuzz_put_le32(e + 16, crc32_update(0, out, raw));
            free(out);
        }
        size_t entries = (size_t)blocks * ENTRY;
        fuzz_put_le32(ib + entries, crc32_update(0, ib, entries));
    }
    fuzz_put_le32(b + 60, crc32_update(0, b, 60));
}

/* Recomputes, in place, the checksum line a checkpoint manifest of version
 * 3 ends with (src/ckpt/manifest.h): when the last line is
 * `manifest_crc32: "XXXXXXXX"`, its digits become the crc32 of the text
 * before it. */
static inline void fuzz_fix_manifest(uint8_t *t, size_t n) {
    static const char key[] = "manifest_crc32: \"";
    size_t klen = sizeof key - 1;
    size_t end = n > 0 && t[n - 1] == '\n' ? n - 1 : n, start = end;
    while (start > 0 && t[start - 1] != '\n') start--;
    if (end - start != klen + 9 || memcmp(t + start, key, klen) != 0) return;
    char digits[9];
    snprintf(digits, sizeof digits, "%08x", crc32_update(0, t, start));
    memcpy(t + start + klen, digits, 8);
}

/* With CRATE_FUZZ_VERBOSE set, prints what a parser said of the input: for
 * looking at a reproducer or checking that seeds get through (replay_NAME
 * FILE). Returns rc. */
static inline int fuzz_note(const char *what, int rc) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("CRATE_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "%s: %s\n", what, rc ? crate_errmsg() : "ok");
    return rc;
}

/* A writable copy of a part (the input itself is read-only). */
static inline uint8_t *fuzz_dup(const fuzz_part *p) {
    uint8_t *c = malloc(p->n ? p->n : 1);
    if (!c) abort();
    if (p->n) memcpy(c, p->p, p->n);
    return c;
}

#endif
