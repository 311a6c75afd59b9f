/* Texture mode (docs/algorithm.md#texture-canvases-and-their-adjoint): every synthetic row is a canvas of
 * canvas_size x the network input on each side. Whenever a minibatch of canvases is used
 * it becomes `rounds` (--canvas_samples) rounds of random circular crops:
 *   crop(c, y, x) = canvas(c, (y - dh) mod Hc, (x - dw) mod Wc),  0 <= y < H, 0 <= x < W,
 * a circular shift by (dh, dw) followed by the top-left H x W window. Crops are stacked
 * round by round: crop r*n + i comes from the i-th canvas of the batch with its own
 * offsets, which are drawn round-major (offs[2*(r*n+i)] = dh, offs[2*(r*n+i)+1] = dw,
 * dh in [0, Hc), dw in [0, Wc)).
 * The crop is linear; its transpose adds every crop pixel into the canvas pixel it came
 * from, and several crops of one canvas accumulate (the meta-gradient, docs/algorithm.md#adjoint-of-the-crop). */
#ifndef CLMTT_TEXTURE_H
#define CLMTT_TEXTURE_H

#include "data/dataset.h"
#include "core/rng.h"
#include "core/tensor.h"

/* Crops of C x H x W from canvases of C x Hc x Wc (Hc >= H, Wc >= W). */
typedef struct { int C, H, W, Hc, Wc; } TexShape;

/* offs[2*(r*n+i)] ~ UI{0..Hc-1}, offs[2*(r*n+i)+1] ~ UI{0..Wc-1}, for r < rounds, i < n,
 * in that order (docs/algorithm.md#random-circular-crops). */
void texture_draw_offsets(Rng *rng, int n, int rounds, int Hc, int Wc, int32_t *offs);

/* out [rounds*n, C, H, W] = crops of X [*, C, Hc, Wc]: crop r*n+i of canvas
 * rows[row_off + i] (int32 on the device) with offsets at offs[offs_off + 2*(r*n+i)].
 * Offsets must lie in [0, Hc) x [0, Wc) (texture_draw_offsets makes them so). */
void texture_crop_forward(const TexShape *s, cl_mem out, cl_mem X, cl_mem rows, int row_off, cl_mem offs,
                          int offs_off, int n, int rounds);
/* dX[rows[row_off + i]] += scale * sum_r crop_{r,i}^T (R[r*n + i]), R starting r_off floats
 * into its buffer. The n canvases rows[row_off .. row_off+n) must be distinct (a gather per
 * canvas pixel: each element of dX is written by one work-item, no atomics). */
void texture_crop_transpose_add(const TexShape *s, cl_mem dX, cl_mem R, size_t r_off, cl_mem rows, int row_off,
                                cl_mem offs, int offs_off, int n, int rounds, float scale);

/* Float64 references with the same layouts (host arrays; rows and offs start at the
 * batch). The transpose accepts repeated canvases. */
void texture_crop_forward_ref(const TexShape *s, double *out, const double *X, const int32_t *rows,
                              const int32_t *offs, int n, int rounds);
void texture_crop_transpose_add_ref(const TexShape *s, double *dX, const double *R, const int32_t *rows,
                                    const int32_t *offs, int n, int rounds, double scale);

/* Real initialization of canvases (docs/algorithm.md#initialization-of-the-synthetic-set, texture): for each class c, each tile
 * position (a, b) of the canvas_size x canvas_size grid, and each of the ipc canvases of
 * class c, an independently drawn random training image of class c fills tile (a, b).
 * out: num_classes*ipc canvases of C x canvas_size*H x canvas_size*W, labels class-major. */
void texture_init_real(const ImageSet *train, int num_classes, int ipc, int canvas_size, Rng *rng, ImageSet *out);

/* Each canvas repeated reps x reps times (a preview that shows whether it tiles without
 * seams): out [N, C, reps*Hc, reps*Wc] (host, malloc'd). */
float *texture_tile(const float *canvases, int N, int C, int Hc, int Wc, int reps);

#endif
