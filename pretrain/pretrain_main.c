/* pretrain_main.c — see pretrain_main.h. */
#include "pretrain/pretrain_main.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/stop_signal.h"
#include "pretrain/train_config.h"
#include "src/config/config_path.h"
#include "src/dist/comm.h"
#include "src/error.h"

/* FNV-1a: the resolved config text must be identical on every rank. */
static uint64_t text_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* This rank's config. Local: a rank that fails here (the file missing on
 * its node) still reaches the collective agreement that follows. */
static int load_config(train_config *cfg, config_sources *src, const comm_info *comm, const char *tool, int argc,
                       char **argv, char **text) {
    *text = NULL;
    if (argc < 2 || argv[1][0] == '-')
        return crate_fail(CRATE_EINPUT, "missing CONFIG (run `%s --help`)", tool);
    /* A bare name (mae-tiny) is looked up in the install's and the source tree's configs. */
    char path[PATH_MAX];
    int rc = config_path_resolve(argv[1], path, sizeof path);
    if (rc == CRATE_OK) rc = train_config_load(cfg, src, path, argc - 2, argv + 2);
    if (rc != CRATE_OK) return rc;
    if (!(*text = train_config_yaml(cfg))) return CRATE_EINTERNAL;
    if (comm->rank == 0) printf("# resolved config (%s)\n%s\n", path, *text);
    return CRATE_OK;
}

/* Collective, once every rank has its config: they must be the same. */
static int check_same_config(const char *text, const char *config_arg) {
    if (comm_all_equal(text_hash(text))) return CRATE_OK;
    return crate_fail(CRATE_EINPUT, "the resolved config differs between ranks (is %s the same file on every node, "
                      "and are the overrides the same?)", config_arg);
}

int pretrain_main(int argc, char **argv, const char *tool, void (*usage)(FILE *out), objective_factory make) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            train_config_help(stdout);
            return 0;
        }
    /* From the first instant: a warning signal that arrives while the job is
     * still starting must not kill it; it stops the run at its first step. */
    stop_signal_install();
    comm_info comm;
    if (comm_init(&argc, &argv, &comm) != CRATE_OK) {
        fprintf(stderr, "%s: %s\n", tool, crate_errmsg());
        return CRATE_EINTERNAL;
    }
    train_config cfg;
    config_sources src = {0};
    char *text;
    int rc = comm_agree_report(&comm, tool, load_config(&cfg, &src, &comm, tool, argc, argv, &text));
    if (rc == CRATE_OK) rc = comm_agree_report(&comm, tool, check_same_config(text, argv[1]));
    free(text);
    trainer *t = NULL;
    if (rc == CRATE_OK) rc = comm_agree_report(&comm, tool, trainer_setup(&t, &cfg, &src, &comm, make));
    if (rc == CRATE_OK) {
        int status = trainer_train(t, &rc);
        if (status != CRATE_OK) comm_abort(&comm, tool, status);
    }
    trainer_destroy(t);
    config_sources_free(&src);
    comm_finalize();
    return rc;
}
