/* config.c — the table-driven YAML config engine (see config.h).
 *
 * A load is four passes over one target struct: every default is parsed into
 * its field, the YAML file (libyaml's document API: the whole tree is small,
 * and nodes keep their start marks for messages) is walked section by
 * section, the overrides are applied in order, and finally every key must
 * have a source. All three inputs go through one value parser, set_value, so
 * a default, a file value and an override of the same text mean the same
 * thing, and a bad default in a schema fails the first load in any test.
 *
 * The sources table is the only state kept after a load: one malloc'd string
 * per key. It doubles as the record of which keys the file already set, which
 * is how duplicate keys are found (libyaml's document API keeps duplicates).
 */
#include "src/config/config.h"

#include "src/error.h"
#include "src/io/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define WHERE_CAP 1024 /* a location quoted inside an error message */
#define LIST_CAP 1024  /* a list of section or key names inside an error message */
#define NUMBER_CAP 32  /* a double in its shortest round-trip form */

static const char FROM_DEFAULT[] = "default";
static const char FROM_COMMAND_LINE[] = "command line";

/* ---- the schema ---- */

static int section_is(const config_key *k, const char *section, size_t seclen) {
    return strlen(k->section) == seclen && memcmp(k->section, section, seclen) == 0;
}

/* 1 if schema[i] is the first key of its section, which is where the section
 * is listed, emitted and described. */
static int first_of_section(const config_key *schema, size_t i) {
    for (size_t j = 0; j < i; j++)
        if (strcmp(schema[j].section, schema[i].section) == 0) return 0;
    return 1;
}

static int section_known(const config_sources *src, const char *section, size_t seclen) {
    for (size_t i = 0; i < src->nkeys; i++)
        if (section_is(&src->schema[i], section, seclen)) return 1;
    return 0;
}

/* Index of section.key; nkeys if there is none. */
static size_t key_index(const config_sources *src, const char *section, size_t seclen, const char *key,
                        size_t keylen) {
    for (size_t i = 0; i < src->nkeys; i++) {
        const config_key *k = &src->schema[i];
        if (section_is(k, section, seclen) && strlen(k->key) == keylen && memcmp(k->key, key, keylen) == 0)
            return i;
    }
    return src->nkeys;
}

/* Index of the key written "section.key" in the first len bytes of name. */
static size_t dotted_index(const config_sources *src, const char *name, size_t len) {
    const char *dot = memchr(name, '.', len);
    if (!dot) return src->nkeys;
    return key_index(src, name, (size_t)(dot - name), dot + 1, len - (size_t)(dot - name) - 1);
}

/* Appends name to a ", "-separated list in buf (silently cut at cap). */
static void list_append(char *buf, size_t cap, const char *name) {
    size_t used = strlen(buf);
    snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", name);
}

static int fail_unknown_section(const config_sources *src, const char *where, const char *section, size_t seclen) {
    char list[LIST_CAP] = "";
    for (size_t i = 0; i < src->nkeys; i++)
        if (first_of_section(src->schema, i)) list_append(list, sizeof list, src->schema[i].section);
    return crate_fail(CRATE_EINPUT, "%s: unknown section '%.*s' (sections: %s)", where, (int)seclen, section, list);
}

/* name is "section.key" (len bytes) whose section, the first seclen bytes, exists. */
static int fail_unknown_key(const config_sources *src, const char *where, const char *name, size_t len,
                            size_t seclen) {
    char list[LIST_CAP] = "";
    for (size_t i = 0; i < src->nkeys; i++)
        if (section_is(&src->schema[i], name, seclen)) list_append(list, sizeof list, src->schema[i].key);
    return crate_fail(CRATE_EINPUT, "%s: unknown key '%.*s' (keys of '%.*s': %s)", where, (int)len, name,
                      (int)seclen, name, list);
}

/* ---- sources ---- */

