/* Vectors of P floats, one per unrolled student step, kept on the device for the reverse
 * sweep: the parameters theta_0 .. theta_K, and the forward sweep's gradients g_0 .. g_{K-1}.
 *
 * The reverse sweep reads g_k only in <lambda_{k+1}, g_k> (dL/dlr), so with g_k kept its
 * backward pass computes the activations' adjoints without the parameters' gradient products
 * (every layer's weight gradient: a ninth of a reverse step's products), for one more vector
 * per step; the original's graph holds every g_k too.
 *
 * Vectors lie `stride` floats apart (P rounded up to rt_align_floats(), so every vector CLBlast
 * reads starts aligned), in one buffer when it fits the device's largest allocation
 * (CL_DEVICE_MAX_MEM_ALLOC_SIZE, or CLMTT_MAX_ALLOC_BYTES below it), else in buffers of `per`
 * vectors each. With `shared` (the parameters), consecutive buffers share one vector:
 *   buffer b holds vectors b*(per-1) .. b*(per-1) + per-1,
 * so a step and the next are always in one buffer and the SGD step kernel runs unchanged;
 * step_vectors_written then copies a buffer's last vector into the next buffer's first.
 * Without it (the gradients) buffer b holds vectors b*per .. b*per + per-1. */
#ifndef CLMTT_STEP_VECTORS_H
#define CLMTT_STEP_VECTORS_H

#include "core/tensor.h"

typedef struct {
    cl_mem *bufs;
    int nbufs;
    int per;       /* vectors per buffer (>= 2 when shared and split) */
    int shared;
    int count;     /* vectors 0 .. count-1 */
    size_t P, stride;
    const char *what;
} StepVectors;

/* Room for `count` vectors of P floats; `what` names them in messages ("student parameters").
 * Dies naming the cap when a buffer cannot take one vector (two when shared). */
void step_vectors_init(StepVectors *v, int count, size_t P, int shared, const char *what);
void step_vectors_free(StepVectors *v);
/* Where vector k lives (its home buffer; 0 <= k < count). */
DPtr step_vectors_at(const StepVectors *v, int k);
/* Shared only: where vector k+1 is written from vector k, in k's buffer (the SGD kernel takes
 * one buffer). After writing it, call step_vectors_written(v, k + 1). */
DPtr step_vectors_next_of(const StepVectors *v, int k);
/* Makes vector k's home copy current after it was written through step_vectors_next_of. */
void step_vectors_written(StepVectors *v, int k);

#endif
