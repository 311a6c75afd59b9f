/* 2x2 stride-2 pooling with floor output size on contiguous H x W planes (host/layers/pool.c).
 * kind: 1 = average, 2 = max (first maximum in row-major window order).
 *
 * Two kernel families, picked by the host from the device type:
 *   pool_*_win     GPU: one work-item per output window (neighbouring items touch
 *                  neighbouring pairs of columns);
 *   pool_*_planes  CPU: one work-item per plane, plain loops (no index division). */

/* Position 0..3 of the first maximum of the window whose top-left element is `w`:
 * order (0,0), (0,1), (1,0), (1,1); a later element wins only when strictly larger
 * or NaN, so a NaN input propagates to the output as in PyTorch. */
static inline int pool_argmax(__global const float *w, int W) {
    float best = w[0];
    int pos = 0;
    if (w[1] > best || isnan(w[1])) { best = w[1]; pos = 1; }
    if (w[W] > best || isnan(w[W])) { best = w[W]; pos = 2; }
    if (w[W + 1] > best || isnan(w[W + 1])) pos = 3;
    return pos;
}

/* Offset of window position 0..3 from the window's top-left element. */
static inline int pool_pos_offset(int pos, int W) { return (pos >> 1) * W + (pos & 1); }

/* Pooled value of the window at `w` (W: row stride); the max position comes from `sel`
 * (the window of the forward input at the same place). */
static inline float pool_window(__global const float *w, __global const float *sel, int W, int kind) {
    if (kind == 1) return 0.25f * ((w[0] + w[1]) + (w[W] + w[W + 1]));
    return w[pool_pos_offset(pool_argmax(sel, W), W)];
}

/* Writes the backward share of g into the 2x2 window at `d` (W: row stride). */
static inline void pool_window_bwd(__global float *d, __global const float *sel, int W, int kind, float g) {
    if (kind == 1) {
        const float q = 0.25f * g;
        d[0] = q; d[1] = q; d[W] = q; d[W + 1] = q;
        return;
    }
    const int pos = pool_argmax(sel, W);
    d[0] = pos == 0 ? g : 0.0f;
    d[1] = pos == 1 ? g : 0.0f;
    d[W] = pos == 2 ? g : 0.0f;
    d[W + 1] = pos == 3 ? g : 0.0f;
}

/* Output window o (planes of (H/2) x (W/2) windows): the offset of its top-left input
 * element, its plane, row oy and column ox. */
typedef struct { long base, plane; int oy, ox; } pool_win_t;

static inline pool_win_t pool_win_at(long o, int H, int W) {
    const int Ho = H / 2, Wo = W / 2;
    pool_win_t w;
    w.plane = o / ((long)Ho * Wo);
    const int r = (int)(o - w.plane * Ho * Wo);
    w.oy = r / Wo;
    w.ox = r - w.oy * Wo;
    w.base = w.plane * H * W + (long)(2 * w.oy) * W + 2 * w.ox;
    return w;
}

/* Zeros the last column of input rows 2*oy and 2*oy + 1 of plane d (odd W: no window covers it). */
static inline void pool_zero_last_col(__global float *d, int oy, int W) {
    d[2 * oy * W + W - 1] = 0.0f;
    d[(2 * oy + 1) * W + W - 1] = 0.0f;
}

/* GPU: out[o] = pool of window o of `src` (in for forward, in_t for the tangent; the max
 * position always from in); nout = planes*Ho*Wo. */
__kernel void pool_fwd_win(__global float *out, __global const float *in, __global const float *src, long nout,
                           int H, int W, int kind) {
    const long o = get_global_id(0);
    if (o >= nout) return;
    const long base = pool_win_at(o, H, W).base;
    out[o] = pool_window(src + base, in + base, W, kind);
}

/* GPU backward, one work-item per window: writes its 2x2 block of din; the items of the
 * last window column / row also zero the odd last column / row (which no window covers),
 * so din is fully overwritten and no two items write the same element. */
