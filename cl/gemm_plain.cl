/* The plain matrix product that runs in place of CLBlast's under the simulator (core/blas.c,
 * CLMTT_OCLGRIND): Oclgrind interprets CLBlast's tiled kernels for hours per test, while this
 * one, a loop per element, it runs in seconds. Row-major, one work-item per element of C over
 * `batch` problems (item = l m n + i n + j):
 *   C_l[i][j] = alpha sum_p op(A_l)[i][p] op(B_l)[p][j] + beta C_l[i][j]
 * with op(A)[i][p] = a[i lda + p] (a[p lda + i] when ta), op(B)[p][j] = b[p ldb + j]
 * (b[j ldb + p] when tb), problem l's operands sa, sb, sc floats after problem 0's. beta 0
 * writes C without reading it, as BLAS does. */
__kernel void gemm_plain(int ta, int tb, int m, int n, int k, float alpha, __global const float *a, long aoff, long lda,
                         long sa, __global const float *b, long boff, long ldb, long sb, float beta, __global float *c,
                         long coff, long ldc, long sc, int batch) {
    const long t = get_global_id(0), mn = (long)m * n;
    if (t >= mn * batch) return;
    const long l = t / mn, r = t - l * mn;
    const int i = (int)(r / n), j = (int)(r - (long)i * n);
    a += aoff + l * sa;
    b += boff + l * sb;
    c += coff + l * sc;
    float s = 0.0f;
    for (int p = 0; p < k; p++) s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
    __global float *cij = c + i * ldc + j;
    *cij = beta == 0.0f ? alpha * s : alpha * s + beta * *cij;
}