static int sources_record(config_sources *src, size_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sources_record(config_sources *src, size_t i, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = crate_malloc((size_t)len + 1, "a config source");
    if (!text) return CRATE_EINTERNAL;
    va_start(ap, fmt);
    vsnprintf(text, (size_t)len + 1, fmt, ap);
    va_end(ap);
    free(src->where[i]);
    src->where[i] = text;
    return CRATE_OK;
}

static int set_from_file(const config_sources *src, size_t i) {
    return src->where[i] && strcmp(src->where[i], FROM_DEFAULT) != 0;
}

const char *config_where(const config_sources *sources, const char *name) {
    size_t i = dotted_index(sources, name, strlen(name));
    return i < sources->nkeys && sources->where[i] ? sources->where[i] : "(not a config key)";
}

void config_sources_free(config_sources *sources) {
    for (size_t i = 0; sources->where && i < sources->nkeys; i++) free(sources->where[i]);
    free(sources->where);
    *sources = (config_sources){0};
}

/* ---- values ---- */

/* What to write after '=' for k, as shown in --help. */
static const char *placeholder(const config_key *k) {
    switch (k->type) {
    case CONFIG_INT: return "N";
    case CONFIG_FLOAT: return "X";
    case CONFIG_BOOL: return "true|false";
    case CONFIG_STRING: return "TEXT";
    case CONFIG_ENUM: return k->choices;
    }
    return "?";
}

/* v as text that strtod reads back as exactly v: whole numbers below 2^53 in
 * plain digits (100, not 1e+02), others in the shortest %.Ng form. */
static void format_double(char *buf, size_t cap, double v) {
    if (v == trunc(v) && fabs(v) < 9007199254740992.0) {
        snprintf(buf, cap, "%.0f", v);
        return;
    }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* [+-]digits, optionally e[+]digits; 1 and *v on success, 0 if not such a
 * number or outside int64_t. */
static int parse_int(const char *s, int64_t *v) {
    char *end;
    if (!*s || !strchr("+-0123456789", *s)) return 0; /* strtoll would skip spaces */
    errno = 0;
    long long m = strtoll(s, &end, 10);
    if (end == s || errno) return 0;
    if (*end == 'e' || *end == 'E') {
        const char *e = end + 1 + (end[1] == '+');
        if (*e < '0' || *e > '9') return 0;
        long exponent = strtol(e, &end, 10);
        if (errno) return 0;
        for (; exponent > 0 && m != 0; exponent--) {
            if (m > INT64_MAX / 10 || m < INT64_MIN / 10) return 0;
            m *= 10;
        }
    }
    if (*end) return 0;
    *v = m;
    return 1;
}

static int parse_float(const char *s, double *v) {
    char *end;
    if (isspace((unsigned char)*s)) return 0; /* strtod would skip them */
    *v = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*v);
}

static int parse_bool(const char *s, int *v) {
    static const char *const words[] = {"false", "no", "0", "true", "yes", "1"};
    for (int i = 0; i < 6; i++)
        if (strcasecmp(s, words[i]) == 0) {
            *v = i >= 3;
            return 1;
        }
    return 0;
}

/* The i-th name of "a|b|c" (its length in *len); NULL past the end. */
static const char *choice_at(const char *choices, int i, size_t *len) {
    for (; i > 0 && choices; i--) {
        choices = strchr(choices, '|');
        if (choices) choices++;
    }
    if (!choices) return NULL;
    *len = strcspn(choices, "|");
    return choices;
}

static int choice_index(const char *choices, const char *s) {
    const char *name;
    size_t len;
    for (int i = 0; (name = choice_at(choices, i, &len)); i++)
        if (strlen(s) == len && memcmp(name, s, len) == 0) return i;
    return -1;
}

static int check_range(const config_key *k, double v, const char *text, const char *where) {
    if (v >= k->min && v <= k->max) return CRATE_OK;
    char lo[NUMBER_CAP], hi[NUMBER_CAP];
    format_double(lo, sizeof lo, k->min);
    format_double(hi, sizeof hi, k->max);
    return crate_fail(CRATE_EINPUT, "%s: %s.%s: %s is out of range [%s, %s]", where, k->section, k->key, text, lo, hi);
}

/* Parses text as k's type into k's field of out; where names the source in
 * messages. The field is written only when the whole value is valid. */
static int set_value(const config_key *k, void *out, const char *text, const char *where) {
    void *field = (char *)out + k->offset;
    int64_t i;
    double d;
    int b;
    switch (k->type) {
    case CONFIG_INT:
        if (!parse_int(text, &i))
            return crate_fail(CRATE_EINPUT,
                              "%s: %s.%s: expected an integer (a whole number such as 6 or 2e4), got '%s'",
                              where, k->section, k->key, text);
        if (check_range(k, (double)i, text, where)) return CRATE_EINPUT;
        memcpy(field, &i, sizeof i);
        return CRATE_OK;
    case CONFIG_FLOAT:
        if (!parse_float(text, &d))
            return crate_fail(CRATE_EINPUT, "%s: %s.%s: expected a number such as 0.5 or 1e-4, got '%s'", where,
                              k->section, k->key, text);
        if (check_range(k, d, text, where)) return CRATE_EINPUT;
        memcpy(field, &d, sizeof d);
        return CRATE_OK;
    case CONFIG_BOOL:
        if (!parse_bool(text, &b))
            return crate_fail(CRATE_EINPUT, "%s: %s.%s: expected true or false (or yes/no, 1/0), got '%s'", where,
                              k->section, k->key, text);
        memcpy(field, &b, sizeof b);
        return CRATE_OK;
    case CONFIG_STRING:
        if (strlen(text) >= CONFIG_STRING_MAX)
            return crate_fail(CRATE_EINPUT, "%s: %s.%s: the value is %zu bytes, more than the limit of %d; shorten it",
                              where, k->section, k->key, strlen(text), CONFIG_STRING_MAX - 1);
        memcpy(field, text, strlen(text) + 1);
        return CRATE_OK;
    case CONFIG_ENUM:
        b = choice_index(k->choices, text);
        if (b < 0)
            return crate_fail(CRATE_EINPUT, "%s: %s.%s: expected one of %s, got '%s'", where, k->section, k->key,
                              k->choices, text);
        memcpy(field, &b, sizeof b);
        return CRATE_OK;
    }
    return crate_fail(CRATE_EINTERNAL, "config key %s.%s has an unknown type %d", k->section, k->key, (int)k->type);
}

/* ---- defaults, overrides, required keys ---- */

static int apply_defaults(config_sources *src, void *out) {
    for (size_t i = 0; i < src->nkeys; i++) {
        const config_key *k = &src->schema[i];
        if (!k->default_value) continue;
        if (set_value(k, out, k->default_value, FROM_DEFAULT))
            return crate_fail_context(CRATE_EINTERNAL, "bad config schema");
        if (sources_record(src, i, "%s", FROM_DEFAULT)) return CRATE_EINTERNAL;
    }
    return CRATE_OK;
}

static int apply_override(config_sources *src, void *out, const char *arg) {
    const char *eq = strchr(arg, '=');
    if (!eq)
        return crate_fail(CRATE_EINPUT, "command line '%s': expected section.key=value, e.g. model.depth=12", arg);
    char where[WHERE_CAP];
    snprintf(where, sizeof where, "command line '%s'", arg);
    size_t len = (size_t)(eq - arg);
    size_t i = dotted_index(src, arg, len);
    if (i == src->nkeys) {
        size_t seclen = strcspn(arg, ".=");
        if (!section_known(src, arg, seclen)) return fail_unknown_section(src, where, arg, seclen);
        return fail_unknown_key(src, where, arg, len, seclen);
    }
    /* A file's values reach here through libyaml, which refuses what is not
     * UTF-8; a command line's must be checked here, or the resolved config
     * stored in every checkpoint would not load back. */
    size_t bad;
    uint64_t line;
    if (!utf8_valid_text(eq + 1, strlen(eq + 1), &bad, &line))
        return crate_fail(CRATE_EINPUT, "%s: the value is not UTF-8 text (byte %zu, 0x%02x): give the value in UTF-8",
                          where, bad + 1, (unsigned char)eq[1 + bad]);
    int rc = set_value(&src->schema[i], out, eq + 1, where);
    return rc ? rc : sources_record(src, i, "%s", FROM_COMMAND_LINE);
}

static int check_required(const config_sources *src, const char *path) {
    for (size_t i = 0; i < src->nkeys; i++) {
        const config_key *k = &src->schema[i];
        if (!src->where[i])
            return crate_fail(CRATE_EINPUT, "%s: %s.%s is required: set it under '%s:' or pass %s.%s=%s",
                              path ? path : "no config file", k->section, k->key, k->section, k->section, k->key,
                              placeholder(k));
    }
    return CRATE_OK;
}

/* ---- the YAML file ---- */

typedef struct {
    config_sources *src;
    void *out;
    const char *path;
    yaml_document_t doc;
} file_walk;

static const char *node_kind(const yaml_node_t *node) {
    return node->type == YAML_SEQUENCE_NODE ? "a list" : node->type == YAML_MAPPING_NODE ? "a mapping" : "a value";
}

/* "path:line:column" of a node (libyaml counts from 0). */
static void node_where(const file_walk *w, const yaml_node_t *node, char *buf, size_t cap) {
    snprintf(buf, cap, "%s:%zu:%zu", w->path, node->start_mark.line + 1, node->start_mark.column + 1);
}

static int fail_syntax(const yaml_parser_t *parser, const char *path) {
    const char *context = parser->context ? parser->context : "";
    return crate_fail(CRATE_EINPUT, "%s:%zu:%zu: invalid YAML: %s%s%s; fix the syntax there", path,
                      parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                      parser->problem ? parser->problem : "unknown error", *context ? " " : "", context);
}

static int set_from_pair(file_walk *w, const char *section, const yaml_node_pair_t *pair) {
    yaml_node_t *key = yaml_document_get_node(&w->doc, pair->key);
    yaml_node_t *value = yaml_document_get_node(&w->doc, pair->value);
    char where[WHERE_CAP], at[WHERE_CAP];
    node_where(w, key, where, sizeof where);
    if (key->type != YAML_SCALAR_NODE)
        return crate_fail(CRATE_EINPUT, "%s: in section '%s', expected a key name, got %s", where, section,
                          node_kind(key));
    const char *name = (const char *)key->data.scalar.value;
    size_t i = key_index(w->src, section, strlen(section), name, strlen(name));
    if (i == w->src->nkeys) {
        char dotted[WHERE_CAP];
        snprintf(dotted, sizeof dotted, "%s.%s", section, name);
        return fail_unknown_key(w->src, where, dotted, strlen(dotted), strlen(section));
    }
    if (set_from_file(w->src, i))
        return crate_fail(CRATE_EINPUT, "%s: duplicate key '%s.%s' (first set at %s); keep one", where, section, name,
                          w->src->where[i]);
    node_where(w, value, at, sizeof at);
    if (value->type != YAML_SCALAR_NODE)
        return crate_fail(CRATE_EINPUT, "%s: %s.%s: expected a single value, got %s; write '%s: %s' on one line", at,
                          section, name, node_kind(value), name, placeholder(&w->src->schema[i]));
    const char *text = (const char *)value->data.scalar.value;
    if (strlen(text) != value->data.scalar.length)
        return crate_fail(CRATE_EINPUT, "%s: %s.%s: the value contains a NUL character", at, section, name);
    int rc = set_value(&w->src->schema[i], w->out, text, at);
    return rc ? rc : sources_record(w->src, i, "%s", at);
}

static int is_empty_scalar(const yaml_node_t *node) {
    return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           node->data.scalar.length == 0;
}

/* Fails if a pair of root before p names section too (where is p's key). */
static int check_section_once(file_walk *w, const yaml_node_t *root, const yaml_node_pair_t *p,
                              const char *section, const char *where) {
    for (const yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
        yaml_node_t *earlier = yaml_document_get_node(&w->doc, q->key);
        if (earlier->type != YAML_SCALAR_NODE || strcmp((const char *)earlier->data.scalar.value, section) != 0)
            continue;
        char first[WHERE_CAP];
        node_where(w, earlier, first, sizeof first);
        return crate_fail(CRATE_EINPUT, "%s: duplicate section '%s' (first at %s); merge the two", where, section,
                          first);
    }
    return CRATE_OK;
}

/* The section named by root's pair p: known, not seen before in root, a
 * mapping (or empty). */
static int walk_section(file_walk *w, const yaml_node_t *root, const yaml_node_pair_t *p) {
    yaml_node_t *key = yaml_document_get_node(&w->doc, p->key);
    yaml_node_t *value = yaml_document_get_node(&w->doc, p->value);
    char where[WHERE_CAP], at[WHERE_CAP];
    node_where(w, key, where, sizeof where);
    if (key->type != YAML_SCALAR_NODE)
        return crate_fail(CRATE_EINPUT, "%s: expected a section name, got %s", where, node_kind(key));
    const char *section = (const char *)key->data.scalar.value;
    if (!section_known(w->src, section, strlen(section)))
        return fail_unknown_section(w->src, where, section, strlen(section));
    if (check_section_once(w, root, p, section, where)) return CRATE_EINPUT;
    if (is_empty_scalar(value)) return CRATE_OK;
    node_where(w, value, at, sizeof at);
    if (value->type != YAML_MAPPING_NODE)
        return crate_fail(CRATE_EINPUT, "%s: section '%s' must hold indented 'key: value' lines, got %s", at,
                          section, node_kind(value));
    int rc = CRATE_OK;
    const yaml_node_pair_t *end = value->data.mapping.pairs.top;
    for (const yaml_node_pair_t *q = value->data.mapping.pairs.start; rc == CRATE_OK && q < end; q++)
        rc = set_from_pair(w, section, q);
    return rc;
}

static int walk_root(file_walk *w) {
    yaml_node_t *root = yaml_document_get_root_node(&w->doc);
    if (!root || is_empty_scalar(root)) return CRATE_OK; /* an empty file: defaults and overrides only */
    if (root->type != YAML_MAPPING_NODE) {
        char where[WHERE_CAP];
        node_where(w, root, where, sizeof where);
        return crate_fail(CRATE_EINPUT,
                          "%s: expected sections ('model:' followed by indented 'depth: 6' lines), got %s",
                          where, node_kind(root));
    }
    int rc = CRATE_OK;
    const yaml_node_pair_t *end = root->data.mapping.pairs.top;
    for (const yaml_node_pair_t *p = root->data.mapping.pairs.start; rc == CRATE_OK && p < end; p++)
        rc = walk_section(w, root, p);
    return rc;
}

/* After the first document the stream must end. */
static int check_one_document(file_walk *w, yaml_parser_t *parser) {
    yaml_document_t next;
    if (!yaml_parser_load(parser, &next)) return fail_syntax(parser, w->path);
    yaml_node_t *root = yaml_document_get_root_node(&next);
    int rc = CRATE_OK;
    if (root)
        rc = crate_fail(CRATE_EINPUT, "%s:%zu:%zu: a second YAML document starts here; a config is one document",
                        w->path, next.start_mark.line + 1, next.start_mark.column + 1);
    yaml_document_delete(&next);
    return rc;
}

/* A config is sections of keys: the values sit two collections deep. A
 * deeply nested document is refused from libyaml's event stream before its
 * loader builds the tree — on 400 KB of '[' the loader and scanner together
 * take minutes; the events stop at the first collection too deep. */
#define CONFIG_DEPTH_MAX 4
static int check_depth(FILE *f, const char *path) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return crate_fail(CRATE_EINTERNAL, "out of memory starting the YAML parser for '%s'", path);
    yaml_parser_set_input_file(&parser, f);
    int rc = CRATE_OK, depth = 0;
    for (int end = 0; !end && rc == CRATE_OK;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = fail_syntax(&parser, path);
            break;
        }
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) depth++;
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) depth--;
        if (depth > CONFIG_DEPTH_MAX)
            rc = crate_fail(CRATE_EINPUT, "%s:%zu:%zu: nested more than %d levels deep; a config is sections "
                            "('model:') of 'key: value' lines, two levels", path, ev.start_mark.line + 1,
                            ev.start_mark.column + 1, CONFIG_DEPTH_MAX);
        end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    rewind(f);
    return rc;
}

