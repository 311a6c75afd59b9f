/* Steps theta_0..theta_K across one or more device buffers (see theta_steps.h). */
#include "distill/theta_steps.h"

#include <stdlib.h>

#include "core/runtime.h"
#include "core/util.h"

void theta_steps_init(ThetaSteps *t, int K, size_t P) {
    t->K = K;
    t->P = P;
    t->stride = rt_align_up(P);
    size_t steps = (size_t)K + 1, bytes = t->stride * sizeof(float);
    size_t fit = dev_max_items(bytes);   /* steps of P floats in one buffer */
    if (fit >= steps) {
        t->per = (int)steps;
        t->nbufs = 1;
    } else {
        if (fit < 2) {
            char a[32], b[32];
            die("cannot hold the student parameters of the unrolled steps: one step is %s and the device allows "
                "%s per buffer, too little for two steps (lower CLMTT_MAX_ALLOC_BYTES's cap or use a smaller model)",
                human_bytes((double)bytes, a, sizeof a), human_bytes((double)RT.dev.max_alloc, b, sizeof b));
        }
        t->per = (int)fit;
        t->nbufs = (int)((steps - 1 + (size_t)(t->per - 1) - 1) / (size_t)(t->per - 1));   /* ceil(K / (m-1)) */
    }
    t->bufs = xcalloc((size_t)t->nbufs, sizeof(cl_mem));
    for (int b = 0; b < t->nbufs; b++) {
        /* The last buffer holds only the steps left. */
        size_t first = (size_t)b * (size_t)(t->nbufs > 1 ? t->per - 1 : 0);
        size_t n = steps - first < (size_t)t->per ? steps - first : (size_t)t->per;
        t->bufs[b] = dev_alloc(n * bytes, t->nbufs > 1 ? "student parameters of a run of steps"
                                                       : "student parameters of every step");
    }
}

void theta_steps_free(ThetaSteps *t) {
    for (int b = 0; b < t->nbufs; b++) dev_free(t->bufs[b]);
    free(t->bufs);
    t->bufs = NULL;
    t->nbufs = 0;
}

/* Home buffer of step k: the one where it is the first step, except step K of the last. */
static int home(const ThetaSteps *t, int k) {
    if (t->nbufs == 1) return 0;
    int b = k / (t->per - 1);
    return b < t->nbufs ? b : t->nbufs - 1;
}

DPtr theta_steps_at(const ThetaSteps *t, int k) {
    if (k < 0 || k > t->K) die("internal: step %d of %d", k, t->K);
    int b = home(t, k);
    return dptr(t->bufs[b], (size_t)(k - b * (t->nbufs > 1 ? t->per - 1 : 0)) * t->stride);
}

DPtr theta_steps_next_of(const ThetaSteps *t, int k) {
    if (k < 0 || k >= t->K) die("internal: step %d after %d of %d", k + 1, k, t->K);
    int b = home(t, k);
    return dptr(t->bufs[b], (size_t)(k + 1 - b * (t->nbufs > 1 ? t->per - 1 : 0)) * t->stride);
}

void theta_steps_written(ThetaSteps *t, int k) {
    if (t->nbufs == 1 || k == 0) return;
    int b = home(t, k), prev = home(t, k - 1);
    if (b == prev) return;
    /* Written as the last step of buffer prev: copy into its home, the first of buffer b. */
    DPtr from = theta_steps_next_of(t, k - 1), to = theta_steps_at(t, k);
    dev_copy(to.mem, to.off, from.mem, from.off, t->P);
}
