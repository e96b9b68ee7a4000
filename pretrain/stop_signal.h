/* stop_signal.h — preemption signals (DESIGN §10). SIGUSR1 (Slurm's warning
 * signal), SIGTERM (scontrol requeue, scancel) and SIGINT (Ctrl-C) only set a
 * flag; the trainer checks it at the next step boundary, where every rank
 * agrees on it in the step's loss reduction, so all ranks save the same
 * checkpoint together and no rank ever saves alone. Further signals while
 * saving only set the flag again: the save completes. */
#ifndef CRATE_STOP_SIGNAL_H
#define CRATE_STOP_SIGNAL_H

/* Exit status of a run that checkpointed on a signal: "requeue me"
 * (EX_TEMPFAIL). launch/crate.sbatch turns it into `scontrol requeue`. */
#define STOP_SIGNAL_EXIT_REQUEUE 75

void stop_signal_install(void);
/* The first signal received since install, or 0. */
int stop_signal_received(void);

#endif
