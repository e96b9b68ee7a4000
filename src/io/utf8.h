/* utf8.h — is it UTF-8 text? The check every reader of user text makes
 * (labelled text folders, data/labelled_text.h) before the bytes reach
 * SentencePiece, which would silently turn what it cannot decode into unk.
 *
 * Well-formed means RFC 3629: the shortest form of each code point, no
 * surrogates (U+D800…U+DFFF), nothing above U+10FFFF. A NUL byte counts as
 * not text: it ends C strings, and no text file holds one.
 */
#ifndef CRATE_UTF8_H
#define CRATE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1…4) of the well-formed sequence at p (< end), or 0 if it is not
 * one (NUL included). */
size_t utf8_sequence(const unsigned char *p, const unsigned char *end);

/* 1 if data[0, n) is UTF-8 text; else 0, with *offset the first bad byte and
 * *line its 1-based line. */
int utf8_valid_text(const char *data, size_t n, size_t *offset, uint64_t *line);

#endif
