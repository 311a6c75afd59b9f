/* The forward sweep's gradients across one or more device buffers (see grad_steps.h). */
#include "distill/grad_steps.h"

#include <stdlib.h>

#include "core/runtime.h"
#include "core/util.h"

void grad_steps_init(GradSteps *g, int K, size_t P) {
    if (K < 1) die("internal: gradients of %d steps", K);
    g->K = K;
    g->P = P;
    g->stride = rt_align_up(P);
    size_t bytes = g->stride * sizeof(float), fit = dev_max_items(bytes);
    if (fit < 1) {
        char a[32], b[32];
        die("cannot hold the student gradient of a step: it is %s and the device allows %s per buffer "
            "(lower CLMTT_MAX_ALLOC_BYTES's cap or use a smaller model)",
            human_bytes((double)bytes, a, sizeof a), human_bytes((double)RT.dev.max_alloc, b, sizeof b));
    }
    g->per = fit < (size_t)K ? (int)fit : K;
    g->nbufs = (K + g->per - 1) / g->per;
    g->bufs = xcalloc((size_t)g->nbufs, sizeof(cl_mem));
    for (int b = 0; b < g->nbufs; b++) {
        int n = K - b * g->per < g->per ? K - b * g->per : g->per;   /* the last buffer: the vectors left */
        g->bufs[b] = dev_alloc((size_t)n * bytes, "student gradients of the unrolled steps");
    }
}

void grad_steps_free(GradSteps *g) {
    for (int b = 0; b < g->nbufs; b++) dev_free(g->bufs[b]);
    free(g->bufs);
    g->bufs = NULL;
    g->nbufs = 0;
}

DPtr grad_steps_at(const GradSteps *g, int k) {
    if (k < 0 || k >= g->K) die("internal: gradient of step %d of %d", k, g->K);
    return dptr(g->bufs[k / g->per], (size_t)(k % g->per) * g->stride);
}
