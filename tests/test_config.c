/* test_config.c — the config engine (src/config/config.c) through the training
 * schema (pretrain/train_config.c): typed values and their sources, defaults,
 * overrides, the emit → reload round trip, value syntax, --help, and that
 * every kind of bad input is CRATE_EINPUT with a message naming the file, the
 * line and the key. Runs from the source root (fixtures in
 * tests/fixtures/config/).
 */
#include "pretrain/train_config.h"
#include "src/error.h"
#include "tests/check.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIXTURE(name) "tests/fixtures/config/" name

/* 1 if the last error message contains every needle (NULL-terminated). */
static int message_has(const char *const *needles) {
    for (; *needles; needles++)
        if (!strstr(crate_errmsg(), *needles)) return 0;
    return 1;
}

/* Loading path with overrides must fail with CRATE_EINPUT and a message
 * holding every needle. */
static void expect_fail(int line, const char *path, int noverrides, char **overrides, const char *const *needles) {
    train_config cfg;
    config_sources src;
    int rc = train_config_load(&cfg, &src, path, noverrides, overrides);
    CHECK(rc == CRATE_EINPUT, "line %d: rc %d, message '%s'", line, rc, crate_errmsg());
    CHECK(message_has(needles), "line %d: message '%s'", line, crate_errmsg());
    CHECK(src.where == NULL, "line %d: sources left allocated after a failure", line);
}
#define EXPECT_FAIL(path, noverrides, overrides, ...) \
    expect_fail(__LINE__, path, noverrides, overrides, (const char *const[]){__VA_ARGS__, NULL})
#define EXPECT_OVERRIDE_FAIL(arg, ...)                \
    do {                                              \
        char *ov_[] = {"data.train=x", arg};          \
        EXPECT_FAIL(NULL, 2, ov_, __VA_ARGS__);       \
    } while (0)

static void test_valid_file(void) {
    train_config cfg;
    config_sources src;
    int rc = train_config_load(&cfg, &src, FIXTURE("valid.yaml"), 0, NULL);
    CHECK(rc == CRATE_OK, "rc %d: %s", rc, crate_errmsg());
    if (rc != CRATE_OK) return;
    CHECK(strcmp(cfg.run.dir, "runs/test") == 0, "run.dir '%s'", cfg.run.dir);
    CHECK(cfg.run.seed == 42, "seed %lld", (long long)cfg.run.seed);
    CHECK(cfg.model.dim == 64 && cfg.model.heads == 4 && cfg.model.depth == 2, "model ints");
    CHECK(cfg.model.eta == 0.25 && cfg.model.lambda == 0.5, "eta %g lambda %g", cfg.model.eta, cfg.model.lambda);
    CHECK(cfg.model.pos_embed == TRAIN_POS_EMBED_LEARNED, "pos_embed %d", cfg.model.pos_embed);
    CHECK(cfg.objective.name == TRAIN_OBJECTIVE_MAE, "objective %d", cfg.objective.name);
    CHECK(cfg.mae.mask_ratio == 0.6 && cfg.mae.encoder_input == TRAIN_MAE_INPUT_ALL && cfg.mae.norm_pix_loss == 1,
          "mae section");
    CHECK(strcmp(cfg.data.train, "data/fmnist-train.shard") == 0, "data.train '%s'", cfg.data.train);
    CHECK(cfg.data.test[0] == '\0', "data.test '%s'", cfg.data.test);
    CHECK(cfg.optim.lr == 3e-4 && cfg.optim.beta2 == 0.999, "optim");
    CHECK(cfg.schedule.steps == 2000 && cfg.schedule.warmup_steps == 100, "steps %lld", (long long)cfg.schedule.steps);

    CHECK(strcmp(config_where(&src, "model.dim"), FIXTURE("valid.yaml:6:8")) == 0, "%s",
          config_where(&src, "model.dim"));
    CHECK(strcmp(config_where(&src, "data.train"), FIXTURE("valid.yaml:19:10")) == 0, "%s",
          config_where(&src, "data.train"));
    CHECK(strcmp(config_where(&src, "model.decoder_depth"), "default") == 0, "%s",
          config_where(&src, "model.decoder_depth"));
    CHECK(strcmp(config_where(&src, "model.dimm"), "(not a config key)") == 0, "%s",
          config_where(&src, "model.dimm"));
    config_sources_free(&src);
    config_sources_free(&src); /* safe to repeat */
    CHECK(src.where == NULL && src.nkeys == 0, "sources not emptied");
}

