/* labelled_text.c — labelled text folders (see labelled_text.h).
 *
 * Design. A set's records are a text_corpus (one growing buffer, a start and
 * length per record) plus a label each, so a record is a pointer and a
 * length wherever it goes (the tokenizer, the writer). Class files are read whole (fortune files
 * are at most a few hundred KB) and parsed line by line. The writer builds
 * each class file in memory and writes it synced; the folder is committed by
 * one rename.
 */
#define _POSIX_C_SOURCE 200809L
#include "data/labelled_text.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/error.h"
#include "src/io/fs.h"
#include "src/io/utf8.h"

#define FOLDER_FIX                                                                                              \
    "a labelled text folder holds one file per class, each of texts separated by lines that are exactly %% "  \
    "(crate-data fortunes OUT_DIR writes OUT_DIR/train and OUT_DIR/test)"

void labelled_text_init(labelled_text *t) { memset(t, 0, sizeof *t); }

void labelled_text_free(labelled_text *t) {
    for (int c = 0; c < t->classes; c++) free(t->names[c]);
    free(t->names);
    text_corpus_free(&t->records);
    free(t->label);
    memset(t, 0, sizeof *t);
}

int labelled_text_add_class(labelled_text *t, const char *name, int *label) {
    if (t->classes >= LABELLED_TEXT_MAX_CLASSES)
        return crate_fail(CRATE_EINPUT, "class '%s' would be class %d: a labelled text set holds at most %d classes",
                          name, t->classes + 1, LABELLED_TEXT_MAX_CLASSES);
    if (t->classes == t->cap_classes) {
        int n = t->cap_classes ? t->cap_classes * 2 : 16;
        char **p = realloc(t->names, (size_t)n * sizeof *p);
        if (!p) return crate_fail(CRATE_EINTERNAL, "out of memory for %d class names", n);
        t->names = p;
        t->cap_classes = n;
    }
    size_t n = strlen(name);
    char *copy = crate_malloc(n + 1, "class name");
    if (!copy) return CRATE_EINTERNAL;
    memcpy(copy, name, n + 1);
    t->names[t->classes] = copy;
    *label = t->classes++;
    return CRATE_OK;
}

