/* Distillation helpers (host/distill/): the student's unrolled step, the adjoint's start,
 * and the rows of the synthetic set a step uses. */

/* next = cur - alpha * g */
__kernel void distill_sgd_next(__global float *thetas, long next_off, long cur_off, __global const float *g,
                               long g_off, float alpha, long n) {
    long i = get_global_id(0);
    if (i >= n) return;
    thetas[next_off + i] = thetas[cur_off + i] - alpha * g[g_off + i];
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

/* The target rows' meta-gradient for learned soft labels. Rendered row b = r*n + i carries
 * the target t_b = softmax(y[idx[i]]) and the logits' tangent o'_b along the adjoint; the
 * targets enter the student step linearly, so dL/dt_b = scale * o'_b (scale = alpha / rows of
 * the step), and through the softmax dy[idx[i]] += sum_r t_b * (dL/dt_b - <t_b, dL/dt_b>).
 * The n set rows of one batch are distinct. */
__kernel void distill_label_grad(__global float *dy, long doff, __global const float *tangent,
                                 __global const float *t, __global const int *idx, int idx_off, int n, int rounds,
                                 int K, float scale) {
    long e = get_global_id(0);
    if (e >= (long)n * K) return;
    int i = (int)(e / K), k = (int)(e % K);
    float acc = 0.0f;
    for (int r = 0; r < rounds; r++) {
        long b = ((long)r * n + i) * K;
        float dot = 0.0f;
        for (int j = 0; j < K; j++) dot += t[b + j] * tangent[b + j];
        acc += t[b + k] * (tangent[b + k] - dot);
    }
    dy[doff + (long)idx[idx_off + i] * K + k] += scale * acc;
}