static void test_defaults(void) {
    train_config cfg;
    config_sources src;
    int rc = train_config_load(&cfg, &src, FIXTURE("minimal.yaml"), 0, NULL);
    CHECK(rc == CRATE_OK, "rc %d: %s", rc, crate_errmsg());
    if (rc != CRATE_OK) return;
    CHECK(strcmp(cfg.run.dir, "runs/mae") == 0 && cfg.run.seed == 0, "run defaults");
    const train_model_config *m = &cfg.model;
    CHECK(m->dim == 192 && m->heads == 3 && m->head_dim == 0 && m->depth == 6 && m->decoder_depth == 4 &&
              m->patch == 4,
          "model int defaults");
    CHECK(m->eta == 0.1 && m->lambda == 0.5 && m->init_std == 0.02 && m->pos_embed == TRAIN_POS_EMBED_SINCOS,
          "model other defaults");
    CHECK(cfg.mae.mask_ratio == 0.75 && cfg.mae.encoder_input == TRAIN_MAE_INPUT_VISIBLE && !cfg.mae.norm_pix_loss,
          "mae defaults");
    CHECK(strcmp(cfg.data.train, "/tmp/x.shard") == 0 && cfg.data.test[0] == '\0', "data strings");
    CHECK(cfg.data.prefetch == 2 && cfg.data.cache_mb == 512, "data ints");
    const train_optim_config *o = &cfg.optim;
    CHECK(o->lr == 1e-3 && o->min_lr == 1e-5 && o->weight_decay == 0.05 && o->beta1 == 0.9 && o->beta2 == 0.95 &&
              o->eps == 1e-8 && o->clip == 1.0,
          "optim defaults");
    CHECK(cfg.schedule.steps == 1000 && cfg.schedule.warmup_steps == 50 && cfg.schedule.global_batch == 64,
          "schedule defaults");
    CHECK(cfg.dist.threads_per_rank == 0 && cfg.log.every == 10, "dist and log defaults");
    CHECK(strcmp(config_where(&src, "optim.lr"), "default") == 0, "%s", config_where(&src, "optim.lr"));
    config_sources_free(&src);

    rc = train_config_load(&cfg, &src, FIXTURE("empty.yaml"), 1, (char *[]){"data.train=d"});
    CHECK(rc == CRATE_OK && cfg.model.depth == 6, "an empty file means defaults: %s", crate_errmsg());
    if (rc == CRATE_OK) config_sources_free(&src);
}

static void test_overrides(void) {
    train_config cfg;
    config_sources src;
    char *ov[] = {"model.depth=12", "model.depth=3", "data.train=/x=y", "mae.norm_pix_loss=No", "data.test="};
    int rc = train_config_load(&cfg, &src, FIXTURE("valid.yaml"), 5, ov);
    CHECK(rc == CRATE_OK, "rc %d: %s", rc, crate_errmsg());
    if (rc != CRATE_OK) return;
    CHECK(cfg.model.depth == 3, "the last override wins: depth %lld", (long long)cfg.model.depth);
    CHECK(strcmp(cfg.data.train, "/x=y") == 0, "value is the text after the first '=': '%s'", cfg.data.train);
    CHECK(cfg.mae.norm_pix_loss == 0, "bool override");
    CHECK(strcmp(config_where(&src, "model.depth"), "command line") == 0, "%s", config_where(&src, "model.depth"));
    CHECK(strcmp(config_where(&src, "data.test"), "command line") == 0, "%s", config_where(&src, "data.test"));
    CHECK(strcmp(config_where(&src, "model.dim"), FIXTURE("valid.yaml:6:8")) == 0, "%s",
          config_where(&src, "model.dim"));
    config_sources_free(&src);

    rc = train_config_load(&cfg, &src, NULL, 1, (char *[]){"data.train=only"});
    CHECK(rc == CRATE_OK && strcmp(cfg.data.train, "only") == 0, "no file, overrides only: %s", crate_errmsg());
    if (rc == CRATE_OK) config_sources_free(&src);
}

