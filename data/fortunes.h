/* fortunes.h — labelled short texts from Debian's fortunes package (DESIGN
 * §11): `crate-data fortunes OUT_DIR` writes the largest categories as
 * labelled text folders (data/labelled_text.h), a train and a test split.
 *
 * Defines fortunes_prepare. The source folder holds one file per category
 * (/usr/share/games/fortunes/<category>, %-separated, the labelled text
 * format) beside strfile's index (<category>.dat, skipped). Where a
 * <category>.u8 exists it is read instead: fortune-mod ships it as the UTF-8
 * edition of a file that may be Latin-1 (on Debian 12 it is a symlink to the
 * plain file, which is UTF-8 already). Overstriking (nroff's underline
 * "_\by", bold "y\by", accents "'\be") is rendered as a terminal shows it:
 * a backspace erases the character before it on its line.
 *
 * The classes are the `classes` categories with the most texts (ties: by
 * name). The split is stratified: a category of n texts puts round(0.8·n)
 * in train and the rest in test: the first round(0.8·n) of a fixed
 * permutation of its texts, the epoch-0 permutation of data/sample_order.h
 * (Fisher–Yates on Philox, purpose RNG_PERMUTE) with the seed
 * FORTUNES_SPLIT_SEED·2³² + crc32(category name), so a category's split
 * depends on its own texts alone, not on which others are chosen; both
 * splits keep the source's order. The same source gives the same bytes.
 */
#ifndef CRATE_DATA_FORTUNES_H
#define CRATE_DATA_FORTUNES_H

#include "data/labelled_text.h"

#define FORTUNES_SOURCE "/usr/share/games/fortunes"
#define FORTUNES_DEFAULT_CLASSES 10
/* "fort" in ASCII: a seed of this split only, never a run's. */
#define FORTUNES_SPLIT_SEED 0x666f7274u

typedef struct {
    int categories;           /* in the source */
    int texts;                /* in all its categories */
    labelled_text train, test; /* what was written: classes and records */
} fortunes_result;

/* Writes out_dir/train and out_dir/test (out_dir created if needed; each
 * replaced only if it is a labelled text folder a writer made). If test
 * cannot be written, train is removed too: the two are one split. */
int fortunes_prepare(const char *source, const char *out_dir, int classes, fortunes_result *r);
void fortunes_result_free(fortunes_result *r);

#endif
