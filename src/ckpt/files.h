/* files.h — named byte blobs attached to a checkpoint (DESIGN §7): what a
 * run needs later besides tensors (a text objective's SentencePiece model,
 * `tokenizer.model`), stored beside the shards so nothing later needs the
 * original file.
 *
 *   <dir>/step-000200/tokenizer.model    the blob's bytes, as given
 *   manifest.yaml:  files: [{name: tokenizer.model, bytes: 238811, crc32: "9a1c03f2"}]
 *
 * Rank 0 writes and fsyncs each blob into step-N.tmp/ before the manifest,
 * so the save protocol of checkpoint.h (manifest last, then the rename)
 * commits them with the shards or not at all. A reader trusts nothing on
 * disk: the manifest's name must be a plain file name, its size is compared
 * with the real file's before anything is allocated, and the bytes are
 * returned only when their crc32 matches.
 */
#ifndef CRATE_CKPT_FILES_H
#define CRATE_CKPT_FILES_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_FILE_MAX 64                 /* name length + 1, of shards and attached files */
#define CKPT_MAX_FILES 16                /* attached files per checkpoint */
#define CKPT_FILE_BYTES_MAX (256u << 20) /* per attached file: blobs, not tensors */

/* A blob to save (the caller owns name and data). */
typedef struct {
    const char *name; /* a plain file name: see ckpt_file_name_problem */
    const void *data;
    size_t bytes;
} ckpt_file;

/* A blob as the manifest lists it. */
typedef struct {
    char name[CKPT_FILE_MAX];
    uint64_t bytes;
    uint32_t crc32; /* of its bytes */
} ckpt_file_entry;

/* NULL if name can be an attached file's, else what is wrong with it (for a
 * message): 1 to CKPT_FILE_MAX − 1 characters of [A-Za-z0-9._+-], not
 * starting with '.', and not a name the checkpoint itself uses
 * (manifest.yaml, manifest.*, shard-*). */
const char *ckpt_file_name_problem(const char *name);

/* f's name (ckpt_file_name_problem) and size (at most CKPT_FILE_BYTES_MAX,
 * with data unless empty); a bad one is the attaching code's bug
 * (CRATE_EINTERNAL). */
int ckpt_file_check(const ckpt_file *f);

/* Writes f into folder dir as dir/f->name, fsynced, and fills *out. Checks
 * f first (ckpt_file_check). */
int ckpt_file_write(const char *dir, const ckpt_file *f, ckpt_file_entry *out);

/* Reads dir/e->name, checking that it is a regular file of e->bytes bytes
 * (before allocating anything) whose crc32 is e->crc32. data NULL: only
 * verifies; else *data is malloc'd (e->bytes bytes and a NUL after them, so
 * text can be used as a string; free with free()), NULL on failure. */
int ckpt_file_read(const char *dir, const ckpt_file_entry *e, void **data);

#endif
