/* crate_export_sample.c — crate-export-sample: writes .npy and .safetensors
 * files with known contents for tests/test_export_formats.sh, which reads them
 * back with numpy and an independent safetensors reader.
 *
 *   crate-export-sample OUT_DIR
 *
 * Writes into OUT_DIR (which must exist):
 *   features.npy       float32 (3,5):  x[i][j] = (5i + j)/2 − 3.25
 *   empty.npy          float32 (0,4)
 *   labels.npy         int64 (6,):     0, −1, 9, 2^40, −2^62, 2^63 − 1
 *   sample.safetensors "encoder.W" (2,3): k/4 − 1;  "bias \"q\" é" (3): 1.5, −2.5, 1/1024;
 *                      "scalar" (): 42;  "empty" (0,4);  "big" (64,33): k/8 − 100;
 *                      metadata format=pt, note=<quotes, backslash, newline, tab,
 *                      U+0001, é, →>, empty=""
 * Then checks that invalid safetensors requests (a duplicate name, the name
 * "__metadata__", a name that is not UTF-8) fail with status 2 and leave no
 * file, printing "rejected: <message>" for each.
 *
 * Exit status: 0 ok, 2 bad usage or input (e.g. a missing OUT_DIR), 1 internal
 * failure or an invalid request that was accepted.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src/error.h"
#include "src/io/npy.h"
#include "src/io/safetensors.h"

static const char USAGE[] =
    "usage: crate-export-sample OUT_DIR\n"
    "\n"
    "Writes features.npy, empty.npy, labels.npy and sample.safetensors with\n"
    "known contents into the existing folder OUT_DIR (see the comment at the\n"
    "top of tests/crate_export_sample.c), then checks that invalid safetensors\n"
    "requests are rejected.\n"
    "\n"
    "exit status: 0 ok, 2 bad usage or input, 1 internal failure.\n";

static int fail(int status) {
    fprintf(stderr, "crate-export-sample: error: %s\n", crate_errmsg());
    return status;
}

static void join(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static int write_npy(const char *dir) {
    char path[4096];
    float x[3 * 5];
    for (int k = 0; k < 15; k++) x[k] = (float)k / 2.0f - 3.25f;
    join(path, sizeof path, dir, "features.npy");
    int st = npy_write_f32(path, x, 3, 5);
    if (st) return st;
    join(path, sizeof path, dir, "empty.npy");
    if ((st = npy_write_f32(path, NULL, 0, 4))) return st;
    const int64_t labels[6] = {0, -1, 9, (int64_t)1 << 40, -((int64_t)1 << 62), INT64_MAX};
    join(path, sizeof path, dir, "labels.npy");
    return npy_write_i64(path, labels, 6);
}

static int write_safetensors(const char *dir) {
    static float w[6], bias[3] = {1.5f, -2.5f, 1.0f / 1024.0f}, scalar = 42.0f, big[64 * 33];
    for (int k = 0; k < 6; k++) w[k] = (float)k / 4.0f - 1.0f;
    for (int k = 0; k < 64 * 33; k++) big[k] = (float)k / 8.0f - 100.0f;
    const int64_t w_shape[2] = {2, 3}, b_shape[1] = {3}, e_shape[2] = {0, 4}, big_shape[2] = {64, 33};
    const safetensors_tensor t[5] = {
        {"encoder.W", 2, w_shape, w},
        {"bias \"q\" \xc3\xa9", 1, b_shape, bias},
        {"scalar", 0, NULL, &scalar},
        {"empty", 2, e_shape, NULL},
        {"big", 2, big_shape, big},
    };
    const safetensors_meta meta[3] = {
        {"format", "pt"},
        {"note", "line1\nline2 \"quoted\" back\\slash\ttab \x01 ctrl \xc3\xa9 \xe2\x86\x92"},
        {"empty", ""},
    };
    char path[4096];
    join(path, sizeof path, dir, "sample.safetensors");
    return safetensors_write(path, t, 5, meta, 3);
}

/* Each invalid request must return CRATE_EINPUT and create nothing. */
static int check_rejections(const char *dir) {
    static const float v[2] = {1.0f, 2.0f};
    const int64_t shape[1] = {2};
    const safetensors_tensor dup[2] = {{"a", 1, shape, v}, {"a", 1, shape, v}};
    const safetensors_tensor reserved[1] = {{"__metadata__", 1, shape, v}};
    const safetensors_tensor not_utf8[1] = {{"bad\xff", 1, shape, v}};
    const safetensors_tensor *cases[3] = {dup, reserved, not_utf8};
    const int counts[3] = {2, 1, 1};
    char path[4096];
    join(path, sizeof path, dir, "rejected.safetensors");
    for (int c = 0; c < 3; c++) {
        int st = safetensors_write(path, cases[c], counts[c], NULL, 0);
        if (st != CRATE_EINPUT || access(path, F_OK) == 0) {
            fprintf(stderr, "crate-export-sample: invalid request %d gave status %d%s\n", c, st,
                    access(path, F_OK) == 0 ? " and a file" : "");
            return CRATE_EINTERNAL;
        }
        printf("rejected: %s\n", crate_errmsg());
    }
    return CRATE_OK;
}

int main(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fputs(USAGE, stderr);
        return CRATE_EINPUT;
    }
    int st = write_npy(argv[1]);
    if (!st) st = write_safetensors(argv[1]);
    if (st) return fail(st);
    return check_rejections(argv[1]);
}
