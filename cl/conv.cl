/* Convolution helpers around the GEMMs of host/layers/conv2d.c.
 *
 * col layout (one chunk of nc samples starting at sample n0; rows ld floats apart, ld >= nc*Ho*Wo,
 * conv2d_col_ld in host/layers/conv2d.c; the gap after each row is never read):
 *   col[ci*K*K + kh*K + kw][nl*Ho*Wo + oh*Wo + ow] = in(n0+nl, ci, oh+kh-pad, ow+kw-pad)  (0 outside)
 * The input is NCHW when nchw != 0, else CNHW.
 *
 * Two kernel families, picked by the host from the device type:
 *   GPU: one work-item per element, neighbouring items along ow, so reads and writes are
 *        coalesced; the matrix products go to CLBlast.
 *   CPU: one work-item per plane (a whole Ho x Wo block of col, or a whole H x W plane of
 *        din), walked with plain loops: no integer division per element, and each item
 *        streams through contiguous memory. The matrix products are the register-tiled
 *        kernels at the end of this file (explicit float16 vectors, one tile per item). */

/* Offset of element (n, c, h, w) of an input of N samples, C channels, H x W. */
static inline int conv_in_index(int nchw, int N, int C, int H, int W, int n, int c, int h, int w) {
    return nchw ? ((n * C + c) * H + h) * W + w : ((c * N + n) * H + h) * W + w;
}

/* GPU: one work-item per col element: Cin*K*K rows of nc*Ho*Wo columns. */
__kernel void conv_im2col(__global float *col, int ld, __global const float *in, int nchw, int N, int Cin, int H,
                          int W, int K, int pad, int Ho, int Wo, int n0, int nc) {
    const int i = get_global_id(0);
    const int hw = Ho * Wo, cols = nc * hw;
    if (i >= Cin * K * K * cols) return;
    const int r = i / cols, j = i - r * cols;
    const int ci = r / (K * K), kk = r - ci * K * K, kh = kk / K, kw = kk - kh * K;
    const int nl = j / hw, p = j - nl * hw, oh = p / Wo, ow = p - oh * Wo;
    const int ih = oh + kh - pad, iw = ow + kw - pad;
    float v = 0.0f;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W) v = in[conv_in_index(nchw, N, Cin, H, W, n0 + nl, ci, ih, iw)];
    col[(long)r * ld + j] = v;
}

/* dst[ow] = src[ow] for ow in [lo, hi), 0 for the rest of [0, Wo). */
static inline void conv_copy_row(__global float *dst, __global const float *src, int lo, int hi, int Wo) {
    int ow = 0;
    for (; ow < lo; ow++) dst[ow] = 0.0f;
    for (; ow < hi; ow++) dst[ow] = src[ow];
    for (; ow < Wo; ow++) dst[ow] = 0.0f;
}

/* CPU: one work-item per (col row r, sample nl), t = r*nc + nl, writing its Ho x Wo block
 * (contiguous in col). Tap (kh, kw) reads input columns ow + kw - pad, valid for ow in
 * [pad - kw, W + pad - kw). */
__kernel void conv_im2col_planes(__global float *col, int ld, __global const float *in, int nchw, int N, int Cin,
                                 int H, int W, int K, int pad, int Ho, int Wo, int n0, int nc) {
    const int t = get_global_id(0);
    if (t >= Cin * K * K * nc) return;
    const int nl = t % nc, r = t / nc;
    const int ci = r / (K * K), kk = r - ci * K * K, kh = kk / K, kw = kk - kh * K;
    const int lo = clamp(pad - kw, 0, Wo), hi = clamp(W + pad - kw, lo, Wo);
    __global const float *plane = in + conv_in_index(nchw, N, Cin, H, W, n0 + nl, ci, 0, 0) + (kw - pad);
    __global float *dst = col + (long)r * ld + nl * Ho * Wo;
    for (int oh = 0; oh < Ho; oh++, dst += Wo) {
        const int ih = oh + kh - pad;
        if (ih < 0 || ih >= H) conv_copy_row(dst, plane, 0, 0, Wo);
        else conv_copy_row(dst, plane + ih * W, lo, hi, Wo);
    }
}

