/* The start-epoch window; see window.h. */
#include "distill/window.h"
#include "core/util.h"

int window_upper(const StartWindow *w, int it) {
    if (!w->sequential) return w->max_start;
    /* Integer arithmetic: the floor of a non-negative quotient, as DATM's int() of it. */
    long long grow = (long long)(w->max_start - w->current_max) * it / w->expansion_end;
    long long upper = w->current_max + grow;
    return upper < w->max_start ? (int)upper : w->max_start;
}

int window_draw(const StartWindow *w, int it, Rng *rng) {
    int upper = window_upper(w, it);
    if (!(w->min_start >= 0 && w->min_start < upper))
        die("internal: start-epoch window [%d, %d) at iteration %d is empty", w->min_start, upper, it);
    return rng_int(rng, w->min_start, upper - 1);
}

int window_in_use(const StartWindow *w) {
    return w->min_start > 0 || (w->sequential && w->current_max < w->max_start);
}
