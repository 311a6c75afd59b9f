/* The GEMM shapes of a model, timed the way the layers run them, with their layouts,
 * leading dimensions and transposes: a convolution's products through conv2d_product (the
 * kernel family's: cl/conv.cl's register-tiled kernels on CPUs, CLBlast on GPUs, with the
 * weight gradient's split along K), a linear layer's through matmul (layers/matmul.h), so a number
 * here is what one product of a distillation step costs. Convolutions run in im2col
 * chunks of conv2d_chunk_samples samples: a chunk's products are the shapes timed. The
 * rates are set against the device's measured peak (bench_peak.h). */
#include "cli/bench_gemm.h"
#include "cli/bench_peak.h"
#include "layers/matmul.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *layer_kind, *pass;   /* "conv"/"linear"; "forward", "backward_data", "backward_weights" */
    int layer;                       /* index in the net */
    int ta, tb;
    size_t m, n, k, lda, ldb, ldc;
} GemmShape;

enum { MAX_SHAPES = 3 * NET_MAX_LAYERS };

/* The products of layer l for a batch of n, appended to out; returns the new count. */
static int layer_shapes(const Net *net, int li, int n, GemmShape *out, int cnt) {
    const Layer *l = &net->layers[li];
    if (l->kind == LAYER_CONV) {
        Conv2dShape s = layer_conv_shape(l, n, li == 0);
        size_t P = (size_t)l->ho * l->wo, CKK = (size_t)l->cin * l->k * l->k, NP = (size_t)n * P;
        size_t cols = (size_t)conv2d_chunk_samples(&s) * P;
        /* im2col chunks have rows of cols floats, conv2d_col_ld apart; 1x1 layers read the
         * activations (row length NP). */
        size_t ldcol = s.K == 1 && s.pad == 0 && !s.in_nchw ? NP : conv2d_col_ld(cols);
        out[cnt++] = (GemmShape){"conv", "forward", li, 0, 0, (size_t)l->cout, cols, CKK, CKK, ldcol, NP};
        out[cnt++] = (GemmShape){"conv", "backward_data", li, 1, 0, CKK, cols, (size_t)l->cout, CKK, NP, ldcol};
        out[cnt++] = (GemmShape){"conv", "backward_weights", li, 0, 1, (size_t)l->cout, CKK, cols, NP, ldcol, CKK};
    } else if (l->kind == LAYER_LINEAR) {
        size_t in = (size_t)l->cin * l->h * l->w, o = (size_t)l->cout;
        out[cnt++] = (GemmShape){"linear", "forward", li, 0, 1, (size_t)n, o, in, in, in, o};
        out[cnt++] = (GemmShape){"linear", "backward_data", li, 0, 0, (size_t)n, in, o, o, in, in};
        out[cnt++] = (GemmShape){"linear", "backward_weights", li, 1, 0, o, in, (size_t)n, o, in, in};
    }
    return cnt;
}

/* Floats an operand spans: rows x ld, rows being the stored (not the op) row count. */
static size_t span(size_t rows, size_t ld) { return rows * ld; }

/* Fastest of reps (after a warm-up, which also builds CLBlast's kernels) in seconds. */
static double time_shape(const GemmShape *g, cl_mem A, cl_mem B, cl_mem C, int reps) {
    double best = 1e30;
    for (int r = -1; r < reps; r++) {
        rt_finish();
        double t0 = now_seconds();
        if (g->layer_kind[0] == 'c')
            conv2d_product(g->ta, g->tb, g->m, g->n, g->k, dptr(A, 0), g->lda, dptr(B, 0), g->ldb, 0, dptr(C, 0), g->ldc);
        else
            matmul(g->ta, g->tb, g->m, g->n, g->k, dptr(A, 0), g->lda, dptr(B, 0), g->ldb, dptr(NULL, 0), 0, dptr(C, 0),
                   g->ldc);
        rt_finish();
        double s = now_seconds() - t0;
        if (r >= 0 && s < best) best = s;
    }
    return best;
}

static void emit(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (!s) die("internal: cannot format a benchmark record");
    printf("BENCH_JSON %s\n", s);
    free(s);
    cJSON_Delete(o);
}

