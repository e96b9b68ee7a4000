/* fortunes.c — Debian's fortunes as a labelled train/test split (see
 * fortunes.h).
 *
 * Design. Every category is read (2.8 MB in all on Debian 12) into one
 * labelled_text whose classes are the categories in name order, so each
 * category's texts are one contiguous run of it; the largest are then
 * chosen, split, and written by labelled_text_write, the writer every
 * labelled text folder goes through.
 */
#define _POSIX_C_SOURCE 200809L
#include "data/fortunes.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/sample_order.h"
#include "src/error.h"
#include "src/io/crc32.h"
#include "src/io/fs.h"

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

/* A category's file: not hidden, not strfile's index, not the .u8 edition
 * (read in place of its plain file). */
static int is_category(const struct dirent *e) {
    return e->d_name[0] != '.' && !has_suffix(e->d_name, ".dat") && !has_suffix(e->d_name, ".u8");
}
static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int is_regular(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* In place: a backspace erases the character before it (a whole UTF-8
 * sequence) unless it starts a line, where it is dropped. */
static void render_overstrike(char *s, size_t *n) {
    size_t w = 0;
    for (size_t r = 0; r < *n; r++) {
        if (s[r] != '\b') s[w++] = s[r];
        else if (w > 0 && s[w - 1] != '\n')
            for (w--; w > 0 && ((unsigned char)s[w] & 0xc0) == 0x80; w--) {}
    }
    *n = w;
}

/* Category `name` of source as the next class of all (it may hold no texts). */
static int read_category(labelled_text *all, const char *source, const char *name) {
    char *plain = fs_path_join(source, name), *u8 = NULL;
    if (!plain) return CRATE_EINTERNAL;
    size_t n = strlen(plain);
    u8 = crate_malloc(n + 4, "path");
    if (!u8) {
        free(plain);
        return CRATE_EINTERNAL;
    }
    snprintf(u8, n + 4, "%s.u8", plain);
    const char *path = is_regular(u8) ? u8 : plain;
    char *data = NULL;
    int label, added;
    int st = fs_read_file(path, &data, &n);
    if (!st) {
        render_overstrike(data, &n);
        st = labelled_text_add_class(all, name, &label);
    }
    if (!st) st = labelled_text_parse(all, label, data, n, path, &added);
    free(data);
    free(plain);
    free(u8);
    return st;
}

static int read_source(labelled_text *all, const char *source) {
    struct dirent **names;
    int count = scandir(source, &names, is_category, by_name), st = CRATE_OK;
    if (count < 0) {
        int e = errno;
        return crate_fail(fs_errno_status(e), "%s: cannot list the fortunes: %s; install the fortunes package "
                          "(apt-get install fortunes, or launch/install-deps.sh) or give --source DIR", source,
                          strerror(e));
    }
    for (int i = 0; !st && i < count; i++) {
        char *path = fs_path_join(source, names[i]->d_name);
        if (!path) st = CRATE_EINTERNAL;
        else if (is_regular(path)) st = read_category(all, source, names[i]->d_name);
        free(path);
    }
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
    return st;
}

typedef struct {
    int count, c;
} category_size;

/* More texts first; ties by name (the class index: classes are in name order). */
static int by_size(const void *a, const void *b) {
    const category_size *x = a, *y = b;
    return x->count != y->count ? (x->count < y->count) - (x->count > y->count) : (x->c > y->c) - (x->c < y->c);
}

static int by_index(const void *a, const void *b) {
    const category_size *x = a, *y = b;
    return (x->c > y->c) - (x->c < y->c);
}

/* Class c of all (its texts are all[first, first + n)) into train and test. */
static int split_class(const labelled_text *all, int c, int first, int n, labelled_text *train,
                       labelled_text *test) {
    unsigned char *in_train = crate_calloc((size_t)n, 1, "split");
    const char *name = all->names[c];
    /* The first round(0.8·n) of the permutation of the determinism contract
     * (data/sample_order.h: Fisher–Yates, epoch 0), seeded by this split's
     * seed and the category's name. */
    uint64_t seed = (uint64_t)FORTUNES_SPLIT_SEED << 32 | crc32_update(0, name, strlen(name)), k;
    uint32_t epoch;
    sample_order order = {0};
    int lt, le, n_train = (int)((8LL * n + 5) / 10); /* round(0.8·n), halves up */
    int st = in_train ? sample_order_init(&order, name, seed, (uint64_t)n, 1) : CRATE_EINTERNAL;
    for (int i = 0; !st && i < n_train; i++)
        if (!(st = sample_order_at(&order, (uint64_t)i, &k, &epoch))) in_train[k] = 1;
    sample_order_free(&order);
    if (!st) st = labelled_text_add_class(train, name, &lt);
    if (!st) st = labelled_text_add_class(test, name, &le);
    for (int i = 0; !st && i < n; i++) {
        size_t len;
        const char *text = labelled_text_record(all, first + i, &len);
        st = in_train[i] ? labelled_text_add(train, lt, text, len) : labelled_text_add(test, le, text, len);
    }
    free(in_train);
    return st;
}

static int split(const labelled_text *all, int classes, labelled_text *train, labelled_text *test,
                 const char *source) {
    category_size *size = crate_calloc((size_t)all->classes + 1, sizeof *size, "categories");
    int *first = crate_calloc((size_t)all->classes + 1, sizeof *first, "offsets");
    int st = size && first ? CRATE_OK : CRATE_EINTERNAL, nonempty = 0;
    for (int c = 0; !st && c < all->classes; c++) size[c].c = c;
    for (int i = 0; !st && i < all->count; i++)
        if (size[all->label[i]].count++ == 0) first[all->label[i]] = i;
    for (int c = 0; !st && c < all->classes; c++) nonempty += size[c].count > 0;
    if (!st && classes > nonempty)
        st = crate_fail(CRATE_EINPUT, "--classes %d: %s has only %d categories with texts; give --classes %d or "
                        "fewer", classes, source, nonempty, nonempty);
    if (!st) {
        qsort(size, (size_t)all->classes, sizeof *size, by_size);
        qsort(size, (size_t)classes, sizeof *size, by_index); /* the chosen, back in name order */
    }
    for (int k = 0; !st && k < classes; k++)
        st = split_class(all, size[k].c, first[size[k].c], size[k].count, train, test);
    free(size);
    free(first);
    return st;
}

int fortunes_prepare(const char *source, const char *out_dir, int classes, fortunes_result *r) {
    memset(r, 0, sizeof *r);
    if (classes < 2) return crate_fail(CRATE_EINPUT, "--classes %d: a probe needs at least 2 classes", classes);
    labelled_text all;
    labelled_text_init(&all);
    int st = read_source(&all, source);
    r->categories = all.classes;
    r->texts = all.count;
    if (!st) st = split(&all, classes, &r->train, &r->test, source);
    labelled_text_free(&all);
    char about[512], *train_dir = fs_path_join(out_dir, "train"), *test_dir = fs_path_join(out_dir, "test");
    if (!st && (!train_dir || !test_dir)) st = CRATE_EINTERNAL;
    if (!st) st = fs_mkdir_p(out_dir);
    snprintf(about, sizeof about, "crate-data fortunes: the train split (80%%) of the %d largest categories of %.300s",
             classes, source);
    if (!st) st = labelled_text_write(&r->train, train_dir, about);
    snprintf(about, sizeof about, "crate-data fortunes: the test split (20%%) of the %d largest categories of %.300s",
             classes, source);
    if (!st && (st = labelled_text_write(&r->test, test_dir, about))) {
        char msg[2048]; /* neither split without the other */
        snprintf(msg, sizeof msg, "%s", crate_errmsg());
        fs_remove_tree(train_dir);
        crate_errmsg_set(msg);
    }
    free(train_dir);
    free(test_dir);
    if (st) fortunes_result_free(r);
    return st;
}

void fortunes_result_free(fortunes_result *r) {
    labelled_text_free(&r->train);
    labelled_text_free(&r->test);
}
