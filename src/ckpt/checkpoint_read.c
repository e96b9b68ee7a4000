/* checkpoint_read.c — checkpoint_read_all (see checkpoint.h): one process
 * reads every shard of a checkpoint into full vectors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/ckpt/checkpoint.h"
#include "src/error.h"
#include "src/io/fs.h"

int checkpoint_read_all(const char *path, ckpt_manifest *m, float **params, float **exp_avg, float **exp_avg_sq) {
    char dir[PATH_CAP], file[2 * PATH_CAP];
    checkpoint_resolve(path, dir);
    snprintf(file, sizeof file, "%s/manifest.yaml", dir);
    char *text;
    size_t len;
    memset(m, 0, sizeof *m);
    int rc = fs_read_file(file, &text, &len);
    if (rc != CRATE_OK) return crate_fail_context(rc, "%s is not a checkpoint (no readable manifest.yaml)", dir);
    rc = ckpt_manifest_parse(m, text, len, file);
    free(text);
    if (rc != CRATE_OK) return rc;
    float **want[CKPT_SECTIONS] = {params, exp_avg, exp_avg_sq};
    float *dst[CKPT_SECTIONS] = {NULL, NULL, NULL}, *sink = NULL;
    for (int s = 0; s < CKPT_SECTIONS && rc == CRATE_OK; s++) {
        if (!want[s]) continue;
        dst[s] = crate_aligned_zalloc(m->total * sizeof(float) + 64, "checkpoint vector");
        if (!dst[s]) rc = CRATE_EINTERNAL;
    }
    /* Sections not asked for still stream through the reader (their bytes
     * are checksummed); they land in one scratch shard-sized buffer. */
    uint64_t widest = 0;
    for (int i = 0; i < m->nshards; i++)
        if (m->shards[i].hi - m->shards[i].lo > widest) widest = m->shards[i].hi - m->shards[i].lo;
    if (rc == CRATE_OK && (!dst[0] || !dst[1] || !dst[2]) && !(sink = crate_aligned_zalloc(widest * sizeof(float) + 64, "scratch")))
        rc = CRATE_EINTERNAL;
    for (int i = 0; i < m->nshards && rc == CRATE_OK; i++) {
        const ckpt_shard_entry *e = &m->shards[i];
        if (e->hi > m->total) rc = crate_fail(CRATE_EINPUT, "%s: shard %s lies beyond the vector", file, e->file);
        float *const to[CKPT_SECTIONS] = {dst[0] ? dst[0] + e->lo : sink, dst[1] ? dst[1] + e->lo : sink,
                                          dst[2] ? dst[2] + e->lo : sink};
        snprintf(file, sizeof file, "%s/%s", dir, e->file);
        if (rc == CRATE_OK) rc = ckpt_shard_read(file, &e->info, e->lo, e->hi, e->lo, e->hi, to);
    }
    free(sink);
    for (int s = 0; s < CKPT_SECTIONS; s++) {
        if (!want[s]) continue;
        if (rc != CRATE_OK) free(dst[s]), dst[s] = NULL;
        *want[s] = dst[s];
    }
    return rc;
}