int labelled_text_add(labelled_text *t, int label, const char *text, size_t len) {
    if (label < 0 || label >= t->classes) /* labels index names: the probes trust them */
        return crate_fail(CRATE_EINTERNAL, "a text of label %d added to a set of %d classes (a caller bug)", label,
                          t->classes);
    if (t->count == t->cap_labels) {
        if (t->cap_labels > INT32_MAX / 2)
            return crate_fail(CRATE_EINPUT, "more than %d texts: too many for a probe", t->cap_labels);
        int n = t->cap_labels ? t->cap_labels * 2 : 256;
        int *y = realloc(t->label, (size_t)n * sizeof *y);
        if (!y) return crate_fail(CRATE_EINTERNAL, "out of memory for %d texts", n);
        t->label = y;
        t->cap_labels = n;
    }
    int st = text_corpus_add(&t->records, text, len);
    if (st) return st;
    t->label[t->count++] = label;
    return CRATE_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* The record data[from, to) (trailing white space dropped) if it is not
 * empty; it starts on line `line`. */
static int add_record(labelled_text *t, int label, const char *data, size_t from, size_t to, uint64_t line,
                      const char *path, int *added) {
    while (to > from && is_space(data[to - 1])) to--;
    if (to == from) return CRATE_OK;
    if (to - from > LABELLED_TEXT_MAX_RECORD)
        return crate_fail(CRATE_EINPUT, "%s: the text that starts at line %" PRIu64 " has %zu bytes, more than the "
                          "%d a text may have: are the texts separated by lines that are exactly %%?", path, line,
                          to - from, LABELLED_TEXT_MAX_RECORD);
    (*added)++;
    return labelled_text_add(t, label, data + from, to - from);
}

int labelled_text_parse(labelled_text *t, int label, const char *data, size_t n, const char *path, int *added) {
    *added = 0;
    if (n >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) data += 3, n -= 3; /* a byte-order mark */
    size_t bad;
    uint64_t bad_line;
    if (!utf8_valid_text(data, n, &bad, &bad_line))
        return crate_fail(CRATE_EINPUT, "%s: line %" PRIu64 ", byte %zu: %s; labelled texts are UTF-8: convert the "
                          "file (e.g. iconv -f LATIN1 -t UTF-8) or leave it out", path, bad_line, bad,
                          data[bad] ? "not valid UTF-8" : "a NUL byte");
    size_t from = 0; /* the current record's first byte */
    uint64_t line = 1, from_line = 1;
    int st = CRATE_OK;
    for (size_t i = 0; !st && i < n; line++) {
        const char *nl = memchr(data + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - data) : n, k = e - i;
        if (data[i] == '%' && (k == 1 || (k == 2 && data[i + 1] == '\r'))) {
            st = add_record(t, label, data, from, i, from_line, path, added);
            from = e + 1;
            from_line = line + 1;
        }
        i = e + 1;
    }
    if (!st && from < n) st = add_record(t, label, data, from, n, from_line, path, added);
    return st;
}

static int not_hidden(const struct dirent *e) { return e->d_name[0] != '.'; }
static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Class file `name` of dir into t. */
static int read_class(labelled_text *t, const char *dir, const char *name) {
    char *path = fs_path_join(dir, name);
    if (!path) return CRATE_EINTERNAL;
    struct stat sb;
    int st = CRATE_OK, label, added = 0;
    if (stat(path, &sb) != 0) {
        int e = errno;
        st = crate_fail(fs_errno_status(e), "%s: cannot read: %s", path, strerror(e));
    } else if (S_ISDIR(sb.st_mode)) {
        st = crate_fail(CRATE_EINPUT, "%s is a folder, not a class file; " FOLDER_FIX ": give a folder of class "
                        "files (%s itself?)", path, path);
    } else if (!S_ISREG(sb.st_mode)) {
        st = crate_fail(CRATE_EINPUT, "%s is not a regular file; " FOLDER_FIX, path);
    }
    char *data = NULL;
    size_t n = 0;
    if (!st) st = fs_read_file(path, &data, &n);
    if (!st) st = labelled_text_add_class(t, name, &label);
    if (!st) st = labelled_text_parse(t, label, data, n, path, &added);
    if (!st && added == 0)
        st = crate_fail(CRATE_EINPUT, "%s: no texts (the file is empty, or holds only %% lines and white space); "
                        "every class needs texts: fill it or remove it", path);
    free(data);
    free(path);
    return st;
}

int labelled_text_read(labelled_text *t, const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        int e = errno;
        return crate_fail(fs_errno_status(e), "%s: cannot open the labelled text folder: %s; " FOLDER_FIX, dir,
                          strerror(e));
    }
    if (!S_ISDIR(sb.st_mode)) return crate_fail(CRATE_EINPUT, "%s is not a folder; " FOLDER_FIX, dir);
    struct dirent **names;
    int count = scandir(dir, &names, not_hidden, by_name);
    if (count < 0) {
        int e = errno;
        return crate_fail(fs_errno_status(e), "%s: cannot list the folder: %s", dir, strerror(e));
    }
    int st = count ? CRATE_OK : crate_fail(CRATE_EINPUT, "%s holds no class files; " FOLDER_FIX, dir);
    if (count > LABELLED_TEXT_MAX_CLASSES) /* before reading any */
        st = crate_fail(CRATE_EINPUT, "%s holds %d files, more than the %d classes a labelled text folder may have: "
                        "each file is a class; " FOLDER_FIX, dir, count, LABELLED_TEXT_MAX_CLASSES);
    for (int i = 0; !st && i < count; i++) st = read_class(t, dir, names[i]->d_name);
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
    if (st) labelled_text_free(t);
    return st;
}

int labelled_text_same_classes(const labelled_text *train, const char *train_dir, const labelled_text *test,
                               const char *test_dir) {
    /* Both name lists are sorted: walk them together to the first difference. */
    int i = 0, j = 0;
    while (i < train->classes && j < test->classes && !strcmp(train->names[i], test->names[j])) i++, j++;
    if (i == train->classes && j == test->classes) return CRATE_OK;
    int only_train = j == test->classes || (i < train->classes && strcmp(train->names[i], test->names[j]) < 0);
    return crate_fail(CRATE_EINPUT, "class '%s' is in %s but not in %s (%d and %d classes): a test set is scored "
                      "against its train set's classes, so both folders need files of the same names",
                      only_train ? train->names[i] : test->names[j], only_train ? train_dir : test_dir,
                      only_train ? test_dir : train_dir, train->classes, test->classes);
}

int labelled_text_class_count(const labelled_text *t, int label) {
    int n = 0;
    for (int i = 0; i < t->count; i++) n += t->label[i] == label;
    return n;
}

/* ---- writing ------------------------------------------------------------------ */

/* OK if the writer may clear or replace dir: it does not exist, or it is a
 * folder of regular files that is empty or holds the marker. *exists says
 * whether it does. */
