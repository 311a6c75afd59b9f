/* Fully connected layer helpers around the GEMMs of host/layers/linear.c, and the
 * CNHW <-> [N][C*HW] flatten permutations. */

/* out[n][o] += b[boff + o] for out N x Out row-major. */
__kernel void linear_bias_add(__global float *out, __global const float *b, long boff, int N, int Out) {
    const int i = get_global_id(0);
    if (i >= N * Out) return;
    out[i] += b[boff + i % Out];
}

/* db[dboff + o] = sum_n dout[n][o]; one work-group per column o. */
__kernel void linear_bias_grad(__global float *db, long dboff, __global const float *dout, int N, int Out,
                               __local float *tmp) {
    const int o = get_group_id(0);
    float acc = 0.0f;
    for (int n = get_local_id(0); n < N; n += get_local_size(0)) acc += dout[n * Out + o];
    const float s = group_sum(acc, tmp);
    if (get_local_id(0) == 0) db[dboff + o] = s;
}

/* out[n][c*HW + s] = in[c][n][s]; one work-item per element, walking the output. */
__kernel void linear_flatten_fwd(__global float *out, __global const float *in, int C, int N, int HW) {
    const int i = get_global_id(0);
    if (i >= C * N * HW) return;
    const int f = C * HW, n = i / f, r = i - n * f, c = r / HW, s = r - c * HW;
    out[i] = in[(c * N + n) * HW + s];
}

/* din[c][n][s] = dout[n][c*HW + s]; one work-item per element, walking din. */
__kernel void linear_flatten_bwd(__global float *din, __global const float *dout, int C, int N, int HW) {
    const int i = get_global_id(0);
    if (i >= C * N * HW) return;
    const int s = i % HW, t = i / HW, n = t % N, c = t / N;
    din[i] = dout[n * (C * HW) + c * HW + s];
}

/* ---- Small layers in one launch per pass (host/layers/linear.c, linear_small) ----------
 * Each pass of a small fully connected layer is the sum of at most two products plus a
 * bias term, one launch instead of up to three (products, bias add, bias gradient): a
 * GPU's launch latency, not arithmetic, is what a 10 x 2048 x 10 layer costs.
 * flags: 1 = add the second product, 2 = the bias term. */

/* out[n][o] = x1[n][:] . v1[o][:] (+ x2[n][:] . v2[o][:]) (+ b[o]); one work-group per output,
 * its items striding over In (the products are long and few: N x Out outputs). */
__kernel void linear_small_rows_wt(__global float *out, __global const float *x1, __global const float *v1, long v1off,
                                   __global const float *x2, __global const float *v2, long v2off,
                                   __global const float *b, long boff, int N, int In, int Out, int flags,
                                   __local float *tmp) {
    const int e = get_group_id(0), n = e / Out, o = e - n * Out;
    const long xr = (long)n * In, wr = (long)o * In;
    float acc = 0.0f;
    for (int i = get_local_id(0); i < In; i += get_local_size(0)) {
        acc = mad_fast(x1[xr + i], v1[v1off + wr + i], acc);
        if (flags & 1) acc = mad_fast(x2[xr + i], v2[v2off + wr + i], acc);
    }
    acc = group_sum(acc, tmp);
    if (get_local_id(0) == 0) out[e] = (flags & 2) ? acc + b[boff + o] : acc;
}

/* d[n][i] = sum_o g1[n][o] v1[o][i] (+ sum_o g2[n][o] v2[o][i]); one work-item per output. */
__kernel void linear_small_rows_w(__global float *d, __global const float *g1, __global const float *v1, long v1off,
                                  __global const float *g2, __global const float *v2, long v2off, int N, int In,
                                  int Out, int flags) {
    const int e = get_global_id(0);
    if (e >= N * In) return;
    const int n = e / In, i = e - n * In;
    float acc = 0.0f;
    for (int o = 0; o < Out; o++) {
        acc = mad_fast(g1[n * Out + o], v1[v1off + (long)o * In + i], acc);
        if (flags & 1) acc = mad_fast(g2[n * Out + o], v2[v2off + (long)o * In + i], acc);
    }
    d[e] = acc;
}

/* dw[o][i] = sum_n g1[n][o] x1[n][i] (+ sum_n g2[n][o] x2[n][i]), and with flag 2 the bias
 * gradient db[o] = sum_n g1[n][o] from the items of an extra column i = In; one work-item
 * per output of the Out x (In + 1) grid. */
__kernel void linear_small_outer(__global float *dw, long dwoff, __global float *db, long dboff,
                                 __global const float *g1, __global const float *x1, __global const float *g2,
                                 __global const float *x2, int N, int In, int Out, int flags) {
    const int cols = In + ((flags & 2) ? 1 : 0);
    const int e = get_global_id(0);
    if (e >= Out * cols) return;
    const int o = e / cols, i = e - o * cols;
    float acc = 0.0f;
    if (i == In) {
        for (int n = 0; n < N; n++) acc += g1[n * Out + o];
        db[dboff + o] = acc;
        return;
    }
    for (int n = 0; n < N; n++) {
        acc = mad_fast(g1[n * Out + o], x1[(long)n * In + i], acc);
        if (flags & 1) acc = mad_fast(g2[n * Out + o], x2[(long)n * In + i], acc);
    }
    dw[dwoff + (long)o * In + i] = acc;
}
