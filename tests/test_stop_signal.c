/* test_stop_signal.c — stop signals never interrupt a GEMM (pretrain/stop_signal.c).
 *
 * oneDNN 2.x's JIT sgemm points rsp into a heap workspace while it runs; a
 * signal handler that interrupts it pushes its frame there and corrupts the
 * heap (oneDNN issue #4845): a SIGUSR1 from Slurm aborted one rank of a
 * resumed 2-rank run in about one case in ten. Here a thread sends SIGUSR1 to
 * the process as fast as it can while the main thread runs the models'
 * kind of products through gemm() on the selected backend, checks entries
 * against double sums, and churns the heap; with the handler on the
 * computing thread this aborts within a second on oneDNN. Also checked: the
 * stop signals are blocked in the installing thread and in threads it starts
 * afterwards, and the first signal is the one recorded.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pretrain/stop_signal.h"
#include "src/kernels/gemm.h"
#include "tests/check.h"

static atomic_int sending = 1;
static atomic_long sent;

static void *send_signals(void *arg) {
    (void)arg;
    struct timespec pause = {0, 20000}; /* 20 µs: tens of thousands of signals a second */
    while (atomic_load(&sending)) {
        kill(getpid(), SIGUSR1);
        atomic_fetch_add(&sent, 1);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static void *report_mask(void *arg) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    *(int *)arg = sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGTERM) && sigismember(&cur, SIGINT);
    return NULL;
}

/* Entry (i,j) of op(A)·op(B), in double. */
static double ref_entry(const float *A, const float *B, int ta, int tb, int i, int j, int M, int N, int K) {
    double acc = 0;
    for (int k = 0; k < K; k++) {
        double a = ta ? A[(size_t)k * M + i] : A[(size_t)i * K + k];
        double b = tb ? B[(size_t)j * K + k] : B[(size_t)k * N + j];
        acc += a * b;
    }
    return acc;
}

int main(void) {
    stop_signal_install();
    CHECK(gemm_select(GEMM_BACKEND_AUTO, GEMM_PRECISION_AUTO) == 0, "gemm_select");
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    CHECK(sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGTERM) && sigismember(&cur, SIGINT),
          "the installing thread blocks the stop signals");
    int child_blocks = 0;
    pthread_t probe;
    pthread_create(&probe, NULL, report_mask, &child_blocks);
    pthread_join(probe, NULL);
    CHECK(child_blocks, "a thread started after install blocks them too");

    /* (M, N, K) of mae-tiny's linears and attention products at 16 images. */
    static const int shapes[][3] = {{272, 128, 128}, {128, 128, 272}, {272, 512, 128}, {128, 512, 272},
                                    {272, 128, 512}, {64, 49, 128},   {1088, 128, 128}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    size_t cap = 1088 * 512;
    float *A = malloc(cap * sizeof *A), *B = malloc(cap * sizeof *B), *C = malloc(cap * sizeof *C);
    for (size_t i = 0; i < cap; i++) {
        A[i] = (float)((i * 7919) % 13) / 13.f - 0.5f;
        B[i] = (float)((i * 104729) % 17) / 17.f - 0.5f;
    }
    pthread_t sender;
    pthread_create(&sender, NULL, send_signals, NULL);
    const long products = 20000;
    long wrong = 0;
    double worst = 0;
    for (long it = 0; it < products; it++) {
        const int *s = shapes[it % nshapes];
        int M = s[0], N = s[1], K = s[2], ta = (int)(it / nshapes) % 2, tb = (int)(it / (2 * nshapes)) % 2;
        gemm(ta ? GEMM_T : GEMM_N, tb ? GEMM_T : GEMM_N, M, N, K, 1.f, A, ta ? M : K, B, tb ? K : N, 0.f, C, N);
        for (int q = 0; q < 4; q++) {
            int i = (int)((q * 37 + it) % M), j = (int)((q * 91 + it) % N);
            double err = fabs(ref_entry(A, B, ta, tb, i, j, M, N, K) - C[(size_t)i * N + j]);
            if (err > worst) worst = err;
            if (err > 1e-3) wrong++;
        }
        free(malloc(1000 + (size_t)(it % 5000))); /* a corrupted heap aborts here */
    }
    atomic_store(&sending, 0);
    pthread_join(sender, NULL);
    printf("%ld products on %s under %ld SIGUSR1s: %ld wrong entries (worst error %.2e)\n", products,
           gemm_backend_name(gemm_current_backend()), atomic_load(&sent), wrong, worst);
    CHECK(wrong == 0, "%ld entries differ from the double sums", wrong);
    CHECK(atomic_load(&sent) > 1000, "only %ld signals sent", atomic_load(&sent));
    CHECK(stop_signal_received() == SIGUSR1, "received %d", stop_signal_received());
    free(A);
    free(B);
    free(C);
    return check_finish();
}
