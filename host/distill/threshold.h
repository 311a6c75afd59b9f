/* DATM's loss threshold (docs/algorithm.md#the-loss-threshold): an iteration whose matching
 * loss is above the threshold leaves the set alone. Nothing of the set moves then: images,
 * labels, step size, their momentum and the moving average stay bit-identical. */
#ifndef CLMTT_THRESHOLD_H
#define CLMTT_THRESHOLD_H

#include "distill/learnset.h"

typedef enum {
    SET_UPDATED,    /* loss <= threshold: one optimizer step on every learned tensor */
    SET_SKIPPED,    /* loss > threshold: no step */
    SET_DIVERGED,   /* the step made the set non-finite; learnset_update restored it */
    SET_NOT_FINITE  /* the loss, dL/dlr or the set's gradient was not finite: no step */
} SetUpdate;   /* the same codes as ScOutcome (host/distill/scalars.h) */

/* learnset_update when loss <= threshold (threshold INFINITY: always). */
SetUpdate threshold_update(LearnSet *s, double loss, double threshold);

#endif
