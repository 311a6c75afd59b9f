/* 2-D convolution (cross-correlation), K x K kernel, stride 1, zero padding `pad`,
 * optional bias. Activations are channel-major CNHW ([C][N][H][W]) so that one GEMM
 * covers the whole batch: out[Cout][N*Ho*Wo] = w[Cout][Cin*K*K] x col[Cin*K*K][N*Ho*Wo].
 * The network input (the image batch) is NCHW: set in_nchw, and `in`/`din`/`rdin`
 * use that layout.
 *
 * Four passes per layer (llm.c style, shapes in comments):
 *   forward    out = w * in + b
 *   backward   din = w^T * dout; dw = corr(in, dout); db = sum dout
 *   tangent    out_t = w * in_t + w_t * in + b_t             (forward-mode, for R-op)
 *   rbackward  rdin = w^T * rdout + w_t^T * dout;            (tangent of backward)
 *              rdw = corr(in, rdout) + corr(in_t, dout); rdb = sum rdout
 * Gradient outputs are overwritten, never accumulated. A NULL cl_mem for din/rdin
 * skips that output; NULL in_t means a zero input tangent; b.mem == NULL means no bias
 * (then db/b_t/rdb are ignored). The *_ref functions are the plain C float64
 * references with identical layouts. */
#ifndef CLMTT_CONV2D_H
#define CLMTT_CONV2D_H

#include "core/tensor.h"

typedef struct {
    int N, Cin, H, W;   /* input */
    int Cout, K, pad;   /* output channels, kernel size, zero padding */
    int in_nchw;        /* 1: input and its gradients are NCHW; 0: CNHW */
} Conv2dShape;

static inline int conv2d_out_h(const Conv2dShape *s) { return s->H + 2 * s->pad - s->K + 1; }
static inline int conv2d_out_w(const Conv2dShape *s) { return s->W + 2 * s->pad - s->K + 1; }

/* Samples per im2col chunk the layer runs in (all N for 1x1 layers without padding, which
 * need no im2col): the GEMM shapes are Cout x chunk*Ho*Wo x Cin*K*K and their transposes. */
int conv2d_chunk_samples(const Conv2dShape *s);

/* Row stride of a chunk's im2col columns for `cols` = chunk samples x Ho*Wo columns: the
 * smallest odd multiple of 16 floats (64 bytes) at or above it. A stride of an even number
 * of cache lines, as 2560 or 14336 floats are, maps the rows a product walks down onto a few
 * cache sets, which evict each other: the forward product ran at half speed on an AVX-512
 * CPU (clmtt bench --what=gemm). */
size_t conv2d_col_ld(size_t cols);

/* One matrix product as the layer runs it on this device's kernel family, row-major with
 * leading dimensions: C[M][N] = op(A) x op(B) (+ C when acc), for NN, TN and NT (the weight
 * gradient). The CPU family runs cl/conv.cl's register-tiled kernels, the GPU family CLBlast
 * (the weight gradient split along K into a batched product and a sum). For clmtt bench. */
void conv2d_product(int ta, int tb, size_t M, size_t N, size_t K, DPtr a, size_t lda, DPtr b, size_t ldb, int acc,
                    DPtr c, size_t ldc);

void conv2d_forward(const Conv2dShape *s, cl_mem out, cl_mem in, DPtr w, DPtr b);
/* dw may be absent (NULL buffer, and db with it): the input gradient alone. */
void conv2d_backward(const Conv2dShape *s, cl_mem din, DPtr dw, DPtr db, cl_mem dout, cl_mem in, DPtr w);
void conv2d_tangent(const Conv2dShape *s, cl_mem out_t, cl_mem in, cl_mem in_t, DPtr w, DPtr w_t, DPtr b_t);
void conv2d_rbackward(const Conv2dShape *s, cl_mem rdin, DPtr rdw, DPtr rdb, cl_mem dout, cl_mem rdout,
                      cl_mem in, cl_mem in_t, DPtr w, DPtr w_t);

/* References: NULL pointers mean the same as the NULL cl_mem above (b == NULL: no bias). */
void conv2d_forward_ref(const Conv2dShape *s, double *out, const double *in, const double *w, const double *b);
void conv2d_backward_ref(const Conv2dShape *s, double *din, double *dw, double *db, const double *dout,
                         const double *in, const double *w);
void conv2d_tangent_ref(const Conv2dShape *s, double *out_t, const double *in, const double *in_t,
                        const double *w, const double *w_t, const double *b_t);
void conv2d_rbackward_ref(const Conv2dShape *s, double *rdin, double *rdw, double *rdb, const double *dout,
                          const double *rdout, const double *in, const double *in_t, const double *w, const double *w_t);

#endif
