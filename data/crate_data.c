/* crate_data.c — crate-data: prepare and check datasets (DESIGN §6, §11).
 *
 *   crate-data fashion-mnist OUT_DIR [--source DIR] [--records-per-block N] [--records-per-shard N]
 *   crate-data text (--spm-train V [--spm-type T] | --spm MODEL) [--val-every K] IN... OUT_DIR
 *   crate-data kjv OUT_DIR [--vocab V] [--spm-type T] [--add-texts DIR]
 *   crate-data fortunes OUT_DIR [--source DIR] [--classes N]
 *   crate-data baselines DIR
 *   crate-data verify PATH
 *
 * A thin main over data/idx.h (reading the Debian dataset-fashion-mnist IDX
 * files), data/shard.h (writing and verifying image shards),
 * data/text_corpus.h and data/kjv.h (documents and their tokenization into
 * token datasets, data/token_shard.h), data/token_baselines.h and
 * data/fortunes.h (labelled text folders, data/labelled_text.h). Exit
 * status: 0 ok, 2 bad usage or input (including a damaged dataset), 1
 * internal failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "data/fortunes.h"
#include "data/idx.h"
#include "data/kjv.h"
#include "data/labelled_text.h"
#include "data/shard.h"
#include "data/text_corpus.h"
#include "data/token_baselines.h"
#include "data/token_shard.h"
#include "src/error.h"
#include "src/io/fs.h"

#define DEFAULT_SOURCE "/usr/share/datasets/fashion-mnist"
#define LABEL_SLOTS 1024

static const char USAGE[] =
    "usage: crate-data COMMAND ...\n"
    "\n"
    "Prepares and checks crate's datasets: directories of lz4-compressed,\n"
    "checksummed shard files (shard-00000.crs, ...; format in data/shard.h) of\n"
    "images, or of token ids with the tokenizer that made them (tokenizer.model,\n"
    "tokens.meta; data/token_shard.h).\n"
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
    "  crate-data text (--spm-train V [--spm-type unigram|bpe] | --spm MODEL)\n"
    "                  [--val-every K] IN... OUT_DIR\n"
    "      Tokenizes text files into the token datasets OUT_DIR/train and\n"
    "      OUT_DIR/val. Documents are the paragraphs of the inputs, in order: a\n"
    "      blank line (empty or only spaces and tabs) ends a document, as does\n"
    "      the end of a file. Every K-th document (default 20) goes to val, the\n"
    "      rest to train. The inputs must be UTF-8 text.\n"
    "        --spm-train V    train a SentencePiece tokenizer of exactly V pieces\n"
    "                         on the lines of the TRAIN documents only (pad 0,\n"
    "                         unk 1, bos 2, eos 3, \"[MASK]\" 4, character\n"
    "                         coverage 1.0)\n"
    "        --spm-type T     unigram (default) or bpe\n"
    "        --spm MODEL      use this SentencePiece model instead (bos id 2),\n"
    "                         e.g. the tokenizer.model of an earlier dataset\n"
    "        --val-every K    every K-th document to val (K >= 2, default 20)\n"
    "      Every document is written as the bos id then its ids (SentencePiece\n"
    "      encodes its line breaks as spaces); both datasets get a copy of the\n"
    "      tokenizer. Prints documents, tokens, bytes and bytes/token of each\n"
    "      split, then the baselines (below). OUT_DIR is created if needed;\n"
    "      OUT_DIR/train and OUT_DIR/val must be absent, empty or token datasets\n"
    "      (replaced), and are checked before training.\n"
    "\n"
    "  crate-data kjv OUT_DIR [--vocab V] [--spm-type unigram|bpe] [--add-texts DIR]\n"
    "      The King James Bible (Debian package bible-kjv; runs\n"
    "      `" KJV_COMMAND "`) as token datasets: one document per\n"
    "      chapter (1189), every 20th chapter (20, 40, ..., 1180: 59 chapters)\n"
    "      to OUT_DIR/val, the other 1130 to OUT_DIR/train, a tokenizer of V\n"
    "      pieces (default 4096, unigram) trained on the train chapters. A\n"
    "      chapter's text is its heading line (\"Genesis 1\") then one verse per\n"
    "      line, without verse numbers. Prints the counts and the baselines.\n"
    "      --add-texts DIR adds the texts of a labelled text folder (e.g. the\n"
    "      train split of crate-data fortunes) to train, one document each, and\n"
    "      trains the tokenizer on them too; val stays the KJV chapters.\n"
    "\n"
    "  crate-data fortunes OUT_DIR [--source DIR] [--classes N]\n"
    "      Labelled short texts for crate-probe --text-train/--text-test: the N\n"
    "      (default 10) categories with the most texts of Debian's fortunes\n"
    "      (package fortunes; ties by name) as OUT_DIR/train and OUT_DIR/test,\n"
    "      one file per category of texts separated by lines that are exactly %\n"
    "      (the format of the source; any folder of such files works the same).\n"
    "      Split per category: round(0.8 n) of its n texts to train, the rest to\n"
    "      test, by a fixed permutation, so the same source gives the same bytes.\n"
    "      Texts lose their trailing white space (empty ones are skipped) and\n"
    "      overstrikes (x BACKSPACE y) print as y. Texts stay text: crate-probe\n"
    "      tokenizes them with the checkpoint's own tokenizer. Each split is\n"
    "      written to SPLIT.partial and renamed; an existing one is replaced only\n"
    "      if crate-data wrote it (it holds " LABELLED_TEXT_MARKER ").\n"
    "        --source DIR   the category files (default " FORTUNES_SOURCE ")\n"
    "        --classes N    how many categories (default 10, at least 2)\n"
    "\n"
    "  crate-data baselines DIR\n"
    "      Cross-entropy of DIR/val under counts from DIR/train: unigram and\n"
    "      bigram, both add-one smoothed, over every val token after the first,\n"
    "      in nats/token and in bits per byte of val text (nats x tokens /\n"
    "      text bytes / ln 2); then the same as one JSON line.\n"
    "\n"
    "  crate-data verify PATH\n"
    "      Reads and checks every block of the dataset at PATH (a shard\n"
    "      directory, one image shard file, or a token dataset directory) and\n"
    "      prints a summary: records (tokens, documents), shards, blocks, sizes,\n"
    "      labels. A damaged dataset exits 2 with a message naming the file and\n"
    "      block.\n"
    "\n"
    "  crate-data --help        this text\n"
    "\n"
    "exit status: 0 ok, 2 bad usage or input (a damaged dataset included),\n"
    "1 internal failure.\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
    fprintf(stderr, "crate-data: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
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

/* The OUT_DIR of a command and its options, each of which takes a value:
 * values[i] is set to the value of names[i] when given (else left alone).
 * CRATE_OK, -1 after --help, or a usage error. */
