/* Differentiable Siamese Augmentation (docs/algorithm.md#dsa-augmentation-and-its-adjoint), mode 'S': per minibatch one group
 * of the strategy is drawn, and its random parameters are drawn per sample. Draws are
 * made on the host (rng.h) and kept in a DsaDraw, so the distillation's reverse sweep
 * replays the identical transform and its vector-Jacobian product.
 * Images are NCHW. Every op is affine in the pixels; dsa_backward is the VJP
 * (din = J^T dout), independent of the pixel values. */
#ifndef CLMTT_DSA_H
#define CLMTT_DSA_H

#include "core/rng.h"
#include "core/tensor.h"

typedef enum { DSA_COLOR = 0, DSA_CROP, DSA_CUTOUT, DSA_FLIP, DSA_SCALE, DSA_ROTATE, DSA_NGROUPS } DsaGroup;

/* The strategy string split on '_' ("color_crop_cutout_flip_scale_rotate"); "none"/"None"/""
 * gives ngroups = 0 (identity). Unknown names are fatal errors naming the flag text. */
typedef struct { int ngroups; DsaGroup groups[DSA_NGROUPS]; } DsaStrategy;
void dsa_strategy_parse(const char *text, DsaStrategy *out);

enum { DSA_NPARAM = 4 };
/* One minibatch's draws. group = -1: identity. p[n*DSA_NPARAM + i], per group:
 *   color   brightness shift (u-0.5), saturation factor 2u, contrast factor u+0.5
 *   crop    row shift tx, column shift ty (integers in [-sh, sh], [-sw, sw])
 *   cutout  first row, last row, first column, last column of the zeroed rectangle
 *           (inclusive, already clipped to the image)
 *   flip    1 when the width axis is reversed
 *   scale   2x2 matrix a00 a01 a10 a11 ([[sx,0],[0,sy]])
 *   rotate  2x2 matrix ([[cos,-sin],[sin,cos]])
 * The matrix maps output normalized (x, y) to input normalized coordinates (docs/algorithm.md#dsa-augmentation-and-its-adjoint). */
typedef struct {
    int group;
    int N;
    float *p;   /* N * DSA_NPARAM floats, malloc'd */
} DsaDraw;

/* Draws group and parameters for N images of H x W. */
void dsa_draw(const DsaStrategy *st, Rng *rng, int N, int H, int W, DsaDraw *out);
void dsa_draw_free(DsaDraw *d);
/* Copies a draw (for replay). */
void dsa_draw_copy(DsaDraw *dst, const DsaDraw *src);

/* out = A(in), N x C x H x W; out and in are distinct buffers. */
void dsa_forward(const DsaDraw *d, int C, int H, int W, cl_mem out, cl_mem in);
/* din = A^T dout (overwrites din). */
void dsa_backward(const DsaDraw *d, int C, int H, int W, cl_mem din, cl_mem dout);
/* The same with the draw's parameters (N * DSA_NPARAM floats, as d->p) already on the
 * device at `params`, so no upload waits for an earlier one. */
void dsa_forward_at(const DsaDraw *d, DPtr params, int C, int H, int W, cl_mem out, cl_mem in);
void dsa_backward_at(const DsaDraw *d, DPtr params, int C, int H, int W, cl_mem din, cl_mem dout);

void dsa_forward_ref(const DsaDraw *d, int C, int H, int W, double *out, const double *in);
void dsa_backward_ref(const DsaDraw *d, int C, int H, int W, double *din, const double *dout);

#endif
