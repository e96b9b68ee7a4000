/* kjv.c — the King James Bible from bible-kjv, one document per chapter (see
 * kjv.h).
 *
 * Design. bible is run through popen and its whole output (4.3 MB) read into
 * memory; its exit status is checked (127 from the shell: not installed).
 * The parser is a line-by-line state machine that accepts exactly the
 * structure kjv.h describes and names the line of anything else.
 */
#define _POSIX_C_SOURCE 200809L
#include "data/kjv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "src/error.h"
#include "src/io/fs.h"

#define KJV_FIX "crate-data kjv reads the output of bible-kjv 4.x; reinstall bible-kjv and bible-kjv-text"

typedef struct {
    const char *s;
    size_t n;
} span;

/* A growing buffer: the chapter being assembled. */
typedef struct {
    char *p;
    size_t n, cap;
} buf;

static int buf_put(buf *b, const char *s, size_t n) {
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->n < n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return crate_fail(CRATE_EINTERNAL, "out of memory for a chapter");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return CRATE_OK;
}

/* Appends the words of s, separated by single spaces (a space first if the
 * verse already has text). */
static int buf_put_words(buf *b, span s, int continued) {
    size_t i = 0;
    while (i < s.n) {
        while (i < s.n && s.s[i] == ' ') i++;
        size_t j = i;
        while (j < s.n && s.s[j] != ' ') j++;
        if (j > i) {
            if (continued && buf_put(b, " ", 1)) return CRATE_EINTERNAL;
            if (buf_put(b, s.s + i, j - i)) return CRATE_EINTERNAL;
            continued = 1;
        }
        i = j;
    }
    return CRATE_OK;
}

/* Parses "<digits>" at s[i..], returning the value (0 if none) and moving i. */
static long parse_number(span s, size_t *i) {
    long v = 0;
    size_t start = *i;
    while (*i < s.n && s.s[*i] >= '0' && s.s[*i] <= '9' && *i - start < 6) v = v * 10 + (s.s[(*i)++] - '0');
    return *i > start ? v : 0;
}

/* "<book> <chapter>": the book (letters, digits, spaces) and the number. */
static int parse_heading(span l, span *book, long *chapter) {
    size_t sp = l.n;
    while (sp > 0 && l.s[sp - 1] != ' ') sp--;
    if (sp < 2 || sp == l.n || !((l.s[0] >= 'A' && l.s[0] <= 'Z') || (l.s[0] >= '1' && l.s[0] <= '3'))) return 0;
    for (size_t i = 0; i + 1 < sp; i++) {
        char c = l.s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ')) return 0;
    }
    size_t i = sp;
    *chapter = parse_number(l, &i);
    if (i != l.n || *chapter < 1) return 0;
    *book = (span){l.s, sp - 1};
    return 1;
}

static span line_at(const char *text, size_t n, size_t off) {
    size_t e = off;
    while (e < n && text[e] != '\n') e++;
    return off < n ? (span){text + off, e - off} : (span){"", 0};
}

static int bad_line(uint64_t line, span l, const char *what) {
    char shown[64];
    size_t k = l.n < sizeof shown - 1 ? l.n : sizeof shown - 1;
    for (size_t i = 0; i < k; i++) shown[i] = l.s[i] >= 0x20 && l.s[i] < 0x7f ? l.s[i] : '?';
    shown[k] = '\0';
    return crate_fail(CRATE_EINPUT, "the output of `%s`, line %" PRIu64 ": %s (\"%s\"); " KJV_FIX, KJV_COMMAND, line,
                      what, shown);
}

