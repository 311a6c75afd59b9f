/* Running as one of several processes (ranks) started by an MPI launcher (mpirun, srun),
 * one rank per OpenCL device. Every MPI call of clmtt is in dist.c; the rest of the code
 * asks this module only.
 *
 * Without a launcher, clmtt is one rank of one and MPI is never initialized, so a plain
 * run behaves (and prints) exactly as without this module.
 *
 * Reductions have a fixed order: every rank's values are gathered on rank 0, summed there
 * in rank order (in double), and the sums broadcast back. Reruns with the same ranks then
 * repeat bit for bit, and every rank holds the same bits afterwards.
 *
 * Every rank but 0 sends its stdout to /dev/null (the log is rank 0's); warnings are
 * rank 0's too. die() on any rank prints "clmtt: rank R: message" and ends the whole job. */
#ifndef CLMTT_DIST_H
#define CLMTT_DIST_H

#include <stddef.h>

/* Before anything else in main(): joins the job when launched by an MPI starter. On a
 * node with several ranks it also divides the CPU cores among them for PoCL (sets
 * POCL_MAX_PTHREAD_COUNT and POCL_CPU_MAX_CU_NUM to cores / ranks on the node, at least 1,
 * unless the user set either). */
void dist_init(int *argc, char ***argv);
/* 1 when this process runs under an MPI starter (even as a job of one rank). */
int dist_active(void);
int dist_rank(void);
int dist_size(void);
/* Rank and rank count among the ranks of this node: picks this rank's device. */
int dist_local_rank(void);
int dist_local_size(void);
/* 1 on rank 0: it prints the log and writes every file. */
int dist_is_root(void);

/* x[0..n) <- the sum over ranks of x[0..n), in rank order (float: summed in double, then
 * rounded once). Every rank passes the same n. */
void dist_allreduce_sum_f32(float *x, size_t n);
void dist_allreduce_sum_f64(double *x, size_t n);
/* The bytes of rank root to every rank. */
void dist_bcast(void *buf, size_t bytes, int root);
/* Point to point: bytes to / from rank peer (tags keep streams of messages apart). */
void dist_send(const void *buf, size_t bytes, int peer, int tag);
void dist_recv(void *buf, size_t bytes, int peer, int tag);
/* One double from every rank into all[0..size) on rank 0 (all may be NULL elsewhere). */
void dist_gather_f64(double v, double *all);
void dist_barrier(void);

/* Seconds spent in the calls above, and bytes this rank sent through them (for the bench). */
double dist_comm_seconds(void);
double dist_comm_bytes(void);

/* Prints "clmtt: rank R: reason" and ends every rank of the job (exit status 1); a plain
 * exit(1) outside MPI. */
void dist_abort(const char *reason) __attribute__((noreturn));

#endif
