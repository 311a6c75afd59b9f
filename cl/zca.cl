/* ZCA whitening helper (host/zca.c): the row shift before the GEMM by T or T_inv. */

/* x[i][j] += alpha * v[j] for an n x d row-major block (forward: v = mean, alpha = -1;
 * inverse: v = T mu, alpha = +1). One work-item per element. */
__kernel void zca_add_row(__global float *x, long n, int d, __global const float *v, float alpha) {
    long i = get_global_id(0);
    if (i >= n * d) return;
    x[i] += alpha * v[i % d];
}
