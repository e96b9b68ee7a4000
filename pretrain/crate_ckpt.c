/* crate_ckpt.c — `crate-ckpt`: look into checkpoints without MPI.
 *
 *   crate-ckpt info CKPT      step, writer, tensors, shard sizes
 *   crate-ckpt verify CKPT    reads every shard, checking sizes and checksums
 *   crate-ckpt diff A B       largest differences of parameters and AdamW moments
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
static const char *SECTION[CKPT_SECTIONS] = {"params", "exp_avg", "exp_avg_sq"};

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-ckpt info CKPT\n"
            "       crate-ckpt verify CKPT\n"
            "       crate-ckpt diff CKPT_A CKPT_B\n"
            "\n"
            "CKPT is a checkpoint folder (run.dir/ckpt/step-NNNNNN) or a folder whose `latest`\n"
            "names one (run.dir/ckpt). verify reads every shard and checks its size and crc32;\n"
            "diff compares parameters and AdamW moments of two checkpoints of the same model\n"
            "(written by any rank counts). Exit status: 0 ok, 2 unreadable or damaged input.\n");
}

static int info(const char *path) {
    ckpt_manifest m;
    int rc = checkpoint_read_all(path, &m, NULL, NULL, NULL);
    if (rc == CRATE_OK) {
        uint64_t bytes = 0;
        for (int i = 0; i < m.nshards; i++) bytes += m.shards[i].info.bytes;
        printf("step %lld, written by %d ranks (ZeRO-%d), %llu parameters in %d tensors, %d shards, %.1f MB "
               "(%.3f of the raw %.1f MB)\n", (long long)m.step, m.world, m.zero, (unsigned long long)m.param_count,
               m.ntensors, m.nshards, bytes / 1e6, bytes / (12.0 * (double)m.total), 12.0 * (double)m.total / 1e6);
        for (int i = 0; i < m.nshards; i++)
            printf("  %s  [%llu, %llu)  %llu bytes  crc32 %08x\n", m.shards[i].file, (unsigned long long)m.shards[i].lo,
                   (unsigned long long)m.shards[i].hi, (unsigned long long)m.shards[i].info.bytes,
                   m.shards[i].info.crc32);
    }
    ckpt_manifest_free(&m);
    return rc;
}

static int diff(const char *a_path, const char *b_path) {
    ckpt_manifest a, b;
    float *va[CKPT_SECTIONS] = {0}, *vb[CKPT_SECTIONS] = {0};
    int rc = checkpoint_read_all(a_path, &a, &va[0], &va[1], &va[2]);
    if (rc == CRATE_OK) rc = checkpoint_read_all(b_path, &b, &vb[0], &vb[1], &vb[2]);
    else memset(&b, 0, sizeof b);
    if (rc == CRATE_OK && a.ntensors != b.ntensors) rc = crate_fail(CRATE_EINPUT, "the checkpoints hold different models");
    for (int i = 0; rc == CRATE_OK && i < a.ntensors; i++)
        if (strcmp(a.tensors[i].name, b.tensors[i].name) || a.tensors[i].offset != b.tensors[i].offset)
            rc = crate_fail(CRATE_EINPUT, "the checkpoints hold different models (tensor %s vs %s)", a.tensors[i].name,
                            b.tensors[i].name);
    double abs_diff[CKPT_SECTIONS] = {0}, rel[CKPT_SECTIONS] = {0};
    uint64_t n = a.total < b.total ? a.total : b.total; /* beyond the shorter padding: zeros */
    for (int s = 0; s < CKPT_SECTIONS && rc == CRATE_OK; s++) {
        double big = 0;
        for (uint64_t i = 0; i < n; i++) {
            double d = fabs((double)va[s][i] - (double)vb[s][i]);
            if (d > abs_diff[s]) abs_diff[s] = d;
            if (fabs(va[s][i]) > big) big = fabs(va[s][i]);
        }
        rel[s] = big > 0 ? abs_diff[s] / big : abs_diff[s];
        printf("%-10s  max|a-b| %.3g   relative %.3g%s\n", SECTION[s], abs_diff[s], rel[s],
               abs_diff[s] == 0 ? "   (bitwise identical)" : "");
    }
    if (rc == CRATE_OK)
        printf("{\"steps\":[%lld,%lld],\"params_max_abs\":%.9g,\"params_rel\":%.9g,\"exp_avg_max_abs\":%.9g,"
               "\"exp_avg_sq_max_abs\":%.9g}\n", (long long)a.step, (long long)b.step, abs_diff[0], rel[0],
               abs_diff[1], abs_diff[2]);
    for (int s = 0; s < CKPT_SECTIONS; s++) free(va[s]), free(vb[s]);
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
        float *p = NULL, *m1 = NULL, *m2 = NULL;
        rc = checkpoint_read_all(argv[2], &m, &p, &m1, &m2);
        if (rc == CRATE_OK) printf("%s: ok: step %lld, %d shards verified\n", argv[2], (long long)m.step, m.nshards);
        free(p), free(m1), free(m2);
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
