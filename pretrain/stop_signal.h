/* stop_signal.h — preemption signals (DESIGN §10). SIGUSR1 (Slurm's warning
 * signal), SIGTERM (scontrol requeue, scancel) and SIGINT (Ctrl-C) only set a
 * flag; the trainer checks it at the next step boundary, where every rank
 * agrees on it in the step's loss reduction, so all ranks save the same
 * checkpoint together and no rank ever saves alone. Further signals while
 * saving only set the flag again: the save completes — except a second
 * SIGINT, which a person at a terminal sends to stop at once (the default
 * action: the process ends, the last committed checkpoint is intact). A
 * signal that arrives during start-up ends the run before its first step,
 * with nothing new to save (exit 75). */
#ifndef CRATE_STOP_SIGNAL_H
#define CRATE_STOP_SIGNAL_H

/* Exit status of a run that checkpointed on a signal: "requeue me"
 * (EX_TEMPFAIL). launch/crate.sbatch turns it into `scontrol requeue`. */
#define STOP_SIGNAL_EXIT_REQUEUE 75

/* Call first in main, before any other thread starts (MPI_Init, OpenMP, the
 * prefetch worker): it blocks the stop signals in the calling thread, which
 * every later thread inherits, and starts the thread that receives them. */
void stop_signal_install(void);
/* The first signal received since install, or 0. */
int stop_signal_received(void);

#endif