__kernel void pool_bwd_win(__global float *din, __global const float *dout, __global const float *in, long nout,
                           int H, int W, int kind) {
    const long o = get_global_id(0);
    if (o >= nout) return;
    const pool_win_t w = pool_win_at(o, H, W);
    pool_window_bwd(din + w.base, in + w.base, W, kind, dout[o]);
    const int last_x = (W & 1) && w.ox == W / 2 - 1, last_y = (H & 1) && w.oy == H / 2 - 1;
    __global float *d = din + w.plane * H * W;
    if (last_x) pool_zero_last_col(d, w.oy, W);
    if (last_y) {
        d[(H - 1) * W + 2 * w.ox] = 0.0f;
        d[(H - 1) * W + 2 * w.ox + 1] = 0.0f;
        if (last_x) d[(H - 1) * W + W - 1] = 0.0f;
    }
}

/* CPU: out (one plane of Ho x Wo) = pool of `src` (max position from in); one item per plane. */
__kernel void pool_fwd_planes(__global float *out, __global const float *in, __global const float *src, int planes,
                              int H, int W, int kind) {
    const int p = get_global_id(0);
    if (p >= planes) return;
    const int Ho = H / 2, Wo = W / 2;
    const long ib = (long)p * H * W;
    __global float *o = out + (long)p * Ho * Wo;
    for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++) {
            const long w = ib + (long)(2 * oy) * W + 2 * ox;
            o[oy * Wo + ox] = pool_window(src + w, in + w, W, kind);
        }
}

/* CPU backward, one item per plane: every window's 2x2 block, then zeros in the odd last
 * column and row. */
__kernel void pool_bwd_planes(__global float *din, __global const float *dout, __global const float *in, int planes,
                              int H, int W, int kind) {
    const int p = get_global_id(0);
    if (p >= planes) return;
    const int Ho = H / 2, Wo = W / 2;
    const long ib = (long)p * H * W;
    __global const float *g = dout + (long)p * Ho * Wo;
    __global float *d = din + ib;
    for (int oy = 0; oy < Ho; oy++) {
        for (int ox = 0; ox < Wo; ox++) {
            const int w = 2 * oy * W + 2 * ox;
            pool_window_bwd(d + w, in + ib + w, W, kind, g[oy * Wo + ox]);
        }
        if (W & 1) pool_zero_last_col(d, oy, W);
    }
    if (H & 1)
        for (int x = 0; x < W; x++) d[(H - 1) * W + x] = 0.0f;
}

/* Stride-2 subsampling (a stride-2 convolution is a stride-1 one followed by this):
 * out[p][oy][ox] = in[p][2 oy][2 ox], Ho = ceil(H/2), Wo = ceil(W/2); one item per output. */
__kernel void subsample_fwd(__global float *out, __global const float *in, long nout, int H, int W) {
    const long o = get_global_id(0);
    if (o >= nout) return;
    const int Ho = (H + 1) / 2, Wo = (W + 1) / 2;
    const long p = o / ((long)Ho * Wo);
    const int r = (int)(o - p * Ho * Wo), oy = r / Wo, ox = r - oy * Wo;
    out[o] = in[p * H * W + (long)(2 * oy) * W + 2 * ox];
}

/* Its transpose as a gather, one item per input element: din = dout at even (y, x), else 0. */
__kernel void subsample_bwd(__global float *din, __global const float *dout, long nin, int H, int W) {
    const long i = get_global_id(0);
    if (i >= nin) return;
    const int Ho = (H + 1) / 2, Wo = (W + 1) / 2;
    const long p = i / ((long)H * W);
    const int r = (int)(i - p * H * W), y = r / W, x = r - y * W;
    din[i] = ((y | x) & 1) ? 0.0f : dout[p * Ho * Wo + (long)(y / 2) * Wo + x / 2];
}
