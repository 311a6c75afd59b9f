/* Device convolution: im2col + matrix products over chunks of samples (see conv2d.h).
 *
 * For a chunk of nc samples starting at n0, with KK = K*K and P = Ho*Wo:
 *   col[Cin*KK][nc*P]                   = im2col(in samples n0..n0+nc-1)  (rows conv2d_col_ld apart)
 *   out[:, n0*P .. (n0+nc)*P)           = w[Cout][Cin*KK] x col         (ldc = N*P)
 *   dw[Cout][Cin*KK]                   += dout chunk x col^T             (overwrite on the first chunk)
 *   dcol[Cin*KK][nc*P]                  = w^T x dout chunk, then col2im (a gather) into din
 * Chunks keep col below a cap (CONV_CHUNK_FLOATS_DEFAULT floats, up to 4x that on GPUs with
 * memory to spare, a quarter of it on CPUs; the environment variable CLMTT_CONV_CHUNK_FLOATS
 * sets it, which tests use to force several chunks).
 * A chunk always holds at least one sample.
 *
 * A 1x1 convolution without padding on a CNHW input needs no im2col at all: the input
 * itself is col[Cin][N*P], so those layers run as single products on the activations.
 *
 * Two kernel families (cl/conv.cl), picked from the device type: GPUs run element-wise
 * im2col/col2im and CLBlast GEMMs; CPU devices run per-plane im2col/col2im and the
 * register-tiled products of cl/conv.cl, which also fold the bias add into the forward
 * product (CLBlast's defaults reach only a few GFLOPS on CPU OpenCL); layers/matmul.h picks
 * the products. A fused block after the convolution (layers/block.h) adds the bias
 * instead: the executor then passes none here. The environment
 * variable CLMTT_KERNEL_FAMILY=cpu|gpu forces one family on any device, so both are
 * testable on one machine. */
#include "layers/conv2d.h"
#include "layers/conv_cols.h"
#include "layers/matmul.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/util.h"

#define CONV_CHUNK_FLOATS_DEFAULT ((size_t)16 << 20) /* 64 MiB of float32 */



/* Default cap: CONV_CHUNK_FLOATS_DEFAULT; GPUs with memory to spare take up to 4x that,
 * so the products of big batches come in fewer, larger pieces. */
static size_t chunk_cap_floats(void) {
    unsigned long long v;
    int got = env_count("CLMTT_CONV_CHUNK_FLOATS", 1, SIZE_MAX, &v);
    if (got < 0)
        die("CLMTT_CONV_CHUNK_FLOATS must be a positive integer (floats), got '%s'", getenv("CLMTT_CONV_CHUNK_FLOATS"));
    if (!got) {
        /* CPU family: a quarter of it. The products then walk columns that stay in the
         * caches: at Fashion-MNIST ipc 10 they ran at 39-42% of an AVX-512 CPU's peak in 16 MiB
         * chunks against 25-37% in 64 MiB ones (clmtt bench --what=gemm), and the iteration
         * took 18.6 s against 21.7 s. */
        if (rt_cpu_family()) return CONV_CHUNK_FLOATS_DEFAULT / 4;
        size_t cap = (size_t)(RT.dev.global_mem / (64 * sizeof(float)));   /* 1/64 of the device memory */
        if (cap > 4 * CONV_CHUNK_FLOATS_DEFAULT) cap = 4 * CONV_CHUNK_FLOATS_DEFAULT;
        if (cap > RT.dev.max_alloc / sizeof(float)) cap = (size_t)(RT.dev.max_alloc / sizeof(float));
        return cap > CONV_CHUNK_FLOATS_DEFAULT ? cap : CONV_CHUNK_FLOATS_DEFAULT;
    }
    return (size_t)v;
}

/* The cap, never above one buffer's worth (CL_DEVICE_MAX_MEM_ALLOC_SIZE or
 * CLMTT_MAX_ALLOC_BYTES): the scratch of a chunk is one buffer. */
static size_t chunk_cap_floats_fit(void) {
    size_t cap = chunk_cap_floats(), fit = dev_max_items(sizeof(float));
    return cap < fit ? cap : fit;
}

/* Derived sizes of one layer. */
typedef struct {
    int Ho, Wo, P;   /* output height, width, Ho*Wo */
    int KK, CKK;     /* K*K, Cin*K*K (GEMM depth of the forward pass) */
    size_t NP;       /* N*P: row length of the CNHW output */
    int direct;      /* 1x1, no padding, CNHW input: col is the input itself */
    int nc;          /* samples per chunk */
} ConvDims;

