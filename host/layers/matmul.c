#include "layers/matmul.h"
#include "core/blas.h"
#include "core/util.h"

void matmul(int ta, int tb, size_t M, size_t N, size_t K, DPtr a, size_t lda, DPtr b, size_t ldb, DPtr bias, int acc,
            DPtr c, size_t ldc) {
    if (!rt_cpu_family()) {
        if (bias.mem) die("internal: matmul takes a bias only on the CPU family");
        gemm(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, acc ? 1.0f : 0.0f, c, ldc);
        return;
    }
    if (ta && tb) die("internal: matmul has no A^T B^T product");
    if (M == 0 || N == 0) return;
    rt_count_gemm((double)M, (double)N, (double)K, 1);
    if (!tb) {   /* 6 x 64 tiles */
        size_t tiles = (M + 5) / 6 * ((N + 63) / 64);
        LAUNCH_ITEMS("conv_gemm_ab", tiles, KI(M), KI(N), KI(K), KM(a.mem), KL(a.off), KI(ta ? 1 : lda), KI(ta ? lda : 1),
                     KM(b.mem), KL(b.off), KI(ldb), KM(bias.mem), KL(bias.off), KI(bias.mem != NULL), KI(acc),
                     KM(c.mem), KL(c.off), KI(ldc));
    } else {     /* 4 x 6 tiles */
        size_t tiles = (M + 3) / 4 * ((N + 5) / 6);
        LAUNCH_ITEMS("conv_gemm_abt", tiles, KI(M), KI(N), KI(K), KM(a.mem), KL(a.off), KI(lda), KM(b.mem), KL(b.off),
                     KI(ldb), KI(acc), KM(c.mem), KL(c.off), KI(ldc));
    }
}
