/* crate_reference_outputs.c — crate-reference-outputs: what crate's model of a
 * checkpoint computes for random inputs, as .npy files, so a test can run
 * the same inputs through a PyTorch model loaded from an export
 * (tests/test_torch_export.sh) and compare.
 *
 *   image checkpoint: images.npy (n, C·H·W) float32, pixel values 0…255
 *     (uint8), and features.npy (n, 2·d·L): per layer, last first, the cls
 *     token's encoding and the mean of the patch tokens' (the last layer after
 *     the encoder's closing LayerNorm, the others raw): frozen_encoder.h's
 *     cls+mean feature of every layer.
 *   text checkpoint: ids.npy (n·T) int64, token ids uniform in [0, V), and
 *     logits.npy (n·T, V) float32: H wteᵀ of the tied LM head.
 *
 * The images or ids are drawn from run.seed-independent stream seed 1234.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/frozen_encoder.h"
#include "pretrain/frozen_text.h"
#include "src/error.h"
#include "src/io/fs.h"
#include "src/io/npy.h"
#include "src/nn/rng.h"

static const char USAGE[] =
    "usage: crate-reference-outputs CKPT OUT_DIR N [CxHxW]\n"
    "\n"
    "Writes N random inputs and crate's outputs for them into the existing folder\n"
    "OUT_DIR: images.npy and features.npy for an image checkpoint (give the image\n"
    "shape CxHxW), ids.npy and logits.npy for a text one (see the comment at the\n"
    "top of tests/crate_reference_outputs.c).\n"
    "\n"
    "exit status: 0 ok, 2 bad usage or input, 1 internal failure.\n";

static int write_in(const char *dir, const char *file, int (*write)(const char *, const void *, int64_t, int64_t),
                    const void *data, int64_t rows, int64_t cols) {
    char *path = fs_path_join(dir, file);
    int rc = path ? write(path, data, rows, cols) : CRATE_EINTERNAL;
    free(path);
    return rc;
}

static int write_f32(const char *path, const void *data, int64_t rows, int64_t cols) {
    return npy_write_f32(path, data, rows, cols);
}

static int write_i64(const char *path, const void *data, int64_t rows, int64_t cols) {
    return npy_write_i64(path, data, rows * cols);
}

static int image_outputs(const char *ckpt, const char *dir, int n, int C, int H, int W) {
    frozen_encoder fe;
    int rc = frozen_encoder_open(&fe, ckpt, "params", C, H, W, n);
    if (rc != CRATE_OK) return rc;
    size_t pixels = (size_t)C * H * W;
    int f = frozen_encoder_feature_dim(&fe, FEATURE_CLS_MEAN, fe.depth);
    uint8_t *images = malloc((size_t)n * pixels);
    float *as_float = malloc((size_t)n * pixels * sizeof(float)), *features = malloc((size_t)n * f * sizeof(float));
    rc = images && as_float && features ? CRATE_OK : crate_fail(CRATE_EINTERNAL, "out of memory");
    if (rc == CRATE_OK) {
        rng_stream s = rng_stream_make(1234, 0, 0, 0);
        for (size_t i = 0; i < (size_t)n * pixels; i++) as_float[i] = images[i] = (uint8_t)rng_below(&s, 256);
        frozen_encoder_features(&fe, images, n, FEATURE_CLS_MEAN, fe.depth, features);
        rc = write_in(dir, "images.npy", write_f32, as_float, n, (int64_t)pixels);
    }
    if (rc == CRATE_OK) rc = write_in(dir, "features.npy", write_f32, features, n, f);
    free(images);
    free(as_float);
    free(features);
    frozen_encoder_close(&fe);
    return rc;
}

static int text_outputs(const char *ckpt, const char *dir, int n) {
    frozen_text ft;
    int rc = frozen_text_open(&ft, ckpt, n);
    if (rc != CRATE_OK) return rc;
    int T = ft.T, V = ft.enc.V, d = ft.enc.d;
    size_t tokens = (size_t)n * T;
    int32_t *ids = malloc(tokens * sizeof *ids);
    int64_t *ids64 = malloc(tokens * sizeof *ids64);
    float *logits = malloc(tokens * V * sizeof(float));
    rc = ids && ids64 && logits ? CRATE_OK : crate_fail(CRATE_EINTERNAL, "out of memory");
    if (rc == CRATE_OK) {
        rng_stream s = rng_stream_make(1234, 0, 0, 0);
        for (size_t i = 0; i < tokens; i++) ids64[i] = ids[i] = (int32_t)rng_below(&s, (uint32_t)V);
        text_encoder_forward(&ft.enc, &ft.ps, ids, n, T);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)tokens, V, d, 1.0f, text_encoder_output(&ft.enc), d,
                    param_data(&ft.ps, ft.enc.wte), d, 0.0f, logits, V);
        rc = write_in(dir, "ids.npy", write_i64, ids64, (int64_t)tokens, 1);
    }
    if (rc == CRATE_OK) rc = write_in(dir, "logits.npy", write_f32, logits, (int64_t)tokens, V);
    free(ids);
    free(ids64);
    free(logits);
    frozen_text_close(&ft);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    int n = argc >= 4 ? atoi(argv[3]) : 0, C = 0, H = 0, W = 0;
    if ((argc != 4 && argc != 5) || n < 1 || n > 4096 ||
        (argc == 5 && (sscanf(argv[4], "%dx%dx%d", &C, &H, &W) != 3 || C < 1 || H < 1 || W < 1))) {
        fputs(USAGE, stderr);
        return CRATE_EINPUT;
    }
    int rc = argc == 5 ? image_outputs(argv[1], argv[2], n, C, H, W) : text_outputs(argv[1], argv[2], n);
    if (rc != CRATE_OK) fprintf(stderr, "crate-reference-outputs: %s\n", crate_errmsg());
    return rc;
}
