#include "layers/matmul.h"
#include "core/blas.h"
#include "core/util.h"

#include <stdlib.h>

static int lanes_set;   /* 0: not chosen yet */

int matmul_lanes(void) {
    if (!lanes_set) {
        unsigned long long v;
        int got = env_count("CLMTT_MATMUL_LANES", 8, 16, &v);
        if (got < 0 || (got && v != 8 && v != 16))
            die("CLMTT_MATMUL_LANES must be 8 or 16 (floats per vector in the CPU matrix products), got '%s'",
                getenv("CLMTT_MATMUL_LANES"));
        lanes_set = got ? (int)v : RT.dev.vec_float >= 16 ? 16 : 8;
    }
    return lanes_set;
}

void matmul_set_lanes(int lanes) {
    if (lanes != 0 && lanes != 8 && lanes != 16) die("internal: matmul_set_lanes(%d)", lanes);
    lanes_set = lanes;
}

/* Rows per work-item of conv_gemm_ab8 (a multiple of its 6-row tiles): the whole M, halved
 * while the items (strips x row ranges) are fewer than 16 per compute unit. Every range
 * rereads its strip of B, so ranges are added only to fill the device. */
static size_t ab8_rows(size_t M, size_t strips) {
    size_t tiles = (M + 5) / 6, per = tiles, cu = RT.dev.compute_units ? RT.dev.compute_units : 1;
    while (per > 1 && strips * ((tiles + per - 1) / per) < 16 * cu) per = (per + 1) / 2;
    return per * 6;
}

void matmul(int ta, int tb, size_t M, size_t N, size_t K, DPtr a, size_t lda, DPtr b, size_t ldb, DPtr bias, int acc,
            DPtr c, size_t ldc) {
    if (!rt_cpu_family()) {
        if (bias.mem) die("internal: matmul takes a bias only on the CPU family");
        gemm(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, acc ? 1.0f : 0.0f, c, ldc);
        return;
    }
    if (ta && tb) die("internal: matmul has no A^T B^T product");
    if (M == 0 || N == 0) return;
    rt_count_gemm((double)M, (double)N, (double)K, 1, a.off, b.off, c.off);
    const int l8 = matmul_lanes() == 8;
    if (!tb && l8) {   /* strips of 16 columns by ranges of rows (cl/conv.cl) */
        size_t strips = (N + 15) / 16, rows = ab8_rows(M, strips);
        LAUNCH_ITEMS("conv_gemm_ab8", strips * ((M + rows - 1) / rows), KI(M), KI(N), KI(K), KM(a.mem), KL(a.off),
                     KI(ta ? 1 : lda), KI(ta ? lda : 1), KM(b.mem), KL(b.off), KI(ldb), KM(bias.mem), KL(bias.off),
                     KI(bias.mem != NULL), KI(acc), KM(c.mem), KL(c.off), KI(ldc), KI((int)rows));
    } else if (!tb) {   /* 6 x 64 tiles */
        size_t tiles = (M + 5) / 6 * ((N + 63) / 64);
        LAUNCH_ITEMS("conv_gemm_ab", tiles, KI(M), KI(N), KI(K), KM(a.mem), KL(a.off), KI(ta ? 1 : lda), KI(ta ? lda : 1),
                     KM(b.mem), KL(b.off), KI(ldb), KM(bias.mem), KL(bias.off), KI(bias.mem != NULL), KI(acc),
                     KM(c.mem), KL(c.off), KI(ldc));
    } else {     /* 4 x 6 tiles (16 lanes), 4 x 3 (8 lanes) */
        const size_t cols = l8 ? 3 : 6;
        size_t tiles = (M + 3) / 4 * ((N + cols - 1) / cols);
        LAUNCH_ITEMS(l8 ? "conv_gemm_abt8" : "conv_gemm_abt", tiles, KI(M), KI(N), KI(K), KM(a.mem), KL(a.off), KI(lda), KM(b.mem), KL(b.off),
                     KI(ldb), KI(acc), KM(c.mem), KL(c.off), KI(ldc));
    }
}
