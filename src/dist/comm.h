/* comm.h — the MPI layer of the trainer: who we are, agreeing on failure,
 * and summing buffers across ranks.
 *
 * Failure policy: set-up steps end with comm_agree(status), a collective that
 * gives every rank the worst status of any rank, so a rank that could not open
 * its data never leaves the others waiting in a collective; every rank then
 * exits with that status after its own message. A failure inside the training
 * loop, where ranks cannot agree in time, calls comm_abort: the message names
 * the rank and MPI_Abort ends the whole job.
 */
#ifndef CRATE_COMM_H
#define CRATE_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, world;             /* in MPI_COMM_WORLD */
    int local_rank, local_world; /* among the ranks sharing this node */
} comm_info;

int comm_init(int *argc, char ***argv, comm_info *c);
void comm_finalize(void);

/* The largest status over all ranks (collective). */
int comm_agree(int status);
/* comm_agree, and the failing ranks print "<tool>: [rank r: ]<message>" —
 * rank 0 alone when it failed too (the usual case: every rank read the same
 * bad config), so a 64-rank job prints one message, not 64. */
int comm_agree_report(const comm_info *c, const char *tool, int status);
/* Prints "<tool>: rank r: <crate_errmsg()>" and aborts every rank with code. */
_Noreturn void comm_abort(const comm_info *c, const char *tool, int code);

/* comm_agree, and afterwards every rank's crate_errmsg() is the message of
 * the lowest failing rank, prefixed "rank r: " in a multi-rank job: one rank's
 * cause (a damaged file only it read) reaches the rank that reports it. */
int comm_agree_message(const comm_info *c, int status);

/* Sum over ranks (collective). Gradients travel through src/dist/grad_sync.h. */
double comm_sum_double(double v);
/* In-place sums of n doubles (several small reductions in one message). */
void comm_sum_doubles(double *v, int n);
/* Rank root's n bytes to every rank. */
void comm_bcast_bytes(void *buf, size_t n, int root);
/* Rank 0 receives every rank's bytes (n may differ by rank; each < 2 GiB),
 * concatenated in rank order, in all (NULL elsewhere). */
void comm_gather_bytes(const void *mine, size_t n, void *all);
/* Rank 0 receives every rank's n uint64 values, rank-major, in all[world·n]. */
void comm_gather_u64(const uint64_t *mine, int n, uint64_t *all);
/* ZeRO-1 over a buffer of world·chunk floats: fills every rank's buf from
 * each rank r's own range buf[r·chunk, (r+1)·chunk), in place. */
void comm_allgather_in_place(float *buf, size_t chunk);
/* 1 if every rank passed the same value (collective). */
int comm_all_equal(uint64_t value);

#endif