static int out_dir_and_options(int argc, char **argv, const char *command, const char *const *names,
                               const char **values, int n, const char **out) {
    *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int k = 0;
        while (k < n && strcmp(a, names[k])) k++;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return -1;
        } else if (k < n) {
            if (i + 1 >= argc) return usage_error("%s needs a value", a);
            values[k] = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option %s", a);
        } else if (!*out) {
            *out = a;
        } else {
            return usage_error("unexpected argument %s (one OUT_DIR only)", a);
        }
    }
    return *out ? CRATE_OK : usage_error("%s needs OUT_DIR", command);
}

/* Converts one Fashion-MNIST split (prefix "train" or "t10k") into out/name. */
static int convert_split(const char *source, const char *prefix, const char *out, const char *name,
                         uint64_t want_count, int records_per_shard, int records_per_block) {
    double t0 = now_seconds();
    char file[64];
    snprintf(file, sizeof file, "%s-images-idx3-ubyte.gz", prefix);
    char *images_path = fs_path_join(source, file);
    snprintf(file, sizeof file, "%s-labels-idx1-ubyte.gz", prefix);
    char *labels_path = fs_path_join(source, file);
    char *dir = fs_path_join(out, name);
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
    static const char *const names[] = {"--source", "--records-per-block", "--records-per-shard"};
    const char *out, *v[3] = {DEFAULT_SOURCE, NULL, NULL};
    int rpb = SHARD_DEFAULT_RECORDS_PER_BLOCK, rps = SHARD_DEFAULT_RECORDS_PER_SHARD;
    int rc = out_dir_and_options(argc, argv, "fashion-mnist", names, v, 3, &out);
    if (rc) return rc;
    if ((v[1] && parse_count(names[1], v[1], &rpb)) || (v[2] && parse_count(names[2], v[2], &rps)))
        return CRATE_EINPUT;
    double t0 = now_seconds();
    int st = make_dirs(out);
    if (!st) st = convert_split(v[0], "train", out, "train", 60000, rps, rpb);
    if (!st) st = convert_split(v[0], "t10k", out, "test", 10000, rps, rpb);
    if (st) return fail(st);
    printf("fashion-mnist: done in %.2f s\n", now_seconds() - t0);
    return CRATE_OK;
}

