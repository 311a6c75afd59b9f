/* Fully connected layer: out[N][Out] = in[N][In] * w[Out][In]^T + b[Out] (row-major).
 * Same four passes and conventions as conv2d.h:
 *   backward   din = dout * w; dw = dout^T * in; db = sum_n dout
 *   tangent    out_t = in_t * w^T + in * w_t^T + b_t
 *   rbackward  rdin = rdout * w + dout * w_t; rdw = rdout^T * in + dout^T * in_t; rdb = sum_n rdout
 * Also flatten: CNHW activations [C][N][HW] <-> row-major features [N][C*HW] (PyTorch's
 * flatten order c*HW + s). Both directions are permutations, so tangents and
 * R-adjoints use the same two functions. */
#ifndef CLMTT_LINEAR_H
#define CLMTT_LINEAR_H

#include "core/tensor.h"

typedef struct { int N, In, Out; } LinearShape;

/* Layers of at most this many multiply-adds (N x In x Out) run each pass as one launch of
 * their own kernels; larger ones call the matrix products. CLMTT_LINEAR_SMALL_MACS sets it
 * (default 2^24; 0: always the products); linear_set_small_macs overrides it (tests). */
size_t linear_small_macs(void);
void linear_set_small_macs(size_t macs);

void linear_forward(const LinearShape *s, cl_mem out, cl_mem in, DPtr w, DPtr b);
/* dw may be absent (NULL buffer, and db with it): the input gradient alone. */
void linear_backward(const LinearShape *s, cl_mem din, DPtr dw, DPtr db, cl_mem dout, cl_mem in, DPtr w);
void linear_tangent(const LinearShape *s, cl_mem out_t, cl_mem in, cl_mem in_t, DPtr w, DPtr w_t, DPtr b_t);
void linear_rbackward(const LinearShape *s, cl_mem rdin, DPtr rdw, DPtr rdb, cl_mem dout, cl_mem rdout,
                      cl_mem in, cl_mem in_t, DPtr w, DPtr w_t);

void linear_forward_ref(const LinearShape *s, double *out, const double *in, const double *w, const double *b);
void linear_backward_ref(const LinearShape *s, double *din, double *dw, double *db, const double *dout,
                         const double *in, const double *w);
void linear_tangent_ref(const LinearShape *s, double *out_t, const double *in, const double *in_t,
                        const double *w, const double *w_t, const double *b_t);
void linear_rbackward_ref(const LinearShape *s, double *rdin, double *rdw, double *rdb, const double *dout,
                          const double *rdout, const double *in, const double *in_t, const double *w, const double *w_t);

/* out[n][c*HW + s] = in[c][n][s] */
void flatten_forward(int C, int N, int HW, cl_mem out, cl_mem in);
/* din[c][n][s] = dout[n][c*HW + s] */
void flatten_backward(int C, int N, int HW, cl_mem din, cl_mem dout);
void flatten_forward_ref(int C, int N, int HW, double *out, const double *in);
void flatten_backward_ref(int C, int N, int HW, double *din, const double *dout);

#endif
