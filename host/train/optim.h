/* The one optimizer: SGD with momentum and weight decay, PyTorch's semantics, for any
 * tensor on the device (network parameters in expert training and evaluation; every
 * learnable tensor of the synthetic set, the step size included). Each tensor has its own
 * Sgd (learning rate, momentum, weight decay) and its own momentum buffer.
 *
 *   d = grad + weight_decay * theta
 *   v = fresh ? d : momentum * v + d        (momentum 0: v unused, d taken as is)
 *   theta -= lr * v
 *
 * theta, grad, vel: n floats each (DPtr: buffer + offset, so one flat buffer can hold
 * several tensors). */
#ifndef CLMTT_OPTIM_H
#define CLMTT_OPTIM_H

#include "core/blas.h"

typedef struct {
    double lr, momentum, weight_decay;
    int fresh;          /* 1: the next step starts a new momentum buffer */
} Sgd;

void sgd_step(Sgd *s, size_t n, DPtr theta, DPtr grad, DPtr vel);
/* The next step starts a new momentum buffer (a learning-rate decay in evaluation does). */
void sgd_restart(Sgd *s);

/* float64 reference of one step (same formulas), for tests. */
void sgd_step_ref(const Sgd *s, size_t n, double *theta, const double *grad, double *vel);

#endif
