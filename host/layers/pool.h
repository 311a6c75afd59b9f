/* 2x2 pooling, stride 2, no padding, floor output size, on `planes` planes of H x W
 * (planes = C*N for CNHW activations; any layout where each plane is contiguous).
 * Max pooling takes the first maximum in row-major window order. Pooling is linear
 * once the argmax is fixed by `in`, so:
 *   tangent    out_t = pool of in_t (argmax from in)
 *   rbackward  = pool_backward applied to rdout
 * pool_backward overwrites all of din (zeros where nothing flows, e.g. odd edges). */
#ifndef CLMTT_POOL_H
#define CLMTT_POOL_H

#include "core/tensor.h"

typedef enum { POOL_NONE = 0, POOL_AVG, POOL_MAX } PoolKind;

typedef struct { PoolKind kind; int planes, H, W; } PoolShape;

static inline int pool_out(int x) { return x / 2; }

void pool_forward(const PoolShape *s, cl_mem out, cl_mem in);
void pool_backward(const PoolShape *s, cl_mem din, cl_mem dout, cl_mem in);
void pool_tangent(const PoolShape *s, cl_mem out_t, cl_mem in, cl_mem in_t);

/* Stride-2 subsampling of `planes` planes of H x W: out[p][y][x] = in[p][2y][2x], output
 * ceil(H/2) x ceil(W/2). A stride-2 convolution is a stride-1 convolution followed by this
 * (same output size, floor((H + 2 pad - K)/2) + 1). Linear, so its tangent is the forward
 * applied to the input tangent and its R-backward the backward applied to rdout. The
 * shape's kind is ignored. */
static inline int subsample_out(int x) { return (x + 1) / 2; }
void subsample_forward(const PoolShape *s, cl_mem out, cl_mem in);
/* din (fully overwritten: zeros at odd rows and columns) from dout */
void subsample_backward(const PoolShape *s, cl_mem din, cl_mem dout);
void subsample_forward_ref(const PoolShape *s, double *out, const double *in);
void subsample_backward_ref(const PoolShape *s, double *din, const double *dout);

void pool_forward_ref(const PoolShape *s, double *out, const double *in);
void pool_backward_ref(const PoolShape *s, double *din, const double *dout, const double *in);
void pool_tangent_ref(const PoolShape *s, double *out_t, const double *in, const double *in_t);

#endif
