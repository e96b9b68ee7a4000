/* checkpoint_read.c — checkpoint_read_all (see checkpoint.h): one process
 * reads every shard of a checkpoint into full vectors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/ckpt/checkpoint.h"
#include "src/error.h"
#include "src/io/fs.h"

int checkpoint_read_all(const char *path, ckpt_manifest *m, const int *want, float **vec) {
    char dir[PATH_CAP], file[2 * PATH_CAP];
    checkpoint_resolve(path, dir);
    snprintf(file, sizeof file, "%s/manifest.yaml", dir);
    char *text;
    size_t len;
    memset(m, 0, sizeof *m);
    for (int s = 0; s < CKPT_MAX_SECTIONS; s++) vec[s] = NULL;
    int rc = fs_read_file(file, &text, &len);
    if (rc != CRATE_OK) return crate_fail_context(rc, "%s is not a checkpoint (no readable manifest.yaml)", dir);
    rc = ckpt_manifest_parse(m, text, len, file);
    free(text);
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

int checkpoint_read_params(const char *path, ckpt_manifest *m, float **params) {
    int want[CKPT_MAX_SECTIONS] = {1}; /* params is section 0 of every manifest */
    float *vec[CKPT_MAX_SECTIONS];
    int rc = checkpoint_read_all(path, m, want, vec);
    *params = vec[0];
    return rc;
}
