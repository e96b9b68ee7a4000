/* test_labelled_text.c — labelled text folders (data/labelled_text.h) and
 * the UTF-8 check (src/io/utf8.h):
 *   records of a class file: "%" lines separate (also "%\r"), trailing
 *   white space goes, leading stays, empty records are skipped, a "%%" or
 *   "% " line is text, a byte-order mark is dropped, a file may end with or
 *   without a "%" line;
 *   refusals naming the file and line: a record over the byte limit (a file
 *   without separators), invalid UTF-8 (byte and line), a NUL byte;
 *   folders: classes are the regular files sorted by name (labels follow),
 *   hidden names are not classes, a symlink to a file is one; a missing
 *   folder, a file given as the folder, no class files, an empty class and a
 *   subfolder are refused with the path and the fix;
 *   a test set with another class is refused naming the class;
 *   the writer: read(write(set)) is the set, a folder without the marker is
 *   never replaced, one with it is, a crash's .partial is cleared, a
 *   .partial holding a foreign file is left alone and refused, a bad class
 *   name is refused;
 *   utf8_sequence on each kind of ill-formed sequence. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/labelled_text.h"
#include "src/error.h"
#include "src/io/utf8.h"
#include "tests/check.h"

static char tmpdir[] = "/tmp/crate-test-labelled-XXXXXX";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

static void put(const char *dir, const char *name, const char *text, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) fwrite(text, 1, n, f), fclose(f);
}
#define PUT(dir, name, text) put(dir, name, text, sizeof text - 1)

static const char *dir_at(const char *name) {
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static int record_is(const labelled_text *t, int i, const char *want) {
    size_t n;
    const char *s = labelled_text_record(t, i, &n);
    return n == strlen(want) && !memcmp(s, want, n);
}

static int message_has(const char *a, const char *b) {
    const char *m = crate_errmsg();
    return strstr(m, a) && (!b || strstr(m, b));
}

static void test_parse(void) {
    labelled_text t;
    labelled_text_init(&t);
    int label, added;
    labelled_text_add_class(&t, "c", &label);
    static const char text[] = "\xef\xbb\xbf  first line  \nsecond\t \n%\n%\n\n%\r\nthird\r\n%%\n% \n%\nlast";
    int st = labelled_text_parse(&t, label, text, sizeof text - 1, "c", &added);
    CHECK(st == CRATE_OK, "%s", crate_errmsg());
    CHECK(added == 3 && t.count == 3, "added %d count %d", added, t.count);
    CHECK(record_is(&t, 0, "  first line  \nsecond"), "record 0: leading space kept, trailing dropped");
    CHECK(record_is(&t, 1, "third\r\n%%\n%"), "record 1: %%%% and '%% ' lines are text");
    CHECK(record_is(&t, 2, "last"), "record 2: no final separator");
    CHECK(t.label[0] == 0 && t.label[2] == 0, "labels");
    labelled_text_free(&t);

    labelled_text_add_class(&t, "c", &label);
    static const char ends[] = "a\n%\nb\n%\n";
    CHECK(labelled_text_parse(&t, label, ends, sizeof ends - 1, "c", &added) == CRATE_OK && added == 2,
          "a final %% line adds no empty record");
    labelled_text_free(&t);

    char *big = malloc(LABELLED_TEXT_MAX_RECORD + 64);
    int n = snprintf(big, 64, "ok\n%%\n");
    memset(big + n, 'x', LABELLED_TEXT_MAX_RECORD + 1);
    labelled_text_add_class(&t, "c", &label);
    st = labelled_text_parse(&t, label, big, (size_t)n + LABELLED_TEXT_MAX_RECORD + 1, "dir/c", &added);
    CHECK(st == CRATE_EINPUT && message_has("dir/c: the text that starts at line 3", "exactly %"),
          "an oversized record names file and line: %s", crate_errmsg());
    memset(big + n, 'x', LABELLED_TEXT_MAX_RECORD);
    labelled_text_free(&t);
    labelled_text_add_class(&t, "c", &label);
    st = labelled_text_parse(&t, label, big, (size_t)n + LABELLED_TEXT_MAX_RECORD, "dir/c", &added);
    CHECK(st == CRATE_OK && added == 2, "a record of exactly the limit is fine: %s", crate_errmsg());
    free(big);
    labelled_text_free(&t);

    labelled_text_add_class(&t, "c", &label);
    static const char latin[] = "fine\n%\ncaf\xe9\n";
    st = labelled_text_parse(&t, label, latin, sizeof latin - 1, "dir/c", &added);
    CHECK(st == CRATE_EINPUT && message_has("dir/c: line 3, byte 10: not valid UTF-8", "iconv"),
          "Latin-1 is refused with line and byte: %s", crate_errmsg());
    static const char nul[] = "a\0b";
    st = labelled_text_parse(&t, label, nul, sizeof nul - 1, "dir/c", &added);
    CHECK(st == CRATE_EINPUT && message_has("line 1, byte 1: a NUL byte", NULL), "NUL: %s", crate_errmsg());
    labelled_text_free(&t);
}

static void test_folders(void) {
    const char *d = dir_at("set");
    mkdir(d, 0755);
    PUT(d, "beta", "b1\n%\nb2\n%\nb3\n");
    PUT(d, "alpha", "a1\n%\na2\n");
    PUT(d, ".hidden", "not a class");
    char target[512], link[512];
    snprintf(target, sizeof target, "%s/gamma-file", tmpdir);
    PUT(tmpdir, "gamma-file", "g1");
    snprintf(link, sizeof link, "%s/gamma", d);
    CHECK(symlink(target, link) == 0, "symlink");
    labelled_text t;
    labelled_text_init(&t);
    int st = labelled_text_read(&t, d);
    CHECK(st == CRATE_OK, "%s", crate_errmsg());
    CHECK(t.classes == 3 && !strcmp(t.names[0], "alpha") && !strcmp(t.names[1], "beta") &&
              !strcmp(t.names[2], "gamma"), "classes sorted by name, hidden skipped, symlink followed");
    CHECK(t.count == 6 && labelled_text_class_count(&t, 0) == 2 && labelled_text_class_count(&t, 1) == 3 &&
              labelled_text_class_count(&t, 2) == 1, "counts");
    CHECK(t.label[0] == 0 && t.label[2] == 1 && t.label[5] == 2 && record_is(&t, 2, "b1"), "labels follow names");

    labelled_text u;
    labelled_text_init(&u);
    const char *e = dir_at("other");
    mkdir(e, 0755);
    PUT(e, "alpha", "x");
    PUT(e, "beta", "x");
    PUT(e, "delta", "x");
    CHECK(labelled_text_read(&u, e) == CRATE_OK, "%s", crate_errmsg());
    st = labelled_text_same_classes(&t, "TR", &u, "TE");
    CHECK(st == CRATE_EINPUT && message_has("class 'delta' is in TE but not in TR", NULL), "%s", crate_errmsg());
    CHECK(labelled_text_same_classes(&t, "TR", &t, "TE") == CRATE_OK, "a set has its own classes");
    labelled_text_free(&u);
    PUT(e, "gamma", "x");
    unlink(dir_at("other/delta"));
    CHECK(labelled_text_read(&u, e) == CRATE_OK && labelled_text_same_classes(&t, "TR", &u, "TE") == CRATE_OK,
          "the same names match");
    labelled_text_free(&u);
    labelled_text_free(&t);

    st = labelled_text_read(&t, dir_at("missing"));
    CHECK(st == CRATE_EINPUT && message_has("missing: cannot open the labelled text folder", "crate-data fortunes"),
          "%s", crate_errmsg());
    st = labelled_text_read(&t, target);
    CHECK(st == CRATE_EINPUT && message_has("gamma-file is not a folder", NULL), "%s", crate_errmsg());
    const char *empty = dir_at("empty");
    mkdir(empty, 0755);
    PUT(empty, ".only-hidden", "x");
    st = labelled_text_read(&t, empty);
    CHECK(st == CRATE_EINPUT && message_has("empty holds no class files", NULL), "%s", crate_errmsg());
    PUT(empty, "blank", "  \n%\n%\n\t\n");
    st = labelled_text_read(&t, empty);
    CHECK(st == CRATE_EINPUT && message_has("empty/blank: no texts", "fill it or remove it"), "%s", crate_errmsg());
    const char *nest = dir_at("nest");
    mkdir(nest, 0755);
    mkdir(dir_at("nest/train"), 0755);
    st = labelled_text_read(&t, nest);
    CHECK(st == CRATE_EINPUT && message_has("nest/train is a folder, not a class file", NULL), "%s",
          crate_errmsg());
    CHECK(t.count == 0 && t.classes == 0, "a failed read leaves an empty set");
}

static void test_write(void) {
    labelled_text t, r;
    labelled_text_init(&t);
    labelled_text_init(&r);
    int a, b;
    labelled_text_add_class(&t, "one", &a);
    labelled_text_add_class(&t, "two", &b);
    labelled_text_add(&t, b, "  indented\nlines", 16);
    labelled_text_add(&t, a, "first", 5);
    labelled_text_add(&t, b, "%% not a separator", 18);
    labelled_text_add(&t, a, "second", 6);
    const char *out = dir_at("out");
    int st = labelled_text_write(&t, out, "test writer");
    CHECK(st == CRATE_OK, "%s", crate_errmsg());
    CHECK(labelled_text_read(&r, out) == CRATE_OK, "%s", crate_errmsg());
    CHECK(r.classes == 2 && r.count == 4 && labelled_text_class_count(&r, 0) == 2, "the classes come back");
    CHECK(record_is(&r, 0, "first") && record_is(&r, 1, "second") && record_is(&r, 2, "  indented\nlines") &&
              record_is(&r, 3, "%% not a separator"), "read(write(set)) is the set, class by class");
    labelled_text_free(&r);
    struct stat sb;
    CHECK(stat(dir_at("out/" LABELLED_TEXT_MARKER), &sb) == 0, "the marker is there");
    CHECK(stat(dir_at("out.partial"), &sb) != 0, "no .partial left");

    CHECK(labelled_text_write(&t, out, "again") == CRATE_OK, "a folder the writer made is replaced: %s",
          crate_errmsg());
    const char *foreign = dir_at("foreign");
    mkdir(foreign, 0755);
    PUT(foreign, "notes", "mine");
    st = labelled_text_write(&t, foreign, "x");
    CHECK(st == CRATE_EINPUT && message_has("has no " LABELLED_TEXT_MARKER, "not replaced"), "%s", crate_errmsg());
    CHECK(stat(dir_at("foreign/notes"), &sb) == 0, "... and left as it was");

    mkdir(dir_at("out.partial"), 0755);
    PUT(dir_at("out.partial"), LABELLED_TEXT_MARKER, "crash");
    PUT(dir_at("out.partial"), "one", "half");
    CHECK(labelled_text_write(&t, out, "after a crash") == CRATE_OK, "a crash's .partial is cleared: %s",
          crate_errmsg());
    mkdir(dir_at("out.partial"), 0755);
    PUT(dir_at("out.partial"), "keep", "someone's");
    st = labelled_text_write(&t, out, "x");
    CHECK(st == CRATE_EINPUT && message_has("out.partial exists and has no", NULL), "%s", crate_errmsg());
    CHECK(stat(dir_at("out.partial/keep"), &sb) == 0, "a foreign .partial is left alone");

    labelled_text_add_class(&t, ".hidden", &a);
    st = labelled_text_write(&t, dir_at("bad"), "x");
    CHECK(st == CRATE_EINPUT && message_has("class name '.hidden'", NULL), "%s", crate_errmsg());
    labelled_text_free(&t);
}

static void test_utf8(void) {
    struct {
        const char *s;
        size_t n, want;
    } cases[] = {
        {"a", 1, 1},          {"\xc3\xa9", 2, 2},         {"\xe2\x82\xac", 3, 3}, {"\xf0\x9f\x98\x80", 4, 4},
        {"\xc0\xaf", 2, 0},   {"\xe0\x80\xaf", 3, 0},     {"\xed\xa0\x80", 3, 0}, {"\xf4\x90\x80\x80", 4, 0},
        {"\xc3", 1, 0},       {"\xc3\x28", 2, 0},         {"\x80", 1, 0},         {"\xf5\x80\x80\x80", 4, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const unsigned char *p = (const unsigned char *)cases[i].s;
        CHECK(utf8_sequence(p, p + cases[i].n) == cases[i].want, "case %zu", i);
    }
    size_t off;
    uint64_t line;
    CHECK(!utf8_valid_text("ok\nok\n\xff", 7, &off, &line) && off == 6 && line == 3, "offset %zu line %llu", off,
          (unsigned long long)line);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_parse();
    test_folders();
    test_write();
    test_utf8();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish();
}
