/* checkpoint_read.c — the tools' side of checkpoint.h, without MPI:
 * checkpoint_read_all (one process reads every shard of a checkpoint into
 * full vectors), checkpoint_read_file and checkpoint_verify_files (its
 * attached files, src/ckpt/files.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/ckpt/checkpoint.h"
#include "src/error.h"
#include "src/io/fs.h"

/* The checkpoint path names: its folder (PATH_CAP bytes) and parsed
 * manifest (free with ckpt_manifest_free, also on failure). */
static int open_manifest(const char *path, char *dir, ckpt_manifest *m) {
    char file[2 * PATH_CAP], *text;
    size_t len;
    checkpoint_resolve(path, dir);
    snprintf(file, sizeof file, "%s/manifest.yaml", dir);
    memset(m, 0, sizeof *m);
    int rc = fs_read_file(file, &text, &len);
    if (rc != CRATE_OK) return crate_fail_context(rc, "%s is not a checkpoint (no readable manifest.yaml)", dir);
    rc = ckpt_manifest_parse(m, text, len, file);
    free(text);
    return rc;
}

/* The most an lz4 frame decompresses to per byte of the file (a block's
 * match lengths grow by 255 per input byte; headers only add input). */
#define LZ4_MAX_RATIO 255

/* Before a vector is sized from the manifest: every shard file it lists
 * exists with the size it records, and that size can hold the header and the
 * section ranges the manifest gives the file. A manifest claiming terabytes
 * over small shards (damaged, edited, or not this checkpoint's) is refused
 * here rather than allocated. */
static int check_shard_sizes(const char *dir, const ckpt_manifest *m) {
    char file[2 * PATH_CAP];
    for (int i = 0; i < m->nshards; i++) {
        const ckpt_shard_entry *e = &m->shards[i];
        snprintf(file, sizeof file, "%s/%s", dir, e->file);
        struct stat sb;
        if (stat(file, &sb) != 0) return crate_fail(CRATE_EINPUT, "cannot open '%s': %s", file, strerror(errno));
        if (!S_ISREG(sb.st_mode)) return crate_fail(CRATE_EINPUT, "'%s' is not a regular file", file);
        uint64_t bytes = (uint64_t)sb.st_size;
        if (bytes != e->info.bytes)
            return crate_fail(CRATE_EINPUT, "'%s' has %llu bytes, the manifest says %llu (truncated or replaced)", file,
                              (unsigned long long)bytes, (unsigned long long)e->info.bytes);
        uint64_t content = 16 + 16 * (uint64_t)(e->info.version == 1 ? 1 : m->nsections);
        for (int s = 0; s < m->nsections; s++) {
            ckpt_range r = ckpt_manifest_range(m, s, i);
            content += (r.hi - r.lo) * sizeof(float);
        }
        if (content / LZ4_MAX_RATIO > bytes)
            return crate_fail(CRATE_EINPUT, "'%s': %llu bytes cannot hold the %llu bytes of sections the manifest "
                              "gives it (lz4 expands at most %d-fold): the manifest is damaged or edited, or not "
                              "this checkpoint's", file, (unsigned long long)bytes, (unsigned long long)content,
                              LZ4_MAX_RATIO);
    }
    return CRATE_OK;
}

int checkpoint_read_all(const char *path, ckpt_manifest *m, const int *want, float **vec) {
    char dir[PATH_CAP], file[2 * PATH_CAP];
    for (int s = 0; s < CKPT_MAX_SECTIONS; s++) vec[s] = NULL;
    int rc = open_manifest(path, dir, m);
    if (rc == CRATE_OK) rc = check_shard_sizes(dir, m);
    if (rc != CRATE_OK) return rc;
    /* Sections not asked for still stream through the reader (their bytes
     * are checksummed) without being kept. */
    for (int s = 0; s < m->nsections && rc == CRATE_OK; s++) {
        if (want && !want[s]) continue;
        uint64_t n = m->sections[s].buffer_layout ? m->buffer_total : m->total;
        vec[s] = crate_aligned_zalloc(n * sizeof(float) + 64, "checkpoint vector");
        if (!vec[s]) rc = CRATE_EINTERNAL;
    }
    for (int i = 0; i < m->nshards && rc == CRATE_OK; i++) {
        ckpt_range range[CKPT_MAX_SECTIONS];
        float *to[CKPT_MAX_SECTIONS];
        for (int s = 0; s < m->nsections; s++) {
            range[s] = ckpt_manifest_range(m, s, i);
            to[s] = vec[s] ? vec[s] + range[s].lo : NULL;
        }
        snprintf(file, sizeof file, "%s/%s", dir, m->shards[i].file);
        rc = ckpt_shard_read(file, &m->shards[i].info, m->nsections, range, range, to);
    }
    if (rc != CRATE_OK)
        for (int s = 0; s < CKPT_MAX_SECTIONS; s++) free(vec[s]), vec[s] = NULL;
    return rc;
}

int checkpoint_read_section(const char *path, const char *section, ckpt_manifest *m, float **vec) {
    *vec = NULL;
    char dir[PATH_CAP];
    int rc = open_manifest(path, dir, m);
    int s = rc == CRATE_OK ? ckpt_manifest_section(m, section) : -1;
    if (rc == CRATE_OK && s < 0) {
        char names[CKPT_MAX_SECTIONS * (CKPT_SECTION_NAME_MAX + 2)] = "";
        for (int i = 0; i < m->nsections; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", m->sections[i].name);
        rc = crate_fail(CRATE_EINPUT, "%s has no %s section (it has %s)", dir, section, names);
    }
    ckpt_manifest_free(m);
    if (rc != CRATE_OK) return rc;
    int want[CKPT_MAX_SECTIONS] = {0};
    float *all[CKPT_MAX_SECTIONS];
    want[s] = 1;
    rc = checkpoint_read_all(path, m, want, all);
    *vec = all[s];
    return rc;
}

int checkpoint_read_params(const char *path, ckpt_manifest *m, float **params) {
    return checkpoint_read_section(path, "params", m, params);
}

int checkpoint_verify_files(const char *path, const ckpt_manifest *m) {
    char dir[PATH_CAP];
    checkpoint_resolve(path, dir);
    for (int i = 0; i < m->nfiles; i++) {
        int rc = ckpt_file_read(dir, &m->files[i], NULL);
        if (rc != CRATE_OK) return rc;
    }
    return CRATE_OK;
}

int checkpoint_read_file(const char *path, const char *name, void **data, size_t *bytes) {
    *data = NULL;
    *bytes = 0;
    char dir[PATH_CAP];
    ckpt_manifest m;
    int rc = open_manifest(path, dir, &m);
    const ckpt_file_entry *e = rc == CRATE_OK ? ckpt_manifest_file(&m, name) : NULL;
    if (rc == CRATE_OK && !e) {
        char have[CKPT_MAX_FILES * (CKPT_FILE_MAX + 2) + 8] = "";
        for (int i = 0; i < m.nfiles; i++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", i ? ", " : "", m.files[i].name);
        rc = crate_fail(CRATE_EINPUT, "checkpoint %s has no file %s (it has %s; written by an objective that "
                        "does not attach it, such as one without a tokenizer?)", dir, name,
                        m.nfiles ? have : "none");
    }
    if (rc == CRATE_OK && (rc = ckpt_file_read(dir, e, data)) == CRATE_OK) *bytes = (size_t)e->bytes;
    ckpt_manifest_free(&m);
    return rc;
}
