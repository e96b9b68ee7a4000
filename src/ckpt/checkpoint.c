/* checkpoint.c — see checkpoint.h. */
#include "src/ckpt/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/ckpt/manifest.h"
#include "src/ckpt/shard.h"
#include "src/error.h"
#include "src/io/crc32.h"
#include "src/io/fs.h"


/* dir/name. Paths come from run.dir and checkpoint.resume, which the config
 * caps far below PATH_CAP, so the result always fits. */
static char *path_of(char *out, const char *dir, const char *name) {
    if (snprintf(out, PATH_CAP, "%s/%s", dir, name) >= PATH_CAP) out[0] = 0;
    return out;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* One saved vector of the state: element i of its layout (i < total) is
 * base[i − base_lo] (the moments of ZeRO-1 hold only [opt->lo, opt->hi),
 * which contains this rank's range). */
typedef struct {
    const char *name;
    int buffer_layout;
    int optimizer; /* AdamW moments: rank-local under ZeRO-1, not shared after loading */
    float *base;
    uint64_t base_lo, total;
} state_section;

/* The sections of st in manifest order; returns their count. */
static int state_sections(const ckpt_state *st, state_section out[CKPT_MAX_SECTIONS]) {
    const param_store *ps = st->ps;
    const dp_optimizer *opt = st->opt;
    int n = 0;
    out[n++] = (state_section){"params", 0, 0, ps->data, 0, ps->total};
    out[n++] = (state_section){"exp_avg", 0, 1, opt->m, opt->lo, ps->total};
    out[n++] = (state_section){"exp_avg_sq", 0, 1, opt->v, opt->lo, ps->total};
    if (st->teacher) out[n++] = (state_section){"teacher", 0, 0, st->teacher->data, 0, ps->total};
    if (st->buffers) out[n++] = (state_section){"buffers", 1, 0, st->buffers->data, 0, st->buffers->total};
    return n;
}

/* Rank r's range [r·c, (r+1)·c) of a section, c = total / W. */
static ckpt_range own_range(const state_section *s, const comm_info *c) {
    uint64_t chunk = s->total / (uint64_t)c->world;
    return (ckpt_range){(uint64_t)c->rank * chunk, (uint64_t)(c->rank + 1) * chunk};
}

static float *section_at(const state_section *s, uint64_t i) { return s->base + (i - s->base_lo); }

static void shard_name(char *buf, size_t cap, int rank, int world) {
    snprintf(buf, cap, "shard-%05d-of-%05d.lz4", rank, world);
}

/* ---- saving ---- */

/* Rank 0: the folder to write into. *done: this step is already committed. */
static int prepare(const ckpt_options *o, const char *tmp, const char *final, int *done) {
    int rc = fs_mkdir_p(o->dir);
    if (rc != CRATE_OK) return rc;
    *done = exists(final);
    if (*done) return CRATE_OK;
    rc = fs_remove_tree(tmp);
    if (rc == CRATE_OK && mkdir(tmp, 0755) != 0)
        rc = crate_fail(fs_errno_status(errno), "cannot create '%s': %s", tmp, strerror(errno));
    return rc;
}

static int write_shard(const ckpt_options *o, const comm_info *c, const ckpt_state *st, const char *tmp,
                       ckpt_shard_info *info) {
    state_section sec[CKPT_MAX_SECTIONS];
    int n = state_sections(st, sec);
    ckpt_range range[CKPT_MAX_SECTIONS];
    const float *data[CKPT_MAX_SECTIONS];
    for (int s = 0; s < n; s++) {
        range[s] = own_range(&sec[s], c);
        data[s] = section_at(&sec[s], range[s].lo);
    }
    char name[64], path[PATH_CAP];
    shard_name(name, sizeof name, c->rank, c->world);
    path_of(path, tmp, name);
    int rc = ckpt_shard_write(path, n, range, data, o->level, info);
    /* Fault injection for tests: stall between the shards and the commit so a
     * test can kill a rank exactly there. */
    const char *pause = getenv("CRATE_FAULT_PAUSE_BEFORE_COMMIT");
    if (pause && rc == CRATE_OK) sleep((unsigned)atoi(pause));
    return rc;
}

/* The manifest's copy of a store's tensor table (malloc'd; NULL on OOM). */
static ckpt_tensor *tensor_table(const param_store *ps) {
    ckpt_tensor *out = crate_calloc((size_t)ps->count + 1, sizeof *out, "manifest");
    for (int i = 0; out && i < ps->count; i++) {
        const param_tensor *t = &ps->tensors[i];
        memcpy(out[i].name, t->name, sizeof t->name);
        out[i].ndim = t->ndim;
        memcpy(out[i].shape, t->shape, sizeof t->shape);
        out[i].offset = t->offset;
    }
    return out;
}

/* The attached files: names checked before anything is written (a bad one
 * is the objective's bug), then each written into tmp; out[i] lists file i. */
static int write_files(const ckpt_meta *meta, const char *tmp, ckpt_file_entry *out) {
    if (meta->nfiles < 0 || meta->nfiles > CKPT_MAX_FILES || (meta->nfiles > 0 && !meta->files))
        return crate_fail(CRATE_EINTERNAL, "%d files attached to a checkpoint (0 to %d)", meta->nfiles,
                          CKPT_MAX_FILES);
    for (int i = 0; i < meta->nfiles; i++) {
        int rc = ckpt_file_check(&meta->files[i]);
        if (rc != CRATE_OK) return rc;
        for (int j = 0; j < i; j++)
            if (!strcmp(meta->files[i].name, meta->files[j].name))
                return crate_fail(CRATE_EINTERNAL, "cannot attach two files named '%s' to a checkpoint (the "
                                  "objective must give them distinct names)", meta->files[i].name);
    }
    for (int i = 0; i < meta->nfiles; i++) {
        int rc = ckpt_file_write(tmp, &meta->files[i], &out[i]);
        if (rc != CRATE_OK) return rc;
    }
    return CRATE_OK;
}

static int write_manifest(const comm_info *c, const ckpt_state *st, const ckpt_meta *meta, const char *tmp,
                          const uint64_t *infos) {
    const param_store *ps = st->ps;
    ckpt_manifest m = {.version = 2, .step = meta->step, .world = c->world, .zero = st->opt->zero,
                       .total = ps->total, .param_count = param_store_count(ps), .seed = meta->seed,
                       .global_batch = meta->global_batch, .samples_seen = meta->step * meta->global_batch,
                       .config = (char *)meta->config, .ntensors = ps->count, .nshards = c->world};
    state_section sec[CKPT_MAX_SECTIONS];
    m.nsections = state_sections(st, sec);
    for (int s = 0; s < m.nsections; s++) {
        snprintf(m.sections[s].name, sizeof m.sections[s].name, "%s", sec[s].name);
        m.sections[s].buffer_layout = sec[s].buffer_layout;
    }
    m.tensors = tensor_table(ps);
    m.shards = crate_calloc((size_t)c->world, sizeof *m.shards, "manifest");
    ckpt_file_entry files[CKPT_MAX_FILES];
    int rc = m.tensors && m.shards ? write_files(meta, tmp, files) : CRATE_EINTERNAL;
    if (rc == CRATE_OK) m.files = files, m.nfiles = meta->nfiles;
    if (rc == CRATE_OK && st->buffers) {
        m.buffer_total = st->buffers->total;
        m.nbuffer_tensors = st->buffers->count;
        if (!(m.buffer_tensors = tensor_table(st->buffers))) rc = CRATE_EINTERNAL;
    }
    for (int r = 0; r < c->world && rc == CRATE_OK; r++) {
        ckpt_range range = ckpt_manifest_range(&m, 0, r);
        shard_name(m.shards[r].file, sizeof m.shards[r].file, r, c->world);
        m.shards[r].lo = range.lo;
        m.shards[r].hi = range.hi;
        m.shards[r].info.bytes = infos[2 * r];
        m.shards[r].info.crc32 = (uint32_t)infos[2 * r + 1];
    }
    size_t len = 0;
    char *text = rc == CRATE_OK ? ckpt_manifest_emit(&m, &len) : NULL;
    if (rc == CRATE_OK && !text) rc = CRATE_EINTERNAL;
    char path[PATH_CAP];
    path_of(path, tmp, "manifest.yaml");
    if (rc == CRATE_OK) rc = fs_write_file_synced(path, text, len);
    free(text);
    free(m.tensors);
    free(m.buffer_tensors);
    free(m.shards);
    return rc;
}

/* Rank 0: make step-N the committed, newest checkpoint. Once the rename is
 * done the checkpoint is committed: `latest` is a convenience for people and
 * scripts (the tools find the newest step folder without it), so failing to
 * write it (a full disk) is a note, and a stale `latest` is removed rather
 * than left naming an older step. */
static int commit(const ckpt_options *o, const char *tmp, const char *final, int64_t step) {
    fs_sync_dir(tmp);
    int rc = fs_commit_rename(tmp, final);
    if (rc != CRATE_OK) return rc;
    char latest[PATH_CAP], text[64];
    path_of(latest, o->dir, "latest");
    fs_part part = {text, (size_t)snprintf(text, sizeof text, "step-%06lld\n", (long long)step)};
    if (fs_write_atomic(latest, &part, 1) != CRATE_OK) {
        fprintf(stderr, "%s: note: %s is committed, but %s: %s\n", o->tool, final,
                unlink(latest) == 0 ? "writing `latest` failed and the stale one was removed"
                                    : "`latest` could not be updated",
                crate_errmsg());
    }
    return CRATE_OK;
}

/* The step of a committed checkpoint's folder name ("step-000200"), or -1. */
static long long committed_step(const char *name) {
    long long step;
    int end = 0;
    if (sscanf(name, "step-%lld%n", &step, &end) != 1 || name[end] != 0 || step < 0) return -1;
    return step;
}

static int by_step_desc(const void *a, const void *b) {
    long long x = committed_step(*(char *const *)a), y = committed_step(*(char *const *)b);
    return (x < y) - (x > y);
}

/* The committed checkpoints of dir, newest first (names, malloc'd). */
static int list_committed(const char *dir, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? CRATE_OK : crate_fail(CRATE_EINPUT, "cannot list '%s': %s", dir, strerror(errno));
    int cap = 0, rc = CRATE_OK;
    for (struct dirent *e; (e = readdir(d)) != NULL && rc == CRATE_OK;) {
        if (committed_step(e->d_name) < 0) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(*names, (size_t)cap * sizeof *grown);
            if (!grown) rc = crate_fail(CRATE_EINTERNAL, "out of memory listing '%s'", dir);
            else *names = grown;
        }
        if (rc == CRATE_OK && !((*names)[(*n)++] = strdup(e->d_name)))
            rc = crate_fail(CRATE_EINTERNAL, "out of memory listing '%s'", dir);
    }
    closedir(d);
    if (*n > 1) qsort(*names, (size_t)*n, sizeof **names, by_step_desc);
    return rc;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Rank 0, after a commit: keep the newest keep_last, drop stale *.tmp saves. */
static void prune(const ckpt_options *o) {
    char **names;
    int n;
    char path[PATH_CAP];
    if (list_committed(o->dir, &names, &n) == CRATE_OK)
        for (int i = o->keep_last; i < n; i++) {
            path_of(path, o->dir, names[i]);
            if (fs_remove_tree(path) != CRATE_OK)
                fprintf(stderr, "%s: note: could not prune %s: %s\n", o->tool, path, crate_errmsg());
        }
    free_names(names, n);
    DIR *d = opendir(o->dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "step-", 5) || len < 4 || strcmp(e->d_name + len - 4, ".tmp")) continue;
        path_of(path, o->dir, e->d_name);
        (void)fs_remove_tree(path);
    }
    if (d) closedir(d);
}

