/* The student-step engine: the derivatives of one SGD step of a network over a batch that
 * comes as chunks of rows. It is the unit that expert training, evaluation and the
 * distiller share, and the unit a batch is split into across devices.
 *
 *   step_grad      forward, loss, backward of one chunk: its share of the batch's mean
 *                  gradient
 *   step_grad_hvp  the same plus the R-operator pass along lambda: its shares of the mean
 *                  gradient and of the Hessian-vector product H lambda, and the input
 *                  meta-gradient u of its rows; without grad (a NULL buffer) the
 *                  gradient's products are left out (the distiller keeps the forward
 *                  sweep's)
 *
 * A chunk of nc of the batch's n rows contributes (nc / n) x its own mean. acc = 0 writes
 * the share into grad (and hvp), acc = 1 adds it: the caller sums the partial sums of its
 * chunks (and, with a batch split across devices, those of every device). A batch of one
 * chunk (nc = n, acc = 0) is computed exactly as the single pass it is.
 * Shapes: theta, lam, grad, hvp [P]; x [nc, C, H, W]; targets [nc, classes]; u like x. */
#ifndef CLMTT_STEP_H
#define CLMTT_STEP_H

#include "net/exec.h"

typedef struct {
    const Net *net;
    Exec exec;          /* activations (and tangents) of one chunk */
    int max_rows;       /* rows of one chunk */
    int loss_sums;      /* 1: step_grad adds loss and accuracy into exec's sums (exec_take_sums) */
    cl_mem part, hpart; /* one chunk's gradient and Hessian-vector product before weighting */
} StepEngine;

void step_init(StepEngine *s, const Net *net, int max_rows, int with_hvp, int loss_sums);
void step_free(StepEngine *s);

void step_grad(StepEngine *s, DPtr theta, cl_mem x, cl_mem targets, int nc, int n, int acc, DPtr grad);
void step_grad_hvp(StepEngine *s, DPtr theta, DPtr lam, cl_mem x, cl_mem targets, int nc, int n, int acc, DPtr grad,
                   DPtr hvp, cl_mem u);

#endif