/* Loads overrides (no file) and returns the loaded config's yaml, or NULL. */
static char *yaml_of(const char *path, int n, char **ov, train_config *cfg) {
    config_sources src;
    if (train_config_load(cfg, &src, path, n, ov) != CRATE_OK) return NULL;
    config_sources_free(&src);
    return train_config_yaml(cfg);
}

static void test_round_trip(void) {
    char *ov[] = {"run.dir=we\"ird: #dir\\ \t'x'", "optim.lr=0.30000000000000004", "optim.min_lr=1e-7",
                  "model.init_std=0.1"};
    train_config first, second;
    char *text = yaml_of(FIXTURE("valid.yaml"), 4, ov, &first);
    CHECK(text != NULL, "emit: %s", crate_errmsg());
    if (!text) return;
    const char *head = "run:\n  dir: \"we\\\"ird: #dir\\\\ \\x09'x'\"\n  seed: 42\n  stop_after: 0\nmodel:\n  dim: 64\n";
    CHECK(strncmp(text, head, strlen(head)) == 0, "text starts:\n%s", text);
    CHECK(strstr(text, "  lr: 0.30000000000000004\n") && strstr(text, "  min_lr: 1e-07\n") &&
              strstr(text, "  eta: 0.25\n") && strstr(text, "  pos_embed: learned\n") &&
              strstr(text, "  norm_pix_loss: true\n") && strstr(text, "  test: \"\"\n") &&
              strstr(text, "  steps: 2000\n") && strstr(text, "log:\n  every: 10\n"),
          "text:\n%s", text);

    char path[] = "/tmp/crate_test_config_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) {
        free(text);
        return;
    }
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
    close(fd);
    char *again = yaml_of(path, 0, NULL, &second);
    unlink(path);
    CHECK(again && strcmp(text, again) == 0, "reload differs:\n%s\n---\n%s", text, again ? again : crate_errmsg());
    CHECK(memcmp(&first.optim, &second.optim, sizeof first.optim) == 0, "floats reload bit for bit");
    CHECK(strcmp(first.run.dir, second.run.dir) == 0, "dir '%s' vs '%s'", first.run.dir, second.run.dir);
    free(text);
    free(again);
}

