/* crate_pretrain.c — `crate-pretrain CONFIG [section.key=value ...]`: trains a
 * CRATE model with the objective the config names, on one or many MPI ranks.
 * Exit status: 0 done, 75 checkpointed on a signal (requeue me), 2 bad
 * usage/config/data, 1 internal failure. */
#include <stdio.h>

#include "pretrain/objective.h"
#include "pretrain/pretrain_main.h"

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

int main(int argc, char **argv) { return pretrain_main(argc, argv, "crate-pretrain", usage, objective_create); }
