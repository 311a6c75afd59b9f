#include "cli/bench_counts.h"

#include <stdio.h>

static void add(RtCounts *sum, const RtCounts *c) {
    sum->launches += c->launches;
    sum->blas_calls += c->blas_calls;
    sum->other_enqueues += c->other_enqueues;
    sum->blocking_reads += c->blocking_reads;
    sum->blocking_writes += c->blocking_writes;
    sum->waits += c->waits;
    sum->im2col_saved += c->im2col_saved;
    sum->gemm_flops += c->gemm_flops;
    sum->gemm_unaligned += c->gemm_unaligned;
}

void bench_counts_add(BenchCounts *b, const RtCounts *iteration, const Distiller *d) {
    add(&b->iteration, iteration);
    add(&b->forward, &d->counts_forward);
    add(&b->reverse, &d->counts_reverse);
    b->iterations++;
    b->forward_steps += d->syn_steps;
    b->reverse_steps += d->reverse_steps;
}

/* A sum's mean over `n` (iterations or steps); 0 when nothing was counted. */
typedef struct {
    double launches, blas_calls, other_enqueues, blocking_reads, blocking_writes, waits, blocking, im2col_saved;
    double gemm_gflop;   /* 10^9 floating-point operations of the matrix products */
    double gemm_unaligned;
} Means;

static Means means(const RtCounts *c, long n) {
    double k = n > 0 ? 1.0 / (double)n : 0.0;
    Means m = {c->launches * k, c->blas_calls * k, c->other_enqueues * k, c->blocking_reads * k,
               c->blocking_writes * k, c->waits * k, rt_counts_blocking(c) * k, c->im2col_saved * k,
               c->gemm_flops * 1e-9 * k, c->gemm_unaligned * k};
    return m;
}

static void print_means(const char *label, const Means *m) {
    printf("%s: %.1f kernel launches, %.1f CLBlast calls, %.1f other enqueues; %.1f blocking "
           "(%.1f reads, %.1f writes, %.1f waits); %.1f im2col launches saved; %.3f GFLOP in matrix products, "
           "%.1f of them with an operand off the %zu-float alignment\n",
           label, m->launches, m->blas_calls, m->other_enqueues, m->blocking, m->blocking_reads, m->blocking_writes,
           m->waits, m->im2col_saved, m->gemm_gflop, m->gemm_unaligned, rt_align_floats());
}

void bench_counts_print(const BenchCounts *b) {
    Means it = means(&b->iteration, b->iterations), fw = means(&b->forward, b->forward_steps),
          rv = means(&b->reverse, b->reverse_steps);
    printf("host calls into the runtime (mean of %d timed iteration%s; the step counts vary with the augmentation "
           "group drawn):\n", b->iterations, b->iterations == 1 ? "" : "s");
    print_means("  per iteration", &it);
    print_means("  forward sweep, per student step", &fw);
    print_means("  reverse sweep, per student step", &rv);
}

static void json_means(cJSON *o, const char *prefix, const Means *m) {
    char key[64];
#define FIELD(name) snprintf(key, sizeof key, "%s_" #name, prefix); cJSON_AddNumberToObject(o, key, m->name);
    FIELD(launches) FIELD(blas_calls) FIELD(other_enqueues) FIELD(blocking_reads) FIELD(blocking_writes) FIELD(waits)
    FIELD(blocking) FIELD(im2col_saved) FIELD(gemm_gflop) FIELD(gemm_unaligned)
#undef FIELD
}

double bench_counts_gflop_per_iteration(const BenchCounts *b) {
    return means(&b->iteration, b->iterations).gemm_gflop;
}

void bench_counts_json(cJSON *o, const BenchCounts *b) {
    Means it = means(&b->iteration, b->iterations), fw = means(&b->forward, b->forward_steps),
          rv = means(&b->reverse, b->reverse_steps);
    json_means(o, "iteration", &it);
    json_means(o, "forward_step", &fw);
    json_means(o, "reverse_step", &rv);
}
