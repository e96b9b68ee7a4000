/* doc_windows.h — BERT's input windows over a token dataset (DESIGN §3):
 * windows of T tokens, each a bos id followed by L = T − 1 consecutive
 * tokens of the stream, that start at document boundaries where they can.
 *
 * Defines doc_windows, the table of where each window starts, and the read
 * of one window.
 *
 * The stream (data/token_shard.h) is documents back to back, each led by a
 * bos id. Window k is  [bos] + stream[s_k, s_k + L)  and the starts s_k are
 * laid out greedily from s_0 = 1 (the first document's first token). With
 * q = the first bos at or after s (the end of the document s is in) and
 * e = s + L the window's end, the next start is
 *   q >  e:  e            a long document continues in the next window;
 *            q − L        but when the rest is shorter than a window
 *                         (q − e < L), that last window is shifted back to
 *                         end with the document;
 *   q == e:  q + 1        the document ends with the window: the next starts;
 *   q <  e:  p + 1        the window packs the end of its document and the
 *                         documents after it (their bos ids stay inside it);
 *                         p = the last bos at or before e, so the next window
 *                         starts at the beginning of the document the window
 *                         cut off, or of the one right after it.
 * and the layout stops once s + L would run past the stream, with a last
 * window that ends with it (s = N − L) if the previous one did not. So every
 * token is in some window, documents longer than L are cut into windows
 * without overlap but for their last one, short documents share windows, and
 * a window starts mid-document only inside a document longer than L; the
 * price is the overlap of the shifted and packed windows (7.4% more tokens
 * than the KJV's train chapters hold at T = 128: 8078 windows).
 *
 * Building the table reads the stream once (to find the bos ids); it is
 * 8 bytes per window.
 */
#ifndef CRATE_DATA_DOC_WINDOWS_H
#define CRATE_DATA_DOC_WINDOWS_H

#include <stdint.h>

#include "data/token_shard.h"

typedef struct {
    uint64_t *starts; /* s_k */
    uint64_t count;
    int T;
} doc_windows;

/* The windows of T tokens (2 <= T) of ds; CRATE_EINPUT naming `path` when it
 * has fewer than T tokens. */
int doc_windows_build(doc_windows *w, token_dataset *ds, int T, const char *path);
/* A zeroed table may be passed. */
void doc_windows_free(doc_windows *w);
/* ids (T) = window k < w->count. */
int doc_windows_read(token_dataset *ds, const doc_windows *w, uint64_t k, int32_t *ids);

#endif
