/* stop_signal.c — see stop_signal.h.
 *
 * The signals are taken by a watcher thread (sigwait), not by a handler on
 * the thread that happens to be running: a handler's frame is pushed below
 * the interrupted thread's rsp, and oneDNN 2.x's JIT sgemm kernels (Debian's
 * 2.6) point rsp into a heap workspace while they run, so a SIGUSR1 that
 * lands in a GEMM wrote its frame into the heap and corrupted it (oneDNN
 * issue #4845, fixed in 3.11; tests/test_stop_signal.c reproduces it). The
 * stop signals are blocked in the installing thread before it starts any
 * other, so every thread created later (MPI's, OpenMP's, the prefetch
 * worker) inherits the block, and only the watcher, which computes nothing,
 * ever receives them. The handler stays installed for threads that existed
 * before (a library's constructor may start some): it runs there, never in
 * a GEMM of ours, and does what the watcher does.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, pthread_sigmask, sigwait */
#include "pretrain/stop_signal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int received; /* the first stop signal, or 0 */
static int speaks;          /* this process prints the Ctrl-C notes (one rank of a job) */
static sigset_t stop_set;   /* SIGUSR1, SIGTERM, SIGINT */

static void say(const char *s) {
    if (speaks) (void)!write(STDERR_FILENO, s, strlen(s));
}

/* Async-signal-safe: it runs in the handler as well as in the watcher. */
static void note_signal(int sig) {
    /* A second Ctrl-C: the user wants out now, not after a step and a save
     * (the last committed checkpoint is intact: saves are atomic). The
     * default action, delivered to this thread, ends the process. */
    if (sig == SIGINT && atomic_load(&received) == SIGINT) {
        say("\ninterrupted again: stopping at once; the last committed checkpoint is intact\n");
        signal(SIGINT, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, SIGINT);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        raise(SIGINT);
        return;
    }
    int none = 0;
    if (atomic_compare_exchange_strong(&received, &none, sig) && sig == SIGINT)
        say("\ninterrupt: stopping at the next step boundary with a checkpoint (Ctrl-C again stops at once)\n");
}

static void *watch_signals(void *arg) {
    (void)arg;
    for (;;) {
        int sig;
        if (sigwait(&stop_set, &sig) == 0) note_signal(sig);
    }
    return NULL;
}

void stop_signal_install(void) {
    const char *rank = getenv("OMPI_COMM_WORLD_RANK");
    speaks = !rank || strcmp(rank, "0") == 0;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGUSR1);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a write or read in progress finishes; the flag waits for the step boundary */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    pthread_t watcher;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&watcher, &attr, watch_signals, NULL);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        /* No watcher: the handler takes the signals on whichever thread runs. */
        pthread_sigmask(SIG_UNBLOCK, &stop_set, NULL);
        fprintf(stderr, "crate: warning: cannot start the signal watcher (%s); a stop signal that arrives during a "
                "oneDNN GEMM may corrupt memory (CRATE_GEMM=openblas avoids it)\n", strerror(e));
    }
}

int stop_signal_received(void) { return atomic_load(&received); }
