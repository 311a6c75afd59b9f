/* The orthonormal 2-D DCT-II of image planes and its inverse (DCT-III), on the device
 * through clFFT, with a float64 reference.
 *
 *   X[k1][k2] = s1(k1) s2(k2) sum_{n1,n2} x[n1][n2] cos(pi (2 n1 + 1) k1 / 2H) cos(pi (2 n2 + 1) k2 / 2W)
 *   s(0) = sqrt(1/L), s(k) = sqrt(2/L) for k > 0
 *
 * The transform is orthonormal, so the inverse is the transpose: the pullback of
 * x = IDCT(X) is DCT, and of X = DCT(x) is IDCT.
 * Each 1-D pass along the last axis is one batched complex FFT of a reordered row
 * (even samples ascending, odd samples descending) with a quarter-sample twiddle before or
 * after it; a pass writes its result transposed, so two passes give the 2-D transform.
 * Shapes: planes [B][H][W] (B = images x channels), in and out distinct buffers. */
#ifndef CLMTT_DCT2D_H
#define CLMTT_DCT2D_H

#include "core/runtime.h"
#include "core/tensor.h"

#include <clFFT.h>

enum { DCT_MAX_PLANS = 8 };

/* FFT plans for planes of H x W on one runtime, made per batch size on first use. */
typedef struct {
    Runtime *rt;
    int H, W;
    int nplans;
    struct { int len; size_t batch; clfftPlanHandle plan; } plans[DCT_MAX_PLANS];
} Dct2d;

void dct2d_init(Dct2d *d, int H, int W);
void dct2d_free(Dct2d *d);
/* out = DCT(in) (inverse 0) or IDCT(in) (inverse 1), B planes. */
void dct2d(Dct2d *d, int inverse, cl_mem out, cl_mem in, int B);

/* float64 references (direct sums). */
void dct2d_forward_ref(int H, int W, int B, double *out, const double *in);
void dct2d_inverse_ref(int H, int W, int B, double *out, const double *in);

#endif
