/* safetensors_read.c — see safetensors_read.h. The header is read by a
 * recursive descent over the one document shape the format allows (object of
 * tensor objects and a metadata object) on top of json_scan.h; each tensor is
 * checked against its dtype, shape and the data section as soon as its entry
 * closes, and the checks across tensors (unique names, no overlaps) run once
 * the header is read, by sorting, so a header of a million entries costs
 * n log n, not n². */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC */
#include "src/io/safetensors_read.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/error.h"
#include "src/io/fs.h"
#include "src/io/json_scan.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors_read.c copies little-endian F32 data straight into floats: port it before building on a big-endian host"
#endif

#define ST_HEADER_MAX 100000000 /* the reference reader's limit on N */

/* ---- dtypes -------------------------------------------------------------- */

/* Every dtype of the format and its width in bits: sizes are checked for all
 * of them, so a file that also holds, say, an I64 step counter still opens. */
static const struct {
    const char *name;
    unsigned bits;
} dtypes[] = {
    {"BOOL", 8},       {"U8", 8},           {"I8", 8},           {"F8_E5M2", 8},  {"F8_E4M3", 8},
    {"F8_E8M0", 8},    {"F8_E4M3FNUZ", 8},  {"F8_E5M2FNUZ", 8},  {"I16", 16},     {"U16", 16},
    {"F16", 16},       {"BF16", 16},        {"I32", 32},         {"U32", 32},     {"F32", 32},
    {"F64", 64},       {"I64", 64},         {"U64", 64},         {"C64", 64},     {"F4", 4},
    {"F6_E2M3", 6},    {"F6_E3M2", 6},
};

static unsigned dtype_bits(const char *dtype) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtypes[i].name, dtype)) return dtypes[i].bits;
    return 0;
}

/* ---- messages ------------------------------------------------------------ */

/* s for a message: names may hold escaped control characters (even ESC),
 * which must not reach a terminal; they show as '?'. */
static const char *shown(const char *s, char buf[SAFETENSORS_NAME_MAX]) {
    size_t i = 0;
    for (; s[i] && i < SAFETENSORS_NAME_MAX - 1; i++)
        buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}

/* "[d0, d1, ...]" */
static const char *shape_text(const safetensors_entry *e, char buf[256]) {
    size_t n = 0;
    buf[n++] = '[';
    for (int d = 0; d < e->ndim; d++)
        n += (size_t)snprintf(buf + n, 256 - n, d ? ", %lld" : "%lld", (long long)e->shape[d]);
    snprintf(buf + n, 256 - n, "]");
    return buf;
}

/* ---- the header ---------------------------------------------------------- */

typedef struct {
    json_scan js;
    safetensors_file *f;
    int cap, cap_meta, saw_meta;
    uint64_t data_len;
    char context[SAFETENSORS_NAME_MAX + 16];
} parser;

