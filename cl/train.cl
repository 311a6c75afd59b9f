/* Training helpers: SGD with momentum and weight decay (PyTorch semantics), loss sums. */

/* d = g + wd*theta; momentum: v = first ? d : mu*v + d; theta -= lr * (mu ? v : d). */
__kernel void train_sgd_step(__global float *theta, long toff, __global const float *grad, long goff,
                             __global float *vel, long n, float lr, float mu, float wd, int first) {
    long i = get_global_id(0);
    if (i >= n) return;
    float d = grad[goff + i] + wd * theta[toff + i];
    if (mu != 0.0f) {
        float v = first ? d : mu * vel[i] + d;
        vel[i] = v;
        d = v;
    }
    theta[toff + i] -= lr * d;
}

/* sums[0] += sum rowloss, sums[1] += sum correct, sums[2] += n (one work-group). */
__kernel void train_accumulate_sums(__global float *sums, __global const float *rowloss,
                                    __global const float *correct, int n, __local float *tmp) {
    float a = 0.0f, b = 0.0f;
    for (int i = get_local_id(0); i < n; i += get_local_size(0)) { a += rowloss[i]; b += correct[i]; }
    a = group_sum(a, tmp);
    b = group_sum(b, tmp);
    if (get_local_id(0) == 0) { sums[0] += a; sums[1] += b; sums[2] += (float)n; }
}

/* out[r][:] = src[idx[r]][:] for r < rows, rows of `len` floats. */
__kernel void train_gather_rows(__global float *out, __global const float *src, __global const int *idx,
                                int rows, int len) {
    long i = get_global_id(0);
    if (i >= (long)rows * len) return;
    int r = (int)(i / len), k = (int)(i % len);
    out[i] = src[(long)idx[r] * len + k];
}

/* Distillation helpers. */

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

/* dst[idx[r]][:] += scale * src[r][:]; the rows of one batch are distinct. */
__kernel void distill_scatter_add_rows(__global float *dst, __global const float *src, __global const int *idx,
                                       int idx_off, int rows, int len, float scale) {
    long i = get_global_id(0);
    if (i >= (long)rows * len) return;
    int r = (int)(i / len), k = (int)(i % len);
    dst[(long)idx[idx_off + r] * len + k] += scale * src[i];
}

/* out[r][:] = src[idx[idx_off + r]][:] */
__kernel void distill_gather_rows(__global float *out, __global const float *src, __global const int *idx,
                                  int idx_off, int rows, int len) {
    long i = get_global_id(0);
    if (i >= (long)rows * len) return;
    int r = (int)(i / len), k = (int)(i % len);
    out[i] = src[(long)idx[idx_off + r] * len + k];
}

/* Labels of a batch: out[r] = labels[idx[r]]. */
__kernel void distill_gather_labels(__global int *out, __global const int *labels, __global const int *idx,
                                    int idx_off, int rows) {
    int r = get_global_id(0);
    if (r < rows) out[r] = labels[idx[idx_off + r]];
}
