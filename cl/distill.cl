/* Distillation helpers (host/distill/): the student's unrolled step, the adjoint's start,
 * and the rows of the synthetic set a step uses. */

/* next = cur - alpha * g */
__kernel void distill_sgd_next(__global float *thetas, long next_off, long cur_off, __global const float *g,
                               float alpha, long n) {
    long i = get_global_id(0);
    if (i >= n) return;
    thetas[next_off + i] = thetas[cur_off + i] - alpha * g[i];
}

/* lam = scale * (theta - target) */
__kernel void distill_lambda_init(__global float *lam, __global const float *thetas, long off,
                                  __global const float *target, float scale, long n) {
    long i = get_global_id(0);
    if (i >= n) return;
    lam[i] = scale * (thetas[off + i] - target[i]);
}

/* Rows of a batch, repeated `rounds` times: out[r*rows + i][:] = src[soff + idx[idx_off + i] * len ...],
 * rows of `len` floats (images of the batch; target rows of texture crops, one per round). */
__kernel void distill_gather_rows(__global float *out, __global const float *src, long soff,
                                  __global const int *idx, int idx_off, int rows, int rounds, int len) {
    long i = get_global_id(0);
    if (i >= (long)rounds * rows * len) return;
    int r = (int)(i / len) % rows, k = (int)(i % len);
    out[i] = src[soff + (long)idx[idx_off + r] * len + k];
}

/* dst[doff + idx[idx_off + r] * len ...] += scale * src[r][:]; the rows of one batch are distinct. */
__kernel void distill_scatter_add_rows(__global float *dst, long doff, __global const float *src,
                                       __global const int *idx, int idx_off, int rows, int len, float scale) {
    long i = get_global_id(0);
    if (i >= (long)rows * len) return;
    int r = (int)(i / len), k = (int)(i % len);
    dst[doff + (long)idx[idx_off + r] * len + k] += scale * src[i];
}