static ConvDims conv_dims(const Conv2dShape *s, const char *who) {
    if (s->N <= 0 || s->Cin <= 0 || s->H <= 0 || s->W <= 0 || s->Cout <= 0 || s->K <= 0 || s->pad < 0)
        die("%s: bad shape N=%d Cin=%d H=%d W=%d Cout=%d K=%d pad=%d", who, s->N, s->Cin, s->H, s->W, s->Cout,
            s->K, s->pad);
    ConvDims d;
    d.Ho = conv2d_out_h(s);
    d.Wo = conv2d_out_w(s);
    if (d.Ho <= 0 || d.Wo <= 0)
        die("%s: a %dx%d kernel with padding %d does not fit a %dx%d input", who, s->K, s->K, s->pad, s->H, s->W);
    d.P = d.Ho * d.Wo;
    d.KK = s->K * s->K;
    d.CKK = s->Cin * d.KK;
    d.NP = (size_t)s->N * d.P;
    /* Kernels index with int: every tensor they touch must fit. */
    if ((size_t)s->N * s->Cin * s->H * s->W > INT_MAX || d.NP * s->Cout > INT_MAX)
        die("%s: activations of %d x %d x %dx%d are too large for one layer call", who, s->N, s->Cin, s->H, s->W);
    d.direct = s->K == 1 && s->pad == 0 && !s->in_nchw;
    /* A chunk's columns, rows padded to conv2d_col_ld, stay under the cap (at least one sample)
     * and within int indexing. */
    size_t per_sample = (size_t)d.CKK * d.P, cap = chunk_cap_floats_fit();
    size_t nc = cap / per_sample;
    if (nc < 1) nc = 1;
    if (nc > (size_t)s->N) nc = s->N;
    while (nc > 1 && (size_t)d.CKK * conv2d_col_ld(nc * d.P) > (cap < INT_MAX ? cap : INT_MAX)) nc--;
    if ((size_t)d.CKK * conv2d_col_ld(nc * d.P) > INT_MAX)
        die("%s: one sample's im2col (%zu floats) is too large", who, per_sample);
    d.nc = d.direct ? s->N : (int)nc; /* direct layers use no scratch, so one chunk */
    return d;
}

int conv2d_chunk_samples(const Conv2dShape *s) { return conv_dims(s, "conv2d_chunk_samples").nc; }

size_t conv2d_col_ld(size_t cols) {
    size_t ld = (cols + 15) / 16 * 16;
    return (ld / 16) % 2 ? ld : ld + 16;
}

/* The im2col scratch (the runtime's, shared by every convolution), grown to at least `floats`. */
static cl_mem col_scratch(size_t floats) { return rt_scratch(RT_SCRATCH_CONV_COLS, floats); }

/* Floats of a chunk's columns: CKK rows of conv2d_col_ld(nc*P). */
static size_t col_floats(const ConvDims *d, int nc) { return (size_t)d->CKK * conv2d_col_ld((size_t)nc * d->P); }

/* col[CKK][ld] = im2col of samples n0..n0+nc-1 of `in`, ld = conv2d_col_ld(nc*P). */
static void im2col(const Conv2dShape *s, const ConvDims *d, cl_mem col, cl_mem in, int n0, int nc) {
    int ld = (int)conv2d_col_ld((size_t)nc * d->P);
    if (rt_cpu_family())
        LAUNCH_ITEMS("conv_im2col_planes", (size_t)d->CKK * nc, KM(col), KI(ld), KM(in), KI(s->in_nchw), KI(s->N),
                     KI(s->Cin), KI(s->H), KI(s->W), KI(s->K), KI(s->pad), KI(d->Ho), KI(d->Wo), KI(n0), KI(nc));
    else
        LAUNCH("conv_im2col", (size_t)d->CKK * nc * d->P, KM(col), KI(ld), KM(in), KI(s->in_nchw), KI(s->N),
               KI(s->Cin), KI(s->H), KI(s->W), KI(s->K), KI(s->pad), KI(d->Ho), KI(d->Wo), KI(n0), KI(nc));
}