int checkpoint_save(const ckpt_options *o, const comm_info *c, const ckpt_state *st, const ckpt_meta *meta) {
    char tmp[PATH_CAP], final[PATH_CAP];
    char name[64];
    snprintf(name, sizeof name, "step-%06lld", (long long)meta->step);
    path_of(final, o->dir, name);
    path_of(tmp, o->dir, strcat(name, ".tmp"));
    int done = 0, rc = c->rank == 0 ? prepare(o, tmp, final, &done) : CRATE_OK;
    comm_bcast_bytes(&done, sizeof done, 0);
    rc = comm_agree_message(c, rc);
    if (rc == CRATE_OK && done) {
        if (c->rank == 0) printf("%s: %s is already committed; kept as it is\n", o->tool, final);
        return CRATE_OK;
    }
    ckpt_shard_info info = {0};
    if (rc == CRATE_OK) rc = comm_agree_message(c, write_shard(o, c, st, tmp, &info));
    uint64_t mine[2] = {info.bytes, info.crc32}, *all = NULL;
    if (rc == CRATE_OK) {
        all = c->rank == 0 ? crate_calloc(2 * (size_t)c->world, sizeof *all, "shard table") : NULL;
        comm_gather_u64(mine, 2, all);
        int r0 = c->rank == 0 ? (all ? write_manifest(c, st, meta, tmp, all) : CRATE_EINTERNAL) : CRATE_OK;
        if (r0 == CRATE_OK && c->rank == 0) r0 = commit(o, tmp, final, meta->step);
        rc = comm_agree_message(c, r0);
        free(all);
    }
    if (rc != CRATE_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", crate_errmsg());
        if (c->rank == 0) (void)fs_remove_tree(tmp);
        return crate_fail(rc, "checkpoint at step %lld failed: %s (earlier checkpoints in %s are intact)",
                          (long long)meta->step, why, o->dir);
    }
    if (c->rank == 0) prune(o);
    return CRATE_OK;
}

