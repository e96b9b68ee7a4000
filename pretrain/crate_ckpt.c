/* crate_ckpt.c — `crate-ckpt`: look into checkpoints without MPI.
 *
 *   crate-ckpt info CKPT      step, writer, tensors, shard sizes, attached files
 *   crate-ckpt verify CKPT    reads every shard and attached file, checking sizes
 *                             and checksums, and parses the stored config
 *   crate-ckpt diff A B       largest differences of every section (parameters, AdamW
 *                             moments, teacher, buffers)
 *   crate-ckpt extract CKPT NAME OUT
 *                             writes the attached file NAME (tokenizer.model, ...;
 *                             src/ckpt/files.h), verified, to OUT ("-": stdout)
 *
 * CKPT is a step folder or a folder of them (run.dir/ckpt: the newest). diff prints,
 * per section, max|a−b| and the normwise relative difference
 * max|a−b| / max|a|, then one JSON line; it needs the same tensor table
 * (the same model), whatever rank counts wrote A and B.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/train_config.h"
#include "src/ckpt/checkpoint.h"
#include "src/error.h"
#include "src/io/fs.h"

static const char *TOOL = "crate-ckpt";

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-ckpt info CKPT\n"
            "       crate-ckpt verify CKPT\n"
            "       crate-ckpt diff CKPT_A CKPT_B\n"
            "       crate-ckpt extract CKPT NAME OUT\n"
            "\n"
            "CKPT is a checkpoint folder (run.dir/ckpt/step-NNNNNN) or a folder of them\n"
            "(run.dir/ckpt: its newest). info lists its sections, shards and attached files (an\n"
            "objective's tokenizer.model, ...); verify checks the manifest's own checksum, reads\n"
            "every shard and attached file and checks its size and crc32, and parses the config\n"
            "stored in the manifest; diff compares every section (parameters, AdamW moments,\n"
            "teacher, buffers) of two checkpoints of the same model (written by any rank\n"
            "counts); extract checks the attached file NAME and writes it to OUT (replaced\n"
            "atomically; - for stdout).\n"
            "Exit status: 0 ok, 2 unreadable or damaged input, 1 internal failure.\n");
}

static int info(const char *path) {
    ckpt_manifest m;
    int none[CKPT_MAX_SECTIONS] = {0};
    float *vec[CKPT_MAX_SECTIONS];
    int rc = checkpoint_read_all(path, &m, none, vec);
    if (rc == CRATE_OK) {
        uint64_t bytes = 0, raw = 0;
        for (int i = 0; i < m.nshards; i++) bytes += m.shards[i].info.bytes;
        for (int s = 0; s < m.nsections; s++) raw += 4 * (m.sections[s].buffer_layout ? m.buffer_total : m.total);
        printf("step %lld, written by %d ranks (ZeRO-%d), %llu parameters in %d tensors, %d shards, %.1f MB "
               "(%.3f of the raw %.1f MB)\n", (long long)m.step, m.world, m.zero, (unsigned long long)m.param_count,
               m.ntensors, m.nshards, bytes / 1e6, bytes / (double)raw, raw / 1e6);
        printf("  format version %d, sections:", m.version);
        for (int s = 0; s < m.nsections; s++) printf(" %s", m.sections[s].name);
        printf("\n");
        for (int i = 0; i < m.nshards; i++)
            printf("  %s  [%llu, %llu)  %llu bytes  crc32 %08x\n", m.shards[i].file, (unsigned long long)m.shards[i].lo,
                   (unsigned long long)m.shards[i].hi, (unsigned long long)m.shards[i].info.bytes,
                   m.shards[i].info.crc32);
        printf("  attached files: %d%s\n", m.nfiles, m.nfiles ? "" : " (none)");
        for (int i = 0; i < m.nfiles; i++)
            printf("  file %s  %llu bytes  crc32 %08x\n", m.files[i].name, (unsigned long long)m.files[i].bytes,
                   m.files[i].crc32);
    }
    ckpt_manifest_free(&m);
    return rc;
}

/* The same model and sections? Returns the status with the message set. */
static int same_model(const ckpt_manifest *a, const ckpt_manifest *b) {
    if (a->ntensors != b->ntensors) return crate_fail(CRATE_EINPUT, "the checkpoints hold different models");
    for (int i = 0; i < a->ntensors; i++)
        if (strcmp(a->tensors[i].name, b->tensors[i].name) || a->tensors[i].offset != b->tensors[i].offset)
            return crate_fail(CRATE_EINPUT, "the checkpoints hold different models (tensor %s vs %s)",
                              a->tensors[i].name, b->tensors[i].name);
    if (a->nsections != b->nsections || a->buffer_total != b->buffer_total)
        return crate_fail(CRATE_EINPUT, "the checkpoints hold different sections (%d and %d)", a->nsections,
                          b->nsections);
    for (int s = 0; s < a->nsections; s++)
        if (strcmp(a->sections[s].name, b->sections[s].name))
            return crate_fail(CRATE_EINPUT, "the checkpoints hold different sections (%s vs %s)", a->sections[s].name,
                              b->sections[s].name);
    return CRATE_OK;
}