static void test_value_syntax(void) {
    struct {
        char *arg;
        int64_t depth;
    } ints[] = {{"model.depth=1e2", 100}, {"model.depth=+7", 7}, {"model.depth=\"6\"", -1}, {"model.depth=1.5", -1},
                {"model.depth= 5", -1},   {"model.depth=0x10", -1}, {"model.depth=1e-1", -1}, {"model.depth=", -1},
                {"model.depth=9e99", -1}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        train_config cfg;
        config_sources src;
        char *ov[] = {"data.train=x", ints[i].arg};
        int rc = train_config_load(&cfg, &src, NULL, 2, ov);
        if (ints[i].depth < 0) {
            CHECK(rc == CRATE_EINPUT && strstr(crate_errmsg(), "model.depth: expected an integer"), "%s: %s",
                  ints[i].arg, crate_errmsg());
        } else {
            CHECK(rc == CRATE_OK && cfg.model.depth == ints[i].depth, "%s: %s", ints[i].arg, crate_errmsg());
        }
        if (rc == CRATE_OK) config_sources_free(&src);
    }
    struct {
        char *arg;
        double eta;
    } floats[] = {{"model.eta=.5", 0.5}, {"model.eta=5.", 5}, {"model.eta=1e-4", 1e-4}, {"model.eta=nan", -1},
                  {"model.eta=inf", -1}, {"model.eta=", -1},  {"model.eta=0.1x", -1}};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        train_config cfg;
        config_sources src;
        char *ov[] = {"data.train=x", floats[i].arg};
        int rc = train_config_load(&cfg, &src, NULL, 2, ov);
        if (floats[i].eta < 0) {
            CHECK(rc == CRATE_EINPUT && strstr(crate_errmsg(), "model.eta: expected a number"), "%s: %s",
                  floats[i].arg, crate_errmsg());
        } else {
            CHECK(rc == CRATE_OK && cfg.model.eta == floats[i].eta, "%s: %s", floats[i].arg, crate_errmsg());
        }
        if (rc == CRATE_OK) config_sources_free(&src);
    }
    const char *bools[] = {"TRUE", "yes", "1", "False", "No", "0"};
    for (int i = 0; i < 6; i++) {
        train_config cfg;
        config_sources src;
        char arg[64];
        snprintf(arg, sizeof arg, "mae.norm_pix_loss=%s", bools[i]);
        int rc = train_config_load(&cfg, &src, NULL, 2, (char *[]){"data.train=x", arg});
        CHECK(rc == CRATE_OK && cfg.mae.norm_pix_loss == (i < 3), "%s: %s", arg, crate_errmsg());
        if (rc == CRATE_OK) config_sources_free(&src);
    }
    EXPECT_OVERRIDE_FAIL("mae.norm_pix_loss=maybe", "mae.norm_pix_loss: expected true or false", "'maybe'");

    char long_value[CONFIG_STRING_MAX + 16] = "data.train=";
    memset(long_value + 11, 'a', CONFIG_STRING_MAX - 1);
    train_config cfg;
    config_sources src;
    int rc = train_config_load(&cfg, &src, NULL, 1, (char *[]){long_value});
    CHECK(rc == CRATE_OK && strlen(cfg.data.train) == CONFIG_STRING_MAX - 1, "longest string: %s", crate_errmsg());
    if (rc == CRATE_OK) config_sources_free(&src);
    long_value[11 + CONFIG_STRING_MAX - 1] = 'a';
    EXPECT_FAIL(NULL, 1, ((char *[]){long_value}), "data.train: the value is 512 bytes, more than the limit of 511");

    /* The resolved config of an override (stored in every manifest) must load
     * back as itself: bytes that are not UTF-8 are refused, code points YAML
     * holds only escaped (C1 controls, the line separator) are escaped. */
    EXPECT_OVERRIDE_FAIL("data.train=a\xe8", "command line 'data.train=a", "not UTF-8 text (byte 2, 0xe8)");
    rc = train_config_load(&cfg, &src, NULL, 1, (char *[]){"data.train=x\xc2\x99y\xe2\x80\xa8z\xef\xbb\xbf\t"});
    CHECK(rc == CRATE_OK, "a C1 control in an override: %s", crate_errmsg());
    if (rc == CRATE_OK) {
        config_sources_free(&src);
        char *yaml = train_config_yaml(&cfg);
        CHECK(yaml && strstr(yaml, "\"x\\x99y\\u2028z\\ufeff\\x09\""), "escaped in the resolved YAML");
        train_config again;
        rc = yaml ? train_config_load_text(&again, &src, yaml, "resolved.yaml") : CRATE_EINTERNAL;
        CHECK(rc == CRATE_OK && !strcmp(again.data.train, cfg.data.train), "loads back: %s", crate_errmsg());
        if (rc == CRATE_OK) config_sources_free(&src);
        free(yaml);
    }
}

