/* The 1-D passes of the orthonormal DCT around a complex FFT (host/layers/dct2d.c). Rows
 * of length L; row r = b*M + i belongs to block b, and a pass's result is written
 * transposed within the block (out[b][k][i]), so two passes give the 2-D transform. */

/* Source sample of reordered position m: even samples ascending, then odd ones descending. */
static inline int dct_src(int m, int L) { return m < (L + 1) / 2 ? 2 * m : 2 * (L - 1 - m) + 1; }

/* s(k): sqrt(1/L) for k = 0, sqrt(2/L) otherwise. */
static inline float dct_scale(int k, int L) { return sqrt((k ? 2.0f : 1.0f) / (float)L); }

/* Where element e = r*L + k of a pass's rows lands: row r = b*M + i goes to out[b][k][i]. */
static inline long dct_transposed(long e, int L, int M) {
    int k = (int)(e % L);
    long r = e / L, b = r / M;
    return (b * L + k) * M + (r - b * M);
}

/* Forward, before the FFT: v[r][m] = (x[r][src(m)], 0). */
__kernel void dct_fwd_pre(__global float2 *v, __global const float *x, int rows, int L) {
    long e = get_global_id(0);
    if (e >= (long)rows * L) return;
    int m = (int)(e % L);
    long r = e / L;
    v[e] = (float2)(x[r * L + dct_src(m, L)], 0.0f);
}

/* sin(a), and cos(a) into *c. Oclgrind's uninitialized-value checker stops on sincos's
 * private-memory output (tools/oclgrind.md), so the program built for it (CLMTT_OCLGRIND)
 * takes the two apart; everywhere else sincos. */
static inline float dct_sincos(float a, float *c) {
#ifdef CLMTT_OCLGRIND
    *c = cos(a);
    return sin(a);
#else
    const float s = sincos(a, c);
    return s;
#endif
}

/* Forward, after the FFT: X[k] = s(k) Re(V[k] exp(-i pi k / 2L)), written to out[b][k][i]. */
__kernel void dct_fwd_post(__global float *out, __global const float2 *V, int rows, int L, int M) {
    long e = get_global_id(0);
    if (e >= (long)rows * L) return;
    int k = (int)(e % L);
    float c, s = dct_sincos(M_PI_F * (float)k / (2.0f * (float)L), &c);
    float2 z = V[e];
    out[dct_transposed(e, L, M)] = dct_scale(k, L) * (z.x * c + z.y * s);
}

/* Inverse, before the (unscaled backward) FFT: Y[r][k] = s(k) X[r][k] exp(i pi k / 2L). */
__kernel void dct_inv_pre(__global float2 *Y, __global const float *X, int rows, int L) {
    long e = get_global_id(0);
    if (e >= (long)rows * L) return;
    int k = (int)(e % L);
    float c, s = dct_sincos(M_PI_F * (float)k / (2.0f * (float)L), &c);
    float a = dct_scale(k, L) * X[e];
    Y[e] = (float2)(a * c, a * s);
}

/* Inverse, after the FFT: x[n] = Re v[m] at the reordered position m of sample n, written
 * to out[b][n][i]. */
__kernel void dct_inv_post(__global float *out, __global const float2 *v, int rows, int L, int M) {
    long e = get_global_id(0);
    if (e >= (long)rows * L) return;
    int n = (int)(e % L);
    int m = n % 2 == 0 ? n / 2 : L - 1 - n / 2;
    out[dct_transposed(e, L, M)] = v[e - n + m].x;
}
