/* ckpt_manifest.c — see ckpt_manifest.h. */
#include "src/ckpt/manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "src/error.h"
#include "src/io/crc32.h"

#define MANIFEST_FORMAT "crate-checkpoint"
#define MANIFEST_VERSION 3
/* Version 3's last line: the crc32 of every byte before it. */
#define CHECKSUM_KEY "manifest_crc32: "

/* ---- emitting ---- */

typedef struct {
    char *buf;
    size_t len, cap;
} text_buf;

static int append(void *ctx, unsigned char *data, size_t n) {
    text_buf *t = ctx;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1) cap *= 2;
        char *b = realloc(t->buf, cap);
        if (!b) return 0;
        t->buf = b, t->cap = cap;
    }
    memcpy(t->buf + t->len, data, n);
    t->len += n;
    t->buf[t->len] = 0;
    return 1;
}

typedef struct {
    yaml_emitter_t e;
    int ok;
} emitter;

static void emit(emitter *em, yaml_event_t *ev, int made) {
    if (em->ok && !(made && yaml_emitter_emit(&em->e, ev))) em->ok = 0;
}
static void scalar_styled(emitter *em, const char *s, yaml_scalar_style_t style) {
    yaml_event_t ev;
    emit(em, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1, style));
}
static void scalar(emitter *em, const char *s) { scalar_styled(em, s, YAML_ANY_SCALAR_STYLE); }
static void integer(emitter *em, int64_t v) {
    char s[32];
    snprintf(s, sizeof s, "%" PRId64, v);
    scalar(em, s);
}
static void key_str(emitter *em, const char *k, const char *v) { scalar(em, k), scalar(em, v); }
static void key_int(emitter *em, const char *k, int64_t v) { scalar(em, k), integer(em, v); }
static void map_start(emitter *em, int flow) {
    yaml_event_t ev;
    emit(em, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}
static void map_end(emitter *em) {
    yaml_event_t ev;
    emit(em, &ev, yaml_mapping_end_event_initialize(&ev));
}
static void seq_start(emitter *em, int flow) {
    yaml_event_t ev;
    emit(em, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}
static void seq_end(emitter *em) {
    yaml_event_t ev;
    emit(em, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void emit_tensors(emitter *em, const ckpt_tensor *tensors, int n) {
    scalar(em, "tensors");
    seq_start(em, 0);
    for (int i = 0; i < n; i++) {
        const ckpt_tensor *t = &tensors[i];
        map_start(em, 1);
        key_str(em, "name", t->name);
        scalar(em, "shape");
        seq_start(em, 1);
        for (int d = 0; d < t->ndim; d++) integer(em, t->shape[d]);
        seq_end(em);
        key_int(em, "offset", (int64_t)t->offset);
        map_end(em);
    }
    seq_end(em);
}

static void emit_crc(emitter *em, uint32_t crc32) {
    char crc[16];
    snprintf(crc, sizeof crc, "%08x", crc32);
    scalar(em, "crc32");
    scalar_styled(em, crc, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

static void emit_shards(emitter *em, const ckpt_manifest *m) {
    scalar(em, "shards");
    seq_start(em, 0);
    for (int i = 0; i < m->nshards; i++) {
        const ckpt_shard_entry *s = &m->shards[i];
        map_start(em, 1);
        key_str(em, "file", s->file);
        key_int(em, "lo", (int64_t)s->lo);
        key_int(em, "hi", (int64_t)s->hi);
        key_int(em, "bytes", (int64_t)s->info.bytes);
        emit_crc(em, s->info.crc32);
        map_end(em);
    }
    seq_end(em);
}

static void emit_files(emitter *em, const ckpt_manifest *m) {
    if (m->nfiles == 0) return;
    scalar(em, "files");
    seq_start(em, 0);
    for (int i = 0; i < m->nfiles; i++) {
        map_start(em, 1);
        key_str(em, "name", m->files[i].name);
        key_int(em, "bytes", (int64_t)m->files[i].bytes);
        emit_crc(em, m->files[i].crc32);
        map_end(em);
    }
    seq_end(em);
}

static void emit_body(emitter *em, const ckpt_manifest *m) {
    map_start(em, 0);
    key_str(em, "format", MANIFEST_FORMAT);
    key_int(em, "version", MANIFEST_VERSION);
    key_int(em, "step", m->step);
    key_int(em, "world_size", m->world);
    key_int(em, "zero", m->zero);
    key_int(em, "param_count", (int64_t)m->param_count);
    key_int(em, "total", (int64_t)m->total);
    scalar(em, "data");
    map_start(em, 0);
    key_int(em, "seed", m->seed);
    key_int(em, "global_batch", m->global_batch);
    key_int(em, "samples_seen", m->samples_seen);
    map_end(em);
    scalar(em, "optimizer");
    map_start(em, 0);
    key_str(em, "name", "adamw");
    map_end(em);
    scalar(em, "sections");
    seq_start(em, 1);
    for (int s = 0; s < m->nsections; s++) scalar(em, m->sections[s].name);
    seq_end(em);
    scalar(em, "config");
    scalar_styled(em, m->config, YAML_LITERAL_SCALAR_STYLE);
    emit_tensors(em, m->tensors, m->ntensors);
    if (m->buffer_total > 0) {
        scalar(em, "buffers");
        map_start(em, 0);
        key_int(em, "total", (int64_t)m->buffer_total);
        emit_tensors(em, m->buffer_tensors, m->nbuffer_tensors);
        map_end(em);
    }
    emit_shards(em, m);
    emit_files(em, m);
    map_end(em);
}

char *ckpt_manifest_emit(const ckpt_manifest *m, size_t *len) {
    text_buf out = {0};
    emitter em = {.ok = 1};
    yaml_emitter_initialize(&em.e);
    yaml_emitter_set_output(&em.e, append, &out);
    yaml_emitter_set_width(&em.e, -1);
    yaml_emitter_set_unicode(&em.e, 1);
    yaml_event_t ev;
    emit(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    emit(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0));
    emit_body(&em, m);
    emit(&em, &ev, yaml_document_end_event_initialize(&ev, 1));
    emit(&em, &ev, yaml_stream_end_event_initialize(&ev));
    if (em.ok && !yaml_emitter_flush(&em.e)) em.ok = 0;
    if (!em.ok) {
        crate_fail(CRATE_EINTERNAL, "emitting the checkpoint manifest failed: %s",
                   em.e.problem ? em.e.problem : "out of memory");
        free(out.buf);
        out.buf = NULL;
    }
    yaml_emitter_delete(&em.e);
    /* The checksum line, a key of the root mapping to YAML, is appended to
     * the emitted text so that it covers that text byte for byte. */
    char line[64];
    int n = snprintf(line, sizeof line, CHECKSUM_KEY "\"%08x\"\n", crc32_update(0, out.buf, out.len));
    if (out.buf && !append(&out, (unsigned char *)line, (size_t)n)) {
        crate_fail(CRATE_EINTERNAL, "emitting the checkpoint manifest failed: out of memory");
        free(out.buf);
        out.buf = NULL;
    }
    *len = out.len;
    return out.buf;
}

/* ---- parsing ---- */

typedef struct {
    yaml_document_t doc;
    const char *where;
} doc_ctx;

static yaml_node_t *get(doc_ctx *c, yaml_node_t *map, const char *key) {
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(&c->doc, p->value);
    }
    return NULL;
}

static int missing(doc_ctx *c, yaml_node_t *in, const char *key) {
    return crate_fail(CRATE_EINPUT, "%s:%lu: key '%s' is missing or malformed", c->where,
                      in ? (unsigned long)in->start_mark.line + 1 : 1ul, key);
}

static int get_str(doc_ctx *c, yaml_node_t *map, const char *key, const char **out) {
    yaml_node_t *n = get(c, map, key);
    if (!n || n->type != YAML_SCALAR_NODE) return missing(c, map, key);
    *out = (const char *)n->data.scalar.value;
    return CRATE_OK;
}

static int get_int(doc_ctx *c, yaml_node_t *map, const char *key, int64_t lo, int64_t *out) {
    const char *s = NULL;
    if (get_str(c, map, key, &s) != CRATE_OK) return CRATE_EINPUT;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == 0 || *end || errno == ERANGE || v < lo) return missing(c, map, key);
    *out = v;
    return CRATE_OK;
}

static int get_seq(doc_ctx *c, yaml_node_t *map, const char *key, yaml_node_t **out, int *count) {
    yaml_node_t *n = get(c, map, key);
    if (!n || n->type != YAML_SEQUENCE_NODE) return missing(c, map, key);
    *out = n;
    *count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    return CRATE_OK;
}

static yaml_node_t *item(doc_ctx *c, yaml_node_t *seq, int i) {
    return yaml_document_get_node(&c->doc, seq->data.sequence.items.start[i]);
}

static int parse_tensor(doc_ctx *c, yaml_node_t *n, ckpt_tensor *t) {
    const char *name = NULL;
    yaml_node_t *shape = NULL;
    int64_t off = 0;
    if (get_str(c, n, "name", &name) || strlen(name) >= PARAM_NAME_MAX || get_seq(c, n, "shape", &shape, &t->ndim) ||
        t->ndim < 1 || t->ndim > PARAM_MAX_DIMS || get_int(c, n, "offset", 0, &off))
        return missing(c, n, "tensors[].name/shape/offset");
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = (uint64_t)off;
    for (int d = 0; d < t->ndim; d++) {
        yaml_node_t *v = item(c, shape, d);
        char *end;
        if (!v || v->type != YAML_SCALAR_NODE) return missing(c, n, "shape");
        errno = 0;
        t->shape[d] = strtoll((char *)v->data.scalar.value, &end, 10);
        if (*end || errno == ERANGE || t->shape[d] < 1) return missing(c, n, "shape");
    }
    return CRATE_OK;
}

/* A crc32 as the emitter writes it: 1 to 8 hex digits. */
static int get_crc(doc_ctx *c, yaml_node_t *map, uint32_t *out) {
    const char *crc = NULL;
    if (get_str(c, map, "crc32", &crc)) return CRATE_EINPUT;
    char *end;
    unsigned long v = strtoul(crc, &end, 16);
    if (*crc == 0 || *end || strlen(crc) > 8 || crc[0] == '-' || crc[0] == '+') return missing(c, map, "crc32");
    *out = (uint32_t)v;
    return CRATE_OK;
}

static int parse_shard(doc_ctx *c, yaml_node_t *n, ckpt_shard_entry *s) {
    const char *file = NULL;
    int64_t lo = 0, hi = 0, bytes = 0;
    if (get_str(c, n, "file", &file) || strlen(file) >= CKPT_FILE_MAX || strchr(file, '/') ||
        get_int(c, n, "lo", 0, &lo) || get_int(c, n, "hi", lo, &hi) || get_int(c, n, "bytes", 0, &bytes) ||
        get_crc(c, n, &s->info.crc32))
        return missing(c, n, "shards[].file/lo/hi/bytes/crc32");
    snprintf(s->file, sizeof s->file, "%s", file);
    s->lo = (uint64_t)lo, s->hi = (uint64_t)hi;
    s->info.bytes = (uint64_t)bytes;
    return CRATE_OK;
}

/* The attached files (files.h), optional: none when the key is absent. Each
 * name must be a plain file name (no path out of the step folder) and
 * distinct; sizes are bounded here and compared with the real file's before
 * the reader allocates anything. */
static int parse_files(doc_ctx *c, yaml_node_t *root, ckpt_manifest *m) {
    if (!get(c, root, "files")) return CRATE_OK;
    yaml_node_t *seq = NULL;
    int n = 0;
    if (get_seq(c, root, "files", &seq, &n)) return CRATE_EINPUT;
    if (n > CKPT_MAX_FILES)
        return crate_fail(CRATE_EINPUT, "%s: %d attached files (at most %d): damaged or not written by crate",
                          c->where, n, CKPT_MAX_FILES);
    m->files = crate_calloc((size_t)n + 1, sizeof *m->files, "manifest files");
    if (!m->files) return CRATE_EINTERNAL;
    for (int i = 0; i < n; i++) {
        yaml_node_t *f = item(c, seq, i);
        const char *name = NULL, *why;
        int64_t bytes = 0;
        if (get_str(c, f, "name", &name) || get_int(c, f, "bytes", 0, &bytes) || get_crc(c, f, &m->files[i].crc32))
            return missing(c, f, "files[].name/bytes/crc32");
        if ((why = ckpt_file_name_problem(name)) != NULL)
            return crate_fail(CRATE_EINPUT, "%s:%lu: attached file name '%s' is not allowed: %s", c->where,
                              (unsigned long)f->start_mark.line + 1, name, why);
        if ((uint64_t)bytes > CKPT_FILE_BYTES_MAX)
            return crate_fail(CRATE_EINPUT, "%s:%lu: attached file '%s' claims %lld bytes (at most %u MiB): "
                              "damaged or not written by crate", c->where, (unsigned long)f->start_mark.line + 1,
                              name, (long long)bytes, CKPT_FILE_BYTES_MAX >> 20);
        if (ckpt_manifest_file(m, name))
            return crate_fail(CRATE_EINPUT, "%s:%lu: attached file '%s' is listed twice", c->where,
                              (unsigned long)f->start_mark.line + 1, name);
        snprintf(m->files[i].name, sizeof m->files[i].name, "%s", name);
        m->files[i].bytes = (uint64_t)bytes;
        m->nfiles = i + 1;
    }
    return CRATE_OK;
}

static void add_section(ckpt_manifest *m, const char *name) {
    ckpt_section *s = &m->sections[m->nsections++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->buffer_layout = strcmp(name, "buffers") == 0;
}

/* Version 2's section list (version 1: params and the two moments). */
static int parse_sections(doc_ctx *c, yaml_node_t *root, ckpt_manifest *m) {
    if (m->version == 1) {
        add_section(m, "params"), add_section(m, "exp_avg"), add_section(m, "exp_avg_sq");
        return CRATE_OK;
    }
    yaml_node_t *seq = NULL;
    int n = 0;
    if (get_seq(c, root, "sections", &seq, &n)) return CRATE_EINPUT;
    if (n < 1 || n > CKPT_MAX_SECTIONS)
        return crate_fail(CRATE_EINPUT, "%s: %d sections (1 to %d)", c->where, n, CKPT_MAX_SECTIONS);
    for (int i = 0; i < n; i++) {
        yaml_node_t *v = item(c, seq, i);
        if (!v || v->type != YAML_SCALAR_NODE || strlen((char *)v->data.scalar.value) >= CKPT_SECTION_NAME_MAX ||
            ckpt_manifest_section(m, (char *)v->data.scalar.value) >= 0)
            return missing(c, seq, "sections[]");
        add_section(m, (char *)v->data.scalar.value);
    }
    if (ckpt_manifest_section(m, "params") != 0) return missing(c, seq, "sections[0] = params");
    return CRATE_OK;
}

static int parse_tensor_list(doc_ctx *c, yaml_node_t *map, ckpt_tensor **out, int *n) {
    yaml_node_t *seq = NULL;
    if (get_seq(c, map, "tensors", &seq, n)) return CRATE_EINPUT;
    *out = crate_calloc((size_t)*n + 1, sizeof **out, "manifest tensors");
    if (!*out) return CRATE_EINTERNAL;
    for (int i = 0; i < *n; i++)
        if (parse_tensor(c, item(c, seq, i), &(*out)[i])) return CRATE_EINPUT;
    return CRATE_OK;
}

/* The buffers' layout, present exactly when a buffers section is. */
static int parse_buffers(doc_ctx *c, yaml_node_t *root, ckpt_manifest *m) {
    if (ckpt_manifest_section(m, "buffers") < 0) return CRATE_OK;
    yaml_node_t *b = get(c, root, "buffers");
    int64_t total = 0;
    if (get_int(c, b, "total", 1, &total)) return missing(c, root, "buffers.total");
    if (total > (int64_t)CKPT_TOTAL_MAX)
        return crate_fail(CRATE_EINPUT, "%s: buffers.total %lld is above %llu: the manifest is damaged or was edited",
                          c->where, (long long)total, (unsigned long long)CKPT_TOTAL_MAX);
    m->buffer_total = (uint64_t)total;
    return parse_tensor_list(c, b, &m->buffer_tensors, &m->nbuffer_tensors);
}

/* Every tensor of a layout of `total` floats lies inside it, and (count > 0)
 * their sizes add up to the manifest's param_count: a reader may then use
 * the offsets and shapes, and allocate `total` floats, without further
 * checks. Sizes are multiplied with overflow checks (each dim ≤ total). */
static int check_tensors(doc_ctx *c, const char *what, const ckpt_tensor *t, int n, uint64_t total, uint64_t count) {
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            uint64_t dim = (uint64_t)t[i].shape[d];
            numel = dim > total || (dim && numel > total / dim) ? total + 1 : numel * dim;
        }
        if (numel > total || t[i].offset > total - numel)
            return crate_fail(CRATE_EINPUT, "%s: %s[%d] (%s) at offset %llu does not fit in total %llu: the manifest "
                              "is damaged or was edited", c->where, what, i, t[i].name,
                              (unsigned long long)t[i].offset, (unsigned long long)total);
        sum += numel;
    }
    if (count && sum != count)
        return crate_fail(CRATE_EINPUT, "%s: the tensors hold %llu floats but param_count is %llu: the manifest is "
                          "damaged or was edited", c->where, (unsigned long long)sum, (unsigned long long)count);
    return CRATE_OK;
}

static int parse_root(doc_ctx *c, yaml_node_t *root, ckpt_manifest *m) {
    const char *format = NULL, *config = NULL;
    int64_t version = 0, world = 0, zero = 0, total = 0, count = 0;
    yaml_node_t *data = get(c, root, "data"), *shards = NULL;
    int rc = get_str(c, root, "format", &format);
    if (rc == CRATE_OK && (strcmp(format, MANIFEST_FORMAT) || get_int(c, root, "version", 1, &version) ||
                           version > MANIFEST_VERSION))
        return crate_fail(CRATE_EINPUT, "%s: not a %s manifest of version 1 to %d (a newer crate wrote it?)",
                          c->where, MANIFEST_FORMAT, MANIFEST_VERSION);
    m->version = (int)version;
    if (rc || get_int(c, root, "step", 0, &m->step) || get_int(c, root, "world_size", 1, &world) ||
        get_int(c, root, "zero", 0, &zero) || get_int(c, root, "param_count", 0, &count) ||
        get_int(c, root, "total", 0, &total) || get_int(c, data, "seed", 0, &m->seed) ||
        get_int(c, data, "global_batch", 1, &m->global_batch) || get_int(c, data, "samples_seen", 0, &m->samples_seen) ||
        get_str(c, root, "config", &config) || get_seq(c, root, "shards", &shards, &m->nshards))
        return CRATE_EINPUT;
    /* Bounds before anything is sized from them: 2^40 floats (4 TiB) per
     * layout is far above any model and keeps every byte count in range. */
    if (world > CKPT_MAX_WORLD || total > (int64_t)CKPT_TOTAL_MAX || zero > 1)
        return crate_fail(CRATE_EINPUT, "%s: world_size %lld, total %lld or zero %lld is out of range (at most %d, "
                          "%llu, 1): the manifest is damaged or was edited", c->where, (long long)world,
                          (long long)total, (long long)zero, CKPT_MAX_WORLD, (unsigned long long)CKPT_TOTAL_MAX);
    /* The data cursor is written as step × global_batch (DESIGN §7). */
    if (m->step > INT64_MAX / m->global_batch || m->samples_seen != m->step * m->global_batch)
        return crate_fail(CRATE_EINPUT, "%s: data.samples_seen %lld is not step %lld x global_batch %lld: the "
                          "manifest is damaged or was edited", c->where, (long long)m->samples_seen,
                          (long long)m->step, (long long)m->global_batch);
    m->world = (int)world, m->zero = (int)zero, m->total = (uint64_t)total, m->param_count = (uint64_t)count;
    m->config = strdup(config);
    m->shards = crate_calloc((size_t)m->nshards + 1, sizeof *m->shards, "manifest shards");
    if (!m->config || !m->shards) return CRATE_EINTERNAL;
    if ((rc = parse_sections(c, root, m)) || (rc = parse_tensor_list(c, root, &m->tensors, &m->ntensors)) ||
        (rc = parse_buffers(c, root, m)) || (rc = parse_files(c, root, m)))
        return rc;
    for (int i = 0; i < m->nshards; i++) {
        if (parse_shard(c, item(c, shards, i), &m->shards[i])) return CRATE_EINPUT;
        m->shards[i].info.version = m->version == 1 ? 1u : 2u;
    }
    if (m->nshards != m->world)
        return crate_fail(CRATE_EINPUT, "%s: %d shards listed for world_size %d", c->where, m->nshards, m->world);
    if (m->total % (uint64_t)m->world || m->buffer_total % (uint64_t)m->world)
        return crate_fail(CRATE_EINPUT, "%s: total %llu or buffers.total %llu is not a multiple of world_size %d",
                          c->where, (unsigned long long)m->total, (unsigned long long)m->buffer_total, m->world);
    if ((rc = check_tensors(c, "tensors", m->tensors, m->ntensors, m->total, m->param_count)) ||
        (rc = check_tensors(c, "buffers.tensors", m->buffer_tensors, m->nbuffer_tensors, m->buffer_total, 0)))
        return rc;
    for (int i = 0; i < m->nshards; i++) {
        ckpt_range r = ckpt_manifest_range(m, 0, i);
        if (m->shards[i].lo != r.lo || m->shards[i].hi != r.hi)
            return crate_fail(CRATE_EINPUT, "%s: shard %d holds [%llu, %llu); for %d ranks over total %llu it must "
                              "hold [%llu, %llu) (the shard table does not tile the parameters)", c->where, i,
                              (unsigned long long)m->shards[i].lo, (unsigned long long)m->shards[i].hi, m->world,
                              (unsigned long long)m->total, (unsigned long long)r.lo, (unsigned long long)r.hi);
    }
    return CRATE_OK;
}

ckpt_range ckpt_manifest_range(const ckpt_manifest *m, int s, int r) {
    uint64_t chunk = (m->sections[s].buffer_layout ? m->buffer_total : m->total) / (uint64_t)m->world;
    return (ckpt_range){(uint64_t)r * chunk, (uint64_t)(r + 1) * chunk};
}

int ckpt_manifest_section(const ckpt_manifest *m, const char *name) {
    for (int s = 0; s < m->nsections; s++)
        if (strcmp(m->sections[s].name, name) == 0) return s;
    return -1;
}

const ckpt_file_entry *ckpt_manifest_file(const ckpt_manifest *m, const char *name) {
    for (int i = 0; i < m->nfiles; i++)
        if (strcmp(m->files[i].name, name) == 0) return &m->files[i];
    return NULL;
}

const ckpt_tensor *ckpt_manifest_tensor(const ckpt_manifest *m, const char *name) {
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

int ckpt_manifest_copy_tensors(const ckpt_manifest *m, const float *vec, param_store *ps, int *lacking) {
    for (int id = 0; id < ps->count; id++) {
        const param_tensor *t = &ps->tensors[id];
        const ckpt_tensor *src = ckpt_manifest_tensor(m, t->name);
        *lacking = !src;
        if (!src || src->ndim != t->ndim || memcmp(src->shape, t->shape, (size_t)t->ndim * sizeof t->shape[0]))
            return id;
        memcpy(param_data(ps, id), vec + src->offset, t->numel * sizeof(float));
    }
    return -1;
}

/* The checksum line, if the text ends with one (*sealed), checked against
 * the text before it. */
static int check_checksum(const char *text, size_t len, const char *where, int *sealed) {
    const size_t key = strlen(CHECKSUM_KEY);
    size_t end = len > 0 && text[len - 1] == '\n' ? len - 1 : len, start = end;
    while (start > 0 && text[start - 1] != '\n') start--;
    *sealed = end - start >= key && !memcmp(text + start, CHECKSUM_KEY, key);
    if (!*sealed) return CRATE_OK;
    char digits[16] = {0};
    unsigned stored = 0;
    int n = 0;
    if (end - start != key + 10 || text[start + key] != '"' || text[end - 1] != '"')
        return crate_fail(CRATE_EINPUT, "%s: the last line, %.*s, is not %s\"8 hex digits\": damaged", where,
                          (int)(end - start < 64 ? end - start : 64), text + start, CHECKSUM_KEY);
    memcpy(digits, text + start + key + 1, 8);
    if (sscanf(digits, "%8x%n", &stored, &n) != 1 || n != 8)
        return crate_fail(CRATE_EINPUT, "%s: the checksum '%s' is not 8 hex digits: damaged", where, digits);
    uint32_t actual = crc32_update(0, text, start);
    if (actual != stored)
        return crate_fail(CRATE_EINPUT, "%s: the manifest's text does not match its checksum (crc32 %08x, its last "
                          "line says %08x): it was edited or damaged. An edited step, size or config would resume a "
                          "run that never happened; use an intact copy, or an earlier step folder", where, actual,
                          stored);
    return CRATE_OK;
}

int ckpt_manifest_parse(ckpt_manifest *m, const char *text, size_t len, const char *where) {
    memset(m, 0, sizeof *m);
    int sealed;
    int rc = check_checksum(text, len, where, &sealed);
    if (rc != CRATE_OK) return rc;
    yaml_parser_t p;
    doc_ctx c = {.where = where};
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &c.doc)) {
        rc = crate_fail(CRATE_EINPUT, "%s:%lu: not valid YAML (%s): truncated or damaged", where,
                        (unsigned long)p.problem_mark.line + 1, p.problem ? p.problem : "unknown problem");
        yaml_parser_delete(&p);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&c.doc);
    rc = root ? parse_root(&c, root, m) : crate_fail(CRATE_EINPUT, "%s: empty manifest", where);
    if (rc == CRATE_OK && m->version >= 3 && !sealed)
        rc = crate_fail(CRATE_EINPUT, "%s: version %d ends with a '%s' line, this one has none: truncated or "
                        "edited", where, m->version, CHECKSUM_KEY "\"...\"");
    yaml_document_delete(&c.doc);
    yaml_parser_delete(&p);
    return rc;
}

void ckpt_manifest_free(ckpt_manifest *m) {
    free(m->config);
    free(m->tensors);
    free(m->buffer_tensors);
    free(m->shards);
    free(m->files);
    memset(m, 0, sizeof *m);
}