/* ---- loading ---- */

void checkpoint_resolve(const char *from, char *out) {
    snprintf(out, PATH_CAP, "%s", from);
    char **names, probe[PATH_CAP], step_dir[PATH_CAP];
    int n;
    if (list_committed(from, &names, &n) != CRATE_OK) return;
    for (int i = 0; i < n; i++) {
        path_of(step_dir, from, names[i]);
        if (exists(path_of(probe, step_dir, "manifest.yaml"))) {
            snprintf(out, PATH_CAP, "%s", step_dir);
            break;
        }
    }
    free_names(names, n);
}

/* Rank 0: candidate folders, newest first, '\n'-separated; stale saves noted. */
static int candidates(const ckpt_options *o, const char *from, char **list) {
    *list = NULL;
    char path[PATH_CAP];
    if (strcmp(from, "auto") != 0) {
        checkpoint_resolve(from, path);
        *list = strdup(path);
        return *list ? CRATE_OK : crate_fail(CRATE_EINTERNAL, "out of memory");
    }
    char **names;
    int n;
    int rc = list_committed(o->dir, &names, &n);
    size_t cap = 1;
    for (int i = 0; i < n; i++) cap += strlen(o->dir) + strlen(names[i]) + 2;
    *list = rc == CRATE_OK ? calloc(1, cap) : NULL;
    if (rc == CRATE_OK && !*list) rc = crate_fail(CRATE_EINTERNAL, "out of memory");
    for (int i = 0; i < n && rc == CRATE_OK; i++)
        sprintf(*list + strlen(*list), "%s/%s\n", o->dir, names[i]);
    free_names(names, n);
    DIR *d = opendir(o->dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (!strncmp(e->d_name, "step-", 5) && len > 4 && !strcmp(e->d_name + len - 4, ".tmp"))
            printf("%s: ignoring %s/%s: a save that never committed (no manifest); it is removed after the next "
                   "successful save\n", o->tool, o->dir, e->d_name);
    }
    if (d) closedir(d);
    return rc;
}