/* GPU: adjoint of conv_im2col as a gather, one work-item per input element of the chunk
 * (Cin x nc x H x W): sums the col entries that read it and overwrites din. */
__kernel void conv_col2im(__global float *din, __global const float *col, int ld, int nchw, int N, int Cin, int H,
                          int W, int K, int pad, int Ho, int Wo, int n0, int nc) {
    const int i = get_global_id(0);
    if (i >= Cin * nc * H * W) return;
    const int iw = i % W, t1 = i / W, ih = t1 % H, t2 = t1 / H, nl = t2 % nc, ci = t2 / nc;
    const int hw = Ho * Wo;
    /* Kernel taps that see (ih, iw): oh = ih + pad - kh must lie in [0, Ho). */
    const int kh_lo = max(0, ih + pad - Ho + 1), kh_hi = min(K - 1, ih + pad);
    const int kw_lo = max(0, iw + pad - Wo + 1), kw_hi = min(K - 1, iw + pad);
    __global const float *c0 = col + (long)(ci * K * K) * ld + nl * hw;
    float acc = 0.0f;
    for (int kh = kh_lo; kh <= kh_hi; kh++) {
        const int oh = ih + pad - kh;
        for (int kw = kw_lo; kw <= kw_hi; kw++) {
            const int ow = iw + pad - kw;
            acc += c0[(long)(kh * K + kw) * ld + oh * Wo + ow];
        }
    }
    din[conv_in_index(nchw, N, Cin, H, W, n0 + nl, ci, ih, iw)] = acc;
}

/* CPU: adjoint of conv_im2col_planes, one work-item per input plane (ci, nl), t = ci*nc + nl:
 * zeroes its H x W plane of din, then adds the K*K col blocks that read it, each shifted
 * by its tap. The item owns its plane, so the accumulation needs no atomics. */
__kernel void conv_col2im_planes(__global float *din, __global const float *col, int ld, int nchw, int N, int Cin,
                                 int H, int W, int K, int pad, int Ho, int Wo, int n0, int nc) {
    const int t = get_global_id(0);
    if (t >= Cin * nc) return;
    const int nl = t % nc, ci = t / nc;
    __global float *plane = din + conv_in_index(nchw, N, Cin, H, W, n0 + nl, ci, 0, 0);
    for (int i = 0; i < H * W; i++) plane[i] = 0.0f;
    for (int kh = 0; kh < K; kh++) {
        /* Output rows whose tap kh lands inside the plane: ih = oh + kh - pad in [0, H). */
        const int oh_lo = clamp(pad - kh, 0, Ho), oh_hi = clamp(H + pad - kh, oh_lo, Ho);
        for (int kw = 0; kw < K; kw++) {
            const int lo = clamp(pad - kw, 0, Wo), hi = clamp(W + pad - kw, lo, Wo);
            __global const float *src = col + (long)((ci * K + kh) * K + kw) * ld + nl * Ho * Wo;
            for (int oh = oh_lo; oh < oh_hi; oh++) {
                __global float *drow = plane + (oh + kh - pad) * W + (kw - pad);
                __global const float *srow = src + oh * Wo;
                for (int ow = lo; ow < hi; ow++) drow[ow] += srow[ow];
            }
        }
    }
}

/* out[c][j] += b[boff + c] for a C x len row-major block (CNHW output: len = N*Ho*Wo). */
__kernel void conv_bias_add(__global float *out, __global const float *b, long boff, int C, int len) {
    const int i = get_global_id(0);
    if (i >= C * len) return;
    out[i] += b[boff + i / len];
}

/* db[dboff + c] = sum_j dout[c][j]; one work-group per channel c. */
__kernel void conv_bias_grad(__global float *db, long dboff, __global const float *dout, int len,
                             __local float *tmp) {
    const int c = get_group_id(0);
    __global const float *row = dout + (long)c * len;
    float acc = 0.0f;
    for (int j = get_local_id(0); j < len; j += get_local_size(0)) acc += row[j];
    const float s = group_sum(acc, tmp);
    if (get_local_id(0) == 0) db[dboff + c] = s;
}

