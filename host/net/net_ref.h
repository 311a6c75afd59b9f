/* The float64 host reference of exec.h: the same network, the same passes, built from
 * the layers' *_ref functions. Tests check the device against it, and it against
 * central finite differences. Batch norm runs in training mode (batch statistics). */
#ifndef CLMTT_NET_REF_H
#define CLMTT_NET_REF_H

#include "net/net.h"

typedef struct {
    const Net *net;
    int n;
    double *act[NET_MAX_LAYERS + 1];   /* act[0] = the input (not owned) */
    double *tan[NET_MAX_LAYERS + 1];
    double *stats[NET_MAX_LAYERS];
    double *probs;
} RefExec;

void ref_exec_init(RefExec *r, const Net *net, int n);
void ref_exec_free(RefExec *r);
/* Returns the mean cross-entropy; keeps activations for the backward passes. */
double ref_forward(RefExec *r, const double *params, const double *input, const double *targets);
/* grad = d loss / d params; dinput (may be NULL) = d loss / d input. After ref_forward. */
void ref_backward(RefExec *r, const double *params, const double *targets, double *grad, double *dinput);
/* grad, hvp = H lam, u = mixed second derivative at the input (may be NULL). Runs its own forward. */
void ref_grad_hvp(RefExec *r, const double *params, const double *lam, const double *input, const double *targets,
                  double *grad, double *hvp, double *u);

#endif
