/* One distillation iteration with one wait; see iteration.h. */
#include "distill/iteration.h"

#include <string.h>

void distill_iteration(Distiller *d, LearnSet *set, const float *theta0, const float *target, Rng *rng,
                       double threshold, IterResult *out) {
    distiller_meta_grad_start(d, set, theta0, target, rng);
    IterScalars *sc = &d->sc;
    scalars_reduce(sc, SC_GRAD_BAD, 0, RED_NONFINITE, set->total, dptr(set->grad, 0), dptr(set->grad, 0));
    /* The threshold as a double's bits for fp64 devices, as a float for the others. */
    int64_t bits;
    memcpy(&bits, &threshold, sizeof bits);
    LAUNCH("scalars_gate", 1, KM(sc->buf), KL(bits), KF(threshold));
    learnset_update_start(set, sc);
    IterValues v;
    scalars_read(sc, &v);
    out->loss = distiller_meta_grad_finish(d, &v, &out->dlr);
    learnset_update_finish(set, &v);
    out->update = (SetUpdate)v.outcome;
}
