/* manifest.h — the manifest.yaml of a checkpoint (DESIGN §7): what was
 * saved, by whom, and how to check it. Written with libyaml's emitter, read
 * with its document loader. Keys (all present unless said):
 *
 *   format: crate-checkpoint       version: 3 (1 and 2 are still read)
 *   step: optimizer steps completed (the AdamW t of the next step is step + 1)
 *   world_size, zero: how many ranks wrote it and whether AdamW was sharded
 *   param_count: Σ numel;  total: the writer's flat length (padded to world_size)
 *   data: {seed, global_batch, samples_seen}: the data cursor. Sample order and
 *         every random choice are functions of (seed, epoch, sample id,
 *         purpose) (DESIGN §5), so the next step is step and no RNG state exists.
 *   optimizer: {name: adamw}
 *   sections: [params, exp_avg, exp_avg_sq, (teacher), (buffers)]  the vectors
 *         saved, in shard order; `buffers` has the buffer layout, every other
 *         section the model layout (tensors, total). Version 1 had no such key:
 *         its sections are params, exp_avg, exp_avg_sq.
 *   config: the resolved config, as YAML text
 *   tensors: [{name, shape, offset}]  (offsets in floats into the flat vector;
 *         checked to lie inside total and to add up to param_count)
 *   buffers: {total, tensors: [...]}  only with a buffers section
 *   shards:  [{file, lo, hi, bytes, crc32}]  shard r of W holds, of every
 *         section whose layout has length T, [r·T/W, (r+1)·T/W); lo, hi are
 *         that range of the model layout (checked to tile [0, total)).
 *   files:   [{name, bytes, crc32}]  only when the objective attached files
 *         (src/ckpt/files.h): each is <name> in the step folder, of that size
 *         and crc32. Absent (older manifests, objectives without any): none.
 *         Optional; a reader that predates it loads the tensors and ignores
 *         the files.
 *   manifest_crc32: "8 hex digits", the last line (version 3): the crc32 of
 *         every byte before it, so an edited digit (a step, a size, the
 *         config) is refused rather than resumed. Appended to the emitted
 *         YAML text; to YAML it is one more key of the root mapping. A
 *         version 2 manifest has none and is read as before.
 */
#ifndef CRATE_CKPT_MANIFEST_H
#define CRATE_CKPT_MANIFEST_H

#include <stdint.h>

#include "src/ckpt/files.h"
#include "src/ckpt/shard.h"
#include "src/nn/params.h"

typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    uint64_t offset;
} ckpt_tensor;

typedef struct {
    char file[CKPT_FILE_MAX];
    uint64_t lo, hi;
    ckpt_shard_info info;
} ckpt_shard_entry;

#define CKPT_SECTION_NAME_MAX 32
#define CKPT_MAX_WORLD (1 << 20)                 /* ranks that may have written a checkpoint */
#define CKPT_TOTAL_MAX ((uint64_t)1 << 40)        /* floats per layout: 4 TiB, far above any model */

typedef struct {
    char name[CKPT_SECTION_NAME_MAX];
    int buffer_layout; /* 1: the buffers' layout; 0: the model's */
} ckpt_section;

typedef struct {
    int version;
    int64_t step;
    int world, zero;
    uint64_t total, param_count;
    int64_t seed, global_batch, samples_seen;
    char *config; /* owned */
    int ntensors, nshards;
    ckpt_tensor *tensors;       /* owned */
    ckpt_shard_entry *shards;   /* owned */
    int nsections;
    ckpt_section sections[CKPT_MAX_SECTIONS];
    uint64_t buffer_total;      /* 0 without a buffers section */
    int nbuffer_tensors;
    ckpt_tensor *buffer_tensors; /* owned */
    int nfiles;
    ckpt_file_entry *files;      /* owned; names checked, distinct */
} ckpt_manifest;

/* Section s's range in shard r: [r·T/W, (r+1)·T/W) of its layout's length T. */
ckpt_range ckpt_manifest_range(const ckpt_manifest *m, int s, int r);
/* Index of the section called name, or -1. */
int ckpt_manifest_section(const ckpt_manifest *m, const char *name);
/* The attached file called name, or NULL. */
const ckpt_file_entry *ckpt_manifest_file(const ckpt_manifest *m, const char *name);
/* The tensor called name in m's tensor table, or NULL. */
const ckpt_tensor *ckpt_manifest_tensor(const ckpt_manifest *m, const char *name);
/* Copies every tensor of ps by name from vec, a section's values laid out as
 * m's tensor table says (offsets were checked against the total when m was
 * parsed). Returns −1 when all were copied, else the id in ps of the first
 * tensor that m lacks (*lacking = 1) or holds in another shape (*lacking =
 * 0); the tensors before it are copied. */
int ckpt_manifest_copy_tensors(const ckpt_manifest *m, const float *vec, param_store *ps, int *lacking);

/* The manifest as YAML text (malloc'd, *len bytes); NULL with the message set. */
char *ckpt_manifest_emit(const ckpt_manifest *m, size_t *len);
/* Parses YAML text into *m (free with ckpt_manifest_free, also on failure);
 * `where` names the file in messages. */
int ckpt_manifest_parse(ckpt_manifest *m, const char *text, size_t len, const char *where);
void ckpt_manifest_free(ckpt_manifest *m);

#endif
