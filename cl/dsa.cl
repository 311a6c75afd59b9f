/* Differentiable Siamese Augmentation (host/dsa.c, docs/algorithm.md#dsa-augmentation-and-its-adjoint). Images are NCHW.
 * p holds DSA_NPARAM = 4 floats per sample; group codes follow DsaGroup:
 * 0 color, 1 crop, 2 cutout, 3 flip, 4 scale, 5 rotate. */

/* mean[n] = mean of x[n*len .. n*len+len-1]; one work-group per sample. */
__kernel void dsa_sample_mean(__global const float *x, long len, __global float *mean, __local float *tmp) {
    const int n = get_group_id(0);
    __global const float *xs = x + (long)n * len;
    float acc = 0.0f;
    for (long i = get_local_id(0); i < len; i += get_local_size(0)) acc += xs[i];
    const float s = group_sum(acc, tmp);
    if (get_local_id(0) == 0) mean[n] = s / (float)len;
}

/* Source pixel coordinates (X along the width, Y along the height) of output pixel (i, j)
 * under the 2x2 matrix a: affine_grid + grid_sample with align_corners=True, i.e.
 * X = (u + 1)/2 (W-1) with u = a00 xn + a01 yn, xn = -1 + 2j/(W-1), yn = -1 + 2i/(H-1).
 * Written around the image centre, which is the same map with less float rounding:
 * X = cx + a00 (j - cx) + a01 (i - cy) cx/cy, Y = cy + a10 (j - cx) cy/cx + a11 (i - cy). */
static inline float2 dsa_source(__global const float *a, int i, int j, int H, int W) {
    const float cx = 0.5f * (float)(W - 1), cy = 0.5f * (float)(H - 1);
    const float dj = (float)j - cx, di = (float)i - cy;
    const float X = cx + a[0] * dj + a[1] * di * ((float)(W - 1) / (float)(H - 1));
    const float Y = cy + a[2] * dj * ((float)(H - 1) / (float)(W - 1)) + a[3] * di;
    return (float2)(X, Y);
}

/* Bilinear sample of one H x W plane at (X, Y); corners outside the image count 0. */
static inline float dsa_bilinear(__global const float *plane, float X, float Y, int H, int W) {
    /* Clamping keeps the integer conversion defined; beyond [-2, size+1] every corner is outside. */
    X = fmin(fmax(X, -2.0f), (float)W + 1.0f);
    Y = fmin(fmax(Y, -2.0f), (float)H + 1.0f);
    const float x0f = floor(X), y0f = floor(Y);
    const float fx = X - x0f, fy = Y - y0f;
    const int x0 = (int)x0f, y0 = (int)y0f;
    const bool xin0 = x0 >= 0 && x0 < W, xin1 = x0 + 1 >= 0 && x0 + 1 < W;
    const bool yin0 = y0 >= 0 && y0 < H, yin1 = y0 + 1 >= 0 && y0 + 1 < H;
    float s = 0.0f;
    if (yin0 && xin0) s += (1.0f - fx) * (1.0f - fy) * plane[y0 * W + x0];
    if (yin0 && xin1) s += fx * (1.0f - fy) * plane[y0 * W + x0 + 1];
    if (yin1 && xin0) s += (1.0f - fx) * fy * plane[(y0 + 1) * W + x0];
    if (yin1 && xin1) s += fx * fy * plane[(y0 + 1) * W + x0 + 1];
    return s;
}

/* Transpose of dsa_bilinear at input pixel (p, q) of one plane: the sum over output pixels
 * (i, j) of hat(Y - p) hat(X - q) g(i, j), hat(t) = max(0, 1 - |t|), which is exactly the
 * weight the forward gives corner (p, q). Candidates are bounded by mapping the source box
 * |X - q| < 1, |Y - p| < 1 back through the inverse matrix; the box is widened by 0.01 pixel,
 * far above float rounding, and candidates outside the footprint get weight 0 anyway. */
static inline float dsa_bilinear_t(__global const float *a, __global const float *gplane, int p, int q, int H, int W) {
    const float du = 2.0f / (float)(W - 1), dv = 2.0f / (float)(H - 1);
    const float un = -1.0f + (float)q * du, vn = -1.0f + (float)p * dv;
    const float det = a[0] * a[3] - a[1] * a[2];
    const float b00 = a[3] / det, b01 = -a[1] / det, b10 = -a[2] / det, b11 = a[0] / det;
    /* Output normalized box: centre and half extents of the parallelogram's bounding box. */
    const float xc = b00 * un + b01 * vn, yc = b10 * un + b11 * vn;
    const float xe = fabs(b00) * du + fabs(b01) * dv, ye = fabs(b10) * du + fabs(b11) * dv;
    const float jc = (xc + 1.0f) * 0.5f * (float)(W - 1), je = xe * 0.5f * (float)(W - 1) + 0.01f;
    const float ic = (yc + 1.0f) * 0.5f * (float)(H - 1), ie = ye * 0.5f * (float)(H - 1) + 0.01f;
    int j0 = 0, j1 = W - 1, i0 = 0, i1 = H - 1;
    if (isfinite(jc) && isfinite(je) && isfinite(ic) && isfinite(ie)) {
        /* integers strictly inside the widened box; clamped before the conversion, and a
         * box off the image gives an empty loop */
        j0 = (int)ceil(clamp(jc - je, 0.0f, (float)W));
        j1 = (int)floor(clamp(jc + je, -1.0f, (float)(W - 1)));
        i0 = (int)ceil(clamp(ic - ie, 0.0f, (float)H));
        i1 = (int)floor(clamp(ic + ie, -1.0f, (float)(H - 1)));
    }
    float s = 0.0f;
    for (int i = i0; i <= i1; i++)
        for (int j = j0; j <= j1; j++) {
            const float2 src = dsa_source(a, i, j, H, W);
            const float wy = 1.0f - fabs(src.y - (float)p), wx = 1.0f - fabs(src.x - (float)q);
            if (wy > 0.0f && wx > 0.0f) s += wy * wx * gplane[i * W + j];
        }
    return s;
}

