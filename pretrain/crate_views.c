/* crate_views.c — `crate-views CONFIG.yaml [section.key=value ...] [options]`:
 * a contact sheet of DINO's multi-crop views (data/multicrop.h) of a few
 * training images, as the run the config describes would draw them in its
 * first epoch, with one line per image saying what each view drew. For
 * looking at an augmentation before spending a run on it.
 * Exit status: 0 done, 2 bad usage, config or data, 1 internal failure.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/dino_views.h"
#include "pretrain/train_config.h"
#include "src/config/config_path.h"
#include "src/error.h"

static const char *TOOL = "crate-views";
enum { MAX_IMAGES = 4096 };

typedef struct {
    const char *config, *out;
    int images;
    uint64_t first;
    int noverrides;
    char **overrides; /* argv entries, not copies */
} views_args;

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-views CONFIG.yaml [section.key=value ...] [--images N] [--out FILE.png] [--first ID]\n"
            "\n"
            "Draws DINO's multi-crop views of images of data.train into a PNG contact sheet: one row per\n"
            "image, the original (upscaled to dino.global_size if smaller), its dino.global_crops global\n"
            "views, then its dino.local_crops local views (each at its own size, on gray). The views are\n"
            "those the trainer draws for these samples in epoch 0 with run.seed (dino.* keys below: crop\n"
            "scales and ratios, flip, brightness/contrast jitter, blur, solarization). Prints one line\n"
            "per image: for each view (g0, g1, ... global, l0, ... local) its crop rectangle in source\n"
            "pixels (width x height at (x, y)) and what else it drew.\n"
            "\n"
            "  --images N     images (rows) to show (default 8)\n"
            "  --first ID     the first sample id shown (default 0): samples ID ... ID+N-1\n"
            "  --out FILE     the PNG written (default views.png)\n"
            "  -h, --help     this text and the config keys\n"
            "\n"
            "Exit status: 0 done, 2 bad usage, config or data, 1 internal failure.\n\n");
}

static int parse_count(const char *flag, const char *v, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < lo || x > hi)
        return crate_fail(CRATE_EINPUT, "%s %s: expected an integer in [%llu, %llu]", flag, v,
                          (unsigned long long)lo, (unsigned long long)hi);
    *out = x;
    return CRATE_OK;
}

static int parse_args(int argc, char **argv, views_args *a) {
    *a = (views_args){.out = "views.png", .images = 8};
    a->overrides = crate_malloc((size_t)argc * sizeof *a->overrides, "arguments");
    if (!a->overrides) return CRATE_EINTERNAL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] != '-') {
            if (!a->config) a->config = f;
            else if (strchr(f, '=')) a->overrides[a->noverrides++] = argv[i];
            else return crate_fail(CRATE_EINPUT, "'%s' is neither an option nor a section.key=value override "
                                   "(see --help)", f);
            continue;
        }
        if (i + 1 >= argc) return crate_fail(CRATE_EINPUT, "%s needs a value (see --help)", f);
        const char *v = argv[++i];
        uint64_t x;
        int rc;
        if (!strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--images")) {
            if ((rc = parse_count(f, v, 1, MAX_IMAGES, &x))) return rc;
            a->images = (int)x;
        } else if (!strcmp(f, "--first")) {
            if ((rc = parse_count(f, v, 0, UINT64_MAX - MAX_IMAGES, &x))) return rc;
            a->first = x;
        } else return crate_fail(CRATE_EINPUT, "unknown option %s (see --help)", f);
    }
    if (!a->config) return crate_fail(CRATE_EINPUT, "missing CONFIG.yaml (see --help)");
    return CRATE_OK;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            train_config_help(stdout);
            return 0;
        }
    views_args a;
    train_config cfg;
    config_sources src = {0};
    char path[PATH_MAX]; /* a bare name (dino-tiny) is looked up in the install's and the source tree's configs */
    int rc = parse_args(argc, argv, &a);
    if (rc == CRATE_OK) rc = config_path_resolve(a.config, path, sizeof path);
    if (rc == CRATE_OK) rc = train_config_load(&cfg, &src, path, a.noverrides, a.overrides);
    if (rc == CRATE_OK) {
        int w, h;
        printf("%s: %d images from sample %llu of %s, seed %lld, epoch 0: columns are the original, %lld "
               "global and %lld local views\n", TOOL, a.images, (unsigned long long)a.first, cfg.data.train,
               (long long)cfg.run.seed, (long long)cfg.dino.global_crops, (long long)cfg.dino.local_crops);
        rc = dino_views_sheet(&cfg, a.first, a.images, a.out, stdout, &w, &h);
        if (rc == CRATE_OK) printf("%s: wrote %s (%dx%d pixels)\n", TOOL, a.out, w, h);
        config_sources_free(&src);
    }
    free(a.overrides);
    if (rc != CRATE_OK) {
        fprintf(stderr, "%s: %s\n", TOOL, crate_errmsg());
        return rc == CRATE_EINPUT ? 2 : 1;
    }
    return 0;
}
