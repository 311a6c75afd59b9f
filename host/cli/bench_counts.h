/* clmtt bench's count of the host's calls into the runtime during distillation iterations
 * (kernel launches, CLBlast calls, other enqueues, blocking reads and writes, waits) and of
 * the arithmetic of their matrix products (RtCounts.gemm_flops): per
 * iteration, and per student step of the forward and the reverse sweep. On a GPU each call
 * has a fixed cost, so these counts bound how fast small sets can go. */
#ifndef CLMTT_BENCH_COUNTS_H
#define CLMTT_BENCH_COUNTS_H

#include "core/runtime.h"
#include "distill/distill.h"

#include <cjson/cJSON.h>

typedef struct {
    RtCounts iteration, forward, reverse;   /* sums over the timed iterations */
    int iterations;
    long forward_steps, reverse_steps;      /* student steps the sweeps' sums cover */
} BenchCounts;

/* Adds one iteration: `iteration` counted around meta-gradient and update, the sweeps from
 * the distiller's last meta-gradient. */
void bench_counts_add(BenchCounts *b, const RtCounts *iteration, const Distiller *d);
/* Plain lines: the means per iteration and per student step. */
void bench_counts_print(const BenchCounts *b);
/* GFLOP of matrix products per iteration (mean). */
double bench_counts_gflop_per_iteration(const BenchCounts *b);
/* The same means as flat fields iteration_*, forward_step_*, reverse_step_*. */
void bench_counts_json(cJSON *o, const BenchCounts *b);

#endif