/* din samples n0..n0+nc-1 = col2im(col); overwrites. col as im2col writes it. */
static void col2im(const Conv2dShape *s, const ConvDims *d, cl_mem din, cl_mem col, int n0, int nc) {
    int ld = (int)conv2d_col_ld((size_t)nc * d->P);
    if (rt_cpu_family())
        LAUNCH_ITEMS("conv_col2im_planes", (size_t)s->Cin * nc, KM(din), KM(col), KI(ld), KI(s->in_nchw), KI(s->N),
                     KI(s->Cin), KI(s->H), KI(s->W), KI(s->K), KI(s->pad), KI(d->Ho), KI(d->Wo), KI(n0), KI(nc));
    else
        LAUNCH("conv_col2im", (size_t)s->Cin * nc * s->H * s->W, KM(din), KM(col), KI(ld), KI(s->in_nchw), KI(s->N),
               KI(s->Cin), KI(s->H), KI(s->W), KI(s->K), KI(s->pad), KI(d->Ho), KI(d->Wo), KI(n0), KI(nc));
}

/* GPU family, C[M][N] (+)= A[M][K] x B[N][K]^T for the weight gradients: M x N is small
 * (Cout x Cin*K*K) and K (pixels of the chunk) large, so one GEMM would give the device only
 * a handful of work-groups. The K range is cut into S slices, computed as one strided batched
 * GEMM into S partial products, which conv_sum_slices adds up (with the old C when acc). A
 * remainder of K goes to one more GEMM. S aims at about four 64 x 64 output tiles per compute
 * unit with at least 256 of K per slice. A slice's length is a multiple of rt_align_floats(),
 * so every slice and the remainder start aligned when A and B do. */
static void gpu_weight_grad(size_t M, size_t N, size_t K, DPtr a, size_t lda, DPtr b, size_t ldb, int acc, DPtr c,
                            size_t ldc) {
    size_t tiles = (M + 63) / 64 * ((N + 63) / 64), cu = RT.dev.compute_units ? RT.dev.compute_units : 1;
    size_t S = (4 * cu + tiles - 1) / tiles;
    if (S > 16) S = 16;
    if (S > K / 256) S = K / 256;
    if (S > dev_max_items(sizeof(float)) / (M * N)) S = dev_max_items(sizeof(float)) / (M * N);   /* one buffer */
    if (S < 2 || M * N > INT_MAX / S) {
        gemm(0, 1, M, N, K, 1.0f, a, lda, b, ldb, acc ? 1.0f : 0.0f, c, ldc);
        return;
    }
    size_t al = rt_align_floats(), ks = K / S / al * al, rest = K - S * ks;
    cl_mem slice_buf = rt_scratch(RT_SCRATCH_CONV_SLICES, S * M * N);
    gemm_batched(0, 1, M, N, ks, 1.0f, a, lda, ks, b, ldb, ks, 0.0f, dptr(slice_buf, 0), N, M * N, S);
    LAUNCH("conv_sum_slices", M * N, KM(c.mem), KL(c.off), KI(ldc), KM(slice_buf), KI(M), KI(N), KI(S), KI(acc));
    if (rest) gemm(0, 1, M, N, rest, 1.0f, dptr_add(a, S * ks), lda, dptr_add(b, S * ks), ldb, 1.0f, c, ldc);
}

/* C[M][N] = op(A) x op(B) (+ bias[m]) (+ C when acc) as layers/matmul.h, except the GPU
 * family's weight gradients (NT), which gpu_weight_grad splits along K. */
static void conv_mm(int ta, int tb, size_t M, size_t N, size_t K, DPtr a, size_t lda, DPtr b, size_t ldb, DPtr bias,
                    int acc, DPtr c, size_t ldc) {
    if (!rt_cpu_family() && !ta && tb && !bias.mem) gpu_weight_grad(M, N, K, a, lda, b, ldb, acc, c, ldc);
    else matmul(ta, tb, M, N, K, a, lda, b, ldb, bias, acc, c, ldc);
}

void conv2d_product(int ta, int tb, size_t M, size_t N, size_t K, DPtr a, size_t lda, DPtr b, size_t ldb, int acc,
                    DPtr c, size_t ldc) {
    conv_mm(ta, tb, M, N, K, a, lda, b, ldb, MATMUL_NO_BIAS, acc, c, ldc);
}

/* The GEMM operand col[CKK][nc*P] of `in` for the chunk at n0 (row stride in *ld).
 * Direct layers point into the input; others take the columns an earlier pass of the
 * reverse step kept (conv_cols.h), or build them into a kept buffer, or into the scratch. */
