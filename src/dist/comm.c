/* comm.c — see comm.h. */
#include "src/dist/comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "src/error.h"

int comm_init(int *argc, char ***argv, comm_info *c) {
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return crate_fail(CRATE_EINTERNAL, "MPI_Init_thread failed");
    /* Only the main thread calls MPI (the prefetch threads never do), but
     * OpenMP and OpenBLAS threads exist beside it: FUNNELED is the least
     * level that allows that. An MPI built without thread support reports
     * SINGLE, and running on would risk corrupting its state. */
    if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        return crate_fail(CRATE_EINTERNAL, "this MPI library provides thread level %d, below MPI_THREAD_FUNNELED "
                          "(%d) that crate's threads need: use an MPI built with thread support (Debian's Open MPI is)",
                          provided, MPI_THREAD_FUNNELED);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->world);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &c->local_rank);
    MPI_Comm_size(node, &c->local_world);
    MPI_Comm_free(&node);
    return CRATE_OK;
}

void comm_finalize(void) { MPI_Finalize(); }

int comm_agree(int status) {
    int worst = status;
    MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

int comm_agree_report(const comm_info *c, const char *tool, int status) {
    int rank0 = status;
    MPI_Bcast(&rank0, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (status != CRATE_OK && (c->rank == 0 || rank0 == CRATE_OK)) {
        if (c->world > 1)
            fprintf(stderr, "%s: rank %d: %s\n", tool, c->rank, crate_errmsg());
        else
            fprintf(stderr, "%s: %s\n", tool, crate_errmsg());
        fflush(stderr);
    }
    return comm_agree(status);
}

_Noreturn void comm_abort(const comm_info *c, const char *tool, int code) {
    fprintf(stderr, "%s: rank %d: %s\n", tool, c->rank, crate_errmsg());
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code ? code : CRATE_EINTERNAL);
    for (;;) {
    }
}

int comm_agree_message(const comm_info *c, int status) {
    int worst = comm_agree(status);
    if (worst == CRATE_OK) return worst;
    int me = status != CRATE_OK ? c->rank : c->world, first = me;
    MPI_Allreduce(&me, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    char msg[1024];
    if (c->rank == first) {
        if (c->world > 1)
            snprintf(msg, sizeof msg, "rank %d: %s", c->rank, crate_errmsg());
        else
            snprintf(msg, sizeof msg, "%s", crate_errmsg());
    }
    MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD);
    crate_errmsg_set(msg);
    return worst;
}

void comm_sum_doubles(double *v, int n) { MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); }

void comm_bcast_bytes(void *buf, size_t n, int root) {
    for (char *p = buf; n > 0;) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        MPI_Bcast(p, k, MPI_BYTE, root, MPI_COMM_WORLD);
        p += k;
        n -= (size_t)k;
    }
}

void comm_gather_bytes(const void *mine, size_t n, void *all) {
    int rank, world, count = (int)n;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    int *counts = rank == 0 ? calloc((size_t)world, 2 * sizeof(int)) : NULL, *displs = counts ? counts + world : NULL;
    if (rank == 0 && !counts) abort(); /* a few bytes per rank */
    MPI_Gather(&count, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    for (int r = 1; rank == 0 && r < world; r++) displs[r] = displs[r - 1] + counts[r - 1];
    MPI_Gatherv(mine, count, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
    free(counts);
}

void comm_gather_u64(const uint64_t *mine, int n, uint64_t *all) {
    MPI_Gather(mine, n, MPI_UINT64_T, all, n, MPI_UINT64_T, 0, MPI_COMM_WORLD);
}

double comm_sum_double(double v) {
    double sum = v;
    MPI_Allreduce(&v, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return sum;
}

void comm_allgather_in_place(float *buf, size_t chunk) {
    MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, (int)chunk, MPI_FLOAT, MPI_COMM_WORLD);
}

int comm_all_equal(uint64_t value) {
    uint64_t lo = value, hi = value;
    MPI_Allreduce(&value, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&value, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}
