/* The layers' matrix products, by kernel family: row-major with leading dimensions,
 *   C[M][N] = op(A) x op(B) (+ bias[m] when bias.mem) (+ C when acc)
 * for NN, TN and NT (not TT). The CPU family runs the register-tiled kernels of cl/conv.cl
 * (conv_gemm_ab for NN and TN, bias folded in; conv_gemm_abt for NT, long dot products):
 * CLBlast's defaults reach a few GFLOP/s on CPU OpenCL, and a tiny product (a linear
 * layer's 10 x 10 x 2048) pays its setup. The GPU family calls CLBlast and takes no bias.
 * Every call adds its 2 M N K to RtCounts.gemm_flops.
 *
 * The CPU kernels come in two tile sets: 16 lanes (6 x 64 and 4 x 6 tiles of float16, for
 * CPUs with 16-float registers, AVX-512) and 8 lanes (6 x 16 and 4 x 3 of float8, AVX2 and
 * narrower), whose accumulators fit the register file; the 8-lane NN/TN kernel walks K in
 * blocks over a strip of 16 columns, so a block of B is read from L1 by every tile of the strip.
 * The device's native float vector width picks one; CLMTT_MATMUL_LANES=8|16 overrides it. */
#ifndef CLMTT_MATMUL_H
#define CLMTT_MATMUL_H

#include "core/tensor.h"

/* The absent bias. */
static const DPtr MATMUL_NO_BIAS = {NULL, 0};

/* The lanes the CPU kernels run in (8 or 16), and a test's override (0: back to the default). */
int matmul_lanes(void);
void matmul_set_lanes(int lanes);

void matmul(int ta, int tb, size_t M, size_t N, size_t K, DPtr a, size_t lda, DPtr b, size_t ldb, DPtr bias, int acc,
            DPtr c, size_t ldc);

#endif
