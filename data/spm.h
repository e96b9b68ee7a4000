/* spm.h — SentencePiece behind a small C API (DESIGN §11): Debian's
 * libsentencepiece 0.1.97 is C++; this header is all the rest of crate sees.
 *
 * Defines spm_model and the functions on it: train a model (unigram or BPE)
 * from text files or from an in-memory iterator, load one from a file or
 * from bytes (the model travels inside token shards and checkpoints as its
 * serialized proto), encode text to ids, decode ids to text, piece <-> id,
 * vocabulary size. Every function returns a crate status with the message
 * set (src/error.h); no C++ exception ever crosses into C.
 *
 * Special ids. A trained model reserves pad, unk, bos and eos at the ids the
 * options give (-1 disables one; unk must exist), and, when mask_piece is
 * set, a user-defined piece for BERT's mask (spm_piece_to_id finds it).
 * Training is deterministic for the same input and options (one thread).
 */
#ifndef CRATE_DATA_SPM_H
#define CRATE_DATA_SPM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spm_model spm_model;

typedef enum { SPM_UNIGRAM = 0, SPM_BPE = 1 } spm_type;

typedef struct {
    spm_type type;
    int vocab_size;
    double character_coverage;  /* 1.0 keeps every character; 0.9995 is SentencePiece's default */
    int byte_fallback;          /* 1: unknown characters become byte pieces, not unk */
    int pad_id, unk_id, bos_id, eos_id;
    const char *mask_piece;     /* e.g. "[MASK]", or NULL */
    int64_t max_sentences;      /* sentences sampled for training (0: all) */
    int hard_vocab_limit;       /* 1: exactly vocab_size pieces, or SentencePiece's "Vocabulary size too
                                   high" error when the text cannot fill them; 0: up to vocab_size */
} spm_train_options;

/* unigram, coverage 1.0, no byte fallback, pad 0, unk 1, bos 2, eos 3, "[MASK]",
 * all sentences, the exact vocabulary size (hard limit). */
spm_train_options spm_train_options_default(int vocab_size);

/* The next training sentence: returns 1 with *text, *len set (valid until
 * the next call), 0 when there are no more; any other value is a failure
 * whose message the callback set with crate_fail. */
typedef int (*spm_next_fn)(void *ctx, const char **text, size_t *len);

int spm_train_files(spm_model **out, const char *const *files, int nfiles, const spm_train_options *opt);
int spm_train_iter(spm_model **out, spm_next_fn next, void *ctx, const spm_train_options *opt);

int spm_load_file(spm_model **out, const char *path);
int spm_load_bytes(spm_model **out, const void *bytes, size_t len);
/* The serialized model (malloc'd, *len bytes): what spm_load_bytes reads. */
int spm_serialize(const spm_model *m, char **bytes, size_t *len);

/* ids (malloc'd, *n of them) of text[0, len). */
int spm_encode(const spm_model *m, const char *text, size_t len, int32_t **ids, size_t *n);
/* text (malloc'd, NUL-terminated, *len bytes) of ids; an id outside the
 * vocabulary is an error. */
int spm_decode(const spm_model *m, const int32_t *ids, size_t n, char **text, size_t *len);

int spm_vocab_size(const spm_model *m);
/* The id of a piece, or -1 when the model has no such piece. */
int spm_piece_to_id(const spm_model *m, const char *piece);
/* The piece of an id (valid as long as the model), or NULL out of range. */
const char *spm_id_to_piece(const spm_model *m, int id);
/* The special ids of the model (-1: it has none). */
int spm_unk_id(const spm_model *m);
int spm_bos_id(const spm_model *m);
int spm_eos_id(const spm_model *m);
int spm_pad_id(const spm_model *m);

void spm_free(spm_model *m);

#ifdef __cplusplus
}
#endif

#endif
