/* labelled_text.h — labelled short texts: a folder with one file per class.
 * What `crate-probe --text-train DIR --text-test DIR` reads and `crate-data
 * fortunes` writes; users bring their own texts in the same form.
 *
 * Defines labelled_text (the records of a set as a text_corpus, their labels
 * and the class names, in memory), the record parser of one class file, the folder reader,
 * the check that a test set has its train set's classes, and the writer.
 *
 * A class file holds records separated by lines that are exactly "%" (the
 * format of fortune(6); a "%" line ended by \r\n separates too, for files
 * from Windows). A record is the text between two separator lines, or
 * between one and the start or end of the file, with its trailing white
 * space (space, \t, \n, \r, \f, \v) removed; empty records are skipped, so a
 * file may end with a "%" line or not and may hold "%" lines back to back.
 * Leading white space is kept (indented verse is indented). The file is
 * UTF-8 text (a leading byte-order mark is dropped); an invalid sequence or a
 * NUL byte is an error naming the file, line and byte. A record holds at most
 * LABELLED_TEXT_MAX_RECORD bytes: far beyond what a model's context window
 * takes (a probe keeps only the first T tokens), so a longer one is nearly
 * always a file whose separators are missing, and is an error naming the
 * line where it starts.
 *
 * A folder's classes are its regular files (a symlink to one counts),
 * sorted by name in byte order: class c, label c, is the c-th name. Names
 * that start with '.' are not classes (LABELLED_TEXT_MARKER, editors' and
 * file managers' files). Anything else in the folder (a subfolder) is an
 * error, as are a folder without classes, one of more than
 * LABELLED_TEXT_MAX_CLASSES, and a class without records: each message
 * names the path and what to do.
 *
 * The writer puts a set into a folder in the same form (every record
 * followed by "\n%\n", the classes' records in the set's order), so reading
 * what it wrote gives the set back. It writes DIR.partial/, fsyncs every file
 * and the folder, then renames it to DIR; DIR.partial/ and DIR/ carry
 * LABELLED_TEXT_MARKER, and a writer replaces or clears only a folder that
 * holds the marker (or nothing) and regular files: never a folder it did not
 * write.
 */
#ifndef CRATE_DATA_LABELLED_TEXT_H
#define CRATE_DATA_LABELLED_TEXT_H

#include <stddef.h>

#include "data/text_corpus.h"

#define LABELLED_TEXT_MAX_RECORD 65536
/* Classes of a set: labels 0 … 65535, what the probes take (a class is a
 * row of the classifier and a column of every score table). */
#define LABELLED_TEXT_MAX_CLASSES 65536
#define LABELLED_TEXT_MARKER ".crate-labelled-text"

typedef struct {
    int classes;
    char **names;        /* (classes) */
    int count;           /* records */
    text_corpus records; /* record i is document i */
    int *label;          /* (count) in [0, classes) */
    int cap_labels, cap_classes;
} labelled_text;

/* An empty set (a zeroed one is empty too). */
void labelled_text_init(labelled_text *t);
void labelled_text_free(labelled_text *t);

/* Appends a class named `name`; *label is its index. */
int labelled_text_add_class(labelled_text *t, const char *name, int *label);
/* Appends one record of class `label` (a class added before: in [0, classes)),
 * text[0, len) (len <= LABELLED_TEXT_MAX_RECORD). */
int labelled_text_add(labelled_text *t, int label, const char *text, size_t len);
/* Appends the records of data[0, n), the contents of the class file `path`
 * (named in messages), as class `label`; *added counts them. */
int labelled_text_parse(labelled_text *t, int label, const char *data, size_t n, const char *path, int *added);
/* Reads the folder dir into an empty set. */
int labelled_text_read(labelled_text *t, const char *dir);
/* CRATE_OK if test has exactly train's class names, else CRATE_EINPUT naming
 * a class only one of them has. */
int labelled_text_same_classes(const labelled_text *train, const char *train_dir, const labelled_text *test,
                               const char *test_dir);
/* Records of class `label`. */
int labelled_text_class_count(const labelled_text *t, int label);
/* Writes t to dir as described above; `about` (one line: what wrote it,
 * from what) goes into the marker. Class names must be usable file names
 * that do not start with '.'. */
int labelled_text_write(const labelled_text *t, const char *dir, const char *about);

/* Record i: *len bytes at the returned pointer (not NUL-terminated). */
static inline const char *labelled_text_record(const labelled_text *t, int i, size_t *len) {
    *len = t->records.len[i];
    return t->records.text + t->records.start[i];
}

#endif
