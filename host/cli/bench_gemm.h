/* clmtt bench --what=gemm: the matrix products a model's layers run, timed one by one. */
#ifndef CLMTT_BENCH_GEMM_H
#define CLMTT_BENCH_GEMM_H

#include "net/net.h"

/* Times, on the current runtime, the GEMM shapes of every convolution and linear layer of
 * `net` for batches of ipc x classes at each ipc of `ipcs` (forward, backward-data and
 * backward-weight products, as the GPU family runs them), fastest of `reps` after one
 * warm-up; prints GFLOP/s per shape, the best measured and the device's measured peak,
 * and one BENCH_JSON line per shape plus one summary line. `dataset` names the data in
 * the records. */
void bench_gemm(const Net *net, const char *dataset, const int *ipcs, int nipcs, int reps);

#endif
