/* The forward sweep's student gradients g_0 .. g_{K-1}, P floats each, kept on the device
 * for the reverse sweep, where dL/dlr sums <lambda_{k+1}, g_k>: with g_k kept, the reverse
 * step's backward pass runs for the activations' adjoints only, without the parameters'
 * gradient products (a ninth of its products: the weight gradient of every layer).
 * The cost is one more parameter vector per student step, as the original's graph keeps g_k too.
 * Vectors lie `stride` floats apart (P rounded up to rt_align_floats()), as many to a buffer
 * as the device's largest allocation takes (CL_DEVICE_MAX_MEM_ALLOC_SIZE, or
 * CLMTT_MAX_ALLOC_BYTES below it). */
#ifndef CLMTT_GRAD_STEPS_H
#define CLMTT_GRAD_STEPS_H

#include "core/tensor.h"

typedef struct {
    cl_mem *bufs;
    int nbufs;
    int per;       /* vectors per buffer */
    int K;
    size_t P, stride;
} GradSteps;

/* Room for g_0 .. g_{K-1}; dies naming the cap when one vector does not fit a buffer. */
void grad_steps_init(GradSteps *g, int K, size_t P);
void grad_steps_free(GradSteps *g);
/* Where g_k lives (0 <= k < K). */
DPtr grad_steps_at(const GradSteps *g, int k);

#endif