/* 1 when (i, j) lies inside the inclusive rectangle rows q[0]..q[1], columns q[2]..q[3]. */
static inline bool dsa_in_cutout(__global const float *q, int i, int j) {
    return i >= (int)q[0] && i <= (int)q[1] && j >= (int)q[2] && j <= (int)q[3];
}

/* Output element (c, i, j) of A(x) for one sample xs (C x H x W) with parameters q;
 * x = xs[c][i][j], mean: the sample's mean of x (colour only). */
static inline float dsa_fwd_at(__global const float *xs, float x, __global const float *q, __global const float *mean, int C, int H,
                 int W, int c, int i, int j, int group) {
    const long hw = (long)H * W;
    switch (group) {
    case 0: {
        /* brightness, then saturation around the pixel's channel mean, then contrast around
         * the sample mean (which saturation leaves equal to mean(in) + shift) */
        const float b = q[0], s = q[1], t = q[2];
        float m = 0.0f;
        for (int cc = 0; cc < C; cc++) m += xs[cc * hw + i * W + j];
        m = m / (float)C + b;
        const float v = (x + b - m) * s + m;
        const float M = *mean + b;
        return (v - M) * t + M;
    }
    case 1: {
        const int si = i + (int)q[0], sj = j + (int)q[1];
        return (si >= 0 && si < H && sj >= 0 && sj < W) ? xs[c * hw + si * W + sj] : 0.0f;
    }
    case 2:
        return dsa_in_cutout(q, i, j) ? 0.0f * x : x;
    case 3:
        return q[0] != 0.0f ? xs[c * hw + i * W + (W - 1 - j)] : x;
    default: {
        const float2 src = dsa_source(q, i, j, H, W);
        return dsa_bilinear(xs + c * hw, src.x, src.y, H, W);
    }
    }
}

/* Input element (c, i, j) of A^T g for one sample gs (C x H x W) with parameters q;
 * g = gs[c][i][j], mean: the sample's mean of g (colour only). */
static inline float dsa_bwd_at(__global const float *gs, float g, __global const float *q, __global const float *mean, int C, int H,
                 int W, int c, int i, int j, int group) {
    const long hw = (long)H * W;
    switch (group) {
    case 0: {
        /* contrast VJP, then saturation VJP (which needs the channel mean of the contrast
         * VJP), brightness passes the gradient through */
        const float s = q[1], t = q[2], G = *mean;
        float gc = 0.0f;
        for (int cc = 0; cc < C; cc++) gc += gs[cc * hw + i * W + j];
        gc /= (float)C;
        const float g1 = t * g + (1.0f - t) * G;
        const float m1 = t * gc + (1.0f - t) * G;
        return s * g1 + (1.0f - s) * m1;
    }
    case 1: {
        const int oi = i - (int)q[0], oj = j - (int)q[1];
        return (oi >= 0 && oi < H && oj >= 0 && oj < W) ? gs[c * hw + oi * W + oj] : 0.0f;
    }
    case 2:
        return dsa_in_cutout(q, i, j) ? 0.0f * g : g;
    case 3:
        return q[0] != 0.0f ? gs[c * hw + i * W + (W - 1 - j)] : g;
    default:
        return dsa_bilinear_t(q, gs + c * hw, i, j, H, W);
    }
}

/* dst = A(src) (transpose 0) or A^T src (transpose 1) for one group, one work-item per
 * element (n, c, i, j) of dst; means[n] (colour only) = mean over (C, H, W) of sample n of src. */
__kernel void dsa_map(__global float *dst, __global const float *src, __global const float *p,
                      __global const float *means, int N, int C, int H, int W, int group, int transpose) {
    const long e = get_global_id(0);
    const long hw = (long)H * W;
    if (e >= (long)N * C * hw) return;
    const int j = (int)(e % W), i = (int)((e / W) % H), c = (int)((e / hw) % C), n = (int)(e / (hw * C));
    __global const float *xs = src + (long)n * C * hw, *q = p + n * 4;
    dst[e] = transpose ? dsa_bwd_at(xs, src[e], q, means + n, C, H, W, c, i, j, group)
                       : dsa_fwd_at(xs, src[e], q, means + n, C, H, W, c, i, j, group);
}
