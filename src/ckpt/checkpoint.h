/* checkpoint.h — sharded, checksummed checkpoints that resume exactly, on
 * any number of ranks (DESIGN §7).
 *
 *   <dir>/step-000200/manifest.yaml              src/ckpt/manifest.h
 *   <dir>/step-000200/shard-00003-of-00064.lz4   rank 3's range, src/ckpt/shard.h
 *   <dir>/step-000200/tokenizer.model            an attached file, src/ckpt/files.h
 *   <dir>/latest                                 "step-000200\n"
 *
 * A checkpoint holds named sections (manifest.h): params, exp_avg and
 * exp_avg_sq always, teacher and buffers when the objective has them. Rank r
 * of W owns [r·c, (r+1)·c) of each, c = (its layout's length)/W (the stores
 * are padded to a multiple of W), in both dist.zero modes, so the files do
 * not depend on the ZeRO setting, and loading re-maps every section to the
 * reader's rank count. Besides tensors a checkpoint carries the objective's
 * attached files (ckpt_meta.files: a tokenizer model, ...), byte blobs the
 * manifest lists with their sizes and crc32s.
 *
 * Save (collective), crash-safe at every instant:
 *   1. rank 0 creates step-N.tmp/ (clearing a stale one from a crashed save);
 *   2. every rank writes and fsyncs its shard there;
 *   3. rank 0 gathers sizes and crc32s, writes and fsyncs the attached files,
 *      then manifest.yaml LAST,
 *      fsyncs the folder, renames step-N.tmp → step-N, then writes latest.tmp
 *      and renames it over latest;
 *   4. only then are checkpoints beyond keep_last and stale *.tmp folders
 *      removed. A failure anywhere (a full disk) removes step-N.tmp and leaves
 *      every committed checkpoint as it was.
 * Load (collective): candidates newest first; a candidate is used only if its
 * manifest parses, matches this model's tensor table, seed and global batch,
 * every attached file it lists has its recorded size and crc32 (rank 0
 * checks), and every shard a rank reads has the size and crc32 the manifest
 * records.
 * A damaged candidate is renamed <name>.damaged (kept for inspection, out of
 * the way of future saves) and the previous one is tried.
 */
#ifndef CRATE_CHECKPOINT_H
#define CRATE_CHECKPOINT_H

#include <stdint.h>

#include "src/ckpt/manifest.h"
#include "src/dist/comm.h"
#include "src/dist/dp_optim.h"
#include "src/nn/params.h"

typedef struct {
    const char *dir;   /* the folder holding step-* and latest */
    const char *tool;  /* prefix of the notes printed by rank 0 */
    int keep_last;     /* committed checkpoints kept (>= 1) */
    int level;         /* lz4 compression level (0: fast default) */
} ckpt_options;

/* The state a checkpoint saves: the trained store and its AdamW moments,
 * and (NULL when the objective has none) a teacher store with the trained
 * store's layout and a store of non-trained buffers. The teacher and the
 * buffers are replicated on every rank, as the parameters are. */
typedef struct {
    param_store *ps;
    dp_optimizer *opt;
    param_store *teacher, *buffers;
} ckpt_state;

/* What the trainer saves besides tensors, and checks on load. */
typedef struct {
    int64_t step;          /* optimizer steps completed */
    int64_t seed, global_batch;
    const char *config;    /* resolved config YAML (saving only) */
    /* Saving only: files attached to the checkpoint (files.h; at most
     * CKPT_MAX_FILES, distinct names), rank 0's written. Loading verifies
     * whatever files the manifest lists, whichever these are. */
    const ckpt_file *files;
    int nfiles;
} ckpt_meta;

/* Collective. Returns the agreed status; on failure every rank's message says
 * what failed and that the previous checkpoint is intact. */
int checkpoint_save(const ckpt_options *o, const comm_info *c, const ckpt_state *st, const ckpt_meta *meta);

/* Collective. `from` is "auto" (newest usable checkpoint in o->dir, else
 * none), "none", or a checkpoint folder. On success *step is the step
 * restored (-1: nothing loaded, the caller keeps its fresh initialisation;
 * the store is then re-initialised by the caller if a damaged candidate was
 * partly read: *dirty says so). Errors: an explicit checkpoint that is
 * unusable, or one written by another model, seed or global batch, or
 * without a section this state has (a teacher, buffers); and o->dir holding
 * a committed checkpoint beyond the step the run starts from (a fresh start
 * into a used run.dir, or resuming an older step folder than its newest):
 * its saves would collide with those. */
int checkpoint_resume(const ckpt_options *o, const comm_info *c, const char *from, const ckpt_state *st,
                      const ckpt_meta *expect, int64_t *step, int *dirty);

#define PATH_CAP 4096

/* The checkpoint a path names (out: PATH_CAP bytes): a step folder itself,
 * or, for a folder holding step-N folders (run.dir/ckpt), the newest of them
 * with a manifest. `latest` is not read: it is written for people and
 * scripts, and a full disk can leave it behind a committed save. */
void checkpoint_resolve(const char *from, char *out);

/* Without MPI: reads the checkpoint `path` names (checkpoint_resolve) whole:
 * its manifest and, for every section s with want[s] set (want NULL: all),
 * the full vector vec[s] (its layout's length, malloc'd; others NULL),
 * verifying every shard. For tools (crate-ckpt, crate-probe), whatever rank
 * count wrote it. vec has CKPT_MAX_SECTIONS entries; free them with free(). */
int checkpoint_read_all(const char *path, ckpt_manifest *m, const int *want, float **vec);
/* The same for one section by name (*vec malloc'd): a checkpoint without it
 * is CRATE_EINPUT, the message naming the sections it has. */
int checkpoint_read_section(const char *path, const char *section, ckpt_manifest *m, float **vec);
/* The params section (the trained weights). */
int checkpoint_read_params(const char *path, ckpt_manifest *m, float **params);

/* Without MPI: the attached file `name` of the checkpoint `path` names
 * (checkpoint_resolve), checked against the size and crc32 its manifest
 * records before it is returned: *data malloc'd (*bytes bytes, then a NUL
 * not counted; free with free()), NULL on failure. A checkpoint without
 * that file is CRATE_EINPUT, its message naming the files it has. */
int checkpoint_read_file(const char *path, const char *name, void **data, size_t *bytes);
/* Checks every attached file m lists (size and crc32) in the checkpoint
 * `path` names; m is its parsed manifest. */
int checkpoint_verify_files(const char *path, const ckpt_manifest *m);

#endif
