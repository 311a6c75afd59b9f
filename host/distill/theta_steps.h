/* The student parameters of every unrolled step, theta_0 .. theta_K, each P floats, kept on
 * the device for the reverse sweep. They go into one buffer [(K+1) x P] when it fits the
 * device's largest allocation (CL_DEVICE_MAX_MEM_ALLOC_SIZE, or CLMTT_MAX_ALLOC_BYTES below
 * it), else into several buffers of m steps each, consecutive buffers sharing one step:
 *   buffer b holds steps b*(m-1) .. b*(m-1) + m-1,
 * so a step and the next are always in one buffer and the SGD step kernel runs unchanged;
 * theta_steps_next then copies a buffer's last step into the next buffer's first.
 * Steps lie `stride` floats apart: P rounded up to rt_align_floats(), so every theta_k that
 * CLBlast reads starts aligned. */
#ifndef CLMTT_THETA_STEPS_H
#define CLMTT_THETA_STEPS_H

#include "core/tensor.h"

typedef struct {
    cl_mem *bufs;
    int nbufs;
    int per;       /* steps per buffer, m (>= 2 when split; K+1 when one buffer) */
    int K;
    size_t P, stride;
} ThetaSteps;

/* Room for steps 0..K of P floats; dies naming the cap when not even two steps fit a buffer. */
void theta_steps_init(ThetaSteps *t, int K, size_t P);
void theta_steps_free(ThetaSteps *t);
/* Where step k lives (its home buffer; 0 <= k <= K). */
DPtr theta_steps_at(const ThetaSteps *t, int k);
/* Where step k+1 is written from step k: in step k's buffer (the SGD kernel takes one buffer).
 * After writing it, call theta_steps_written(t, k + 1). */
DPtr theta_steps_next_of(const ThetaSteps *t, int k);
/* Makes step k's home copy current after it was written through theta_steps_next_of. */
void theta_steps_written(ThetaSteps *t, int k);

#endif
