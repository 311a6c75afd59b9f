/* The "norm + activation + pool" block: the layers after a convolution in the ConvNet family
 * (optional instance or batch norm -> activation -> optional 2x2 pooling), run as one kernel
 * per pass (cl/norm_block.cl) instead of one per layer plus the parameter-gradient and bias
 * passes. On CNHW activations; the input `in` is the convolution's output without its bias,
 * which the block adds itself (`bias`, and `bias_t` along a tangent; absent: no bias), so the
 * convolution needs no bias pass. With out_nchw the output (and dout, rdout) is NCHW: the
 * flatten before a linear layer, done by the block.
 *   forward    out = pool(act(norm(in)))      (stats as norm.h's, for the other passes;
 *                                              batch norm also updates run_mean/run_var)
 *   backward   din, dgamma, dbeta, and dbias = the conv's bias gradient (sum of din per channel)
 *   tangent    out_t along in_t, gamma_t, beta_t
 *   rbackward  rdin, rdgamma, rdbeta, rdbias (the tangent of the backward pass)
 * Only the output and the statistics are stored; the other passes recompute the norm's and
 * the activation's outputs from `in`. The results are those of conv bias add, norm_*, act_*,
 * pool_* (and flatten) in a row, up to float32 rounding: block_ref.c composes the references
 * of norm, act and pool on the biased input, CNHW. The statistics are those of the input
 * without the bias (a per-channel constant, which cancels in the normalized value; batch
 * norm's running mean adds it back).
 * NULL / absent (DPtr with mem NULL) outputs are skipped: dgamma+dbeta (both or neither),
 * dbias. Without norm, gamma/beta and their tangents and gradients are unused. */
#ifndef CLMTT_BLOCK_H
#define CLMTT_BLOCK_H

#include "layers/act.h"
#include "layers/norm.h"
#include "layers/pool.h"

/* norm: NORM_NONE, NORM_INSTANCE or NORM_BATCH; pool: POOL_NONE, POOL_AVG or POOL_MAX.
 * Input C x N x H x W (CNHW); output C x N x H/2 x W/2 with pooling, else the input's shape. */
typedef struct { NormKind norm; ActKind act; PoolKind pool; int C, N, H, W, out_nchw; } BlockShape;

/* 1 when the block runs the chain norm -> act -> pool of these kinds. */
int block_supports(NormKind norm, ActKind act, PoolKind pool);
int block_nsets(const BlockShape *s);          /* statistics sets: N*C instance, C batch, 0 none */
size_t block_out_size(const BlockShape *s);    /* floats of the output */

void block_forward(const BlockShape *s, cl_mem out, cl_mem stats, cl_mem in, DPtr gamma, DPtr beta, DPtr bias,
                   cl_mem run_mean, cl_mem run_var);
void block_backward(const BlockShape *s, cl_mem din, DPtr dgamma, DPtr dbeta, DPtr dbias, cl_mem dout, cl_mem in,
                    cl_mem stats, DPtr gamma, DPtr beta, DPtr bias);
void block_tangent(const BlockShape *s, cl_mem out_t, cl_mem in, cl_mem in_t, cl_mem stats, DPtr gamma, DPtr beta,
                   DPtr gamma_t, DPtr beta_t, DPtr bias, DPtr bias_t);
void block_rbackward(const BlockShape *s, cl_mem rdin, DPtr rdgamma, DPtr rdbeta, DPtr rdbias, cl_mem dout,
                     cl_mem rdout, cl_mem in, cl_mem in_t, cl_mem stats, DPtr gamma, DPtr beta, DPtr gamma_t,
                     DPtr beta_t, DPtr bias, DPtr bias_t);

/* float64 references (block_ref.c): the norm, act and pool references in a row; NULL
 * pointers as above. stats: 2 * block_nsets doubles (unused without norm). */
void block_forward_ref(const BlockShape *s, double *out, double *stats, const double *in, const double *gamma,
                       const double *beta);
void block_backward_ref(const BlockShape *s, double *din, double *dgamma, double *dbeta, double *dbias,
                        const double *dout, const double *in, const double *gamma, const double *beta);
void block_tangent_ref(const BlockShape *s, double *out_t, const double *in, const double *in_t, const double *gamma,
                       const double *beta, const double *gamma_t, const double *beta_t);
void block_rbackward_ref(const BlockShape *s, double *rdin, double *rdgamma, double *rdbeta, double *rdbias,
                         const double *dout, const double *rdout, const double *in, const double *in_t,
                         const double *gamma, const double *beta, const double *gamma_t, const double *beta_t);

#endif