/* ---- token datasets ------------------------------------------------------------ */

static int parse_spm_type(const char *s, spm_type *t) {
    if (!strcmp(s, "unigram")) *t = SPM_UNIGRAM;
    else if (!strcmp(s, "bpe")) *t = SPM_BPE;
    else return usage_error("--spm-type is unigram or bpe, got '%s'", s);
    return CRATE_OK;
}

/* Prints the baselines of dir/val under dir/train, as text and JSON. */
static int print_baselines(const char *dir) {
    token_baselines b;
    char *train = fs_path_join(dir, "train"), *val = fs_path_join(dir, "val");
    int st = train && val ? token_baselines_compute_paths(train, val, &b) : CRATE_EINTERNAL;
    free(train);
    free(val);
    if (st) return st;
    printf("baselines: val under counts from train\n");
    token_baselines_print(stdout, "  ", &b);
    token_baselines_print_json(stdout, dir, &b);
    return CRATE_OK;
}

static void print_split(const char *name, const token_dataset_stats *s, const char *out, const char *extra) {
    printf("%-5s %llu documents%s, %llu tokens, %llu bytes of text, %.3f bytes/token, %d shard%s, %.2f MB on disk "
           "-> %s/%s\n", name, (unsigned long long)s->documents, extra, (unsigned long long)s->tokens,
           (unsigned long long)s->text_bytes, (double)s->text_bytes / (double)(s->tokens ? s->tokens : 1), s->shards,
           s->shards == 1 ? "" : "s", (double)s->file_bytes / 1e6, out, name);
}

/* Tokenizes c into out/train and out/val and prints what was written. */
static int split_and_report(const text_corpus *c, const char *out, const text_split_options *o) {
    text_split_stats s;
    int st = text_corpus_write_split(c, out, o, &s);
    if (st) return st;
    if (o->spm_model)
        printf("tokenizer: %s (%d pieces), loaded in %.2f s\n", o->spm_model, s.vocab, s.tokenizer_seconds);
    else
        printf("tokenizer: %s, %d pieces, trained on the %llu lines of the train documents in %.2f s\n",
               o->type == SPM_BPE ? "bpe" : "unigram", s.vocab, (unsigned long long)s.tokenizer_lines,
               s.tokenizer_seconds);
    char every[64];
    snprintf(every, sizeof every, " (every %d%s)", o->val_every,
             o->val_every % 10 == 1 && o->val_every % 100 != 11 ? "st"
             : o->val_every % 10 == 2 && o->val_every % 100 != 12 ? "nd"
             : o->val_every % 10 == 3 && o->val_every % 100 != 13 ? "rd" : "th");
    print_split("train", &s.train, out, "");
    print_split("val", &s.val, out, every);
    printf("encoded and written in %.2f s\n", s.encode_seconds);
    return print_baselines(out);
}