static int check_ours(const char *dir, int *exists) {
    struct stat sb;
    *exists = 0;
    if (lstat(dir, &sb) != 0) {
        int e = errno;
        return e == ENOENT ? CRATE_OK : crate_fail(fs_errno_status(e), "%s: cannot stat: %s", dir, strerror(e));
    }
    if (!S_ISDIR(sb.st_mode))
        return crate_fail(CRATE_EINPUT, "%s exists and is not a folder; remove it or choose another OUT_DIR", dir);
    *exists = 1;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return crate_fail(fs_errno_status(e), "%s: cannot list: %s", dir, strerror(e));
    }
    int any = 0, marked = 0, st = CRATE_OK;
    struct dirent *ent;
    while (!st && (ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        char *p = fs_path_join(dir, ent->d_name);
        if (!p) st = CRATE_EINTERNAL;
        else if (lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
            st = crate_fail(CRATE_EINPUT, "%s exists and holds %s, which is not a class file; it is not a labelled "
                            "text folder crate-data wrote: remove it or choose another OUT_DIR", dir, ent->d_name);
        free(p);
        any = 1;
        marked |= !strcmp(ent->d_name, LABELLED_TEXT_MARKER);
    }
    closedir(d);
    if (!st && any && !marked)
        st = crate_fail(CRATE_EINPUT, "%s exists and has no %s: it is not a labelled text folder crate-data wrote, "
                        "so it is not replaced; remove it or choose another OUT_DIR", dir, LABELLED_TEXT_MARKER);
    return st;
}

/* Deletes the files of a folder check_ours accepted, then the folder. */
static int remove_ours(const char *dir) {
    int st = fs_remove_tree(dir);
    return st ? crate_fail_context(st, "replacing %s", dir) : CRATE_OK;
}

/* Class `label`'s records, each followed by "\n%\n" (malloc'd in *out). */
static int class_file(const labelled_text *t, int label, char **out, size_t *n) {
    size_t bytes = 0, len;
    for (int i = 0; i < t->count; i++)
        if (t->label[i] == label) bytes += t->records.len[i] + 3;
    char *p = crate_malloc(bytes ? bytes : 1, "class file");
    if (!p) return CRATE_EINTERNAL;
    size_t at = 0;
    for (int i = 0; i < t->count; i++) {
        if (t->label[i] != label) continue;
        const char *text = labelled_text_record(t, i, &len);
        memcpy(p + at, text, len);
        memcpy(p + at + len, "\n%\n", 3);
        at += len + 3;
    }
    *out = p;
    *n = bytes;
    return CRATE_OK;
}

static int write_into(const labelled_text *t, const char *partial, const char *about) {
    char *marker = fs_path_join(partial, LABELLED_TEXT_MARKER);
    int st = marker ? CRATE_OK : CRATE_EINTERNAL;
    /* The marker first: from then on a partial folder a crash leaves is recognizably ours. */
    size_t n = strlen(about);
    char *line = st ? NULL : crate_malloc(n + 1, "marker");
    if (!st && !line) st = CRATE_EINTERNAL;
    if (!st) {
        memcpy(line, about, n);
        line[n] = '\n';
        st = fs_write_file_synced(marker, line, n + 1);
    }
    free(line);
    free(marker);
    for (int c = 0; !st && c < t->classes; c++) {
        char *data = NULL, *path = fs_path_join(partial, t->names[c]);
        size_t n = 0;
        st = path ? class_file(t, c, &data, &n) : CRATE_EINTERNAL;
        if (!st) st = fs_write_file_synced(path, data, n);
        free(data);
        free(path);
    }
    if (!st) fs_sync_dir(partial);
    return st;
}

int labelled_text_write(const labelled_text *t, const char *dir, const char *about) {
    for (int c = 0; c < t->classes; c++) {
        const char *s = t->names[c];
        if (!s[0] || s[0] == '.' || strchr(s, '/') || strlen(s) > 255)
            return crate_fail(CRATE_EINPUT, "class name '%s' is not a file name a labelled text folder can hold "
                              "(empty, starting with '.', with a '/', or longer than 255 bytes)", s);
    }
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    char *target = crate_malloc(n + 1, "path"), *partial = crate_malloc(n + 9, "path");
    int st = target && partial ? CRATE_OK : CRATE_EINTERNAL, exists = 0, partial_exists = 0, made = 0;
    if (!st) {
        memcpy(target, dir, n);
        target[n] = '\0';
        snprintf(partial, n + 9, "%s.partial", target);
        st = check_ours(target, &exists);
    }
    if (!st) st = check_ours(partial, &partial_exists); /* a crash's leftover is cleared */
    if (!st && partial_exists) st = remove_ours(partial);
    if (!st && mkdir(partial, 0755) != 0) {
        int e = errno;
        st = crate_fail(fs_errno_status(e), "cannot create %s: %s", partial, strerror(e));
    }
    made = !st;
    if (!st) st = write_into(t, partial, about);
    if (!st && exists) st = remove_ours(target);
    if (!st) st = fs_commit_rename(partial, target);
    if (st && made) { /* keep the message of the failure, not of the clean-up */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", crate_errmsg());
        fs_remove_tree(partial);
        crate_errmsg_set(msg);
    }
    free(target);
    free(partial);
    return st;
}
