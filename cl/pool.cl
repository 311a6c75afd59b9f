/* 2x2 stride-2 pooling with floor output size on contiguous H x W planes (host/layers/pool.c).
 * kind: 1 = average, 2 = max (first maximum in row-major window order). */

/* Position 0..3 of the first maximum of the window whose top-left element is `w`:
 * order (0,0), (0,1), (1,0), (1,1); a later element wins only when strictly larger
 * or NaN, so a NaN input propagates to the output as in PyTorch. */
int pool_argmax(__global const float *w, int W) {
    float best = w[0];
    int pos = 0;
    if (w[1] > best || isnan(w[1])) { best = w[1]; pos = 1; }
    if (w[W] > best || isnan(w[W])) { best = w[W]; pos = 2; }
    if (w[W + 1] > best || isnan(w[W + 1])) pos = 3;
    return pos;
}

/* Offset of window position 0..3 from the window's top-left element. */
int pool_pos_offset(int pos, int W) { return (pos >> 1) * W + (pos & 1); }

/* Offset of the top-left input element of output element o (planes of Ho x Wo outputs). */
long pool_window_base(long o, int H, int W) {
    const int Ho = H / 2, Wo = W / 2;
    const long p = o / ((long)Ho * Wo);
    const int r = (int)(o - p * Ho * Wo);
    return p * H * W + (long)(2 * (r / Wo)) * W + 2 * (r % Wo);
}

/* out[p][oi][oj] = pool of in[p][2oi..2oi+1][2oj..2oj+1]; nout = planes*Ho*Wo */
__kernel void pool_fwd(__global float *out, __global const float *in, long nout, int H, int W, int kind) {
    const long o = get_global_id(0);
    if (o >= nout) return;
    __global const float *w = in + pool_window_base(o, H, W);
    if (kind == 1) out[o] = 0.25f * ((w[0] + w[1]) + (w[W] + w[W + 1]));
    else out[o] = w[pool_pos_offset(pool_argmax(w, W), W)];
}

/* out_t = pool of in_t, with the max position taken from in. */
__kernel void pool_tan(__global float *out_t, __global const float *in, __global const float *in_t,
                       long nout, int H, int W, int kind) {
    const long o = get_global_id(0);
    if (o >= nout) return;
    const long base = pool_window_base(o, H, W);
    __global const float *t = in_t + base;
    if (kind == 1) out_t[o] = 0.25f * ((t[0] + t[1]) + (t[W] + t[W + 1]));
    else out_t[o] = t[pool_pos_offset(pool_argmax(in + base, W), W)];
}

/* Gather form of the backward pass, one work-item per input element (nin = planes*H*W):
 * each element finds its window and takes its share of dout; elements of the odd last
 * row/column belong to no window and get 0. No two items write the same element. */
__kernel void pool_bwd(__global float *din, __global const float *dout, __global const float *in,
                       long nin, int H, int W, int kind) {
    const long i = get_global_id(0);
    if (i >= nin) return;
    const int Ho = H / 2, Wo = W / 2;
    const long p = i / ((long)H * W);
    const int r = (int)(i - p * H * W), y = r / W, x = r % W;
    const int oy = y / 2, ox = x / 2;
    if (oy >= Ho || ox >= Wo) { din[i] = 0.0f; return; }
    const float g = dout[p * Ho * Wo + (long)oy * Wo + ox];
    if (kind == 1) { din[i] = 0.25f * g; return; }
    const int pos = pool_argmax(in + p * H * W + (long)(2 * oy) * W + 2 * ox, W);
    din[i] = pos == ((y & 1) << 1 | (x & 1)) ? g : 0.0f;
}
