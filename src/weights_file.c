/* weights_file.c — see weights_file.h. */
#include "src/weights_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/crc32.h"
#include "src/error.h"
#include "src/fs.h"

#define WEIGHTS_MAGIC "CRATEWTS"
#define WEIGHTS_VERSION 1u

typedef struct {
    char name[PARAM_NAME_MAX];
    uint32_t ndim;
    int64_t shape[PARAM_MAX_DIMS];
    uint64_t numel;
} weights_entry;

/* fwrite that keeps the running crc */
static int put(FILE *f, uint32_t *crc, const void *p, size_t n) {
    *crc = crc32_update(*crc, p, n);
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int get(FILE *f, uint32_t *crc, void *p, size_t n) {
    if (fread(p, 1, n, f) != n) return -1;
    *crc = crc32_update(*crc, p, n);
    return 0;
}

static int write_all(FILE *f, const param_store *ps) {
    uint32_t crc = 0, version = WEIGHTS_VERSION, count = (uint32_t)ps->count;
    int bad = put(f, &crc, WEIGHTS_MAGIC, 8) | put(f, &crc, &version, 4) | put(f, &crc, &count, 4);
    for (int i = 0; i < ps->count && !bad; i++) {
        const param_tensor *t = &ps->tensors[i];
        weights_entry e;
        memset(&e, 0, sizeof e);
        memcpy(e.name, t->name, sizeof e.name);
        e.ndim = (uint32_t)t->ndim;
        memcpy(e.shape, t->shape, sizeof e.shape);
        e.numel = t->numel;
        bad |= put(f, &crc, &e, sizeof e);
    }
    for (int i = 0; i < ps->count && !bad; i++)
        bad |= put(f, &crc, param_data(ps, i), ps->tensors[i].numel * sizeof(float));
    if (!bad) bad = fwrite(&crc, 4, 1, f) == 1 ? 0 : -1;
    return bad;
}

int weights_save(const char *path, const param_store *ps) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return crate_fail(CRATE_EINTERNAL, "cannot create '%s': %s", tmp, strerror(errno));
    int bad = write_all(f, ps);
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        int err = errno;
        unlink(tmp);
        return crate_fail(CRATE_EINTERNAL, "writing weights '%s' failed: %s (the previous file, if any, is intact)",
                          path, strerror(err));
    }
    int rc = fs_commit_rename(tmp, path);
    if (rc != CRATE_OK) unlink(tmp);
    return rc;
}

/* Reads n floats into dst, or through a bounce buffer when dst is NULL (a
 * tensor this model does not have: it still counts toward the checksum). */
static int skip_or_read(FILE *f, uint32_t *crc, float *dst, uint64_t n) {
    if (dst) return get(f, crc, dst, n * sizeof(float));
    float bounce[4096];
    for (uint64_t done = 0; done < n;) {
        size_t chunk = n - done < 4096 ? (size_t)(n - done) : 4096;
        if (get(f, crc, bounce, chunk * sizeof(float))) return -1;
        done += chunk;
    }
    return 0;
}

static int read_all(FILE *f, const char *path, param_store *ps) {
    uint32_t crc = 0, version, count;
    char magic[8];
    if (get(f, &crc, magic, 8) || memcmp(magic, WEIGHTS_MAGIC, 8) || get(f, &crc, &version, 4) ||
        version != WEIGHTS_VERSION || get(f, &crc, &count, 4) || count > 1u << 20)
        return crate_fail(CRATE_EINPUT, "'%s' is not a crate weights file (version %u)", path, WEIGHTS_VERSION);
    weights_entry *table = crate_calloc(count, sizeof *table, "weights table");
    if (!table) return CRATE_EINTERNAL;
    int rc = CRATE_OK;
    for (uint32_t i = 0; i < count && rc == CRATE_OK; i++)
        if (get(f, &crc, &table[i], sizeof *table)) rc = crate_fail(CRATE_EINPUT, "'%s' is truncated", path);
    /* Data follows in table order; copy the tensors ps knows, check the rest through the crc. */
    for (uint32_t i = 0; i < count && rc == CRATE_OK; i++) {
        table[i].name[PARAM_NAME_MAX - 1] = 0;
        int id = param_store_find(ps, table[i].name);
        const param_tensor *t = id >= 0 ? &ps->tensors[id] : NULL;
        if (t && (t->numel != table[i].numel || memcmp(t->shape, table[i].shape, sizeof t->shape)))
            rc = crate_fail(CRATE_EINPUT, "'%s': tensor %s has another shape than this model's (was it written "
                            "by another config?)", path, t->name);
        if (rc == CRATE_OK && skip_or_read(f, &crc, t ? param_data(ps, id) : NULL, table[i].numel))
            rc = crate_fail(CRATE_EINPUT, "'%s' is truncated", path);
    }
    for (int id = 0; id < ps->count && rc == CRATE_OK; id++) {
        int found = 0;
        for (uint32_t i = 0; i < count; i++) found |= strcmp(table[i].name, ps->tensors[id].name) == 0;
        if (!found) rc = crate_fail(CRATE_EINPUT, "'%s' has no tensor %s", path, ps->tensors[id].name);
    }
    uint32_t stored;
    if (rc == CRATE_OK && (fread(&stored, 4, 1, f) != 1 || stored != crc))
        rc = crate_fail(CRATE_EINPUT, "'%s' is damaged: checksum mismatch", path);
    free(table);
    return rc;
}

int weights_load(const char *path, param_store *ps) {
    FILE *f = fopen(path, "rb");
    if (!f) return crate_fail(CRATE_EINPUT, "cannot open weights '%s': %s", path, strerror(errno));
    int rc = read_all(f, path, ps);
    fclose(f);
    return rc;
}