/* Every rank gets rank 0's string (malloc'd). */
static char *bcast_string(const comm_info *c, const char *s) {
    uint64_t len = c->rank == 0 ? strlen(s) : 0;
    comm_bcast_bytes(&len, sizeof len, 0);
    char *out = malloc(len + 1);
    if (!out) abort(); /* a few KiB: failing here leaves the ranks unable to agree on anything */
    if (c->rank == 0) memcpy(out, s, len);
    comm_bcast_bytes(out, len, 0);
    out[len] = 0;
    return out;
}

/* The manifest of dir on every rank (rank 0 reads it); *m is always safe to
 * free, also when the file could not be read. */
static int read_manifest(const comm_info *c, const char *dir, ckpt_manifest *m) {
    char path[PATH_CAP], *text = NULL;
    size_t len;
    memset(m, 0, sizeof *m);
    path_of(path, dir, "manifest.yaml");
    int rc = c->rank == 0 ? fs_read_file(path, &text, &len) : CRATE_OK;
    rc = comm_agree_message(c, rc);
    if (rc != CRATE_OK) return rc;
    char *all = bcast_string(c, text);
    free(text);
    rc = ckpt_manifest_parse(m, all, strlen(all), path);
    free(all);
    return rc;
}

/* The same tensors at the same offsets? */
static int same_tensors(const ckpt_tensor *saved, int nsaved, const param_store *ps, const char *what,
                        const char *dir, const char *fix) {
    if (nsaved != ps->count)
        return crate_fail(CRATE_EINPUT, "%s holds %d %s tensors, this model has %d: %s", dir, nsaved, what, ps->count,
                          fix);
    for (int i = 0; i < ps->count; i++) {
        const param_tensor *t = &ps->tensors[i];
        const ckpt_tensor *s = &saved[i];
        if (strcmp(s->name, t->name) || s->ndim != t->ndim || s->offset != t->offset ||
            memcmp(s->shape, t->shape, (size_t)t->ndim * sizeof t->shape[0]))
            return crate_fail(CRATE_EINPUT, "%s: %s tensor %d is %s there and %s (another shape or order) here: %s",
                              dir, what, i, s->name, t->name, fix);
    }
    return CRATE_OK;
}