static void test_bad_files(void) {
    EXPECT_FAIL(FIXTURE("nope.yaml"), 0, NULL,
                "cannot read config 'tests/fixtures/config/nope.yaml': No such file or directory");
    EXPECT_FAIL(FIXTURE("unknown_key.yaml"), 0, NULL,
                "unknown_key.yaml:3:3: unknown key 'model.dimm' (keys of 'model': dim, heads, head_dim, depth,");
    EXPECT_FAIL(FIXTURE("unknown_section.yaml"), 0, NULL,
                "unknown_section.yaml:3:1: unknown section 'modle' (sections: run, model, init, objective, mae, classify, "
                "gpt2, bert, dino, data, optim, schedule, dist, compute, checkpoint, eval, log)");
    EXPECT_FAIL(FIXTURE("wrong_type.yaml"), 0, NULL, "wrong_type.yaml:4:10: model.depth: expected an integer",
                "got 'six'");
    EXPECT_FAIL(FIXTURE("out_of_range.yaml"), 0, NULL,
                "out_of_range.yaml:4:10: model.depth: 0 is out of range [1, 1000]");
    EXPECT_FAIL(FIXTURE("bad_enum.yaml"), 0, NULL,
                "bad_enum.yaml:4:14: model.pos_embed: expected one of sincos|learned, got 'rope'");
    EXPECT_FAIL(FIXTURE("syntax.yaml"), 0, NULL, "syntax.yaml:5:", "invalid YAML: mapping values are not allowed");
    EXPECT_FAIL(FIXTURE("duplicate_key.yaml"), 0, NULL,
                "duplicate_key.yaml:6:3: duplicate key 'model.depth' (first set at "
                "tests/fixtures/config/duplicate_key.yaml:4:10)");
    EXPECT_FAIL(FIXTURE("duplicate_section.yaml"), 0, NULL,
                "duplicate_section.yaml:5:1: duplicate section 'model' (first at "
                "tests/fixtures/config/duplicate_section.yaml:3:1)");
    EXPECT_FAIL(FIXTURE("missing_required.yaml"), 0, NULL,
                "missing_required.yaml: data.train is required: set it under 'data:' or pass data.train=TEXT");
    EXPECT_FAIL(NULL, 0, NULL, "no config file: data.train is required");
    EXPECT_FAIL(FIXTURE("section_scalar.yaml"), 0, NULL,
                "section_scalar.yaml:3:8: section 'model' must hold indented 'key: value' lines, got a value");
    EXPECT_FAIL(FIXTURE("value_sequence.yaml"), 0, NULL,
                "value_sequence.yaml:4:10: model.depth: expected a single value, got a list");
    EXPECT_FAIL(FIXTURE("two_documents.yaml"), 0, NULL, "two_documents.yaml:3:1: a second YAML document");
    EXPECT_FAIL(FIXTURE("top_sequence.yaml"), 0, NULL, "top_sequence.yaml:1:1: expected sections", "got a list");
    /* a file error wins over a later override, and the override is not needed to see it */
    EXPECT_FAIL(FIXTURE("wrong_type.yaml"), 1, ((char *[]){"model.depth=3"}), "wrong_type.yaml:4:10");
}

static void test_bad_overrides(void) {
    EXPECT_OVERRIDE_FAIL("model.depth", "command line 'model.depth': expected section.key=value");
    EXPECT_OVERRIDE_FAIL("model.dimm=3",
                         "command line 'model.dimm=3': unknown key 'model.dimm' (keys of 'model': dim, heads,");
    EXPECT_OVERRIDE_FAIL("modle.depth=3", "command line 'modle.depth=3': unknown section 'modle' (sections: run,");
    EXPECT_OVERRIDE_FAIL("depth=3", "command line 'depth=3': unknown section 'depth'");
    EXPECT_OVERRIDE_FAIL("model=3", "command line 'model=3': unknown key 'model' (keys of 'model': dim");
    EXPECT_OVERRIDE_FAIL("model.depth=six", "command line 'model.depth=six': model.depth: expected an integer");
    EXPECT_OVERRIDE_FAIL("mae.mask_ratio=0.995", "command line 'mae.mask_ratio=0.995': mae.mask_ratio: 0.995 is out "
                                                 "of range [0, 0.99]");
    EXPECT_OVERRIDE_FAIL("mae.encoder_input=some", "mae.encoder_input: expected one of visible|all, got 'some'");
}

