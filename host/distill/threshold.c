/* The loss threshold; see threshold.h. */
#include "distill/threshold.h"

SetUpdate threshold_update(LearnSet *s, double loss, double threshold) {
    if (!(loss <= threshold)) return SET_SKIPPED;
    return learnset_update(s) ? SET_UPDATED : SET_DIVERGED;
}
