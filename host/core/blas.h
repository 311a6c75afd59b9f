/* Linear algebra on the device: CLBlast GEMMs (row-major) and reductions.
 * CLBlast status codes are checked like OpenCL's. Offsets, counts and leading
 * dimensions are in floats. */
#ifndef CLMTT_BLAS_H
#define CLMTT_BLAS_H

#include "core/tensor.h"

/* C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, all row-major. */
void gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
          DPtr a, size_t lda, DPtr b, size_t ldb, float beta, DPtr c, size_t ldc);
/* The same for `batch` problems whose operands are `*_stride` floats apart. */
void gemm_batched(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                  DPtr a, size_t lda, size_t a_stride, DPtr b, size_t ldb, size_t b_stride,
                  float beta, DPtr c, size_t ldc, size_t c_stride, size_t batch);
/* 1: gemm and gemm_batched run cl/gemm_plain.cl's one-loop-per-element kernel instead of
 * CLBlast's; 0: CLBlast; -1 (the start): as the runtime says, plain under the simulator
 * (CLMTT_OCLGRIND=1, tools/oclgrind.md). For tests. */
void gemm_set_plain(int on);
/* y += alpha * x */
void axpy(size_t n, float alpha, DPtr x, DPtr y);
/* x *= alpha */
void scal(size_t n, float alpha, DPtr x);

/* Reductions, accumulated per work-group in float and across groups in double. */
double dev_dot(size_t n, DPtr x, DPtr y);
double dev_sum(size_t n, DPtr x);
/* sum (x - y)^2 */
double dev_sqdist(size_t n, DPtr x, DPtr y);
/* 1 when any element is NaN or Inf. */
int dev_has_nonfinite(size_t n, DPtr x);

/* The reductions' first stage without the read: one float partial sum per work-group (at
 * most DEV_REDUCE_MAX_GROUPS; the count in *groups, 0 when n is 0) in the runtime's
 * reduction scratch, which is returned. The next user of the scratch overwrites it; the
 * in-order queue runs the consumer first when it is enqueued first. */
typedef enum { RED_DOT = 0, RED_SUM = 1, RED_SQDIST = 2, RED_NONFINITE = 3 } DevReduceOp;
enum { DEV_REDUCE_MAX_GROUPS = 128 };
cl_mem dev_reduce_partials(DevReduceOp op, size_t n, DPtr x, DPtr y, int *groups);
/* The partials of x.y, and in the same pass x += alpha z (the dot product is x's value
 * before the update). */
cl_mem dev_reduce_dot_update(size_t n, DPtr x, DPtr y, float alpha, DPtr z, int *groups);

const char *clblast_status_name(int status);

#endif
