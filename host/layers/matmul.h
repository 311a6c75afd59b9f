/* The layers' matrix products, by kernel family: row-major with leading dimensions,
 *   C[M][N] = op(A) x op(B) (+ bias[m] when bias.mem) (+ C when acc)
 * for NN, TN and NT (not TT). The CPU family runs the register-tiled kernels of cl/conv.cl
 * (conv_gemm_ab for NN and TN, bias folded in; conv_gemm_abt for NT, long dot products):
 * CLBlast's defaults reach a few GFLOP/s on CPU OpenCL, and a tiny product (a linear
 * layer's 10 x 10 x 2048) pays its setup. The GPU family calls CLBlast and takes no bias.
 * Every call adds its 2 M N K to RtCounts.gemm_flops. */
#ifndef CLMTT_MATMUL_H
#define CLMTT_MATMUL_H

#include "core/tensor.h"

/* The absent bias. */
static const DPtr MATMUL_NO_BIAS = {NULL, 0};

void matmul(int ta, int tb, size_t M, size_t N, size_t K, DPtr a, size_t lda, DPtr b, size_t ldb, DPtr bias, int acc,
            DPtr c, size_t ldc);

#endif
