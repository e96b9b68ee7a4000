/* crate_data.c — crate-data: prepare and check datasets (DESIGN §6, §11).
 *
 *   crate-data fashion-mnist OUT_DIR [--source DIR] [--records-per-block N] [--records-per-shard N]
 *   crate-data verify PATH
 *
 * A thin main over data/idx.h (reading the Debian dataset-fashion-mnist IDX
 * files) and data/shard.h (writing and verifying shards). Exit status: 0 ok,
 * 2 bad usage or input (including a damaged dataset), 1 internal failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "data/idx.h"
#include "data/shard.h"
#include "src/error.h"

#define DEFAULT_SOURCE "/usr/share/datasets/fashion-mnist"
#define LABEL_SLOTS 1024

static const char USAGE[] =
    "usage: crate-data COMMAND ...\n"
    "\n"
    "Prepares and checks crate's image datasets: directories of lz4-compressed,\n"
    "checksummed shard files (shard-00000.crs, ...; format in data/shard.h).\n"
    "\n"
    "commands:\n"
    "  crate-data fashion-mnist OUT_DIR [--source DIR] [--records-per-block N]\n"
    "                                   [--records-per-shard N]\n"
    "      Converts Fashion-MNIST (Debian package dataset-fashion-mnist) into\n"
    "      OUT_DIR/train (60000 records) and OUT_DIR/test (10000 records):\n"
    "      images C=1, H=W=28, labels 0..9, in the order of the source files.\n"
    "      OUT_DIR is created if needed; an existing OUT_DIR/train or\n"
    "      OUT_DIR/test holding only shard files is replaced. Each split is\n"
    "      written to SPLIT.partial and renamed when complete.\n"
    "        --source DIR            where {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz\n"
    "                                are (default " DEFAULT_SOURCE ")\n"
    "        --records-per-block N   records per lz4 block (default 256)\n"
    "        --records-per-shard N   records per shard file (default 16384)\n"
    "\n"
    "  crate-data verify PATH\n"
    "      Reads and checks every block of the dataset at PATH (a shard\n"
    "      directory or one shard file) and prints a summary: records, shards,\n"
    "      blocks, sizes, labels. A damaged dataset exits 2 with a message\n"
    "      naming the file and block.\n"
    "\n"
    "  crate-data --help        this text\n"
    "\n"
    "exit status: 0 ok, 2 bad usage or input (a damaged dataset included),\n"
    "1 internal failure.\n";

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "crate-data: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nrun 'crate-data --help' for usage\n");
    return CRATE_EINPUT;
}

static int fail(int status) {
    fprintf(stderr, "crate-data: error: %s\n", crate_errmsg());
    return status;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_count(const char *opt, const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > INT_MAX) {
        fprintf(stderr, "crate-data: %s needs a positive integer, got '%s'\nrun 'crate-data --help' for usage\n", opt,
                s);
        return CRATE_EINPUT;
    }
    *out = (int)v;
    return CRATE_OK;
}

/* mkdir -p */
static int make_dirs(const char *path) {
    size_t n = strlen(path);
    char *p = crate_malloc(n + 1, "path");
    if (!p) return CRATE_EINTERNAL;
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            int st = crate_fail(CRATE_EINPUT, "cannot create directory %s: %s", p, strerror(e));
            free(p);
            return st;
        }
        p[i] = c;
    }
    struct stat sb;
    int st = CRATE_OK;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        st = crate_fail(CRATE_EINPUT, "%s is not a directory", path);
    free(p);
    return st;
}

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = crate_malloc(n, "path");
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Converts one Fashion-MNIST split (prefix "train" or "t10k") into out/name. */
static int convert_split(const char *source, const char *prefix, const char *out, const char *name,
                         uint64_t want_count, int records_per_shard, int records_per_block) {
    double t0 = now_seconds();
    char file[64];
    snprintf(file, sizeof file, "%s-images-idx3-ubyte.gz", prefix);
    char *images_path = path_join(source, file);
    snprintf(file, sizeof file, "%s-labels-idx1-ubyte.gz", prefix);
    char *labels_path = path_join(source, file);
    char *dir = path_join(out, name);
    uint8_t *pixels = NULL, *labels = NULL;
    uint64_t n_images = 0, n_labels = 0;
    int rows = 0, cols = 0;
    int st = (!images_path || !labels_path || !dir) ? CRATE_EINTERNAL : CRATE_OK;
    if (!st) st = idx_read_images(images_path, &pixels, &n_images, &rows, &cols);
    if (!st) st = idx_read_labels(labels_path, &labels, &n_labels);
    if (!st && (n_images != n_labels || n_images != want_count || rows != 28 || cols != 28))
        st = crate_fail(CRATE_EINPUT, "%s holds %llu images of %dx%d and %s %llu labels; Fashion-MNIST %s has %llu "
                        "images of 28x28 and as many labels; reinstall dataset-fashion-mnist", images_path,
                        (unsigned long long)n_images, rows, cols, labels_path, (unsigned long long)n_labels, name,
                        (unsigned long long)want_count);
    for (uint64_t i = 0; !st && i < n_labels; i++)
        if (labels[i] > 9)
            st = crate_fail(CRATE_EINPUT, "%s: label %u of record %llu is not in 0..9: the file is damaged; reinstall "
                            "dataset-fashion-mnist", labels_path, labels[i], (unsigned long long)i);
    double t_read = now_seconds();
    image_dataset_writer *w = NULL;
    if (!st) st = image_dataset_writer_open(&w, dir, 1, 28, 28, records_per_shard, records_per_block);
    for (uint64_t i = 0; !st && i < n_images; i++) st = image_dataset_writer_add(w, pixels + i * 28 * 28, labels[i]);
    image_dataset_stats stats;
    if (w) {
        if (st) image_dataset_writer_abort(w);
        else st = image_dataset_writer_close(w, &stats);
    }
    double t1 = now_seconds();
    if (!st)
        printf("%s: %llu records, %d shards, %llu blocks, %.1f MB raw -> %.1f MB on disk (ratio %.2f), "
               "%.2f s (%.2f s reading the source) -> %s\n",
               name, (unsigned long long)stats.records, stats.shards, (unsigned long long)stats.blocks,
               (double)stats.raw_bytes / 1e6, (double)stats.file_bytes / 1e6,
               (double)stats.raw_bytes / (double)(stats.file_bytes ? stats.file_bytes : 1), t1 - t0, t_read - t0, dir);
    free(pixels);
    free(labels);
    free(images_path);
    free(labels_path);
    free(dir);
    return st;
}