static int diff(const char *a_path, const char *b_path) {
    ckpt_manifest a, b;
    float *va[CKPT_MAX_SECTIONS] = {0}, *vb[CKPT_MAX_SECTIONS] = {0};
    int rc = checkpoint_read_all(a_path, &a, NULL, va);
    if (rc == CRATE_OK) rc = checkpoint_read_all(b_path, &b, NULL, vb);
    else memset(&b, 0, sizeof b);
    if (rc == CRATE_OK) rc = same_model(&a, &b);
    double abs_diff[CKPT_MAX_SECTIONS] = {0}, rel[CKPT_MAX_SECTIONS] = {0};
    for (int s = 0; s < a.nsections && rc == CRATE_OK; s++) {
        /* Model-layout sections may differ in padding (rank counts): beyond
         * the shorter one both are zero. */
        uint64_t n = a.sections[s].buffer_layout ? a.buffer_total : a.total < b.total ? a.total : b.total;
        double big = 0;
        for (uint64_t i = 0; i < n; i++) {
            double d = fabs((double)va[s][i] - (double)vb[s][i]);
            if (d > abs_diff[s]) abs_diff[s] = d;
            if (fabs(va[s][i]) > big) big = fabs(va[s][i]);
        }
        rel[s] = big > 0 ? abs_diff[s] / big : abs_diff[s];
        printf("%-10s  max|a-b| %.3g   relative %.3g%s\n", a.sections[s].name, abs_diff[s], rel[s],
               abs_diff[s] == 0 ? "   (bitwise identical)" : "");
    }
    if (rc == CRATE_OK) {
        printf("{\"steps\":[%lld,%lld],\"params_max_abs\":%.9g,\"params_rel\":%.9g", (long long)a.step,
               (long long)b.step, abs_diff[0], rel[0]);
        for (int s = 1; s < a.nsections; s++) printf(",\"%s_max_abs\":%.9g", a.sections[s].name, abs_diff[s]);
        printf("}\n");
    }
    for (int s = 0; s < CKPT_MAX_SECTIONS; s++) free(va[s]), free(vb[s]);
    ckpt_manifest_free(&a);
    ckpt_manifest_free(&b);
    return rc;
}

/* The config stored in the manifest: a valid config (what crate-probe and a
 * resume rebuild the model from) whose seed and batch are the manifest's. */
static int check_stored_config(const ckpt_manifest *m, const char *path) {
    train_config cfg;
    config_sources src = {0};
    char name[PATH_CAP + 32];
    snprintf(name, sizeof name, "the config stored in %s", path);
    int rc = train_config_load_text(&cfg, &src, m->config, name);
    if (rc == CRATE_OK && (cfg.run.seed != m->seed || cfg.schedule.global_batch != m->global_batch))
        rc = crate_fail(CRATE_EINPUT, "%s has run.seed %lld and schedule.global_batch %lld, the manifest says %lld "
                        "and %lld: the manifest is damaged or was edited", name, (long long)cfg.run.seed,
                        (long long)cfg.schedule.global_batch, (long long)m->seed, (long long)m->global_batch);
    config_sources_free(&src);
    return rc;
}

/* Every shard and attached file, and the stored config, checked. */
static int verify(const char *path) {
    ckpt_manifest m;
    float *vec[CKPT_MAX_SECTIONS];
    int rc = checkpoint_read_all(path, &m, NULL, vec);
    if (rc == CRATE_OK) rc = checkpoint_verify_files(path, &m);
    if (rc == CRATE_OK) rc = check_stored_config(&m, path);
    if (rc == CRATE_OK) {
        printf("%s: ok: step %lld, %d shards of %d sections verified; %d attached file%s verified", path,
               (long long)m.step, m.nshards, m.nsections, m.nfiles, m.nfiles == 1 ? "" : "s");
        for (int i = 0; i < m.nfiles; i++) printf("%s%s", i ? ", " : " (", m.files[i].name);
        printf("%s\n", m.nfiles ? ")" : "");
    }
    for (int s = 0; s < CKPT_MAX_SECTIONS; s++) free(vec[s]);
    ckpt_manifest_free(&m);
    return rc;
}

static int extract(const char *path, const char *name, const char *out) {
    void *data;
    size_t bytes;
    int rc = checkpoint_read_file(path, name, &data, &bytes);
    if (rc == CRATE_OK && strcmp(out, "-") == 0) {
        if (fwrite(data, 1, bytes, stdout) != bytes || fflush(stdout) != 0)
            rc = crate_fail(CRATE_EINPUT, "writing %s to stdout failed", name);
    } else if (rc == CRATE_OK) {
        fs_part part = {data, bytes};
        rc = fs_write_atomic(out, &part, 1);
        if (rc == CRATE_OK) fprintf(stderr, "%s: wrote %s (%zu bytes, verified) to %s\n", TOOL, name, bytes, out);
    }
    free(data);
    return rc;
}

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    int rc;
    if (argc == 3 && !strcmp(argv[1], "info")) {
        rc = info(argv[2]);
    } else if (argc == 3 && !strcmp(argv[1], "verify")) {
        rc = verify(argv[2]);
    } else if (argc == 4 && !strcmp(argv[1], "diff")) {
        rc = diff(argv[2], argv[3]);
    } else if (argc == 5 && !strcmp(argv[1], "extract")) {
        rc = extract(argv[2], argv[3], argv[4]);
    } else {
        usage(stderr);
        return CRATE_EINPUT;
    }
    if (rc != CRATE_OK) fprintf(stderr, "%s: %s\n", TOOL, crate_errmsg());
    return rc;
}