static int cmd_text(int argc, char **argv) {
    text_split_options o = {.val_every = 20, .type = SPM_UNIGRAM, .vocab_flag = "--spm-train"};
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos) return fail(crate_fail(CRATE_EINTERNAL, "out of memory"));
    int npos = 0, typed = 0, st = CRATE_OK;
    for (int i = 0; !st && i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            free(pos);
            return -1;
        } else if (!strcmp(a, "--spm-train") || !strcmp(a, "--spm-type") || !strcmp(a, "--spm") ||
                   !strcmp(a, "--val-every")) {
            if (i + 1 >= argc) st = usage_error("%s needs a value", a);
            else if (!strcmp(a, "--spm-train")) st = parse_count(a, argv[++i], &o.vocab);
            else if (!strcmp(a, "--val-every")) st = parse_count(a, argv[++i], &o.val_every);
            else if (!strcmp(a, "--spm")) o.spm_model = argv[++i];
            else st = parse_spm_type(argv[++i], &o.type), typed = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            st = usage_error("unknown option %s", a);
        } else {
            pos[npos++] = a;
        }
    }
    if (!st && (o.vocab > 0) == (o.spm_model != NULL))
        st = usage_error("%s", "text needs exactly one of --spm-train V (train a tokenizer) or --spm MODEL (use one)");
    if (!st && typed && o.spm_model) st = usage_error("%s", "--spm-type goes with --spm-train, not --spm MODEL");
    if (!st && npos < 2) st = usage_error("%s", "text needs at least one input file and OUT_DIR");
    if (st) {
        free(pos);
        return st;
    }
    const char *out = pos[npos - 1];
    char source[600];
    if (npos == 2) snprintf(source, sizeof source, "%.500s", pos[0]);
    else snprintf(source, sizeof source, "%.500s and %d more input%s", pos[0], npos - 2, npos == 3 ? "" : "s");
    o.source = source;
    text_corpus c;
    text_corpus_init(&c);
    for (int i = 0; !st && i < npos - 1; i++) st = text_corpus_add_file(&c, pos[i]);
    if (!st) printf("text: %llu documents (paragraphs) in %d file%s, %llu bytes\n", (unsigned long long)c.count,
                    npos - 1, npos == 2 ? "" : "s", (unsigned long long)c.bytes);
    if (!st) st = split_and_report(&c, out, &o);
    text_corpus_free(&c);
    free(pos);
    return st ? fail(st) : CRATE_OK;
}

/* --add-texts DIR: the records of a labelled text folder appended to c as
 * train-only documents (their labels are not used). */
static int add_texts(text_corpus *c, const char *dir, text_split_options *o) {
    labelled_text t;
    labelled_text_init(&t);
    int st = labelled_text_read(&t, dir);
    o->train_only_from = c->count;
    for (int i = 0; !st && i < t.count; i++)
        st = text_corpus_add(c, t.records.text + t.records.start[i], t.records.len[i]);
    if (!st) printf("kjv: --add-texts %s: %d texts of %d classes added to train\n", dir, t.count, t.classes);
    labelled_text_free(&t);
    return st;
}

static int cmd_kjv(int argc, char **argv) {
    text_split_options o = {.source = "the KJV (`" KJV_COMMAND "`)", .vocab = 4096, .vocab_flag = "--vocab",
                            .val_every = 20, .type = SPM_UNIGRAM};
    static const char *const names[] = {"--vocab", "--spm-type", "--add-texts"};
    const char *out, *v[3] = {NULL, NULL, NULL};
    int rc = out_dir_and_options(argc, argv, "kjv", names, v, 3, &out);
    if (rc) return rc;
    if ((v[0] && parse_count(names[0], v[0], &o.vocab)) || (v[1] && parse_spm_type(v[1], &o.type)))
        return CRATE_EINPUT;
    double t0 = now_seconds();
    text_corpus c;
    text_corpus_init(&c);
    kjv_stats k;
    int st = kjv_read(&c, &k);
    if (!st)
        printf("kjv: %d books, %d chapters, %llu verses from `%s` (%.2f MB in %.2f s); one document per chapter, "
               "every %dth chapter (%llu) to val\n", k.books, k.chapters, (unsigned long long)k.verses, KJV_COMMAND,
               (double)k.source_bytes / 1e6, k.seconds, o.val_every,
               (unsigned long long)(c.count / (uint64_t)o.val_every));
    if (!st && v[2]) st = add_texts(&c, v[2], &o);
    if (!st) st = split_and_report(&c, out, &o);
    text_corpus_free(&c);
    if (st) return fail(st);
    printf("kjv: done in %.2f s\n", now_seconds() - t0);
    return CRATE_OK;
}

static int cmd_fortunes(int argc, char **argv) {
    static const char *const names[] = {"--source", "--classes"};
    const char *out, *v[2] = {FORTUNES_SOURCE, NULL};
    int classes = FORTUNES_DEFAULT_CLASSES;
    int rc = out_dir_and_options(argc, argv, "fortunes", names, v, 2, &out);
    if (rc) return rc;
    if (v[1] && parse_count(names[1], v[1], &classes)) return CRATE_EINPUT;
    double t0 = now_seconds();
    fortunes_result r;
    int st = fortunes_prepare(v[0], out, classes, &r);
    if (st) return fail(st);
    printf("fortunes: %d categories, %d texts in %s; the %d largest, round(80%%) of each to train:\n", r.categories,
           r.texts, v[0], r.train.classes);
    printf("  %-20s %6s %6s %6s\n", "class", "texts", "train", "test");
    for (int c = 0; c < r.train.classes; c++) {
        int a = labelled_text_class_count(&r.train, c), b = labelled_text_class_count(&r.test, c);
        printf("  %-20s %6d %6d %6d\n", r.train.names[c], a + b, a, b);
    }
    printf("  %-20s %6d %6d %6d\n", "total", r.train.count + r.test.count, r.train.count, r.test.count);
    printf("fortunes: wrote %s/train and %s/test in %.2f s\n", out, out, now_seconds() - t0);
    fortunes_result_free(&r);
    return CRATE_OK;
}

