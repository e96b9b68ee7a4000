/* crate_ckpt.c — `crate-ckpt`: look into checkpoints without MPI.
 *
 *   crate-ckpt info CKPT      step, writer, tensors, shard sizes
 *   crate-ckpt verify CKPT    reads every shard, checking sizes and checksums
 *   crate-ckpt diff A B       largest differences of every section (parameters, AdamW
 *                             moments, teacher, buffers)
 *
 * CKPT is a step folder or a folder with `latest` (run.dir/ckpt). diff prints,
 * per section, max|a−b| and the normwise relative difference
 * max|a−b| / max|a|, then one JSON line; it needs the same tensor table
 * (the same model), whatever rank counts wrote A and B.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/ckpt/checkpoint.h"
#include "src/error.h"

static const char *TOOL = "crate-ckpt";

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-ckpt info CKPT\n"
            "       crate-ckpt verify CKPT\n"
            "       crate-ckpt diff CKPT_A CKPT_B\n"
            "\n"
            "CKPT is a checkpoint folder (run.dir/ckpt/step-NNNNNN) or a folder whose `latest`\n"
            "names one (run.dir/ckpt). verify reads every shard and checks its size and crc32;\n"
            "diff compares every section (parameters, AdamW moments, teacher, buffers) of two\n"
            "checkpoints of the same model\n"
            "(written by any rank counts). Exit status: 0 ok, 2 unreadable or damaged input.\n");
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

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    int rc;
    if (argc == 3 && !strcmp(argv[1], "info")) {
        rc = info(argv[2]);
    } else if (argc == 3 && !strcmp(argv[1], "verify")) {
        ckpt_manifest m;
        float *vec[CKPT_MAX_SECTIONS];
        rc = checkpoint_read_all(argv[2], &m, NULL, vec);
        if (rc == CRATE_OK)
            printf("%s: ok: step %lld, %d shards of %d sections verified\n", argv[2], (long long)m.step, m.nshards,
                   m.nsections);
        for (int s = 0; s < CKPT_MAX_SECTIONS; s++) free(vec[s]);
        ckpt_manifest_free(&m);
    } else if (argc == 4 && !strcmp(argv[1], "diff")) {
        rc = diff(argv[2], argv[3]);
    } else {
        usage(stderr);
        return CRATE_EINPUT;
    }
    if (rc != CRATE_OK) fprintf(stderr, "%s: %s\n", TOOL, crate_errmsg());
    return rc;
}
