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