/* ---- CPU matrix products (row-major) ----
 * conv_gemm_ab:  C[m][n] = sum_k A(m,k) B[k][n] (+ bias[m]) (+ C when acc_c), with
 *                A(m,k) = a[m*sam + k*sak]: sam = lda, sak = 1 for A, sam = 1, sak = lda for A^T.
 *                One work-item per 6 x 64 tile of C: 24 float16 accumulators stay in
 *                registers; per k one row segment of B (four float16) and 6 scalars of A.
 *                (6 x 64 measured best among 4..16 rows x 16..96 columns on an AVX-512 CPU.)
 *                Items of one column block are consecutive, so that block of B is reused
 *                from cache by the items covering the M rows.
 * conv_gemm_abt: C[m][n] = sum_k A[m][k] B[n][k] (+ C when acc_c), long dot products along
 *                contiguous rows (the weight gradient, K = samples x pixels). One work-item
 *                per 4 x 6 tile: 24 float16 partial sums over k, added up at the end.
 * The explicit unrolling (macros below) keeps every accumulator in a register. */

/* This work-item's tile of C, rows x cols from (m0, n0): items of one column block are
 * consecutive. 0 when the tile lies past the last column (the host rounds the item count up). */
static inline int conv_gemm_tile(int rows, int cols, int M, int N, int *m0, int *n0) {
    const int tiles_m = (M + rows - 1) / rows;
    const int t = get_global_id(0);
    const int tn = t / tiles_m;
    *m0 = (t - tn * tiles_m) * rows;
    *n0 = tn * cols;
    return *n0 < N;
}