static int cmd_fashion_mnist(int argc, char **argv) {
    const char *out = NULL, *source = DEFAULT_SOURCE;
    int rpb = SHARD_DEFAULT_RECORDS_PER_BLOCK, rps = SHARD_DEFAULT_RECORDS_PER_SHARD;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return -1;
        } else if (!strcmp(a, "--source") || !strcmp(a, "--records-per-block") || !strcmp(a, "--records-per-shard")) {
            if (i + 1 >= argc) return usage_error("%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--source")) source = v;
            else if (parse_count(a, v, !strcmp(a, "--records-per-block") ? &rpb : &rps)) return CRATE_EINPUT;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option %s", a);
        } else if (!out) {
            out = a;
        } else {
            return usage_error("unexpected argument %s (one OUT_DIR only)", a);
        }
    }
    if (!out) return usage_error("%s", "fashion-mnist needs OUT_DIR");
    double t0 = now_seconds();
    int st = make_dirs(out);
    if (!st) st = convert_split(source, "train", out, "train", 60000, rps, rpb);
    if (!st) st = convert_split(source, "t10k", out, "test", 10000, rps, rpb);
    if (st) return fail(st);
    printf("fashion-mnist: done in %.2f s\n", now_seconds() - t0);
    return CRATE_OK;
}

static int cmd_verify(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(USAGE, stdout);
            return -1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage_error("unknown option %s", argv[i]);
        } else if (path) {
            return usage_error("unexpected argument %s (one PATH only)", argv[i]);
        }
        path = argv[i];
    }
    if (!path) return usage_error("%s", "verify needs PATH");
    double t0 = now_seconds();
    image_dataset *ds;
    int st = image_dataset_open(&ds, path, 0);
    if (st) {
        fprintf(stderr, "crate-data: %s: damaged or unreadable: %s\n", path, crate_errmsg());
        return st;
    }
    static uint64_t counts[LABEL_SLOTS];
    uint64_t out_of_range = 0;
    st = image_dataset_verify(ds, counts, LABEL_SLOTS, &out_of_range);
    if (st) {
        fprintf(stderr, "crate-data: %s: damaged: %s\n", path, crate_errmsg());
        image_dataset_close(ds);
        return st;
    }
    double t = now_seconds() - t0;
    image_dataset_stats s;
    image_dataset_get_stats(ds, &s);
    int C, H, W;
    image_dataset_shape(ds, &C, &H, &W);
    image_dataset_close(ds);
    printf("%s: ok\n", path);
    printf("  records  %llu\n", (unsigned long long)s.records);
    printf("  shards   %d\n", s.shards);
    printf("  blocks   %llu\n", (unsigned long long)s.blocks);
    printf("  shape    %dx%dx%d (C x H x W, %d-byte records)\n", C, H, W, C * H * W + 4);
    printf("  bytes    %llu on disk, %llu raw (ratio %.2f)\n", (unsigned long long)s.file_bytes,
           (unsigned long long)s.raw_bytes, (double)s.raw_bytes / (double)(s.file_bytes ? s.file_bytes : 1));
    int distinct = 0, lo = -1, hi = -1;
    for (int l = 0; l < LABEL_SLOTS; l++)
        if (counts[l]) {
            distinct++;
            if (lo < 0) lo = l;
            hi = l;
        }
    printf("  labels   %d distinct", distinct);
    if (distinct) printf(" in %d..%d", lo, hi);
    if (out_of_range) printf(", %llu outside 0..%d", (unsigned long long)out_of_range, LABEL_SLOTS - 1);
    printf("\n");
    if (distinct && distinct <= 32) {
        printf("  counts  ");
        for (int l = 0; l < LABEL_SLOTS; l++)
            if (counts[l]) printf(" %d:%llu", l, (unsigned long long)counts[l]);
        printf("\n");
    }
    printf("  checked  %llu blocks in %.2f s (%.0f MB/s raw)\n", (unsigned long long)s.blocks, t,
           (double)s.raw_bytes / 1e6 / (t > 0 ? t : 1e-9));
    return CRATE_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(USAGE, stderr);
        return CRATE_EINPUT;
    }
    const char *cmd = argv[1];
    int st;
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return 0;
    } else if (!strcmp(cmd, "fashion-mnist")) {
        st = cmd_fashion_mnist(argc - 2, argv + 2);
    } else if (!strcmp(cmd, "verify")) {
        st = cmd_verify(argc - 2, argv + 2);
    } else {
        return usage_error("unknown command %s", cmd);
    }
    return st < 0 ? 0 : st;
}
