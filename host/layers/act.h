/* Element-wise activations: ReLU, sigmoid, leaky ReLU (slope 0.01).
 *   forward    out = f(in)
 *   backward   din = f'(in) dout
 *   tangent    out_t = f'(in) in_t
 *   rbackward  rdin = f'(in) rdout + f''(in) in_t dout   (f'' = 0 except sigmoid)
 * ReLU's derivative at 0 is 0 (PyTorch's convention: mask in > 0). */
#ifndef CLMTT_ACT_H
#define CLMTT_ACT_H

#include "core/tensor.h"

typedef enum { ACT_RELU = 0, ACT_SIGMOID, ACT_LEAKYRELU } ActKind;

void act_forward(ActKind k, size_t n, cl_mem out, cl_mem in);
void act_backward(ActKind k, size_t n, cl_mem din, cl_mem dout, cl_mem in);
void act_tangent(ActKind k, size_t n, cl_mem out_t, cl_mem in, cl_mem in_t);
void act_rbackward(ActKind k, size_t n, cl_mem rdin, cl_mem dout, cl_mem rdout, cl_mem in, cl_mem in_t);

void act_forward_ref(ActKind k, size_t n, double *out, const double *in);
void act_backward_ref(ActKind k, size_t n, double *din, const double *dout, const double *in);
void act_tangent_ref(ActKind k, size_t n, double *out_t, const double *in, const double *in_t);
void act_rbackward_ref(ActKind k, size_t n, double *rdin, const double *dout, const double *rdout,
                       const double *in, const double *in_t);

#endif
