/* Texture mode (docs/algorithm.md#texture-canvases-and-their-adjoint): random circular crops of canvases and the
 * transpose of the crop. A crop of canvas X[row] (C x Hc x Wc) with offsets (dh, dw),
 * 0 <= dh < Hc, 0 <= dw < Wc, is the H x W image
 *   crop(c, y, x) = X[row](c, (y - dh) mod Hc, (x - dw) mod Wc).
 * Crops come in `rounds` rounds of n rows: crop r*n + i is taken from canvas rows[row_off + i]
 * with offsets offs[offs_off + 2*(r*n + i)] (dh) and offs[offs_off + 2*(r*n + i) + 1] (dw). */

/* out[(r*n + i), c, y, x] = crop; one work-item per output element. */
__kernel void texture_crop_forward(__global float *out, __global const float *X, __global const int *rows,
                                   int row_off, __global const int *offs, int offs_off, int n, int rounds, int C,
                                   int H, int W, int Hc, int Wc) {
    long e = get_global_id(0);
    long total = (long)rounds * n * C * H * W;
    if (e >= total) return;
    int x = (int)(e % W);
    long t = e / W;
    int y = (int)(t % H);
    t /= H;
    int c = (int)(t % C);
    int b = (int)(t / C);          /* crop index r*n + i */
    int i = b % n;
    int dh = offs[offs_off + 2 * b], dw = offs[offs_off + 2 * b + 1];
    int sy = y - dh, sx = x - dw;  /* in (-Hc, H) and (-Wc, W): one wrap at most */
    if (sy < 0) sy += Hc;
    if (sx < 0) sx += Wc;
    out[e] = X[(((long)rows[row_off + i] * C + c) * Hc + sy) * Wc + sx];
}

/* dX[rows[row_off + i], c, p, q] += scale * sum over rounds r of R[(r*n + i), c, y, x] where
 * (y, x) = ((p + dh) mod Hc, (q + dw) mod Wc) lies inside the H x W crop window.
 * A gather: one work-item per canvas pixel of the n canvases, so no two items write the
 * same element as long as rows[row_off .. row_off+n) are distinct canvases. */
__kernel void texture_crop_transpose_add(__global float *dX, __global const float *R, long r_off,
                                         __global const int *rows, int row_off, __global const int *offs,
                                         int offs_off, int n, int rounds, int C, int H, int W, int Hc, int Wc,
                                         float scale) {
    long e = get_global_id(0);
    long total = (long)n * C * Hc * Wc;
    if (e >= total) return;
    int q = (int)(e % Wc);
    long t = e / Wc;
    int p = (int)(t % Hc);
    t /= Hc;
    int c = (int)(t % C);
    int i = (int)(t / C);
    float acc = 0.0f;
    for (int r = 0; r < rounds; r++) {
        int b = r * n + i;
        int y = p + offs[offs_off + 2 * b], x = q + offs[offs_off + 2 * b + 1];
        if (y >= Hc) y -= Hc;
        if (x >= Wc) x -= Wc;
        if (y < H && x < W) acc += R[r_off + (((long)b * C + c) * H + y) * W + x];
    }
    dX[(((long)rows[row_off + i] * C + c) * Hc + p) * Wc + q] += scale * acc;
}