static cJSON *record(const char *what, const Net *net, const char *dataset) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "what", what);
    cJSON_AddStringToObject(o, "device", RT.dev.name);
    cJSON_AddStringToObject(o, "platform", RT.dev.platform_name);
    cJSON_AddStringToObject(o, "dataset", dataset);
    cJSON_AddStringToObject(o, "model", net->model);
    cJSON_AddNumberToObject(o, "parameters", (double)net->ndense);
    return o;
}

void bench_gemm(const Net *net, const char *dataset, const int *ipcs, int nipcs, int reps) {
    BenchPeak peak = bench_peak();
    printf("\n== gemm: the layers' matrix products (row-major as the layers call them), fastest of %d\n", reps);
    printf("%-5s %-6s %3s %-17s %-2s %6s %7s %6s %10s %9s %6s\n", "ipc", "kind", "lay", "pass", "op", "M", "N", "K", "ms",
           "GFLOP/s", "peak");
    double best = 0;
    for (int i = 0; i < nipcs; i++) {
        int n = ipcs[i] * net->num_classes;
        GemmShape shapes[MAX_SHAPES];
        int cnt = 0;
        for (int li = 0; li < net->nlayers; li++) cnt = layer_shapes(net, li, n, shapes, cnt);
        for (int j = 0; j < cnt; j++) {
            const GemmShape *g = &shapes[j];
            /* Stored operands: A is m x k (k x m transposed), B k x n (n x k), C m x n, each with its ld. */
            size_t na = span(g->ta ? g->k : g->m, g->lda), nb = span(g->tb ? g->n : g->k, g->ldb),
                   nc = span(g->m, g->ldc);
            cl_mem A = dev_alloc(na * 4, "GEMM operand A"), B = dev_alloc(nb * 4, "GEMM operand B"),
                   C = dev_alloc(nc * 4, "GEMM result C");
            dev_fill(A, 0, na, 0.5f);
            dev_fill(B, 0, nb, 0.25f);
            double s = time_shape(g, A, B, C, reps);
            double flops = 2.0 * g->m * g->n * g->k, gf = flops / s * 1e-9;
            if (gf > best) best = gf;
            printf("%-5d %-6s %3d %-17s %c%c %6zu %7zu %6zu %10.3f %9.2f %5.0f%%\n", ipcs[i], g->layer_kind, g->layer,
                   g->pass, g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k, s * 1e3, gf,
                   100.0 * gf / peak.gflops);
            cJSON *o = record("gemm", net, dataset);
            cJSON_AddNumberToObject(o, "ipc", ipcs[i]);
            cJSON_AddNumberToObject(o, "batch", n);
            cJSON_AddStringToObject(o, "layer_kind", g->layer_kind);
            cJSON_AddNumberToObject(o, "layer", g->layer);
            cJSON_AddStringToObject(o, "pass", g->pass);
            cJSON_AddBoolToObject(o, "trans_a", g->ta);
            cJSON_AddBoolToObject(o, "trans_b", g->tb);
            cJSON_AddNumberToObject(o, "m", (double)g->m);
            cJSON_AddNumberToObject(o, "n", (double)g->n);
            cJSON_AddNumberToObject(o, "k", (double)g->k);
            cJSON_AddNumberToObject(o, "seconds", s);
            cJSON_AddNumberToObject(o, "gflops", gf);
            emit(o);
            dev_free(A); dev_free(B); dev_free(C);
        }
    }
    printf("best measured: %.2f GFLOP/s, %.0f%% of the device's peak\n", best, 100.0 * best / peak.gflops);
    printf("device peak measured: %.1f GFLOP/s (%s: chains of fused multiply-adds, %.3f s)\n", peak.gflops,
           peak.kernel, peak.seconds);
    cJSON *o = record("gemm_summary", net, dataset);
    cJSON_AddNumberToObject(o, "best_gflops", best);
    cJSON_AddNumberToObject(o, "device_peak_gflops", peak.gflops);
    cJSON_AddStringToObject(o, "device_peak_kernel", peak.kernel);
    cJSON_AddNumberToObject(o, "compute_units", RT.dev.compute_units);
    emit(o);
}
