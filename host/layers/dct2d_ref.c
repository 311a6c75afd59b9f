/* float64 references of the orthonormal 2-D DCT and its inverse, as separable sums. */
#include "layers/dct2d.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* C[k][n] = s(k) cos(pi (2n + 1) k / 2L) */
static double *dct_matrix(int L) {
    double *c = xmalloc((size_t)L * L * sizeof(double));
    for (int k = 0; k < L; k++)
        for (int n = 0; n < L; n++)
            c[k * L + n] = sqrt((k ? 2.0 : 1.0) / L) * cos(M_PI * (2 * n + 1) * k / (2.0 * L));
    return c;
}

/* out[b] = A in[b] B^T with A = CH or CH^T, B = CW or CW^T. */
static void separable(int H, int W, int B, double *out, const double *in, int inverse) {
    double *ch = dct_matrix(H), *cw = dct_matrix(W), *t = xmalloc((size_t)H * W * sizeof(double));
    for (int b = 0; b < B; b++) {
        const double *x = in + (size_t)b * H * W;
        double *y = out + (size_t)b * H * W;
        for (int h = 0; h < H; h++)          /* rows: t[h][k2] = sum_n2 x[h][n2] M[k2][n2] */
            for (int k = 0; k < W; k++) {
                double s = 0;
                for (int n = 0; n < W; n++) s += x[h * W + n] * (inverse ? cw[n * W + k] : cw[k * W + n]);
                t[h * W + k] = s;
            }
        for (int k = 0; k < H; k++)          /* columns */
            for (int w = 0; w < W; w++) {
                double s = 0;
                for (int n = 0; n < H; n++) s += t[n * W + w] * (inverse ? ch[n * H + k] : ch[k * H + n]);
                y[k * W + w] = s;
            }
    }
    free(ch); free(cw); free(t);
}

void dct2d_forward_ref(int H, int W, int B, double *out, const double *in) { separable(H, W, B, out, in, 0); }
void dct2d_inverse_ref(int H, int W, int B, double *out, const double *in) { separable(H, W, B, out, in, 1); }
