/* Float64 references of the DSA forward map and its VJP, written as direct loops over
 * the formulas of docs/algorithm.md#dsa-augmentation-and-its-adjoint (the VJP as the literal transpose: scatter-adds). NCHW layouts. */
#include "augment/dsa.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static void dsa_ref_check(const DsaDraw *d, int C, int H, int W, const char *fn) {
    if (d->group < -1 || d->group >= DSA_NGROUPS) die("dsa: %s: bad group %d", fn, d->group);
    if (d->N < 0 || C < 1 || H < 1 || W < 1) die("dsa: %s: bad shape N=%d C=%d H=%d W=%d", fn, d->N, C, H, W);
    if ((d->group == DSA_SCALE || d->group == DSA_ROTATE) && (H < 2 || W < 2))
        die("dsa: %s: scale and rotate need images of at least 2 x 2 pixels, got %d x %d", fn, H, W);
}

/* Color on one sample x (C x H x W) into y: brightness b, saturation s, contrast t. */
static void ref_color(int C, int H, int W, double b, double s, double t, double *y, const double *x) {
    size_t hw = (size_t)H * W, n = (size_t)C * hw;
    double *x1 = xmalloc(n * sizeof(double)), *x2 = xmalloc(n * sizeof(double));
    for (size_t k = 0; k < n; k++) x1[k] = x[k] + b;
    for (size_t k = 0; k < hw; k++) {
        double m = 0;
        for (int c = 0; c < C; c++) m += x1[c * hw + k];
        m /= C;
        for (int c = 0; c < C; c++) x2[c * hw + k] = (x1[c * hw + k] - m) * s + m;
    }
    double M = 0;
    for (size_t k = 0; k < n; k++) M += x2[k];
    M /= (double)n;
    for (size_t k = 0; k < n; k++) y[k] = (x2[k] - M) * t + M;
    free(x1);
    free(x2);
}

/* VJP of ref_color: contrast, then saturation, then brightness (identity). */
static void ref_color_t(int C, int H, int W, double s, double t, double *xg, const double *g) {
    size_t hw = (size_t)H * W, n = (size_t)C * hw;
    double *g1 = xmalloc(n * sizeof(double));
    double G = 0;
    for (size_t k = 0; k < n; k++) G += g[k];
    G /= (double)n;
    for (size_t k = 0; k < n; k++) g1[k] = t * g[k] + (1 - t) * G;
    for (size_t k = 0; k < hw; k++) {
        double m = 0;
        for (int c = 0; c < C; c++) m += g1[c * hw + k];
        m /= C;
        for (int c = 0; c < C; c++) xg[c * hw + k] = s * g1[c * hw + k] + (1 - s) * m;
    }
    free(g1);
}

/* Source coordinates (X width, Y height) of output pixel (i, j) under a 2x2 matrix. */
static void ref_source(const float *a, int i, int j, int H, int W, double *X, double *Y) {
    double xn = -1.0 + 2.0 * j / (W - 1), yn = -1.0 + 2.0 * i / (H - 1);
    double u = (double)a[0] * xn + (double)a[1] * yn, v = (double)a[2] * xn + (double)a[3] * yn;
    *X = (u + 1) / 2 * (W - 1);
    *Y = (v + 1) / 2 * (H - 1);
}

/* The four bilinear corners of (X, Y): rows ry, columns rx, weights w. */
static void ref_corners(double X, double Y, int *ry, int *rx, double *w) {
    double x0 = floor(X), y0 = floor(Y), fx = X - x0, fy = Y - y0;
    ry[0] = (int)y0;     rx[0] = (int)x0;     w[0] = (1 - fx) * (1 - fy);
    ry[1] = (int)y0;     rx[1] = (int)x0 + 1; w[1] = fx * (1 - fy);
    ry[2] = (int)y0 + 1; rx[2] = (int)x0;     w[2] = (1 - fx) * fy;
    ry[3] = (int)y0 + 1; rx[3] = (int)x0 + 1; w[3] = fx * fy;
}

/* The input taps of output pixel (i, j) of one channel plane under a non-colour group g
 * (g < 0: identity): that output is sum over k < count (returned) of w[k] * plane[idx[k]].
 * The forward reads the taps and the VJP, its transpose, scatters into them. */
static int ref_taps(int g, const float *q, int i, int j, int H, int W, int *idx, double *w) {
    switch (g) {
    case DSA_CROP: {
        int si = i + (int)q[0], sj = j + (int)q[1];
        if (si < 0 || si >= H || sj < 0 || sj >= W) return 0;
        idx[0] = si * W + sj;
        w[0] = 1;
        return 1;
    }
    case DSA_CUTOUT: {
        int inside = i >= (int)q[0] && i <= (int)q[1] && j >= (int)q[2] && j <= (int)q[3];
        idx[0] = i * W + j;
        w[0] = inside ? 0.0 : 1.0;
        return 1;
    }
    case DSA_FLIP:
        idx[0] = i * W + (q[0] != 0 ? W - 1 - j : j);
        w[0] = 1;
        return 1;
    case DSA_SCALE:
    case DSA_ROTATE: {
        double X, Y, cw[4];
        int ry[4], rx[4], count = 0;
        ref_source(q, i, j, H, W, &X, &Y);
        ref_corners(X, Y, ry, rx, cw);
        for (int k = 0; k < 4; k++)
            if (ry[k] >= 0 && ry[k] < H && rx[k] >= 0 && rx[k] < W) {
                idx[count] = ry[k] * W + rx[k];
                w[count++] = cw[k];
            }
        return count;
    }
    default:
        idx[0] = i * W + j;
        w[0] = 1;
        return 1;
    }
}

void dsa_forward_ref(const DsaDraw *d, int C, int H, int W, double *out, const double *in) {
    dsa_ref_check(d, C, H, W, "forward_ref");
    size_t hw = (size_t)H * W, img = (size_t)C * hw;
    for (int n = 0; n < d->N; n++) {
        const float *q = d->p + (size_t)n * DSA_NPARAM;
        const double *x = in + n * img;
        double *y = out + n * img;
        if (d->group == DSA_COLOR) { ref_color(C, H, W, q[0], q[1], q[2], y, x); continue; }
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    int idx[4];
                    double w[4], v = 0;
                    int taps = ref_taps(d->group, q, i, j, H, W, idx, w);
                    for (int k = 0; k < taps; k++) v += w[k] * x[c * hw + idx[k]];
                    y[c * hw + i * W + j] = v;
                }
    }
}

void dsa_backward_ref(const DsaDraw *d, int C, int H, int W, double *din, const double *dout) {
    dsa_ref_check(d, C, H, W, "backward_ref");
    size_t hw = (size_t)H * W, img = (size_t)C * hw;
    memset(din, 0, (size_t)d->N * img * sizeof(double));
    for (int n = 0; n < d->N; n++) {
        const float *q = d->p + (size_t)n * DSA_NPARAM;
        const double *g = dout + n * img;
        double *xg = din + n * img;
        if (d->group == DSA_COLOR) { ref_color_t(C, H, W, q[1], q[2], xg, g); continue; }
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    int idx[4];
                    double w[4], gv = g[c * hw + i * W + j];
                    int taps = ref_taps(d->group, q, i, j, H, W, idx, w);
                    for (int k = 0; k < taps; k++) xg[c * hw + idx[k]] += w[k] * gv;
                }
    }
}
