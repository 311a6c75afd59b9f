/* Frequency-parameterized images (host/distill/param_freq.c): K kept DCT coefficients per
 * channel of each image, at flat positions index[c][j] of the H x W plane. slot[c][p] is
 * j when position p of channel c is kept, -1 otherwise. */

/* full[r][c][p] = coefficient j = slot[c][p] of set row rows[row_off + r] (0 where no
 * coefficient is kept); stored rows are C x K floats starting soff into their buffer. */
__kernel void freq_scatter(__global float *full, __global const float *stored, long soff, __global const int *rows,
                           int row_off, int n, int C, int K, int HW, __global const int *slot) {
    long e = get_global_id(0);
    if (e >= (long)n * C * HW) return;
    int p = (int)(e % HW);
    long t = e / HW;
    int c = (int)(t % C), r = (int)(t / C);
    int j = slot[c * HW + p];
    full[e] = j < 0 ? 0.0f : stored[soff + ((long)rows[row_off + r] * C + c) * K + j];
}

/* dst[rows[row_off + r]][c][j] (=|+=) scale * full[r][c][index[c][j]]: the kept coefficients
 * of n planes back into set rows (acc 1 adds, for a pullback; 0 overwrites, for a load). The
 * rows of one batch are distinct. */
__kernel void freq_gather(__global float *dst, long doff, __global const float *full, __global const int *rows,
                          int row_off, int n, int C, int K, int HW, __global const int *index, float scale, int acc) {
    long e = get_global_id(0);
    if (e >= (long)n * C * K) return;
    int j = (int)(e % K);
    long t = e / K;
    int c = (int)(t % C), r = (int)(t / C);
    float v = scale * full[((long)r * C + c) * HW + index[c * K + j]];
    long d = doff + ((long)rows[row_off + r] * C + c) * K + j;
    dst[d] = acc ? dst[d] + v : v;
}