static DPtr col_of(const Conv2dShape *s, const ConvDims *d, cl_mem in, int n0, int nc, size_t *ld) {
    if (d->direct) {
        *ld = d->NP;
        return dptr(in, (size_t)n0 * d->P);
    }
    *ld = conv2d_col_ld((size_t)nc * d->P);
    cl_mem col = conv_cols_find(s, in, n0, nc);
    if (col) return dptr(col, 0);
    col = conv_cols_claim(s, in, n0, nc, col_floats(d, nc));
    if (!col) col = col_scratch(col_floats(d, d->nc));
    im2col(s, d, col, in, n0, nc);
    return dptr(col, 0);
}

/* Destination of an input gradient for the chunk at n0: direct layers write straight
 * into din (col2im is the identity); others write the scratch and call col2im after. */
static DPtr dcol_of(const ConvDims *d, cl_mem din, int n0, int nc, size_t *ld) {
    if (d->direct) {
        *ld = d->NP;
        return dptr(din, (size_t)n0 * d->P);
    }
    *ld = conv2d_col_ld((size_t)nc * d->P);
    return dptr(col_scratch(col_floats(d, d->nc)), 0);
}

static void finish_dcol(const Conv2dShape *s, const ConvDims *d, cl_mem din, int n0, int nc) {
    if (!d->direct) col2im(s, d, din, RT.scratch[RT_SCRATCH_CONV_COLS].mem, n0, nc);
}

/* out[C][len] += b[c] */
static void bias_add(cl_mem out, DPtr b, int C, size_t len) {
    LAUNCH("conv_bias_add", (size_t)C * len, KM(out), KM(b.mem), KL(b.off), KI(C), KI((int)len));
}

/* db[c] = sum_j dout[c][j], dout C x len */
static void bias_grad(DPtr db, cl_mem dout, int C, size_t len) {
    if (rt_cpu_family()) {
        LAUNCH_ITEMS("conv_bias_grad_rows", (size_t)C, KM(db.mem), KL(db.off), KM(dout), KI(C), KI((int)len));
        return;
    }
    size_t local = rt_reduce_local("conv_bias_grad");
    LAUNCH_GROUPS("conv_bias_grad", (size_t)C, local, KM(db.mem), KL(db.off), KM(dout), KI((int)len),
                  KLOCAL(local * sizeof(float)));
}

static void need(cl_mem m, const char *who, const char *name) {
    if (!m) die("%s: %s must not be NULL", who, name);
}

/* out[Cout][N*P] (CNHW) = w * in + b */
void conv2d_forward(const Conv2dShape *s, cl_mem out, cl_mem in, DPtr w, DPtr b) {
    const char *who = "conv2d_forward";
    need(out, who, "out"); need(in, who, "in"); need(w.mem, who, "w");
    ConvDims d = conv_dims(s, who);
    int fold = b.mem && rt_cpu_family();   /* bias inside the product */
    for (int n0 = 0; n0 < s->N; n0 += d.nc) {
        int nc = s->N - n0 < d.nc ? s->N - n0 : d.nc;
        size_t ldb;
        DPtr col = col_of(s, &d, in, n0, nc, &ldb);
        conv_mm(0, 0, s->Cout, (size_t)nc * d.P, d.CKK, w, d.CKK, col, ldb, fold ? b : MATMUL_NO_BIAS, 0,
                dptr(out, (size_t)n0 * d.P), d.NP);
    }
    if (b.mem && !fold) bias_add(out, b, s->Cout, d.NP);
}

/* din = w^T * dout (if din); dw[Cout][CKK] = dout x col(in)^T; db = row sums of dout (if db) */
void conv2d_backward(const Conv2dShape *s, cl_mem din, DPtr dw, DPtr db, cl_mem dout, cl_mem in, DPtr w) {
    const char *who = "conv2d_backward";
    need(dout, who, "dout"); need(in, who, "in"); need(w.mem, who, "w");
    if (!dw.mem && db.mem) die("internal: %s: a bias gradient without the weights'", who);
    ConvDims d = conv_dims(s, who);
    for (int n0 = 0; n0 < s->N; n0 += d.nc) {
        int nc = s->N - n0 < d.nc ? s->N - n0 : d.nc;
        size_t cols = (size_t)nc * d.P, ld;
        DPtr dout_c = dptr(dout, (size_t)n0 * d.P);
        if (dw.mem) {
            DPtr col = col_of(s, &d, in, n0, nc, &ld);
            conv_mm(0, 1, s->Cout, d.CKK, cols, dout_c, d.NP, col, ld, MATMUL_NO_BIAS, n0 > 0, dw, d.CKK);
        }
        if (din) {
            DPtr dcol = dcol_of(&d, din, n0, nc, &ld);
            conv_mm(1, 0, d.CKK, cols, s->Cout, w, d.CKK, dout_c, d.NP, MATMUL_NO_BIAS, 0, dcol, ld);
            finish_dcol(s, &d, din, n0, nc);
        }
    }
    if (db.mem) bias_grad(db, dout, s->Cout, d.NP);
}

