/* Convolution helpers around the GEMMs of host/layers/conv2d.c.
 *
 * col layout (one chunk of nc samples starting at sample n0):
 *   col[ci*K*K + kh*K + kw][nl*Ho*Wo + oh*Wo + ow] = in(n0+nl, ci, oh+kh-pad, ow+kw-pad)  (0 outside)
 * The input is NCHW when nchw != 0, else CNHW. Neighbouring work-items walk along ow, so
 * reads of the input and writes of col are both contiguous. */

/* Offset of element (n, c, h, w) of an input of N samples, C channels, H x W. */
inline int conv_in_index(int nchw, int N, int C, int H, int W, int n, int c, int h, int w) {
    return nchw ? ((n * C + c) * H + h) * W + w : ((c * N + n) * H + h) * W + w;
}

/* One work-item per col element: Cin*K*K rows of nc*Ho*Wo columns. */
__kernel void conv_im2col(__global float *col, __global const float *in, int nchw, int N, int Cin, int H, int W,
                          int K, int pad, int Ho, int Wo, int n0, int nc) {
    const int i = get_global_id(0);
    const int hw = Ho * Wo, cols = nc * hw;
    if (i >= Cin * K * K * cols) return;
    const int r = i / cols, j = i - r * cols;
    const int ci = r / (K * K), kk = r - ci * K * K, kh = kk / K, kw = kk - kh * K;
    const int nl = j / hw, p = j - nl * hw, oh = p / Wo, ow = p - oh * Wo;
    const int ih = oh + kh - pad, iw = ow + kw - pad;
    float v = 0.0f;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W) v = in[conv_in_index(nchw, N, Cin, H, W, n0 + nl, ci, ih, iw)];
    col[i] = v;
}

/* Adjoint of conv_im2col as a gather: one work-item per input element of the chunk
 * (Cin x nc x H x W) sums the col entries that read it and overwrites din. */
__kernel void conv_col2im(__global float *din, __global const float *col, int nchw, int N, int Cin, int H, int W,
                          int K, int pad, int Ho, int Wo, int n0, int nc) {
    const int i = get_global_id(0);
    if (i >= Cin * nc * H * W) return;
    const int iw = i % W, t1 = i / W, ih = t1 % H, t2 = t1 / H, nl = t2 % nc, ci = t2 / nc;
    const int hw = Ho * Wo, cols = nc * hw;
    /* Kernel taps that see (ih, iw): oh = ih + pad - kh must lie in [0, Ho). */
    const int kh_lo = max(0, ih + pad - Ho + 1), kh_hi = min(K - 1, ih + pad);
    const int kw_lo = max(0, iw + pad - Wo + 1), kw_hi = min(K - 1, iw + pad);
    __global const float *c0 = col + (ci * K * K) * cols + nl * hw;
    float acc = 0.0f;
    for (int kh = kh_lo; kh <= kh_hi; kh++) {
        const int oh = ih + pad - kh;
        for (int kw = kw_lo; kw <= kw_hi; kw++) {
            const int ow = iw + pad - kw;
            acc += c0[(kh * K + kw) * cols + oh * Wo + ow];
        }
    }
    din[conv_in_index(nchw, N, Cin, H, W, n0 + nl, ci, ih, iw)] = acc;
}

/* out[c][j] += b[boff + c] for a C x len row-major block (CNHW output: len = N*Ho*Wo). */
__kernel void conv_bias_add(__global float *out, __global const float *b, long boff, int C, int len) {
    const int i = get_global_id(0);
    if (i >= C * len) return;
    out[i] += b[boff + i / len];
}

/* db[dboff + c] = sum_j dout[c][j]; one work-group per channel c. */
__kernel void conv_bias_grad(__global float *db, long dboff, __global const float *dout, int len,
                             __local float *tmp) {
    const int c = get_group_id(0);
    __global const float *row = dout + (long)c * len;
    float acc = 0.0f;
    for (int j = get_local_id(0); j < len; j += get_local_size(0)) acc += row[j];
    const float s = group_sum(acc, tmp);
    if (get_local_id(0) == 0) db[dboff + c] = s;
}
