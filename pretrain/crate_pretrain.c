/* crate_pretrain.c — `crate-pretrain CONFIG [section.key=value ...]`: trains a
 * CRATE model with the objective the config names, on one or many MPI ranks.
 * Exit status: 0 done, 75 checkpointed on a signal (requeue me), 2 bad
 * usage/config/data, 1 internal failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/train_config.h"
#include "pretrain/stop_signal.h"
#include "pretrain/trainer.h"
#include "src/dist/comm.h"
#include "src/error.h"

static const char *TOOL = "crate-pretrain";

static void usage(FILE *out) {
    fprintf(out,
            "usage: crate-pretrain CONFIG.yaml [section.key=value ...]\n"
            "       mpirun -np N crate-pretrain CONFIG.yaml [section.key=value ...]\n"
            "\n"
            "Pretrains a CRATE white-box transformer. The config's sections are listed below;\n"
            "any key can be overridden on the command line (schedule.steps=200). The resolved\n"
            "config is printed first; progress lines show loss, lr, grad norm, throughput and ETA;\n"
            "<run.dir>/metrics.jsonl gets one JSON object per logged step. Checkpoints go to\n"
            "<run.dir>/ckpt/step-NNNNNN/ (every checkpoint.every steps, at the end, at run.stop_after\n"
            "and on a signal); the same command resumes from the newest usable one.\n"
            "Signals: SIGUSR1, SIGTERM and SIGINT make every rank checkpoint at the next step\n"
            "boundary and exit with status 75. With mpirun, send SIGUSR1 to mpirun (it forwards it).\n"
            "Exit status: 0 done (or stopped by run.stop_after), 75 checkpointed on a signal:\n"
            "requeue me, 2 bad usage, config, data or checkpoint, 1 internal failure.\n\n");
}

/* FNV-1a: the resolved config text must be identical on every rank. */
static uint64_t text_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int load_config(train_config *cfg, config_sources *src, const comm_info *comm, int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-')
        return crate_fail(CRATE_EINPUT, "missing CONFIG (run `crate-pretrain --help`)");
    int rc = train_config_load(cfg, src, argv[1], argc - 2, argv + 2);
    if (rc != CRATE_OK) return rc;
    char *text = train_config_yaml(cfg);
    if (!text) return CRATE_EINTERNAL;
    if (comm->rank == 0) printf("# resolved config (%s)\n%s\n", argv[1], text);
    int same = comm_all_equal(text_hash(text));
    free(text);
    if (!same)
        return crate_fail(CRATE_EINPUT, "the resolved config differs between ranks (is %s the same file on every "
                          "node, and are the overrides the same?)", argv[1]);
    return CRATE_OK;
}

int main(int argc, char **argv) {
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
        fprintf(stderr, "%s: %s\n", TOOL, crate_errmsg());
        return CRATE_EINTERNAL;
    }
    train_config cfg;
    config_sources src = {0};
    int rc = comm_agree_report(&comm, TOOL, load_config(&cfg, &src, &comm, argc, argv));
    trainer *t = NULL;
    if (rc == CRATE_OK) rc = comm_agree_report(&comm, TOOL, trainer_setup(&t, &cfg, &src, &comm));
    if (rc == CRATE_OK) {
        int status = trainer_train(t, &rc);
        if (status != CRATE_OK) comm_abort(&comm, TOOL, status);
    }
    trainer_destroy(t);
    config_sources_free(&src);
    comm_finalize();
    return rc;
}
