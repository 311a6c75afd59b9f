/* Normalization layers on CNHW activations ([C][N][HW]), eps = 1e-5, biased variance.
 * Each normalizes "sets" S of elements and applies an affine gamma/beta:
 *   NORM_INSTANCE  S = (n, c): HW elements            affine per channel (C)
 *                  (PyTorch GroupNorm(C, C), the ConvNet default "instancenorm")
 *   NORM_GROUP     S = (n, g), 4 groups of C/4 consecutive channels x HW; affine per channel
 *   NORM_LAYER     S = n: all C*HW elements            affine per element (C*HW, index c*HW+s)
 *   NORM_BATCH     S = c: all N*HW elements (training: batch statistics); affine per channel
 * stats holds 2*norm_nsets floats: mean[nsets] then rstd[nsets] = 1/sqrt(var+eps),
 * written by norm_forward and read by the other passes.
 * Passes and conventions as in conv2d.h (docs/algorithm.md#per-layer-second-order-passes gives the formulas):
 *   forward    out = gamma * zhat + beta, zhat = (in - mean) * rstd
 *   backward   din, dgamma, dbeta
 *   tangent    out_t (in_t NULL = zero input tangent)
 *   rbackward  rdin, rdgamma, rdbeta
 * Set indices: instance s = n*C + c; group s = n*4 + g; layer s = n; batch s = c. */
#ifndef CLMTT_NORM_H
#define CLMTT_NORM_H

#include "core/tensor.h"

typedef enum { NORM_NONE = 0, NORM_INSTANCE, NORM_GROUP, NORM_LAYER, NORM_BATCH } NormKind;

typedef struct { NormKind kind; int C, N, HW; } NormShape;

int norm_nsets(const NormShape *s);
size_t norm_affine_size(const NormShape *s);   /* C, or C*HW for NORM_LAYER */

void norm_forward(const NormShape *s, cl_mem out, cl_mem stats, cl_mem in, DPtr gamma, DPtr beta);
void norm_backward(const NormShape *s, cl_mem din, DPtr dgamma, DPtr dbeta, cl_mem dout, cl_mem in,
                   cl_mem stats, DPtr gamma);
void norm_tangent(const NormShape *s, cl_mem out_t, cl_mem in, cl_mem in_t, cl_mem stats, DPtr gamma,
                  DPtr gamma_t, DPtr beta_t);
void norm_rbackward(const NormShape *s, cl_mem rdin, DPtr rdgamma, DPtr rdbeta, cl_mem dout, cl_mem rdout,
                    cl_mem in, cl_mem in_t, cl_mem stats, DPtr gamma, DPtr gamma_t);

/* BatchNorm only. Eval mode: out = gamma * (in - run_mean) / sqrt(run_var + eps) + beta.
 * After a training forward: run_mean = 0.9 run_mean + 0.1 mean, run_var = 0.9 run_var
 * + 0.1 * unbiased batch variance (n/(n-1) * biased), n = N*HW. run_* have C floats. */
void batchnorm_eval_forward(const NormShape *s, cl_mem out, cl_mem in, cl_mem run_mean, cl_mem run_var,
                            DPtr gamma, DPtr beta);
void batchnorm_update_running(const NormShape *s, cl_mem run_mean, cl_mem run_var, cl_mem stats);

/* References (float64, same layouts; stats as above). */
void norm_forward_ref(const NormShape *s, double *out, double *stats, const double *in, const double *gamma,
                      const double *beta);
void norm_backward_ref(const NormShape *s, double *din, double *dgamma, double *dbeta, const double *dout,
                       const double *in, const double *stats, const double *gamma);
void norm_tangent_ref(const NormShape *s, double *out_t, const double *in, const double *in_t,
                      const double *stats, const double *gamma, const double *gamma_t, const double *beta_t);
void norm_rbackward_ref(const NormShape *s, double *rdin, double *rdgamma, double *rdbeta, const double *dout,
                        const double *rdout, const double *in, const double *in_t, const double *stats,
                        const double *gamma, const double *gamma_t);

#endif