int kjv_parse(const char *text, size_t n, text_corpus *c, kjv_stats *stats) {
    memset(stats, 0, sizeof *stats);
    stats->source_bytes = n;
    buf ch = {0};
    char book[64] = "";
    long chapter = 0, verse = 0;
    int in_chapter = 0, st = CRATE_OK;
    int prev_blank = 1;
    uint64_t line = 0;
    for (size_t off = 0; !st && off < n;) {
        span l = line_at(text, n, off);
        size_t next = off + l.n + 1;
        line++;
        span nl = line_at(text, n, next);
        span bk;
        long num;
        if (l.n == 0) {
            prev_blank = 1;
        } else if (prev_blank && nl.n == 0 && l.s[0] != ' ' && parse_heading(l, &bk, &num)) {
            if (in_chapter && verse == 0) st = bad_line(line, l, "a chapter without verses ends here");
            if (!st && in_chapter) st = text_corpus_add(c, ch.p, ch.n);
            int same = bk.n == strlen(book) && !memcmp(bk.s, book, bk.n);
            if (!st && num != (same ? chapter + 1 : 1))
                st = bad_line(line, l, same ? "chapters out of order" : "a book that does not start at chapter 1");
            if (!st && !same) {
                if (bk.n >= sizeof book) st = bad_line(line, l, "a book name too long");
                else {
                    memcpy(book, bk.s, bk.n);
                    book[bk.n] = '\0';
                    stats->books++;
                }
            }
            chapter = num;
            verse = 0;
            in_chapter = 1;
            stats->chapters++;
            ch.n = 0;
            if (!st) st = buf_put(&ch, l.s, l.n);
            prev_blank = 0;
        } else if (l.n > 2 && l.s[0] == ' ' && l.s[1] == ' ' && l.s[2] >= '1' && l.s[2] <= '9') {
            size_t i = 2;
            num = parse_number(l, &i);
            if (!in_chapter) st = bad_line(line, l, "a verse before the first chapter heading");
            else if (i >= l.n || l.s[i] != ' ' || num != verse + 1) st = bad_line(line, l, "verses out of order");
            verse = num;
            stats->verses++;
            if (!st) st = buf_put(&ch, "\n", 1);
            if (!st) st = buf_put_words(&ch, (span){l.s + i, l.n - i}, 0);
            prev_blank = 0;
        } else if (l.s[0] != ' ' && !prev_blank) {
            if (verse == 0) st = bad_line(line, l, "text between a heading and its first verse");
            else st = buf_put_words(&ch, l, 1); /* a wrapped verse goes on */
        } else {
            st = bad_line(line, l, "neither a chapter heading, a verse nor a verse's continuation");
        }
        off = next;
    }
    if (!st && in_chapter && verse == 0) st = crate_fail(CRATE_EINPUT, "the last chapter has no verses; " KJV_FIX);
    if (!st && in_chapter) st = text_corpus_add(c, ch.p, ch.n);
    free(ch.p);
    return st;
}

int kjv_read(text_corpus *c, kjv_stats *stats) {
    memset(stats, 0, sizeof *stats);
    double t0 = fs_now();
    fflush(NULL); /* nothing buffered may be written twice by the child */
    FILE *f = popen(KJV_COMMAND, "r");
    if (!f) return crate_fail(CRATE_EINTERNAL, "cannot run `%s`", KJV_COMMAND);
    char *out = NULL;
    size_t n = 0, cap = 0;
    int st = CRATE_OK;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 1 << 22;
            char *p = realloc(out, cap);
            if (!p) {
                st = crate_fail(CRATE_EINTERNAL, "out of memory reading the output of `%s`", KJV_COMMAND);
                break;
            }
            out = p;
        }
        size_t k = fread(out + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    int status = pclose(f);
    if (!st) {
        if (status == -1)
            st = crate_fail(CRATE_EINTERNAL, "`%s`: cannot collect its exit status", KJV_COMMAND);
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            st = crate_fail(CRATE_EINPUT, "`%s`: the bible command is not installed; install bible-kjv (apt-get "
                            "install bible-kjv, or launch/install-deps.sh)", KJV_COMMAND);
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            st = crate_fail(CRATE_EINPUT, "`%s` failed (%s %d); reinstall bible-kjv and bible-kjv-text", KJV_COMMAND,
                            WIFEXITED(status) ? "exit status" : "signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        else if (n == 0)
            st = crate_fail(CRATE_EINPUT, "`%s` printed nothing; reinstall bible-kjv and bible-kjv-text",
                            KJV_COMMAND);
    }
    double seconds = fs_now() - t0;
    if (!st) st = kjv_parse(out, n, c, stats);
    if (!st && (stats->books != KJV_BOOKS || stats->chapters != KJV_CHAPTERS || stats->verses != KJV_VERSES))
        st = crate_fail(CRATE_EINPUT, "`%s` printed %d books, %d chapters and %" PRIu64 " verses; the King James "
                        "Bible has %d, %d and %d; " KJV_FIX, KJV_COMMAND, stats->books, stats->chapters,
                        stats->verses, KJV_BOOKS, KJV_CHAPTERS, KJV_VERSES);
    stats->seconds = seconds;
    free(out);
    return st;
}
