/* stop_signal.c — see stop_signal.h. */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include "pretrain/stop_signal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t received;
static int speaks; /* this process prints the Ctrl-C notes (one rank of a job) */

static void say(const char *s) {
    if (speaks) (void)!write(STDERR_FILENO, s, strlen(s));
}

static void on_signal(int sig) {
    /* A second Ctrl-C: the user wants out now, not after a step and a save
     * (the last committed checkpoint is intact: saves are atomic). */
    if (sig == SIGINT && received == SIGINT) {
        say("\ninterrupted again: stopping at once; the last committed checkpoint is intact\n");
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    if (sig == SIGINT && !received)
        say("\ninterrupt: stopping at the next step boundary with a checkpoint (Ctrl-C again stops at once)\n");
    if (!received) received = sig;
}

void stop_signal_install(void) {
    const char *rank = getenv("OMPI_COMM_WORLD_RANK");
    speaks = !rank || strcmp(rank, "0") == 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a write or read in progress finishes; the flag waits for the step boundary */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int stop_signal_received(void) { return received; }
