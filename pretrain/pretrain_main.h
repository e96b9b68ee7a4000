/* pretrain_main.h — the whole of crate-pretrain's main: config from the
 * command line (the same on every rank), trainer, exit status. A test tool
 * runs the same path with an objective of its own (tests/crate_toy_pretrain.c).
 * Exit status: 0 done, 75 checkpointed on a signal (requeue me), 2 bad
 * usage/config/data, 1 internal failure. */
#ifndef CRATE_PRETRAIN_MAIN_H
#define CRATE_PRETRAIN_MAIN_H

#include <stdio.h>

#include "pretrain/trainer.h"

/* usage(out) prints the tool's help before the config keys. */
int pretrain_main(int argc, char **argv, const char *tool, void (*usage)(FILE *out), objective_factory make);

#endif