/* out_t = w * in_t (if in_t) + w_t * in + b_t (if b_t) */
void conv2d_tangent(const Conv2dShape *s, cl_mem out_t, cl_mem in, cl_mem in_t, DPtr w, DPtr w_t, DPtr b_t) {
    const char *who = "conv2d_tangent";
    need(out_t, who, "out_t"); need(in, who, "in"); need(w.mem, who, "w"); need(w_t.mem, who, "w_t");
    ConvDims d = conv_dims(s, who);
    int fold = b_t.mem && rt_cpu_family();   /* b_t inside the first product of each chunk */
    for (int n0 = 0; n0 < s->N; n0 += d.nc) {
        int nc = s->N - n0 < d.nc ? s->N - n0 : d.nc;
        size_t cols = (size_t)nc * d.P, ld;
        DPtr out_c = dptr(out_t, (size_t)n0 * d.P);
        if (in_t) {
            DPtr col_t = col_of(s, &d, in_t, n0, nc, &ld);
            conv_mm(0, 0, s->Cout, cols, d.CKK, w, d.CKK, col_t, ld, fold ? b_t : MATMUL_NO_BIAS, 0, out_c, d.NP);
        }
        DPtr col = col_of(s, &d, in, n0, nc, &ld);
        conv_mm(0, 0, s->Cout, cols, d.CKK, w_t, d.CKK, col, ld, fold && !in_t ? b_t : MATMUL_NO_BIAS, in_t != NULL, out_c,
                d.NP);
    }
    if (b_t.mem && !fold) bias_add(out_t, b_t, s->Cout, d.NP);
}

/* rdin = w^T * rdout + w_t^T * dout (if rdin); rdw = rdout x col(in)^T + dout x col(in_t)^T;
 * rdb = row sums of rdout (if rdb) */
void conv2d_rbackward(const Conv2dShape *s, cl_mem rdin, DPtr rdw, DPtr rdb, cl_mem dout, cl_mem rdout,
                      cl_mem in, cl_mem in_t, DPtr w, DPtr w_t) {
    const char *who = "conv2d_rbackward";
    need(rdw.mem, who, "rdw"); need(dout, who, "dout"); need(rdout, who, "rdout"); need(in, who, "in");
    need(w.mem, who, "w"); need(w_t.mem, who, "w_t");
    ConvDims d = conv_dims(s, who);
    for (int n0 = 0; n0 < s->N; n0 += d.nc) {
        int nc = s->N - n0 < d.nc ? s->N - n0 : d.nc;
        size_t cols = (size_t)nc * d.P, ld;
        DPtr dout_c = dptr(dout, (size_t)n0 * d.P), rdout_c = dptr(rdout, (size_t)n0 * d.P);
        DPtr col = col_of(s, &d, in, n0, nc, &ld);
        conv_mm(0, 1, s->Cout, d.CKK, cols, rdout_c, d.NP, col, ld, MATMUL_NO_BIAS, n0 > 0, rdw, d.CKK);
        if (in_t) {
            DPtr col_t = col_of(s, &d, in_t, n0, nc, &ld);
            conv_mm(0, 1, s->Cout, d.CKK, cols, dout_c, d.NP, col_t, ld, MATMUL_NO_BIAS, 1, rdw, d.CKK);
        }
        if (rdin) {
            DPtr dcol = dcol_of(&d, rdin, n0, nc, &ld);
            conv_mm(1, 0, d.CKK, cols, s->Cout, w, d.CKK, rdout_c, d.NP, MATMUL_NO_BIAS, 0, dcol, ld);
            conv_mm(1, 0, d.CKK, cols, s->Cout, w_t, d.CKK, dout_c, d.NP, MATMUL_NO_BIAS, 1, dcol, ld);
            finish_dcol(s, &d, rdin, n0, nc);
        }
    }
    if (rdb.mem) bias_grad(rdb, rdout, s->Cout, d.NP);
}
