/* Per-step vectors across one or more device buffers (see step_vectors.h). */
#include "distill/step_vectors.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/runtime.h"
#include "core/util.h"

/* Vectors a buffer advances by: per, less the one shared with the next buffer. */
static int advance(const StepVectors *v) { return v->per - (v->nbufs > 1 && v->shared); }

void step_vectors_init(StepVectors *v, int count, size_t P, int shared, const char *what) {
    if (count < 1) die("internal: %d vectors of %s", count, what);
    v->count = count;
    v->P = P;
    v->shared = shared;
    v->what = what;
    v->stride = rt_align_up(P);
    size_t n = (size_t)count, bytes = v->stride * sizeof(float), fit = dev_max_items(bytes);
    size_t least = shared && n > 1 ? 2 : 1;
    if (fit >= n) {
        v->per = count;
        v->nbufs = 1;
    } else {
        if (fit < least) {
            char a[32], b[32];
            die("cannot hold the %s of the unrolled steps: one step is %s and the device allows %s per buffer, too "
                "little for %s (lower CLMTT_MAX_ALLOC_BYTES's cap or use a smaller model)",
                what, human_bytes((double)bytes, a, sizeof a), human_bytes((double)RT.dev.max_alloc, b, sizeof b),
                least == 2 ? "two steps" : "one");
        }
        v->per = (int)fit;
        size_t adv = fit - (shared ? 1 : 0), rest = n - (shared ? 1 : 0);
        v->nbufs = (int)((rest + adv - 1) / adv);
    }
    v->bufs = xcalloc((size_t)v->nbufs, sizeof(cl_mem));
    char name[96];
    snprintf(name, sizeof name, v->nbufs > 1 ? "%s of a run of steps" : "%s of every step", what);
    for (int b = 0; b < v->nbufs; b++) {
        size_t first = (size_t)b * (size_t)advance(v);
        size_t m = n - first < (size_t)v->per ? n - first : (size_t)v->per;   /* the last buffer: the vectors left */
        v->bufs[b] = dev_alloc(m * bytes, name);
    }
}

void step_vectors_free(StepVectors *v) {
    for (int b = 0; b < v->nbufs; b++) dev_free(v->bufs[b]);
    free(v->bufs);
    v->bufs = NULL;
    v->nbufs = 0;
}

/* Home buffer of vector k: the one where it is the first, except the last vector of the last
 * buffer when shared. */
static int home(const StepVectors *v, int k) {
    int b = k / advance(v);
    return b < v->nbufs ? b : v->nbufs - 1;
}

static DPtr in_buffer(const StepVectors *v, int b, int k) {
    return dptr(v->bufs[b], (size_t)(k - b * advance(v)) * v->stride);
}

DPtr step_vectors_at(const StepVectors *v, int k) {
    if (k < 0 || k >= v->count) die("internal: %s %d of %d", v->what, k, v->count);
    return in_buffer(v, home(v, k), k);
}

DPtr step_vectors_next_of(const StepVectors *v, int k) {
    if (!v->shared || k < 0 || k + 1 >= v->count) die("internal: %s %d after %d of %d", v->what, k + 1, k, v->count);
    return in_buffer(v, home(v, k), k + 1);
}

void step_vectors_written(StepVectors *v, int k) {
    if (v->nbufs == 1 || k == 0) return;
    int b = home(v, k), prev = home(v, k - 1);
    if (b == prev) return;
    /* Written as the last vector of buffer prev: copy into its home, the first of buffer b. */
    DPtr from = step_vectors_next_of(v, k - 1), to = step_vectors_at(v, k);
    dev_copy(to.mem, to.off, from.mem, from.off, v->P);
}