static void test_cross_key_rules(void) {
    EXPECT_FAIL(FIXTURE("indivisible.yaml"), 0, NULL, "model.dim = 100 (tests/fixtures/config/indivisible.yaml:4:8)",
                "model.heads = 3 (tests/fixtures/config/indivisible.yaml:5:10)", "model.head_dim");
    train_config cfg;
    config_sources src;
    int rc = train_config_load(&cfg, &src, FIXTURE("indivisible.yaml"), 1, (char *[]){"model.head_dim=32"});
    CHECK(rc == CRATE_OK && cfg.model.head_dim == 32, "an explicit head_dim allows any dim: %s", crate_errmsg());
    if (rc == CRATE_OK) config_sources_free(&src);
    EXPECT_OVERRIDE_FAIL("optim.min_lr=0.01", "optim.min_lr = 0.01 (command line) is above optim.lr = 0.001 (default)");
    EXPECT_OVERRIDE_FAIL("schedule.warmup_steps=2000",
                         "schedule.warmup_steps = 2000 (command line) is more than schedule.steps = 1000 (default)");
}

/* A schema of the test's own: a bad default is a bug of the schema
 * (CRATE_EINTERNAL), and so is an enum field outside its choices at emit. */
typedef struct {
    struct {
        int64_t n;
        int mode;
    } s;
} tiny_config;

static void test_schema_bugs(void) {
    config_key schema[] = {
        {"s", "n", CONFIG_INT, offsetof(tiny_config, s.n), "7", 0, 10, NULL, "a number"},
        {"s", "mode", CONFIG_ENUM, offsetof(tiny_config, s.mode), "b", 0, 0, "a|b", "a mode"},
    };
    tiny_config cfg;
    config_sources src;
    int rc = config_load(schema, 2, &cfg, NULL, 0, NULL, &src);
    CHECK(rc == CRATE_OK && cfg.s.n == 7 && cfg.s.mode == 1, "tiny schema: %s", crate_errmsg());
    if (rc == CRATE_OK) config_sources_free(&src);
    cfg.s.mode = 2;
    char *text = config_to_yaml(schema, 2, &cfg);
    CHECK(text == NULL && strstr(crate_errmsg(), "s.mode holds 2, not an index into a|b"), "%s", crate_errmsg());
    free(text);
    schema[0].default_value = "11";
    rc = config_load(schema, 2, &cfg, NULL, 0, NULL, &src);
    CHECK(rc == CRATE_EINTERNAL &&
              strstr(crate_errmsg(), "bad config schema: default: s.n: 11 is out of range [0, 10]"),
          "rc %d: %s", rc, crate_errmsg());
}

static void test_help(void) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    train_config_help(out);
    fclose(out);
    CHECK(strstr(text, "model:\n  model.dim=N ") != NULL, "help:\n%s", text);
    CHECK(strstr(text, "integer in [1, 1000], default 6\n      encoder layers") != NULL, "help:\n%s", text);
    CHECK(strstr(text, "data.train=TEXT") && strstr(text, "string, required\n"), "help:\n%s", text);
    CHECK(strstr(text, "model.pos_embed=sincos|learned") && strstr(text, "choice, default sincos"), "help:\n%s", text);
    CHECK(strstr(text, "string, default \"runs/mae\"") && strstr(text, "number in [0, 0.99], default 0.75"),
          "help:\n%s", text);
    free(text);
}

int main(void) {
    test_valid_file();
    test_defaults();
    test_overrides();
    test_round_trip();
    test_value_syntax();
    test_bad_files();
    test_bad_overrides();
    test_cross_key_rules();
    test_schema_bugs();
    test_help();
    return check_finish();
}
