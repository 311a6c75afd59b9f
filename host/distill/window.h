/* The start-epoch window of difficulty-aligned matching (docs/algorithm.md#the-start-epoch-window):
 * each iteration's start epoch is drawn uniformly from [min_start, upper), where the upper
 * bound grows from current_max to max_start over the first expansion_end iterations, so early
 * iterations match the easy, early part of the experts' trajectories.
 *
 *   sequential:  upper(it) = min(max_start, current_max + floor((max_start - current_max) it / expansion_end))
 *   otherwise:   upper(it) = max_start
 *
 * With min_start 0 and current_max = max_start the draw is the plain MTT draw. */
#ifndef CLMTT_WINDOW_H
#define CLMTT_WINDOW_H

#include "core/rng.h"

typedef struct {
    int min_start;       /* --min_start_epoch */
    int current_max;     /* --current_max_start_epoch: the upper bound at iteration 0 */
    int max_start;       /* --max_start_epoch: the upper bound it grows to */
    int expansion_end;   /* --expansion_end_epoch: iterations over which it grows (>= 1) */
    int sequential;      /* --Sequential_Generation: 0 keeps the upper bound at max_start */
} StartWindow;

/* The exclusive upper bound of the start epoch at iteration it (>= 0). */
int window_upper(const StartWindow *w, int it);
/* The start epoch of iteration it: one rng_int(rng, min_start, upper - 1). */
int window_draw(const StartWindow *w, int it, Rng *rng);
/* 1 when the window differs from MTT's [0, max_start) at some iteration (the metrics then
 * carry the upper bound). */
int window_in_use(const StartWindow *w);

#endif
