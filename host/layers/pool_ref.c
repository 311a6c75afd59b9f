/* float64 references of 2x2 pooling (same layouts and tie rule as cl/pool.cl). */
#include "layers/pool.h"
#include "core/util.h"

#include <math.h>

/* Position 0..3 of the first maximum of the window at w (row-major order; NaN wins). */
static int pool_ref_argmax(const double *w, int W) {
    const double v[4] = {w[0], w[1], w[W], w[W + 1]};
    int pos = 0;
    for (int q = 1; q < 4; q++)
        if (v[q] > v[pos] || isnan(v[q])) pos = q;
    return pos;
}

static void pool_ref_check(const PoolShape *s) {
    if (s->kind != POOL_AVG && s->kind != POOL_MAX) die("pooling: unknown kind %d", (int)s->kind);
    if (s->planes < 0 || s->H < 1 || s->W < 1) die("pooling: bad shape planes=%d H=%d W=%d", s->planes, s->H, s->W);
}

/* Pools `vals` over each window; max positions are chosen on `sel` (= vals for the forward). */
static void pool_ref_apply(const PoolShape *s, double *out, const double *sel, const double *vals) {
    pool_ref_check(s);
    const int H = s->H, W = s->W, Ho = pool_out(H), Wo = pool_out(W);
    for (int p = 0; p < s->planes; p++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                size_t base = (size_t)p * H * W + (size_t)(2 * oy) * W + 2 * ox;
                const double *v = vals + base;
                double r;
                if (s->kind == POOL_AVG) r = 0.25 * (v[0] + v[1] + v[W] + v[W + 1]);
                else {
                    int pos = pool_ref_argmax(sel + base, W);
                    r = v[(pos >> 1) * W + (pos & 1)];
                }
                out[((size_t)p * Ho + oy) * Wo + ox] = r;
            }
}

void pool_forward_ref(const PoolShape *s, double *out, const double *in) { pool_ref_apply(s, out, in, in); }

void pool_tangent_ref(const PoolShape *s, double *out_t, const double *in, const double *in_t) {
    pool_ref_apply(s, out_t, in, in_t);
}

/* Scatter form (the device uses the equivalent gather). */
void pool_backward_ref(const PoolShape *s, double *din, const double *dout, const double *in) {
    pool_ref_check(s);
    const int H = s->H, W = s->W, Ho = pool_out(H), Wo = pool_out(W);
    for (size_t i = 0; i < (size_t)s->planes * H * W; i++) din[i] = 0.0;
    for (int p = 0; p < s->planes; p++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                size_t base = (size_t)p * H * W + (size_t)(2 * oy) * W + 2 * ox;
                double g = dout[((size_t)p * Ho + oy) * Wo + ox];
                if (s->kind == POOL_AVG) {
                    din[base] = din[base + 1] = din[base + W] = din[base + W + 1] = 0.25 * g;
                } else {
                    int pos = pool_ref_argmax(in + base, W);
                    din[base + (size_t)(pos >> 1) * W + (pos & 1)] = g;
                }
            }
}

void subsample_forward_ref(const PoolShape *s, double *out, const double *in) {
    const int H = s->H, W = s->W, Ho = subsample_out(H), Wo = subsample_out(W);
    for (int p = 0; p < s->planes; p++)
        for (int y = 0; y < Ho; y++)
            for (int x = 0; x < Wo; x++)
                out[((size_t)p * Ho + y) * Wo + x] = in[((size_t)p * H + 2 * y) * W + 2 * x];
}

/* Scatter form (the device gathers). */
void subsample_backward_ref(const PoolShape *s, double *din, const double *dout) {
    const int H = s->H, W = s->W, Ho = subsample_out(H), Wo = subsample_out(W);
    for (size_t i = 0; i < (size_t)s->planes * H * W; i++) din[i] = 0.0;
    for (int p = 0; p < s->planes; p++)
        for (int y = 0; y < Ho; y++)
            for (int x = 0; x < Wo; x++)
                din[((size_t)p * H + 2 * y) * W + 2 * x] = dout[((size_t)p * Ho + y) * Wo + x];
}
