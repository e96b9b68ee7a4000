/* fuzz_checkpoint.c — a whole checkpoint folder as the tools read it
 * without MPI (src/ckpt/checkpoint_read.c: checkpoint_read_all,
 * checkpoint_read_file, checkpoint_verify_files; through the manifest,
 * ckpt_shard_read and ckpt_file_read).
 *
 * Input: a bundle (fuzz_common.h): manifest.yaml, then the files it names,
 * in its order: its shards, then its attached files (part i+1 is written
 * under the name the manifest gives entry i; a manifest that does not parse
 * gets its parts as shard-00000-of-00001.lz4, ...). Mode 'F' recomputes the
 * manifest's checksum line and, when it parses, gives every shard and file
 * entry the size and crc32 of its part (the manifest is then written back
 * with ckpt_manifest_emit), so mutations of the shards reach the lz4 frame
 * and the section ranges behind the checksums.
 */
#include "tests/fuzz/fuzz_common.h"

#include "src/ckpt/checkpoint.h"
#include "src/ckpt/files.h"
#include "src/error.h"

/* A name the harness may create in its folder. */
static int safe_name(const char *s) {
    return s[0] && s[0] != '.' && !strchr(s, '/') && strlen(s) < 200 && strcmp(s, "manifest.yaml");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int fix = data[0] == 'F';
    fuzz_part parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data + 1, size - 1, parts, FUZZ_MAX_PARTS);
    char root[1024], step[1024], file[1024];
    fuzz_path(root, fuzz_dir(), "ckpt");
    fuzz_clear(root);
    fuzz_path(step, root, "step-000001");
    fuzz_clear(step);

    uint8_t *text = fuzz_dup(&parts[0]);
    size_t tn = parts[0].n;
    if (fix) fuzz_fix_manifest(text, tn);
    ckpt_manifest m;
    int parsed = ckpt_manifest_parse(&m, (const char *)text, tn, "fuzz/manifest.yaml") == CRATE_OK;
    /* Where part i (>= 1) goes. */
    char names[FUZZ_MAX_PARTS][CKPT_FILE_MAX + 32];
    for (int i = 1; i < n; i++) {
        int k = i - 1;
        if (parsed && k < m.nshards) snprintf(names[i], sizeof names[i], "%s", m.shards[k].file);
        else if (parsed && k - m.nshards < m.nfiles) snprintf(names[i], sizeof names[i], "%s", m.files[k - m.nshards].name);
        else snprintf(names[i], sizeof names[i], "shard-%05d-of-%05d.lz4", k, n - 1);
        if (fix && parsed && k < m.nshards) {
            m.shards[k].info.bytes = parts[i].n;
            m.shards[k].info.crc32 = crc32_update(0, parts[i].p, parts[i].n);
        } else if (fix && parsed && k - m.nshards < m.nfiles) {
            m.files[k - m.nshards].bytes = parts[i].n;
            m.files[k - m.nshards].crc32 = crc32_update(0, parts[i].p, parts[i].n);
        }
    }
    if (fix && parsed) {
        size_t en;
        char *e = ckpt_manifest_emit(&m, &en);
        if (e) {
            free(text);
            text = (uint8_t *)e;
            tn = en;
        }
    }
    ckpt_manifest_free(&m);
    fuzz_write(fuzz_path(file, step, "manifest.yaml"), text, tn);
    free(text);
    for (int i = 1; i < n; i++)
        if (safe_name(names[i])) fuzz_write(fuzz_path(file, step, names[i]), parts[i].p, parts[i].n);

    /* What crate-ckpt verify and crate-probe do. */
    float *vec[CKPT_MAX_SECTIONS];
    if (fuzz_note("checkpoint_read_all", checkpoint_read_all(root, &m, NULL, vec)) == CRATE_OK) {
        for (int s = 0; s < CKPT_MAX_SECTIONS; s++) free(vec[s]);
        fuzz_note("checkpoint_verify_files", checkpoint_verify_files(step, &m));
        if (m.nfiles > 0) {
            void *blob;
            size_t bytes;
            char name[CKPT_FILE_MAX];
            snprintf(name, sizeof name, "%s", m.files[0].name);
            if (checkpoint_read_file(step, name, &blob, &bytes) == CRATE_OK) free(blob);
        }
    }
    ckpt_manifest_free(&m);
    float *params;
    if (checkpoint_read_params(step, &m, &params) == CRATE_OK) free(params);
    ckpt_manifest_free(&m);
    return 0;
}