/* Same model, sections, seed and batch? A mismatch is the user's config,
 * not damage. */
static int compatible(const ckpt_manifest *m, const ckpt_state *st, const ckpt_meta *expect, const char *dir) {
    const char *fix = "resume with the config in its manifest.yaml, or start in another run.dir";
    if (m->seed != expect->seed || m->global_batch != expect->global_batch)
        return crate_fail(CRATE_EINPUT, "%s was written with run.seed %lld and schedule.global_batch %lld; this run "
                          "has run.seed %lld and schedule.global_batch %lld: %s", dir, (long long)m->seed, (long long)m->global_batch,
                          (long long)expect->seed, (long long)expect->global_batch, fix);
    state_section sec[CKPT_MAX_SECTIONS];
    int n = state_sections(st, sec);
    for (int s = 0; s < n || s < m->nsections; s++)
        if (s >= n || s >= m->nsections || strcmp(m->sections[s].name, sec[s].name))
            return crate_fail(CRATE_EINPUT, "%s holds the section %s where this objective has %s (another objective "
                              "wrote it): %s", dir, s < m->nsections ? m->sections[s].name : "(none)",
                              s < n ? sec[s].name : "(none)", fix);
    /* A file this run attaches (its tokenizer) must be the checkpoint's, if
     * the checkpoint has one of that name: the same tensor shapes with
     * another tokenizer would resume a model whose ids mean other words.
     * Only the checksums are compared: a size that disagrees with the file's
     * own is damage, which verifying the files reports (and skips). */
    for (int i = 0; i < expect->nfiles; i++) {
        const ckpt_file *f = &expect->files[i];
        const ckpt_file_entry *e = ckpt_manifest_file(m, f->name);
        if (e && e->crc32 != crc32_update(0, f->data, f->bytes))
            return crate_fail(CRATE_EINPUT, "%s was written with another %s than this run's (%llu bytes, crc32 %08x "
                              "there; %zu bytes here): was the data re-made with another tokenizer? Train on the "
                              "data it was trained on, or start in another run.dir", dir,
                              f->name, (unsigned long long)e->bytes, e->crc32, f->bytes);
    }
    int rc = same_tensors(m->tensors, m->ntensors, st->ps, "model", dir, fix);
    if (rc == CRATE_OK && st->buffers)
        rc = same_tensors(m->buffer_tensors, m->nbuffer_tensors, st->buffers, "buffer", dir, fix);
    return rc;
}

/* Fills this rank's range of every section from the shards that hold it;
 * floats beyond the writer's padded length stay zero. */
static int load_range(const comm_info *c, const char *dir, const ckpt_manifest *m, const ckpt_state *st) {
    state_section sec[CKPT_MAX_SECTIONS];
    int n = state_sections(st, sec);
    ckpt_range want[CKPT_MAX_SECTIONS];
    for (int s = 0; s < n; s++) {
        want[s] = own_range(&sec[s], c);
        memset(section_at(&sec[s], want[s].lo), 0, (size_t)(want[s].hi - want[s].lo) * sizeof(float));
    }
    char path[PATH_CAP];
    for (int i = 0; i < m->nshards; i++) {
        ckpt_range range[CKPT_MAX_SECTIONS];
        float *dst[CKPT_MAX_SECTIONS];
        int meets = 0;
        for (int s = 0; s < n; s++) {
            range[s] = ckpt_manifest_range(m, s, i);
            meets |= range[s].lo < want[s].hi && want[s].lo < range[s].hi;
            dst[s] = section_at(&sec[s], want[s].lo);
        }
        if (!meets) continue;
        path_of(path, dir, m->shards[i].file);
        int rc = ckpt_shard_read(path, &m->shards[i].info, n, range, want, dst);
        if (rc != CRATE_OK) return rc;
    }
    return CRATE_OK;
}

/* After load_range: every rank gets the whole of each replicated section
 * (parameters, teacher, buffers; the moments unless ZeRO-1 shards them). */
static void share_sections(const comm_info *c, const ckpt_state *st) {
    if (c->world == 1) return;
    state_section sec[CKPT_MAX_SECTIONS];
    int n = state_sections(st, sec);
    for (int s = 0; s < n; s++) {
        if (sec[s].optimizer && st->opt->zero) continue;
        comm_allgather_in_place(sec[s].base, sec[s].total / (uint64_t)c->world);
    }
}