/* Reads one YAML document from f; `path` names it in messages. Closes f. */
static int load_stream(config_sources *src, void *out, FILE *f, const char *path) {
    int rc = check_depth(f, path);
    if (rc != CRATE_OK) {
        fclose(f);
        return rc;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return crate_fail(CRATE_EINTERNAL, "out of memory starting the YAML parser for '%s'", path);
    }
    yaml_parser_set_input_file(&parser, f);
    file_walk w = {.src = src, .out = out, .path = path};
    if (!yaml_parser_load(&parser, &w.doc)) {
        rc = fail_syntax(&parser, path);
    } else {
        rc = walk_root(&w);
        yaml_document_delete(&w.doc);
        if (rc == CRATE_OK) rc = check_one_document(&w, &parser);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* Only a regular file of at most CONFIG_FILE_MAX bytes is read: a folder
 * would reach libyaml as an anonymous "input error", a FIFO would block the
 * start-up forever (O_NONBLOCK makes opening it return at once). */
static int load_file(config_sources *src, void *out, const char *path) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return crate_fail(CRATE_EINPUT, "cannot read config '%s': %s", path, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st) ? crate_fail(CRATE_EINPUT, "cannot read config '%s': %s", path, strerror(errno))
             : S_ISDIR(st.st_mode) ? crate_fail(CRATE_EINPUT, "config '%s' is a folder: give the YAML file, e.g. "
                                               "%s/mae.yaml", path, path)
             : !S_ISREG(st.st_mode) ? crate_fail(CRATE_EINPUT, "config '%s' is not a regular file (a FIFO or "
                                                 "device?): give a YAML file", path)
             : st.st_size > CONFIG_FILE_MAX ? crate_fail(CRATE_EINPUT, "config '%s' is %lld bytes, more than the %d "
                                                        "a config may have: is it the right file?", path,
                                                        (long long)st.st_size, CONFIG_FILE_MAX)
             : CRATE_OK;
    FILE *f = rc == CRATE_OK ? fdopen(fd, "rb") : NULL;
    if (rc == CRATE_OK && !f) rc = crate_fail(CRATE_EINTERNAL, "fdopen '%s': %s", path, strerror(errno));
    if (!f) {
        close(fd);
        return rc;
    }
    return load_stream(src, out, f, path);
}

static int begin_sources(const config_key *schema, size_t nkeys, config_sources *sources) {
    *sources = (config_sources){schema, nkeys, crate_calloc(nkeys, sizeof(char *), "config sources")};
    return sources->where ? CRATE_OK : CRATE_EINTERNAL;
}

int config_load_text(const config_key *schema, size_t nkeys, void *out, const char *text, const char *name,
                     config_sources *sources) {
    if (begin_sources(schema, nkeys, sources) != CRATE_OK) return CRATE_EINTERNAL;
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    int rc = f ? apply_defaults(sources, out) : crate_fail(CRATE_EINTERNAL, "fmemopen: %s", strerror(errno));
    if (rc == CRATE_OK) rc = load_stream(sources, out, f, name);
    else if (f) fclose(f);
    if (rc == CRATE_OK) rc = check_required(sources, name);
    if (rc != CRATE_OK) config_sources_free(sources);
    return rc;
}

int config_load(const config_key *schema, size_t nkeys, void *out, const char *path, int noverrides,
                char **overrides, config_sources *sources) {
    if (begin_sources(schema, nkeys, sources) != CRATE_OK) return CRATE_EINTERNAL;
    int rc = apply_defaults(sources, out);
    if (rc == CRATE_OK && path) rc = load_file(sources, out, path);
    for (int i = 0; rc == CRATE_OK && i < noverrides; i++) rc = apply_override(sources, out, overrides[i]);
    if (rc == CRATE_OK) rc = check_required(sources, path);
    if (rc != CRATE_OK) config_sources_free(sources);
    return rc;
}

/* ---- output ---- */

/* 1 if code point u may stand raw in a double-quoted scalar and be read
 * back as itself by libyaml: its printable set (0x20-0x7E, U+00A0-
 * U+D7FF, U+E000-U+FFFD but the byte order mark U+FEFF, above U+FFFF; YAML
 * 1.1 §5.1) less the line breaks NEL, LS and PS (U+0085, U+2028, U+2029),
 * which a quoted scalar folds, and tab, which it trims next to a fold. */
static int yaml_raw_ok(uint32_t u) {
    if (u == 0x2028 || u == 0x2029) return 0;
    return (u >= 0x20 && u <= 0x7e) || (u >= 0xa0 && u <= 0xd7ff) ||
           (u >= 0xe000 && u <= 0xfffd && u != 0xfeff) || u >= 0x10000;
}

/* The code point of the well-formed UTF-8 sequence p[0, n) (utf8_sequence). */
static uint32_t utf8_code_point(const unsigned char *p, size_t n) {
    static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    uint32_t u = p[0] & lead_mask[n];
    for (size_t i = 1; i < n; i++) u = u << 6 | (p[i] & 0x3f);
    return u;
}

/* A double-quoted YAML scalar that libyaml reads back as s (UTF-8: file
 * values come through libyaml, overrides are checked): '"' and '\' escaped,
 * every code point outside libyaml's printable set as \xXX or \uXXXX. */
static void emit_string(FILE *out, const char *s) {
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    fputc('"', out);
    while (p < end) {
        size_t n = utf8_sequence(p, end);
        if (n == 0) n = 1; /* not reached for checked strings; written as the byte's code point */
        uint32_t u = n == 1 ? p[0] : utf8_code_point(p, n);
        if (u == '"' || u == '\\')
            fprintf(out, "\\%c", (int)u);
        else if (!yaml_raw_ok(u))
            fprintf(out, u <= 0xff ? "\\x%02x" : "\\u%04x", (unsigned)u);
        else
            fwrite(p, 1, n, out);
        p += n;
    }
    fputc('"', out);
}

static int emit_value(FILE *out, const config_key *k, const void *cfg) {
    const void *field = (const char *)cfg + k->offset;
    char number[NUMBER_CAP];
    int64_t i;
    double d;
    int e;
    size_t len;
    switch (k->type) {
    case CONFIG_INT:
        memcpy(&i, field, sizeof i);
        fprintf(out, "%lld", (long long)i);
        return CRATE_OK;
    case CONFIG_FLOAT:
        memcpy(&d, field, sizeof d);
        format_double(number, sizeof number, d);
        fputs(number, out);
        return CRATE_OK;
    case CONFIG_BOOL:
        memcpy(&e, field, sizeof e);
        fputs(e ? "true" : "false", out);
        return CRATE_OK;
    case CONFIG_STRING:
        emit_string(out, field);
        return CRATE_OK;
    case CONFIG_ENUM:
        memcpy(&e, field, sizeof e);
        const char *name = e >= 0 ? choice_at(k->choices, e, &len) : NULL;
        if (!name)
            return crate_fail(CRATE_EINTERNAL, "config %s.%s holds %d, not an index into %s", k->section, k->key, e,
                              k->choices);
        fprintf(out, "%.*s", (int)len, name);
        return CRATE_OK;
    }
    return crate_fail(CRATE_EINTERNAL, "config key %s.%s has an unknown type %d", k->section, k->key, (int)k->type);
}

int config_emit_yaml(const config_key *schema, size_t nkeys, const void *cfg, FILE *out) {
    for (size_t i = 0; i < nkeys; i++) {
        if (!first_of_section(schema, i)) continue;
        fprintf(out, "%s:\n", schema[i].section);
        for (size_t j = i; j < nkeys; j++) {
            if (strcmp(schema[j].section, schema[i].section) != 0) continue;
            fprintf(out, "  %s: ", schema[j].key);
            if (emit_value(out, &schema[j], cfg)) return CRATE_EINTERNAL;
            fputc('\n', out);
        }
    }
    if (ferror(out)) return crate_fail(CRATE_EINTERNAL, "writing the config: %s", strerror(errno));
    return CRATE_OK;
}

char *config_to_yaml(const config_key *schema, size_t nkeys, const void *cfg) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        crate_fail(CRATE_EINTERNAL, "cannot open a memory stream for the config: %s", strerror(errno));
        return NULL;
    }
    int rc = config_emit_yaml(schema, nkeys, cfg, out);
    if (fclose(out) != 0 && rc == CRATE_OK)
        rc = crate_fail(CRATE_EINTERNAL, "writing the config to memory: %s", strerror(errno));
    if (rc != CRATE_OK) {
        free(text);
        return NULL;
    }
    return text;
}

