/* checkpoint.h — sharded, checksummed checkpoints that resume exactly, on
 * any number of ranks (DESIGN §7).
 *
 *   <dir>/step-000200/manifest.yaml              src/ckpt/manifest.h
 *   <dir>/step-000200/shard-00003-of-00064.lz4   rank 3's range, src/ckpt/shard.h
 *   <dir>/latest                                 "step-000200\n"
 *
 * Rank r of W owns [r·c, (r+1)·c) of the flat vector, c = total/W (the store
 * is padded to a multiple of W), for parameters and both AdamW moments, in
 * both dist.zero modes, so the files do not depend on the ZeRO setting.
 *
 * Save (collective), crash-safe at every instant:
 *   1. rank 0 creates step-N.tmp/ (clearing a stale one from a crashed save);
 *   2. every rank writes and fsyncs its shard there;
 *   3. rank 0 gathers sizes and crc32s, writes and fsyncs manifest.yaml LAST,
 *      fsyncs the folder, renames step-N.tmp → step-N, then writes latest.tmp
 *      and renames it over latest;
 *   4. only then are checkpoints beyond keep_last and stale *.tmp folders
 *      removed. A failure anywhere (a full disk) removes step-N.tmp and leaves
 *      every committed checkpoint as it was.
 * Load (collective): candidates newest first; a candidate is used only if its
 * manifest parses, matches this model's tensor table, seed and global batch,
 * and every shard a rank reads has the size and crc32 the manifest records.
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

/* What the trainer saves besides tensors, and checks on load. */
typedef struct {
    int64_t step;          /* optimizer steps completed */
    int64_t seed, global_batch;
    const char *config;    /* resolved config YAML (saving only) */
} ckpt_meta;

/* Collective. Returns the agreed status; on failure every rank's message says
 * what failed and that the previous checkpoint is intact. */
int checkpoint_save(const ckpt_options *o, const comm_info *c, const param_store *ps, const dp_optimizer *opt,
                    const ckpt_meta *meta);

/* Collective. `from` is "auto" (newest usable checkpoint in o->dir, else
 * none), "none", or a checkpoint folder. On success *step is the step
 * restored (-1: nothing loaded, the caller keeps its fresh initialisation;
 * the store is then re-initialised by the caller if a damaged candidate was
 * partly read: *dirty says so). Errors: an explicit checkpoint that is
 * unusable, or one written by another model, seed or global batch. */
int checkpoint_resume(const ckpt_options *o, const comm_info *c, const char *from, param_store *ps,
                      dp_optimizer *opt, const ckpt_meta *expect, int64_t *step, int *dirty);

#define PATH_CAP 4096

/* The checkpoint a path names (out: PATH_CAP bytes): a step folder itself,
 * or a folder whose `latest` names one (run.dir/ckpt). */
void checkpoint_resolve(const char *from, char *out);

/* Without MPI: reads the checkpoint `path` names (checkpoint_resolve) whole:
 * its manifest and the full vectors (m->total floats each, malloc'd) of the
 * sections asked for (NULL pointers: skipped), verifying every shard. For
 * tools (crate-ckpt, crate-probe), whatever rank count wrote it. */
int checkpoint_read_all(const char *path, ckpt_manifest *m, float **params, float **exp_avg, float **exp_avg_sq);

#endif
