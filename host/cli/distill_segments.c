/* clmtt distill's expert segments of one iteration (--num_trajectories M,
 * docs/algorithm.md#several-expert-segments-per-iteration). M = 1 is the original's
 * iteration: one segment, its draws from the run's step stream, the rows of every student
 * step split over the ranks (host/distill/distill.h). M > 1: every rank draws the M
 * segments (expert and start epoch) from the experts' stream in the same order; segment j
 * is unrolled whole by rank j % N, from a stream of its own (seed, iteration, j); the
 * meta-gradients, losses and dL/dlr are averaged: each rank sums 1/M of its own, then the
 * sums over ranks (fixed order) join them. */
#include "cli/distill_parts.h"
#include "core/blas.h"
#include "core/dist.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The step stream's number; segment j of iteration it draws from
 * rng_substream(rng_substream(SEGMENT_STREAM, it), j). */
#define SEGMENT_STREAM 3

void segments_init(Segments *s, int M, const LearnSet *ls, size_t nparams) {
    memset(s, 0, sizeof *s);
    s->M = M;
    s->P = nparams;
    s->ends = xmalloc((size_t)M * 2 * nparams * sizeof(float));
    if (M < 2) return;
    s->acc = dev_alloc(ls->total * 4, "the segments' summed meta-gradient");
    s->host = xmalloc(ls->total * sizeof(float));
}

void segments_free(Segments *s) {
    dev_free(s->acc);
    free(s->host);
    free(s->ends);
    memset(s, 0, sizeof *s);
}

/* The single segment's ends (M = 1): an expert from the experts' stream and a start epoch;
 * start and target go to s->ends. */
static void draw_one(Segments *s, ExpertSource *ex, Rng *rng_experts, const SegmentSpan *span, int it, int *start0) {
    Expert e = experts_next(ex, rng_experts);
    int start = window_draw(span->window, it, rng_experts);
    *start0 = start;
    expert_snapshot(&e, start, s->ends);
    expert_snapshot(&e, start + span->expert_epochs, s->ends + s->P);
}

void segments_iteration(Segments *s, Distiller *d, LearnSet *ls, ExpertSource *ex, Rng *rng_experts, Rng *rng_steps,
                        const SegmentSpan *span, uint64_t seed, int it, double threshold, int *start0, IterResult *out) {
    if (s->M == 1) {
        draw_one(s, ex, rng_experts, span, it, start0);
        distill_iteration(d, ls, s->ends, s->ends + s->P, rng_steps, threshold, out);
        return;
    }
    out->loss = segments_meta_grad(s, d, ls, ex, rng_experts, rng_steps, span, seed, it, start0, &out->dlr);
    if (!isfinite(out->loss) || !isfinite(out->dlr) || !learnset_grad_finite(ls)) out->update = SET_NOT_FINITE;
    else out->update = threshold_update(ls, out->loss, threshold);
}

double segments_meta_grad(Segments *s, Distiller *d, LearnSet *ls, ExpertSource *ex, Rng *rng_experts,
                          Rng *rng_steps, const SegmentSpan *span, uint64_t seed, int it, int *start0, double *dlr) {
    size_t P = s->P;
    if (s->M == 1) {
        draw_one(s, ex, rng_experts, span, it, start0);
        return distiller_meta_grad(d, ls, s->ends, s->ends + P, rng_steps, dlr);
    }
    /* Every rank draws every segment, so the expert stream stays the same on all; a rank
     * keeps the ends of its own (a file's mapping may go when the next one is opened). */
    int M = s->M, N = dist_size(), me = dist_rank();
    for (int j = 0; j < M; j++) {
        Expert e = experts_next(ex, rng_experts);
        int start = window_draw(span->window, it, rng_experts);
        if (j == 0) *start0 = start;
        if (j % N != me) continue;
        expert_snapshot(&e, start, s->ends + (size_t)j * 2 * P);
        expert_snapshot(&e, start + span->expert_epochs, s->ends + ((size_t)j * 2 + 1) * P);
    }
    dev_fill(s->acc, 0, ls->total, 0.0f);
    double sums[2] = {0, 0};   /* loss, dL/dlr: 1/M of each of this rank's segments */
    uint64_t it_stream = rng_substream(SEGMENT_STREAM, (uint64_t)it);
    for (int j = me; j < M; j += N) {
        Rng rng;
        rng_init(&rng, seed, rng_substream(it_stream, (uint64_t)j));
        double dl;
        double loss = distiller_meta_grad(d, ls, s->ends + (size_t)j * 2 * P, s->ends + ((size_t)j * 2 + 1) * P, &rng,
                                          &dl);
        sums[0] += loss / M;
        sums[1] += dl / M;
        axpy(ls->total, 1.0f / (float)M, dptr(ls->grad, 0), dptr(s->acc, 0));
    }
    dev_read_f32(s->acc, 0, ls->total, s->host);
    dist_allreduce_sum_f32(s->host, ls->total);
    dist_allreduce_sum_f64(sums, 2);
    dev_write_f32(ls->grad, 0, ls->total, s->host);
    learnset_set_lr_grad(ls, sums[1]);   /* the average in double, not the float sum */
    *dlr = sums[1];
    return sums[0];
}