#define CONV_GEMM_ROW(i) do { \
        const float16 av = (float16)(a[ro##i + ko]); \
        c##i##a = mad_fast(av, b0, c##i##a); c##i##b = mad_fast(av, b1, c##i##b); \
        c##i##c = mad_fast(av, b2, c##i##c); c##i##d = mad_fast(av, b3, c##i##d); \
    } while (0)

#define CONV_GEMM_STORE(i) do { \
        if (m0 + i < M) { \
            __global float *cr = c + (long)(m0 + i) * ldc + n0; \
            vstore16(acc_c ? c##i##a + vload16(0, cr) : c##i##a, 0, cr); \
            vstore16(acc_c ? c##i##b + vload16(1, cr) : c##i##b, 1, cr); \
            vstore16(acc_c ? c##i##c + vload16(2, cr) : c##i##c, 2, cr); \
            vstore16(acc_c ? c##i##d + vload16(3, cr) : c##i##d, 3, cr); \
        } \
    } while (0)

/* Edge tile (fewer than 64 columns left from n0, or 16 in conv_gemm_ab8): rows m0..m0+5,
 * 16 columns at a time, then 8, then single columns. */
static inline void conv_gemm_ab_edge(int M, int N, int K, __global const float *a, int sam, int sak,
                              __global const float *b, int ldb, __global const float *bias, int acc_c,
                              __global float *c, int ldc, int m0, int n0) {
    for (int m = m0; m < min(m0 + 6, M); m++) {
        int n = n0;
        for (; n + 16 <= N; n += 16) {
            float16 s = (float16)(bias ? bias[m] : 0.0f);
            for (int k = 0; k < K; k++) s = mad_fast((float16)(a[m * sam + k * sak]), vload16(0, b + (long)k * ldb + n), s);
            __global float *cp = c + (long)m * ldc + n;
            vstore16(acc_c ? s + vload16(0, cp) : s, 0, cp);
        }
        for (; n + 8 <= N; n += 8) {
            float8 s = (float8)(bias ? bias[m] : 0.0f);
            for (int k = 0; k < K; k++) s = mad_fast((float8)(a[m * sam + k * sak]), vload8(0, b + (long)k * ldb + n), s);
            __global float *cp = c + (long)m * ldc + n;
            vstore8(acc_c ? s + vload8(0, cp) : s, 0, cp);
        }
        for (; n < N; n++) {
            float s = bias ? bias[m] : 0.0f;
            for (int k = 0; k < K; k++) s = mad_fast(a[m * sam + k * sak], b[(long)k * ldb + n], s);
            __global float *cp = c + (long)m * ldc + n;
            *cp = acc_c ? s + *cp : s;
        }
    }
}

__kernel void conv_gemm_ab(int M, int N, int K, __global const float *a, long aoff, int sam, int sak,
                           __global const float *b, long boff, int ldb, __global const float *bias, long biasoff,
                           int has_bias, int acc_c, __global float *c, long coff, int ldc) {
    int m0, n0;
    if (!conv_gemm_tile(6, 64, M, N, &m0, &n0)) return;
    a += aoff; b += boff; c += coff;
    __global const float *bs = has_bias ? bias + biasoff : 0;
    if (n0 + 64 > N) {
        conv_gemm_ab_edge(M, N, K, a, sam, sak, b, ldb, bs, acc_c, c, ldc, m0, n0);
        return;
    }
    /* Rows past M repeat the last row; their results are not stored. */
    const int ro0 = min(m0 + 0, M - 1) * sam, ro1 = min(m0 + 1, M - 1) * sam, ro2 = min(m0 + 2, M - 1) * sam;
    const int ro3 = min(m0 + 3, M - 1) * sam, ro4 = min(m0 + 4, M - 1) * sam, ro5 = min(m0 + 5, M - 1) * sam;
    float16 c0a, c1a, c2a, c3a, c4a, c5a;
    if (bs) {
        c0a = (float16)(bs[min(m0 + 0, M - 1)]); c1a = (float16)(bs[min(m0 + 1, M - 1)]);
        c2a = (float16)(bs[min(m0 + 2, M - 1)]); c3a = (float16)(bs[min(m0 + 3, M - 1)]);
        c4a = (float16)(bs[min(m0 + 4, M - 1)]); c5a = (float16)(bs[min(m0 + 5, M - 1)]);
    } else {
        c0a = c1a = c2a = c3a = c4a = c5a = (float16)(0.0f);
    }
    float16 c0b = c0a, c1b = c1a, c2b = c2a, c3b = c3a, c4b = c4a, c5b = c5a;
    float16 c0c = c0a, c1c = c1a, c2c = c2a, c3c = c3a, c4c = c4a, c5c = c5a;
    float16 c0d = c0a, c1d = c1a, c2d = c2a, c3d = c3a, c4d = c4a, c5d = c5a;
    __global const float *bk = b + n0;
    for (int k = 0, ko = 0; k < K; k++, ko += sak, bk += ldb) {
        const float16 b0 = vload16(0, bk), b1 = vload16(1, bk), b2 = vload16(2, bk), b3 = vload16(3, bk);
        CONV_GEMM_ROW(0); CONV_GEMM_ROW(1); CONV_GEMM_ROW(2);
        CONV_GEMM_ROW(3); CONV_GEMM_ROW(4); CONV_GEMM_ROW(5);
    }
    CONV_GEMM_STORE(0); CONV_GEMM_STORE(1); CONV_GEMM_STORE(2);
    CONV_GEMM_STORE(3); CONV_GEMM_STORE(4); CONV_GEMM_STORE(5);
}

#define CONV_DOT_ROW(i) do { \
        const float16 va = vload16(0, pa##i + k); \
        s##i##0 = mad_fast(va, vb0, s##i##0); s##i##1 = mad_fast(va, vb1, s##i##1); s##i##2 = mad_fast(va, vb2, s##i##2); \
        s##i##3 = mad_fast(va, vb3, s##i##3); s##i##4 = mad_fast(va, vb4, s##i##4); s##i##5 = mad_fast(va, vb5, s##i##5); \
    } while (0)

/* Finishes C[m0+i][n0+j]: horizontal sum, the k tail past the last multiple of 16, store. */
#define CONV_DOT_STORE(i, j) do { \
        if (m0 + i < M && n0 + j < N) { \
            float v = hsum16(s##i##j); \
            for (int k = K16; k < K; k++) v = mad_fast(pa##i[k], pb##j[k], v); \
            __global float *cp = c + (long)(m0 + i) * ldc + n0 + j; \
            *cp = acc_c ? v + *cp : v; \
        } \
    } while (0)

#define CONV_DOT_STORE_ROW(i) do { \
        CONV_DOT_STORE(i, 0); CONV_DOT_STORE(i, 1); CONV_DOT_STORE(i, 2); \
        CONV_DOT_STORE(i, 3); CONV_DOT_STORE(i, 4); CONV_DOT_STORE(i, 5); \
    } while (0)

/* One work-item per 4 x 6 tile of C (4 rows of A against 6 rows of B: 24 float16 partial
 * sums; 4 x 6 measured best among 2..8 x 2..8 tiles on an AVX-512 CPU). */
__kernel void conv_gemm_abt(int M, int N, int K, __global const float *a, long aoff, int lda,
                            __global const float *b, long boff, int ldb, int acc_c, __global float *c, long coff,
                            int ldc) {
    int m0, n0;
    if (!conv_gemm_tile(4, 6, M, N, &m0, &n0)) return;
    a += aoff; b += boff; c += coff;
    /* Rows past M (N) repeat the last one; their results are not stored. */
    __global const float *pa0 = a + (long)min(m0 + 0, M - 1) * lda, *pa1 = a + (long)min(m0 + 1, M - 1) * lda;
    __global const float *pa2 = a + (long)min(m0 + 2, M - 1) * lda, *pa3 = a + (long)min(m0 + 3, M - 1) * lda;
    __global const float *pb0 = b + (long)min(n0 + 0, N - 1) * ldb, *pb1 = b + (long)min(n0 + 1, N - 1) * ldb;
    __global const float *pb2 = b + (long)min(n0 + 2, N - 1) * ldb, *pb3 = b + (long)min(n0 + 3, N - 1) * ldb;
    __global const float *pb4 = b + (long)min(n0 + 4, N - 1) * ldb, *pb5 = b + (long)min(n0 + 5, N - 1) * ldb;
    float16 s00 = (float16)(0.0f), s01 = s00, s02 = s00, s03 = s00, s04 = s00, s05 = s00;
    float16 s10 = s00, s11 = s00, s12 = s00, s13 = s00, s14 = s00, s15 = s00;
    float16 s20 = s00, s21 = s00, s22 = s00, s23 = s00, s24 = s00, s25 = s00;
    float16 s30 = s00, s31 = s00, s32 = s00, s33 = s00, s34 = s00, s35 = s00;
    const int K16 = K & ~15;
    for (int k = 0; k < K16; k += 16) {
        const float16 vb0 = vload16(0, pb0 + k), vb1 = vload16(0, pb1 + k), vb2 = vload16(0, pb2 + k);
        const float16 vb3 = vload16(0, pb3 + k), vb4 = vload16(0, pb4 + k), vb5 = vload16(0, pb5 + k);
        CONV_DOT_ROW(0); CONV_DOT_ROW(1); CONV_DOT_ROW(2); CONV_DOT_ROW(3);
    }
    CONV_DOT_STORE_ROW(0); CONV_DOT_STORE_ROW(1); CONV_DOT_STORE_ROW(2); CONV_DOT_STORE_ROW(3);
}

/* ---- The same products in 8 lanes, for CPUs whose vectors hold 8 floats (AVX2, NEON pairs):
 * 24 float16 accumulators are 48 AVX2 registers of 16, and the spills held the 16-lane tiles
 * at 52-58% of such a CPU's peak. Here the accumulators fit: 12 float8 and the loads beside
 * them. Measured on a 2-core AMD EPYC (AVX2, PoCL 3.1), among 4..8 rows x 16..32 columns
 * (conv_gemm_ab8) and 2..6 x 2..6 tiles (conv_gemm_abt8), ConvNet shapes M 128, N 2560,
 * K 1152: conv_gemm_ab8 6 x 16 87 GFLOP/s against 57 for conv_gemm_ab 6 x 64; conv_gemm_abt8
 * 4 x 3 106 against 54 for conv_gemm_abt 4 x 6. The host picks by the device's native vector
 * width (layers/matmul.h). Private arrays with constant indices: the unrolled loops keep
 * every element in a register. */

/* conv_gemm_ab in 8 lanes, by column strips: one work-item per 16 columns of C and a range of
 * `rows` rows (a multiple of 6; the whole M unless the strips alone are too few to fill the
 * device). K runs in blocks of CONV_AB8_KB; within a block every 6 x 16 tile of the range is
 * updated in turn (two float8 per row), so the block's slice of B (CONV_AB8_KB cache lines) comes
 * from memory once and from L1 for the other tiles. Tile by tile over the whole K (the first
 * form), a strip of B (K lines) came from L2 for every tile, at a speed that depended on B's row
 * stride, some strides running slow (M 128, N 640, K 1152 on a 2-core AMD EPYC: 59-71
 * GFLOP/s at a stride of 2576 floats, ConvNet's im2col rows at ipc 1 on Fashion-MNIST, against
 * 95-115 at strides 16 floats either side; 81-122 in strips at all of these strides). Partial sums go
 * through C between blocks; the other arguments as conv_gemm_ab. */
/* 64: 4 KiB of B per block. ConvNet's products at ipc 1 and 10 on the EPYC ran at 55-120 GFLOP/s
 * with blocks of 32 rows, 92-154 with 64, 67-147 with 128 or 256 (runs varied by a third). */
#define CONV_AB8_KB 64
__kernel void conv_gemm_ab8(int M, int N, int K, __global const float *a, long aoff, int sam, int sak,
                            __global const float *b, long boff, int ldb, __global const float *bias, long biasoff,
                            int has_bias, int acc_c, __global float *c, long coff, int ldc, int rows) {
    const int ranges = (M + rows - 1) / rows, t = get_global_id(0);
    const int n0 = t / ranges * 16, mb = t % ranges * rows, me = min(mb + rows, M);
    if (n0 >= N) return;
    a += aoff; b += boff; c += coff;
    __global const float *bs = has_bias ? bias + biasoff : 0;
    if (n0 + 16 > N) {
        for (int m0 = mb; m0 < me; m0 += 6) conv_gemm_ab_edge(me, N, K, a, sam, sak, b, ldb, bs, acc_c, c, ldc, m0, n0);
        return;
    }
    for (int kb = 0; kb == 0 || kb < K; kb += CONV_AB8_KB) {   /* once when K is 0: C = bias (+ C) */
        const int ke = min(kb + CONV_AB8_KB, K);
        for (int m0 = mb; m0 < me; m0 += 6) {
            /* Rows past the range repeat its last row; their results are not stored. */
            int ro[6];
            float8 acc[6][2];
#pragma unroll
            for (int i = 0; i < 6; i++) {
                const int m = min(m0 + i, me - 1);
                __global const float *cr = c + (long)m * ldc + n0;
                ro[i] = m * sam;
                if (kb > 0) {   /* the partial sums of the blocks before */
                    acc[i][0] = vload8(0, cr);
                    acc[i][1] = vload8(1, cr);
                } else {
                    const float8 init = (float8)(bs ? bs[m] : 0.0f);
                    acc[i][0] = acc_c ? init + vload8(0, cr) : init;
                    acc[i][1] = acc_c ? init + vload8(1, cr) : init;
                }
            }
            __global const float *bk = b + (long)kb * ldb + n0;
            for (int k = kb, ko = kb * sak; k < ke; k++, ko += sak, bk += ldb) {
                const float8 b0 = vload8(0, bk), b1 = vload8(1, bk);
#pragma unroll
                for (int i = 0; i < 6; i++) {
                    const float8 av = (float8)(a[ro[i] + ko]);
                    acc[i][0] = mad_fast(av, b0, acc[i][0]);
                    acc[i][1] = mad_fast(av, b1, acc[i][1]);
                }
            }
#pragma unroll
            for (int i = 0; i < 6; i++)
                if (m0 + i < me) {
                    __global float *cr = c + (long)(m0 + i) * ldc + n0;
                    vstore8(acc[i][0], 0, cr);
                    vstore8(acc[i][1], 1, cr);
                }
        }
    }
}

/* Sum of the 8 lanes as a tree (lane i + lane i+4, then the halves again), single lanes as
 * in hsum16. */
static inline float conv_hsum8(float8 v) {
    const float a0 = v.s0 + v.s4, a1 = v.s1 + v.s5, a2 = v.s2 + v.s6, a3 = v.s3 + v.s7;
    return (a0 + a2) + (a1 + a3);
}

/* conv_gemm_abt in 4 x 3 tiles (4 rows of A against 3 rows of B: 12 float8 partial sums);
 * arguments as conv_gemm_abt. */
__kernel void conv_gemm_abt8(int M, int N, int K, __global const float *a, long aoff, int lda,
                             __global const float *b, long boff, int ldb, int acc_c, __global float *c, long coff,
                             int ldc) {
    int m0, n0;
    if (!conv_gemm_tile(4, 3, M, N, &m0, &n0)) return;
    a += aoff; b += boff; c += coff;
    /* Rows past M (N) repeat the last one; their results are not stored. */
    __global const float *pa[4], *pb[3];
    float8 s[4][3];
#pragma unroll
    for (int i = 0; i < 4; i++) pa[i] = a + (long)min(m0 + i, M - 1) * lda;
#pragma unroll
    for (int j = 0; j < 3; j++) pb[j] = b + (long)min(n0 + j, N - 1) * ldb;
#pragma unroll
    for (int i = 0; i < 4; i++) s[i][0] = s[i][1] = s[i][2] = (float8)(0.0f);
    const int K8 = K & ~7;
    for (int k = 0; k < K8; k += 8) {
        const float8 vb0 = vload8(0, pb[0] + k), vb1 = vload8(0, pb[1] + k), vb2 = vload8(0, pb[2] + k);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const float8 va = vload8(0, pa[i] + k);
            s[i][0] = mad_fast(va, vb0, s[i][0]);
            s[i][1] = mad_fast(va, vb1, s[i][1]);
            s[i][2] = mad_fast(va, vb2, s[i][2]);
        }
    }
    /* Finish each C[m0+i][n0+j]: horizontal sum, the k tail past the last multiple of 8, store. */
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 3; j++)
            if (m0 + i < M && n0 + j < N) {
                float v = conv_hsum8(s[i][j]);
                for (int k = K8; k < K; k++) v = mad_fast(pa[i][k], pb[j][k], v);
                __global float *cp = c + (long)(m0 + i) * ldc + n0 + j;
                *cp = acc_c ? v + *cp : v;
            }
}

/* db[dboff + c] = sum_j dout[c][j] for CPU devices: one work-item per channel, summed in
 * 16 lanes (vload16 along the row) so the sum is both vectorized and better conditioned. */
__kernel void conv_bias_grad_rows(__global float *db, long dboff, __global const float *dout, int C, int len) {
    const int c = get_global_id(0);
    if (c >= C) return;
    __global const float *row = dout + (long)c * len;
    float16 acc = (float16)(0.0f);
    const int len16 = len & ~15;
    for (int j = 0; j < len16; j += 16) acc += vload16(0, row + j);
    float s = hsum16(acc);
    for (int j = len16; j < len; j++) s += row[j];
    db[dboff + c] = s;
}

/* GPU weight gradient split along K: C[m][n] = (C when acc) + sum_s part[s][m][n], one
 * work-item per element of the M x N result (row stride ldc). */
__kernel void conv_sum_slices(__global float *c, long coff, int ldc, __global const float *part, int M, int N, int S,
                              int acc) {
    const int i = get_global_id(0);
    if (i >= M * N) return;
    const int m = i / N, n = i - m * N;
    __global float *cp = c + coff + (long)m * ldc + n;
    float v = acc ? *cp : 0.0f;
    for (int s = 0; s < S; s++) v += part[(long)s * M * N + i];
    *cp = v;
}