/* The one positional argument of a command (named `what` in messages):
 * CRATE_OK with *arg set, -1 after --help, or a usage error. */
static int one_argument(int argc, char **argv, const char *command, const char *what, const char **arg) {
    *arg = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(USAGE, stdout);
            return -1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage_error("unknown option %s", argv[i]);
        } else if (*arg) {
            return usage_error("unexpected argument %s (one %s only)", argv[i], what);
        }
        *arg = argv[i];
    }
    return *arg ? CRATE_OK : usage_error("%s needs %s", command, what);
}

static int cmd_baselines(int argc, char **argv) {
    const char *dir;
    int rc = one_argument(argc, argv, "baselines", "DIR (holding train and val)", &dir);
    if (rc != CRATE_OK) return rc;
    int st = print_baselines(dir);
    return st ? fail(st) : CRATE_OK;
}

/* verify of a token dataset directory. */
static int verify_tokens(const char *path) {
    double t0 = now_seconds();
    token_dataset *ds;
    int st = token_dataset_open(&ds, path, 0);
    if (!st) st = token_dataset_verify(ds);
    if (st) {
        fprintf(stderr, "crate-data: %s: damaged or unreadable: %s\n", path, crate_errmsg());
        token_dataset_close(ds);
        return st;
    }
    double t = now_seconds() - t0;
    token_dataset_stats s;
    token_dataset_get_stats(ds, &s);
    size_t tok_bytes;
    token_dataset_tokenizer(ds, &tok_bytes);
    printf("%s: ok (token dataset)\n", path);
    printf("  tokens     %llu (vocabulary %d, %d-byte ids)\n", (unsigned long long)s.tokens, token_dataset_vocab(ds),
           token_dataset_vocab(ds) <= 65536 ? 2 : 4);
    printf("  documents  %llu\n", (unsigned long long)s.documents);
    printf("  text       %llu bytes (%.3f bytes/token)\n", (unsigned long long)s.text_bytes,
           (double)s.text_bytes / (double)(s.tokens ? s.tokens : 1));
    printf("  shards     %d\n", s.shards);
    printf("  blocks     %llu\n", (unsigned long long)s.blocks);
    printf("  bytes      %llu on disk, %llu raw (ratio %.2f); tokenizer %zu bytes\n",
           (unsigned long long)s.file_bytes, (unsigned long long)s.raw_bytes,
           (double)s.raw_bytes / (double)(s.file_bytes ? s.file_bytes : 1), tok_bytes);
    printf("  checked    %llu blocks in %.2f s\n", (unsigned long long)s.blocks, t);
    token_dataset_close(ds);
    return CRATE_OK;
}

static int is_token_dataset(const char *path) {
    struct stat sb;
    char *meta = fs_path_join(path, TOKEN_META_FILE);
    int yes = meta && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && stat(meta, &sb) == 0;
    free(meta);
    return yes;
}

static int cmd_verify(int argc, char **argv) {
    const char *path;
    int rc = one_argument(argc, argv, "verify", "PATH", &path);
    if (rc != CRATE_OK) return rc;
    if (is_token_dataset(path)) return verify_tokens(path);
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
    } else if (!strcmp(cmd, "text")) {
        st = cmd_text(argc - 2, argv + 2);
    } else if (!strcmp(cmd, "kjv")) {
        st = cmd_kjv(argc - 2, argv + 2);
    } else if (!strcmp(cmd, "fortunes")) {
        st = cmd_fortunes(argc - 2, argv + 2);
    } else if (!strcmp(cmd, "baselines")) {
        st = cmd_baselines(argc - 2, argv + 2);
    } else if (!strcmp(cmd, "verify")) {
        st = cmd_verify(argc - 2, argv + 2);
    } else {
        return usage_error("unknown command %s", cmd);
    }
    return st < 0 ? 0 : st;
}
