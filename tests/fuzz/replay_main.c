/* replay_main.c — a main for the harnesses of tests/fuzz/ without libFuzzer:
 * runs LLVMFuzzerTestOneInput once on every file given, and on every regular
 * file of every folder given (sorted by name, not recursing), so that gcc
 * builds replay the seed corpora and the reproducers kept there as ctests
 * (fuzz_replay_NAME). Prints how many inputs ran; exits 2 when an argument
 * cannot be read or no input was found (a missing corpus must not pass).
 * A crash, a sanitizer report or a harness abort() is the failure itself.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs the harness on path's bytes; 0, or -1 if it cannot be read. */
static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t k; buf && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, so ASan sees a read past the input. */
    uint8_t *in = malloc(n ? n : 1);
    if (!in) return -1;
    memcpy(in, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(in, n);
    free(in);
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: %s FILE_OR_FOLDER...\nRuns the fuzz harness once on each "
                "file (a folder: each regular file in it).\n", argv[0]);
        return argc < 2 ? 2 : 0;
    }
    long ran = 0;
    for (int a = 1; a < argc; a++) {
        struct stat sb;
        if (stat(argv[a], &sb) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[a], strerror(errno));
            return 2;
        }
        if (!S_ISDIR(sb.st_mode)) {
            if (replay_file(argv[a]) != 0) return 2;
            ran++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        if (!d) {
            fprintf(stderr, "replay: cannot list %s: %s\n", argv[a], strerror(errno));
            return 2;
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            if (n == cap && !(names = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names))) return 2;
            if (!(names[n++] = strdup(e->d_name))) return 2;
        }
        closedir(d);
        if (n > 1) qsort(names, n, sizeof *names, by_name);
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(argv[a]) + strlen(names[i]) + 2;
            char *path = malloc(len);
            if (!path) return 2;
            snprintf(path, len, "%s/%s", argv[a], names[i]);
            if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                if (replay_file(path) != 0) return 2;
                ran++;
            }
            free(path);
            free(names[i]);
        }
        free(names);
    }
    printf("replayed %ld inputs\n", ran);
    if (ran == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 2;
    }
    return 0;
}