static void print_key_help(FILE *out, const config_key *k) {
    char name[128], lo[NUMBER_CAP], hi[NUMBER_CAP], kind[2 * NUMBER_CAP + 16];
    snprintf(name, sizeof name, "%s.%s=%s", k->section, k->key, placeholder(k));
    if (k->type == CONFIG_INT || k->type == CONFIG_FLOAT) {
        format_double(lo, sizeof lo, k->min);
        format_double(hi, sizeof hi, k->max);
        snprintf(kind, sizeof kind, "%s in [%s, %s]", k->type == CONFIG_INT ? "integer" : "number", lo, hi);
    } else {
        snprintf(kind, sizeof kind, "%s",
                 k->type == CONFIG_STRING ? "string" : k->type == CONFIG_BOOL ? "bool" : "choice");
    }
    const char *quote = k->type == CONFIG_STRING ? "\"" : "";
    if (k->default_value)
        fprintf(out, "  %-32s %s, default %s%s%s\n", name, kind, quote, k->default_value, quote);
    else
        fprintf(out, "  %-32s %s, required\n", name, kind);
    fprintf(out, "      %s\n", k->help);
}

void config_print_help(FILE *out, const config_key *schema, size_t nkeys) {
    for (size_t i = 0; i < nkeys; i++) {
        if (!first_of_section(schema, i)) continue;
        fprintf(out, "%s:\n", schema[i].section);
        for (size_t j = i; j < nkeys; j++)
            if (strcmp(schema[j].section, schema[i].section) == 0) print_key_help(out, &schema[j]);
    }
}