/* A header that is valid JSON but not what safetensors allows there. */
static int header_fail(const parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int header_fail(const parser *p, const char *fmt, ...) {
    char problem[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    return crate_fail(CRATE_EINPUT, "'%s': header byte %zu%s%s%s: %s", p->f->what, json_scan_offset(&p->js),
                      p->js.context ? " (" : "", p->js.context ? p->js.context : "", p->js.context ? ")" : "",
                      problem);
}

static int set_context(parser *p, const char *kind, const char *name) {
    char buf[SAFETENSORS_NAME_MAX];
    snprintf(p->context, sizeof p->context, "%s '%s'", kind, shown(name, buf));
    p->js.context = p->context;
    return CRATE_OK;
}

/* items (of *cap, n used, each `size` bytes) with room for one more, or NULL
 * with the failure recorded. (The header limit keeps n far below INT_MAX.) */
static void *grow(void *items, int *cap, int n, size_t size, const char *what) {
    if (n < *cap) return items;
    int c = *cap ? *cap * 2 : 16;
    void *q = *cap <= INT_MAX / 2 && (size_t)c <= SIZE_MAX / size ? realloc(items, (size_t)c * size) : NULL;
    if (!q) crate_fail(CRATE_EINTERNAL, "'%s': out of memory for %d header entries", what, c);
    else *cap = c;
    return q;
}

static int parse_metadata_entries(parser *p, char *value) {
    safetensors_file *f = p->f;
    char key[SAFETENSORS_NAME_MAX];
    if (p->saw_meta) return header_fail(p, "\"__metadata__\" appears twice");
    p->saw_meta = 1;
    p->js.context = "__metadata__";
    int st = json_scan_expect(&p->js, '{', "'{' (__metadata__ maps strings to strings)");
    if (st || json_scan_accept(&p->js, '}')) return st;
    do {
        if ((st = json_scan_string(&p->js, key, sizeof key, NULL))) return st;
        set_context(p, "metadata key", key);
        if ((st = json_scan_expect(&p->js, ':', "':'"))) return st;
        if (json_scan_peek(&p->js) != '"')
            return header_fail(p, "the value is not a string (safetensors metadata maps strings to strings: store "
                                  "numbers and lists as text)");
        if ((st = json_scan_string(&p->js, value, SAFETENSORS_META_VALUE_MAX, NULL))) return st;
        safetensors_meta_entry *grown = grow(f->meta, &p->cap_meta, f->nmeta, sizeof *f->meta, f->what);
        if (!grown) return CRATE_EINTERNAL;
        f->meta = grown;
        safetensors_meta_entry *m = &f->meta[f->nmeta];
        m->key = strdup(key);
        m->value = strdup(value);
        f->nmeta++; /* counted before the check so that close frees whichever succeeded */
        if (!m->key || !m->value) return crate_fail(CRATE_EINTERNAL, "'%s': out of memory for metadata", f->what);
    } while (json_scan_accept(&p->js, ','));
    return json_scan_expect(&p->js, '}', "',' or '}'");
}

/* Metadata values may be long (a training config as JSON text): their
 * buffer lives on the heap. */
static int parse_metadata(parser *p) {
    char *value = crate_malloc(SAFETENSORS_META_VALUE_MAX, "a metadata value");
    int st = value ? parse_metadata_entries(p, value) : CRATE_EINTERNAL;
    free(value);
    return st;
}

static int parse_shape(parser *p, safetensors_entry *e) {
    int st = json_scan_expect(&p->js, '[', "'[' (a shape is a list of integers)");
    if (st || json_scan_accept(&p->js, ']')) return st;
    do {
        uint64_t d;
        if (e->ndim == SAFETENSORS_MAX_DIMS)
            return header_fail(p, "more than %d dimensions: crate reads tensors of at most %d",
                                  SAFETENSORS_MAX_DIMS, SAFETENSORS_MAX_DIMS);
        if ((st = json_scan_uint(&p->js, &d))) return st;
        e->shape[e->ndim++] = (int64_t)d;
    } while (json_scan_accept(&p->js, ','));
    return json_scan_expect(&p->js, ']', "',' or ']'");
}

static int parse_offsets(parser *p, safetensors_entry *e) {
    int st = json_scan_expect(&p->js, '[', "'[' (data_offsets is [begin, end])");
    if (!st) st = json_scan_uint(&p->js, &e->begin);
    if (!st) st = json_scan_expect(&p->js, ',', "',' (data_offsets is [begin, end])");
    if (!st) st = json_scan_uint(&p->js, &e->end);
    if (!st) st = json_scan_expect(&p->js, ']', "']' (data_offsets is [begin, end])");
    return st;
}

/* Element count and byte size of e against its offsets and the data section. */
static int check_tensor(parser *p, safetensors_entry *e) {
    const char *what = p->f->what;
    char nb[SAFETENSORS_NAME_MAX], sb[256];
    const char *name = shown(e->name, nb);
    unsigned bits = dtype_bits(e->dtype);
    if (!bits)
        return crate_fail(CRATE_EINPUT, "'%s': tensor '%s' has dtype '%s', which is not a safetensors dtype", what,
                          name, e->dtype);
    size_t count = 1;
    int zero = 0;
    for (int d = 0; d < e->ndim; d++) zero |= e->shape[d] == 0;
    for (int d = 0; d < e->ndim && !zero; d++) {
        if (count > SIZE_MAX / (uint64_t)e->shape[d])
            return crate_fail(CRATE_EINPUT, "'%s': tensor '%s': the element count of shape %s overflows", what, name,
                              shape_text(e, sb));
        count *= (size_t)e->shape[d];
    }
    e->count = zero ? 0 : count;
    if (e->count > UINT64_MAX / bits)
        return crate_fail(CRATE_EINPUT, "'%s': tensor '%s': the byte size of %s shape %s overflows", what, name,
                          e->dtype, shape_text(e, sb));
    uint64_t nbits = (uint64_t)e->count * bits;
    if (nbits % 8)
        return crate_fail(CRATE_EINPUT, "'%s': tensor '%s': %zu elements of %s do not fill whole bytes", what, name,
                          e->count, e->dtype);
    if (e->end < e->begin)
        return crate_fail(CRATE_EINPUT, "'%s': tensor '%s': data_offsets [%llu, %llu] end before they begin", what,
                          name, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end - e->begin != nbits / 8)
        return crate_fail(CRATE_EINPUT, "'%s': tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but %s shape %s "
                          "needs %llu", what, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                          (unsigned long long)(e->end - e->begin), e->dtype, shape_text(e, sb),
                          (unsigned long long)(nbits / 8));
    if (e->end > p->data_len)
        return crate_fail(CRATE_EINPUT, "'%s': tensor '%s': data_offsets [%llu, %llu] run past the end of the data "
                          "section (%llu bytes): the file is truncated (copy it again)", what, name,
                          (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)p->data_len);
    return CRATE_OK;
}

/* The entry of tensor `name`: exactly dtype, shape and data_offsets, any order. */
static int parse_tensor(parser *p, const char *name) {
    safetensors_file *f = p->f;
    safetensors_entry *grown = grow(f->entries, &p->cap, f->n, sizeof *f->entries, f->what);
    if (!grown) return CRATE_EINTERNAL;
    f->entries = grown;
    int st;
    safetensors_entry *e = &f->entries[f->n];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    set_context(p, "tensor", name);
    if ((st = json_scan_expect(&p->js, '{', "'{' (a tensor is {\"dtype\", \"shape\", \"data_offsets\"})"))) return st;
    enum { DTYPE = 1, SHAPE = 2, OFFSETS = 4 };
    int seen = 0;
    if (!json_scan_accept(&p->js, '}')) {
        do {
            char field[SAFETENSORS_NAME_MAX], value[SAFETENSORS_NAME_MAX], buf[SAFETENSORS_NAME_MAX];
            if ((st = json_scan_string(&p->js, field, sizeof field, NULL))) return st;
            int which = !strcmp(field, "dtype") ? DTYPE : !strcmp(field, "shape") ? SHAPE
                      : !strcmp(field, "data_offsets") ? OFFSETS : 0;
            if (!which)
                return header_fail(p, "unknown field '%s' (a tensor has exactly dtype, shape and data_offsets)",
                                   shown(field, buf));
            if (seen & which) return header_fail(p, "field '%s' appears twice", field);
            seen |= which;
            if ((st = json_scan_expect(&p->js, ':', "':'"))) return st;
            if (which == SHAPE) st = parse_shape(p, e);
            else if (which == OFFSETS) st = parse_offsets(p, e);
            else if (!(st = json_scan_string(&p->js, value, sizeof value, NULL))) {
                if (strlen(value) >= sizeof e->dtype)
                    return header_fail(p, "dtype '%s' is not a safetensors dtype", shown(value, buf));
                memcpy(e->dtype, value, strlen(value) + 1);
            }
            if (st) return st;
        } while (json_scan_accept(&p->js, ','));
        if ((st = json_scan_expect(&p->js, '}', "',' or '}'"))) return st;
    }
    const char *missing = !(seen & DTYPE) ? "dtype" : !(seen & SHAPE) ? "shape" : !(seen & OFFSETS) ? "data_offsets" : 0;
    if (missing) return header_fail(p, "the tensor is missing its \"%s\"", missing);
    if ((st = check_tensor(p, e))) return st;
    f->n++;
    return CRATE_OK;
}

static int parse_header(parser *p) {
    char key[SAFETENSORS_NAME_MAX];
    int st = json_scan_expect(&p->js, '{', "'{'");
    if (st) return st;
    if (!json_scan_accept(&p->js, '}')) {
        do {
            p->js.context = NULL;
            if ((st = json_scan_string(&p->js, key, sizeof key, NULL))) return st;
            if ((st = json_scan_expect(&p->js, ':', "':'"))) return st;
            st = !strcmp(key, "__metadata__") ? parse_metadata(p) : parse_tensor(p, key);
            if (st) return st;
            p->js.context = NULL;
        } while (json_scan_accept(&p->js, ','));
        if ((st = json_scan_expect(&p->js, '}', "',' or '}'"))) return st;
    }
    if (json_scan_peek(&p->js) != -1)
        return json_scan_fail(&p->js, "trailing bytes after the header object (only whitespace may pad it)");
    return CRATE_OK;
}

/* ---- checks across tensors ----------------------------------------------- */

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_begin(const void *a, const void *b) {
    const safetensors_entry *x = *(const safetensors_entry *const *)a, *y = *(const safetensors_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* No name twice among names[0..n) (sorted in place); kind for the message. */
static int check_unique(const char *what, const char **names, int n, const char *kind) {
    char buf[SAFETENSORS_NAME_MAX];
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_name);
    for (int i = 1; i < n; i++)
        if (!strcmp(names[i - 1], names[i]))
            return crate_fail(CRATE_EINPUT, "'%s': %s '%s' appears twice in the header", what, kind,
                              shown(names[i], buf));
    return CRATE_OK;
}

/* Unique tensor names and metadata keys; no two tensors sharing a byte (empty
 * tensors hold no bytes, so they overlap nothing wherever they point). */
static int check_across(const safetensors_file *f) {
    int m = f->n > f->nmeta ? f->n : f->nmeta;
    const char **names = crate_calloc((size_t)m, sizeof *names, "safetensors names");
    const safetensors_entry **by_begin = crate_calloc((size_t)f->n, sizeof *by_begin, "safetensors offsets");
    int st = names && by_begin ? CRATE_OK : CRATE_EINTERNAL;
    if (!st) {
        for (int i = 0; i < f->n; i++) names[i] = f->entries[i].name;
        st = check_unique(f->what, names, f->n, "tensor");
    }
    if (!st) {
        for (int i = 0; i < f->nmeta; i++) names[i] = f->meta[i].key;
        st = check_unique(f->what, names, f->nmeta, "metadata key");
    }
    int k = 0;
    for (int i = 0; !st && i < f->n; i++)
        if (f->entries[i].end > f->entries[i].begin) by_begin[k++] = &f->entries[i];
    if (!st && k > 1) qsort(by_begin, (size_t)k, sizeof *by_begin, cmp_begin);
    for (int i = 1; !st && i < k; i++) {
        const safetensors_entry *a = by_begin[i - 1], *b = by_begin[i];
        if (a->end > b->begin) {
            char na[SAFETENSORS_NAME_MAX], nb[SAFETENSORS_NAME_MAX];
            st = crate_fail(CRATE_EINPUT, "'%s': tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap in the data "
                            "section", f->what, shown(a->name, na), (unsigned long long)a->begin,
                            (unsigned long long)a->end, shown(b->name, nb), (unsigned long long)b->begin,
                            (unsigned long long)b->end);
        }
    }
    free(names);
    free(by_begin);
    return st;
}

/* ---- files --------------------------------------------------------------- */

/* Parses bytes[0..size), which f takes over (freed on failure too). */
static int parse_owned(safetensors_file *f, unsigned char *bytes, size_t size, const char *what) {
    memset(f, 0, sizeof *f);
    if (!what) what = "safetensors bytes";
    f->bytes = bytes;
    f->size = size;
    f->what = strdup(what);
    int st = f->what ? CRATE_OK : crate_fail(CRATE_EINTERNAL, "out of memory reading '%s'", what);
    uint64_t n = 0;
    if (!st && size < 8)
        st = crate_fail(CRATE_EINPUT, "'%s': %zu bytes is too short for a safetensors file (it starts with an 8-byte "
                        "header length): truncated or not safetensors", what, size);
    for (int i = 7; !st && i >= 0; i--) n = n << 8 | bytes[i];
    if (!st && n > ST_HEADER_MAX)
        st = crate_fail(CRATE_EINPUT, "'%s': header length %llu exceeds the limit of %d bytes: not a safetensors file?",
                        what, (unsigned long long)n, ST_HEADER_MAX);
    else if (!st && n > size - 8)
        st = crate_fail(CRATE_EINPUT, "'%s': header length %llu runs past the end of the file (%zu bytes): truncated "
                        "(copy it again)", what, (unsigned long long)n, size);
    else if (!st && (n == 0 || bytes[8] != '{'))
        st = crate_fail(CRATE_EINPUT, "'%s': the header %s: not a safetensors file?", what,
                        n == 0 ? "is empty" : "does not start with '{'");
    if (!st) {
        parser p = {.f = f, .data_len = size - 8 - n};
        f->data_start = 8 + n;
        json_scan_init(&p.js, bytes + 8, (size_t)n, f->what);
        st = parse_header(&p);
    }
    if (!st) st = check_across(f);
    if (st) safetensors_close(f);
    return st;
}

int safetensors_parse(safetensors_file *f, const unsigned char *bytes, size_t size, const char *what) {
    memset(f, 0, sizeof *f);
    unsigned char *copy = crate_malloc(size, "safetensors bytes");
    if (!copy) return CRATE_EINTERNAL;
    if (size) memcpy(copy, bytes, size);
    return parse_owned(f, copy, size, what);
}

/* Reads exactly size bytes of fd into buf, and checks nothing follows: a file
 * that changes while it is read would otherwise parse as a truncated one. */
static int read_all(int fd, unsigned char *buf, size_t size, const char *path) {
    size_t got = 0;
    while (got <= size) {
        unsigned char extra;
        size_t want = got < size ? size - got : 1;
        if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
        ssize_t r = read(fd, got < size ? buf + got : &extra, want);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return crate_fail(fs_errno_status(errno), "cannot read '%s': %s", path, strerror(errno));
        if (r == 0) break;
        got += (size_t)r;
    }
    if (got != size)
        return crate_fail(CRATE_EINPUT, "'%s' changed size while being read (%zu bytes, then %s): is it still being "
                          "written?", path, size, got < size ? "fewer" : "more");
    return CRATE_OK;
}

int safetensors_open(safetensors_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    /* O_NONBLOCK: a FIFO given as the path must fail the regular-file check,
     * not block the open until some writer appears. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return crate_fail(fs_errno_status(errno), "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    int st = CRATE_OK;
    if (fstat(fd, &sb) != 0) st = crate_fail(fs_errno_status(errno), "cannot stat '%s': %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode)) st = crate_fail(CRATE_EINPUT, "'%s' is not a regular file", path);
    else if ((uint64_t)sb.st_size > SAFETENSORS_FILE_MAX || (uint64_t)sb.st_size > SIZE_MAX)
        st = crate_fail(CRATE_EINPUT, "'%s' is %lld bytes, more than the %llu (16 GiB) crate reads into memory: "
                        "save the weights in several files", path, (long long)sb.st_size,
                        (unsigned long long)SAFETENSORS_FILE_MAX);
    unsigned char *buf = NULL;
    if (!st && !(buf = crate_malloc((size_t)sb.st_size, "safetensors file"))) st = CRATE_EINTERNAL;
    if (!st) st = read_all(fd, buf, (size_t)sb.st_size, path);
    close(fd);
    if (st) {
        free(buf);
        return st;
    }
    return parse_owned(f, buf, (size_t)sb.st_size, path);
}

const safetensors_entry *safetensors_find(const safetensors_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->entries[i].name, name)) return &f->entries[i];
    return NULL;
}

const char *safetensors_meta_get(const safetensors_file *f, const char *key) {
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

/* ---- values -------------------------------------------------------------- */

static float bits_float(uint32_t u) {
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* IEEE binary16 → binary32, exact: every half is a float. */
static float half_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = h >> 10 & 0x1Fu, mant = h & 0x3FFu;
    if (exp == 0) { /* zero or subnormal: mant · 2^−24, exact in float's normal range */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 31) return bits_float(sign | 0x7F800000u | mant << 13); /* inf, NaN keeps its payload */
    return bits_float(sign | (exp + 127 - 15) << 23 | mant << 13);
}

int safetensors_read_f32(const safetensors_file *f, const safetensors_entry *e, float *out) {
    char nb[SAFETENSORS_NAME_MAX];
    int f32 = !strcmp(e->dtype, "F32"), bf16 = !strcmp(e->dtype, "BF16"), f16 = !strcmp(e->dtype, "F16");
    if (!f32 && !bf16 && !f16)
        return crate_fail(CRATE_EINPUT, "'%s': tensor '%s' is %s; crate reads F32, BF16 or F16 as float32: convert it "
                          "(e.g. t.float() in PyTorch) and save again", f->what, shown(e->name, nb), e->dtype);
    size_t width = f32 ? 4 : 2;
    /* Parsing checked this; checked again so an entry from another file (or
     * a modified one) can never read outside the bytes. */
    if (e->end < e->begin || e->end > f->size - f->data_start || e->count > (e->end - e->begin) / width ||
        e->end - e->begin != e->count * width)
        return crate_fail(CRATE_EINTERNAL, "'%s': tensor '%s' is not an entry of this file", f->what,
                          shown(e->name, nb));
    if (e->count == 0) return CRATE_OK;
    const unsigned char *src = f->bytes + f->data_start + e->begin;
    if (f32) {
        memcpy(out, src, e->count * 4);
    } else {
        for (size_t i = 0; i < e->count; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            out[i] = bf16 ? bits_float((uint32_t)h << 16) : half_float(h);
        }
    }
    return CRATE_OK;
}

void safetensors_close(safetensors_file *f) {
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
    free(f->entries);
    free(f->bytes);
    free(f->what);
    memset(f, 0, sizeof *f);
}