/* Rank 0: move an unusable checkpoint out of the way, keeping its bytes. */
static void set_aside(const ckpt_options *o, const char *dir) {
    char to[PATH_CAP + 16];
    for (int k = 0; k < 100; k++) {
        snprintf(to, sizeof to, k ? "%s.damaged.%d" : "%s.damaged", dir, k);
        if (!exists(to) && rename(dir, to) == 0) {
            printf("%s: moved it to %s\n", o->tool, to);
            return;
        }
    }
}

/* Rank 0: a run starting at `step` (−1: fresh) saves step+1, step+2, ...
 * into o->dir and prunes by step number, so a committed checkpoint there
 * beyond it (another run's, or a later one than the folder resumed from)
 * would be kept in place of this run's saves, or prune them: refused. */
static int check_nothing_ahead(const ckpt_options *o, int64_t step) {
    char **names;
    int n;
    int rc = list_committed(o->dir, &names, &n);
    long long newest = n > 0 ? committed_step(names[0]) : -1;
    if (rc == CRATE_OK && newest > step) {
        rc = step < 0 ? crate_fail(CRATE_EINPUT, "%s already holds checkpoints of an earlier run (newest %s/%s): a "
                                   "fresh start there would keep its saves in place of this run's and prune this "
                                   "run's. Resume it (checkpoint.resume=auto), start in another run.dir, or remove "
                                   "%s first", o->dir, o->dir, names[0], o->dir)
                      : crate_fail(CRATE_EINPUT, "%s holds %s, beyond step %lld this run resumes from: its saves "
                                   "would collide with that one. Resume the newest (checkpoint.resume=auto), or move "
                                   "the later step folders out of %s first", o->dir, names[0], (long long)step,
                                   o->dir);
    }
    free_names(names, n);
    return rc;
}

int checkpoint_resume(const ckpt_options *o, const comm_info *c, const char *from, const ckpt_state *st,
                      const ckpt_meta *expect, int64_t *step, int *dirty) {
    *step = -1;
    *dirty = 0;
    if (strcmp(from, "none") == 0) return comm_agree_message(c, c->rank == 0 ? check_nothing_ahead(o, -1) : CRATE_OK);
    int automatic = strcmp(from, "auto") == 0;
    char *list = NULL;
    int rc = comm_agree_message(c, c->rank == 0 ? candidates(o, from, &list) : CRATE_OK);
    if (rc != CRATE_OK) return rc;
    char *all = bcast_string(c, list);
    free(list);
    for (char *dir = strtok(all, "\n"); dir && *step < 0; dir = strtok(NULL, "\n")) {
        double start = fs_now();
        ckpt_manifest m;
        rc = read_manifest(c, dir, &m);
        if (rc == CRATE_OK && (rc = compatible(&m, st, expect, dir)) != CRATE_OK) {
            ckpt_manifest_free(&m);
            break; /* the user's config: no fallback would help */
        }
        /* Attached files first: cheap, and they leave the state untouched. */
        if (rc == CRATE_OK) rc = comm_agree_message(c, c->rank == 0 ? checkpoint_verify_files(dir, &m) : CRATE_OK);
        if (rc == CRATE_OK) {
            *dirty = 1;
            rc = comm_agree_message(c, load_range(c, dir, &m, st));
        }
        if (rc == CRATE_OK) {
            share_sections(c, st);
            *step = m.step;
            if (c->rank == 0)
                printf("%s: resumed from %s (step %lld, written by %d ranks) in %.2f s\n", o->tool, dir,
                       (long long)m.step, m.world, fs_now() - start);
        } else if (automatic) {
            if (c->rank == 0) {
                printf("%s: skipping checkpoint %s: %s\n", o->tool, dir, crate_errmsg());
                set_aside(o, dir);
            }
            rc = CRATE_OK;
        }
        ckpt_manifest_free(&m);
        if (rc != CRATE_OK) break;
    }
    free(all);
    if (rc == CRATE_OK) rc = comm_agree_message(c, c->rank == 0 ? check_nothing_ahead(o, *step) : CRATE_OK);
    if (rc == CRATE_OK && *step < 0 && automatic && c->rank == 0)
        printf("%s: no usable checkpoint in %s: starting from step 0\n", o->tool, o->dir);
    return rc;
}
