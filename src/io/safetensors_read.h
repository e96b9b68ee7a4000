/* safetensors_read.h — reads safetensors files (the format of Hugging Face's
 * `safetensors`, written by crate's safetensors.h or by PyTorch's
 * safetensors.torch.save_file) to import weights (init.from=FILE.safetensors).
 * Every byte is untrusted: the file may be damaged, truncated or crafted.
 *
 * Layout: u64 little-endian N; N bytes of UTF-8 JSON, a single object
 *   {"__metadata__":{"key":"value",...},
 *    "name":{"dtype":"F32","shape":[d0,d1,...],"data_offsets":[begin,end]},...}
 * optionally followed by whitespace (writers pad with spaces); then the data
 * section: the rest of the file. Offsets are bytes from the start of the data
 * section, [begin, end).
 *
 * Checks, each failing with CRATE_EINPUT: the file holds at least 8 bytes;
 * N ≤ 100 000 000 (the reference reader's limit), N ≤ size − 8, N > 0 and the
 * header starts with '{'. The JSON is strict (json_scan.h): valid UTF-8, no
 * raw control characters in strings, no lone surrogates or \u0000, integers
 * without sign, leading zero, fraction or exponent and at most 2^53, nothing
 * but whitespace after the object. "__metadata__" (optional, at most once)
 * maps strings to strings; every other key is a tensor with exactly the fields
 * dtype (a dtype of the format: BOOL U8 I8 F8_* I16 U16 F16 BF16 I32 U32 F32
 * F64 I64 U64 C64 and the sub-byte F4 F6_*), shape (at most
 * SAFETENSORS_MAX_DIMS integers) and data_offsets ([begin, end]). No name,
 * metadata key or field appears twice; names and keys are at most
 * SAFETENSORS_NAME_MAX − 1 bytes, metadata values SAFETENSORS_META_VALUE_MAX − 1. For each tensor Π shape does not overflow,
 * begin ≤ end ≤ the data section's length and end − begin is exactly what the
 * dtype and shape need. No two tensors share a byte. Unlike the reference
 * reader, holes in the data section (bytes no tensor covers) are accepted:
 * they are harmless, and rejecting them buys no safety.
 *
 * Values are converted only on request (safetensors_read_f32): F32 as it is,
 * BF16 and F16 exactly; other dtypes parse but do not read as floats.
 *
 * Errors name the file, the tensor or key and what is wrong, with a hint at a
 * fix where there is one; out of memory is CRATE_EINTERNAL.
 */
#ifndef CRATE_SAFETENSORS_READ_H
#define CRATE_SAFETENSORS_READ_H

#include <stddef.h>
#include <stdint.h>

#define SAFETENSORS_MAX_DIMS 8
#define SAFETENSORS_NAME_MAX 256 /* longest tensor name or metadata key accepted, incl. NUL; longer: error */
#define SAFETENSORS_META_VALUE_MAX (1u << 20) /* longest metadata value, incl. NUL */
#define SAFETENSORS_FILE_MAX ((uint64_t)16 << 30) /* 16 GiB: the whole file is read into memory */

typedef struct {
    char name[SAFETENSORS_NAME_MAX];
    char dtype[16];         /* as in the file, e.g. "F32" */
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    uint64_t begin, end;    /* byte offsets in the data section */
    size_t count;           /* elements: product of shape (1 for ndim 0) */
} safetensors_entry;

typedef struct {
    char *key, *value;      /* malloc'd strings */
} safetensors_meta_entry;

typedef struct {
    int n;
    safetensors_entry *entries; /* (n), in file order */
    int nmeta;
    safetensors_meta_entry *meta; /* (nmeta), in file order */
    unsigned char *bytes;   /* the whole file (owned) */
    size_t size;
    uint64_t data_start;    /* 8 + N: where the data section begins in bytes */
    char *what;             /* the source's name for messages (owned) */
} safetensors_file;

/* Parses bytes[0..size) (copied); `what` names the source in messages (a path).
 * On failure *f is zeroed and holds nothing. */
int safetensors_parse(safetensors_file *f, const unsigned char *bytes, size_t size, const char *what);
/* Reads path (a regular file of at most SAFETENSORS_FILE_MAX bytes) and parses it. */
int safetensors_open(safetensors_file *f, const char *path);

/* The tensor called name, or NULL. */
const safetensors_entry *safetensors_find(const safetensors_file *f, const char *name);
/* The metadata value of key, or NULL. */
const char *safetensors_meta_get(const safetensors_file *f, const char *key);

/* Copies tensor e (an entry of f) as float32 into out[0..e->count): F32 as
 * stored (little-endian; the data need not be aligned), BF16 and F16
 * converted exactly (subnormals, infinities and NaNs included); any other
 * dtype is an error naming the tensor and its dtype. */
int safetensors_read_f32(const safetensors_file *f, const safetensors_entry *e, float *out);

/* Frees everything and zeroes *f; safe on a zeroed or failed struct, and twice. */
void safetensors_close(safetensors_file *f);

#endif
