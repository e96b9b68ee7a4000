/* kjv.h — the King James Bible as documents (DESIGN §11): Debian's bible-kjv
 * prints it, one document per chapter.
 *
 * Defines kjv_read (run `bible` and parse what it prints) and kjv_parse.
 *
 * The output of `bible gen1:1-rev22:21` (bible-kjv 4.x) is, per chapter, a
 * blank line, a heading "Genesis 1", a blank line, then the verses: a verse
 * starts with two spaces, its number and a space, and wraps onto lines that
 * start without a space. A chapter becomes the document
 *
 *     Genesis 1
 *     In the beginning God created the heaven and the earth.
 *     And the earth was without form, and void; and darkness was upon …
 *
 * the heading line, then one verse per line without its number (numbers are
 * the line order), wrapped lines joined and runs of spaces made single. The
 * parser checks the structure as it goes (headings between blank lines,
 * chapter numbers 1, 2, … within a book, verse numbers 1, 2, … within a
 * chapter) and the totals against the KJV's 66 books, 1189 chapters and
 * 31102 verses, so a changed output format is an error, not a silently
 * different dataset.
 */
#ifndef CRATE_DATA_KJV_H
#define CRATE_DATA_KJV_H

#include <stddef.h>
#include <stdint.h>

#include "data/text_corpus.h"

#define KJV_COMMAND "bible gen1:1-rev22:21"
#define KJV_BOOKS 66
#define KJV_CHAPTERS 1189
#define KJV_VERSES 31102

typedef struct {
    int books, chapters;
    uint64_t verses;
    uint64_t source_bytes;  /* what bible printed */
    double seconds;         /* running it */
} kjv_stats;

/* Runs KJV_COMMAND and appends its chapters to c. CRATE_EINPUT if bible is
 * not installed ("install bible-kjv"), fails, prints something else, or not
 * the whole KJV (the totals above). */
int kjv_read(text_corpus *c, kjv_stats *stats);

/* Parses text[0, n), output in the format of KJV_COMMAND (all of it or some
 * chapters), appending one document per chapter to c and counting books,
 * chapters and verses in stats. */
int kjv_parse(const char *text, size_t n, text_corpus *c, kjv_stats *stats);

#endif
