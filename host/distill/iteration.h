/* One distillation iteration with one wait: the meta-gradient (host/distill/distill.h), the
 * gate (finite loss, dL/dlr and gradient; the loss threshold) and the set's update
 * (host/distill/learnset.h), all enqueued, the decisions taken on the device from the
 * iteration's scalars (host/distill/scalars.h); then one read of those scalars. What still
 * waits inside: PAD's host-side selection (--loss_ratio) and the sums over MPI ranks. */
#ifndef CLMTT_ITERATION_H
#define CLMTT_ITERATION_H

#include "distill/distill.h"
#include "distill/threshold.h"

typedef struct {
    double loss, dlr;
    SetUpdate update;   /* SET_NOT_FINITE: loss, dL/dlr or gradient not finite, the set left alone */
} IterResult;

/* The meta-gradient for one expert segment (theta0 -> target, P floats each, host) and the
 * update when the loss is at most `threshold` (INFINITY: always). */
void distill_iteration(Distiller *d, LearnSet *set, const float *theta0, const float *target, Rng *rng,
                       double threshold, IterResult *out);

#endif
