/* CLBlast GEMM (every transpose, odd sizes, offsets, batched), the plain product that replaces
 * it under the simulator (case `plain`, the same checks) and the CPU family's register-tiled
 * products in both tile sets vs a plain C GEMM, and the device reductions vs double sums. */
#include "testutil.h"
#include "core/blas.h"
#include "layers/matmul.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ref_gemm(int ta, int tb, int m, int n, int k, double alpha, const float *a, int lda,
                     const float *b, int ldb, double beta, const float *c0, int ldc, double *out) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
            }
            out[i * n + j] = alpha * s + (beta != 0 ? beta * c0[i * ldc + j] : 0);
        }
}

static void random_shapes(void) {
    tu_init();
    const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 128, 9}, {130, 3, 257}, {5, 200, 31}};
    int seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                int lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 1, ldc = n + 3;
                size_t na = (size_t)(ta ? k : m) * lda + 5, nb = (size_t)(tb ? n : k) * ldb + 5, nc = (size_t)m * ldc + 7;
                float *a = xmalloc(na * 4), *b = xmalloc(nb * 4), *c = xmalloc(nc * 4);
                tu_rand(a, na, seed++, -1, 1);
                tu_rand(b, nb, seed++, -1, 1);
                tu_rand(c, nc, seed++, -1, 1);
                /* Operands start at odd offsets, as parameter slices do. */
                cl_mem A = tu_upload(a, na), B = tu_upload(b, nb), C = tu_upload(c, nc);
                float beta = (s % 2) ? 0.5f : 0.0f;
                gemm(ta, tb, m, n, k, 0.75f, dptr(A, 5), lda, dptr(B, 5), ldb, beta, dptr(C, 7), ldc);
                float *got = tu_download(C, 7, (size_t)m * ldc);
                double *want = xmalloc((size_t)m * n * 8);
                ref_gemm(ta, tb, m, n, k, 0.75, a + 5, lda, b + 5, ldb, beta, c + 7, ldc, want);
                float *packed = xmalloc((size_t)m * n * 4);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) packed[i * n + j] = got[i * ldc + j];
                char what[96];
                snprintf(what, sizeof what, "gemm %dx%dx%d ta=%d tb=%d", m, n, k, ta, tb);
                tu_check_close(what, packed, want, (size_t)m * n, 1e-4, 1e-5 * sqrt((double)k));
                /* The padding columns of C stay untouched. */
                for (int i = 0; i < m; i++)
                    for (int j = n; j < ldc && i * ldc + j < m * ldc; j++) ck_assert_float_eq(got[i * ldc + j], c[7 + i * ldc + j]);
                free(a); free(b); free(c); free(got); free(want); free(packed);
                dev_free(A); dev_free(B); dev_free(C);
            }
}

START_TEST(gemm_random_shapes) { random_shapes(); }
END_TEST

/* Every transpose pair of the batched product, with leading dimensions and batch strides
 * wider than the operands, operands at aligned and unaligned offsets, beta = 0 into a
 * poisoned C (no NaN may leak) and beta = 0.5 into a random one. The gaps between the
 * problems of C stay untouched. */
static void strided_batched(void) {
    tu_init();
    const int shapes[][4] = {{6, 5, 7, 3}, {33, 70, 129, 4}, {64, 27, 300, 5}};
    const size_t offs[] = {0, 32, 5};
    int seed = 100;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], batch = shapes[s][3];
                size_t off = offs[(s + ta + tb) % 3];
                int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 1;
                size_t sa = (size_t)(ta ? k : m) * lda + 3, sb = (size_t)(tb ? n : k) * ldb + 1,
                       sc = (size_t)m * ldc + 4;
                size_t na = off + sa * batch, nb = off + sb * batch, nc = off + sc * batch;
                float *a = xmalloc(na * 4), *b = xmalloc(nb * 4), *c = xmalloc(nc * 4);
                tu_rand(a, na, seed++, -1, 1);
                tu_rand(b, nb, seed++, -1, 1);
                tu_rand(c, nc, seed++, -1, 1);
                for (int beta_case = 0; beta_case < 2; beta_case++) {
                    float beta = beta_case ? 0.5f : 0.0f;
                    cl_mem A = tu_upload(a, na), B = tu_upload(b, nb), C = beta_case ? tu_upload(c, nc) : tu_poisoned(nc);
                    float *c_before = tu_download(C, 0, nc);
                    gemm_batched(ta, tb, m, n, k, -1.25f, dptr(A, off), lda, sa, dptr(B, off), ldb, sb, beta,
                                 dptr(C, off), ldc, sc, batch);
                    float *got = tu_download(C, 0, nc);
                    double *want = xmalloc((size_t)m * n * 8);
                    float *packed = xmalloc((size_t)m * n * 4);
                    for (int i = 0; i < batch; i++) {
                        size_t co = off + i * sc;
                        ref_gemm(ta, tb, m, n, k, -1.25, a + off + i * sa, lda, b + off + i * sb, ldb, beta,
                                 c + co, ldc, want);
                        for (int r = 0; r < m; r++)
                            for (int j = 0; j < n; j++) packed[r * n + j] = got[co + (size_t)r * ldc + j];
                        char what[128];
                        snprintf(what, sizeof what, "batched gemm %dx%dx%d ta=%d tb=%d off=%zu beta=%g item %d", m, n, k,
                                 ta, tb, off, beta, i);
                        tu_check_close(what, packed, want, (size_t)m * n, 1e-4, 1e-5 * sqrt((double)k));
                        /* Padding columns of each row and the gap after each problem keep their bits. */
                        for (int r = 0; r < m; r++)
                            for (int j = n; j < ldc; j++)
                                ck_assert(memcmp(&got[co + (size_t)r * ldc + j], &c_before[co + (size_t)r * ldc + j], 4) == 0);
                        for (size_t g = (size_t)m * ldc; g < sc; g++)
                            ck_assert(memcmp(&got[co + g], &c_before[co + g], 4) == 0);
                    }
                    for (size_t g = 0; g < off; g++) ck_assert(memcmp(&got[g], &c_before[g], 4) == 0);
                    free(c_before); free(got); free(want); free(packed);
                    dev_free(A); dev_free(B); dev_free(C);
                }
                free(a); free(b); free(c);
            }
}

START_TEST(gemm_strided_batched) { strided_batched(); }
END_TEST

/* Products large enough for CLBlast's indirect kernel (tiles, padding, the temporary),
 * shaped like the convolution layers' (forward NN, weight gradient NT, data gradient TN),
 * at a 32-float-aligned and an unaligned offset, beta = 0 into a poisoned C. */
START_TEST(gemm_large_layer_shapes) {
    tu_init();
    const int shapes[][5] = {{128, 1568, 1152, 0, 0}, {128, 1152, 1568, 0, 1}, {1152, 1568, 128, 1, 0},
                             {10, 128, 2048, 0, 1}, {513, 257, 259, 1, 1}};
    const size_t offs[] = {64, 7};
    int seed = 300;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int o = 0; o < 2; o++) {
            int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3], tb = shapes[s][4];
            size_t off = offs[o];
            int lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
            size_t na = off + (size_t)(ta ? k : m) * lda, nb = off + (size_t)(tb ? n : k) * ldb, nc = off + (size_t)m * ldc;
            float *a = xmalloc(na * 4), *b = xmalloc(nb * 4);
            tu_rand(a, na, seed++, -1, 1);
            tu_rand(b, nb, seed++, -1, 1);
            cl_mem A = tu_upload(a, na), B = tu_upload(b, nb), C = tu_poisoned(nc);
            gemm(ta, tb, m, n, k, 1.0f, dptr(A, off), lda, dptr(B, off), ldb, 0.0f, dptr(C, off), ldc);
            float *got = tu_download(C, off, (size_t)m * n);
            double *want = xmalloc((size_t)m * n * 8);
            ref_gemm(ta, tb, m, n, k, 1.0, a + off, lda, b + off, ldb, 0.0, NULL, ldc, want);
            char what[96];
            snprintf(what, sizeof what, "gemm %dx%dx%d ta=%d tb=%d off=%zu", m, n, k, ta, tb, off);
            tu_check_close(what, got, want, (size_t)m * n, 1e-4, 1e-5 * sqrt((double)k));
            free(a); free(b); free(got); free(want);
            dev_free(A); dev_free(B); dev_free(C);
        }
}
END_TEST

static int kernel_built(const char *name) {
    for (int i = 0; i < RT.nkernels; i++)
        if (strcmp(RT.kernels[i].name, name) == 0) return 1;
    return 0;
}

/* The CPU family's register-tiled products (layers/matmul.h) in both tile sets, 16 lanes and
 * 8, whatever the device's own width: NN and TN with and without the bias, NT, each into a
 * poisoned C and accumulated onto a random one, at odd offsets and leading dimensions, over
 * shapes that leave partial tiles in every direction and a k tail. The padding columns of C
 * keep their bits. */
START_TEST(matmul_both_lane_sets) {
    tu_init();
    if (!rt_cpu_family()) return;   /* the GPU family hands matmul to CLBlast (tested above) */
    /* k = 0: C is the bias (plus C); 131 and 300: several blocks of K in the strip kernel, with a
     * tail; M 128 against N 96: the strips alone are too few, so rows are split into ranges. */
    const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {6, 16, 9}, {5, 20, 0}, {13, 33, 17}, {25, 70, 131}, {128, 96, 300}};
    int seed = 500;
    for (int lanes = 8; lanes <= 16; lanes += 8) {
        matmul_set_lanes(lanes);
        ck_assert_int_eq(matmul_lanes(), lanes);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int op = 0; op < 3; op++)
                for (int acc = 0; acc < 2; acc++) {
                    int ta = op == 1, tb = op == 2, bias = !tb && (s + acc) % 2 == 0;
                    int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
                    size_t na = 5 + (size_t)(ta ? k : m) * lda, nb = 3 + (size_t)(tb ? n : k) * ldb, nc = 7 + (size_t)m * ldc;
                    float *a = xmalloc(na * 4), *b = xmalloc(nb * 4), *c = xmalloc(nc * 4), *bv = xmalloc((size_t)(m + 1) * 4);
                    tu_rand(a, na, seed++, -1, 1);
                    tu_rand(b, nb, seed++, -1, 1);
                    tu_rand(c, nc, seed++, -1, 1);
                    tu_rand(bv, (size_t)m + 1, seed++, -1, 1);
                    cl_mem A = tu_upload(a, na), B = tu_upload(b, nb), BV = tu_upload(bv, (size_t)m + 1);
                    cl_mem C = acc ? tu_upload(c, nc) : tu_poisoned(nc);
                    float *c_before = tu_download(C, 0, nc);
                    matmul(ta, tb, m, n, k, dptr(A, 5), lda, dptr(B, 3), ldb, bias ? dptr(BV, 1) : MATMUL_NO_BIAS, acc,
                           dptr(C, 7), ldc);
                    float *got = tu_download(C, 0, nc);
                    double *want = xmalloc((size_t)m * n * 8);
                    ref_gemm(ta, tb, m, n, k, 1.0, a + 5, lda, b + 3, ldb, acc ? 1.0 : 0.0, c + 7, ldc, want);
                    float *packed = xmalloc((size_t)m * n * 4);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) {
                            if (bias) want[i * n + j] += bv[1 + i];
                            packed[i * n + j] = got[7 + (size_t)i * ldc + j];
                        }
                    char what[128];
                    snprintf(what, sizeof what, "matmul %d lanes %dx%dx%d ta=%d tb=%d bias=%d acc=%d", lanes, m, n, k, ta,
                             tb, bias, acc);
                    tu_check_close(what, packed, want, (size_t)m * n, 1e-4, 1e-5 * sqrt((double)k));
                    for (int i = 0; i < m; i++)
                        for (int j = n; j < ldc; j++)
                            ck_assert_msg(memcmp(&got[7 + (size_t)i * ldc + j], &c_before[7 + (size_t)i * ldc + j], 4) == 0,
                                          "%s: padding column %d of row %d written", what, j, i);
                    free(a); free(b); free(c); free(bv); free(c_before); free(got); free(want); free(packed);
                    dev_free(A); dev_free(B); dev_free(BV); dev_free(C);
                }
    }
    matmul_set_lanes(0);
    /* Both tile sets ran their own kernels. */
    ck_assert(kernel_built("conv_gemm_ab") && kernel_built("conv_gemm_abt"));
    ck_assert(kernel_built("conv_gemm_ab8") && kernel_built("conv_gemm_abt8"));
}
END_TEST

START_TEST(reductions) {
    tu_init();
    size_t n = 100003;
    float *x = xmalloc(n * 4), *y = xmalloc(n * 4);
    tu_rand(x, n, 21, -1, 1);
    tu_rand(y, n, 22, -1, 1);
    double dot = 0, sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) { dot += (double)x[i] * y[i]; sum += x[i]; sq += ((double)x[i] - y[i]) * ((double)x[i] - y[i]); }
    cl_mem X = tu_upload(x, n), Y = tu_upload(y, n);
    ck_assert_double_eq_tol(dev_dot(n - 3, dptr(X, 3), dptr(Y, 3)), dot - (double)x[0] * y[0] - (double)x[1] * y[1] - (double)x[2] * y[2], 1e-3);
    ck_assert_double_eq_tol(dev_sum(n, dptr(X, 0)), sum, 1e-3);
    ck_assert_double_eq_tol(dev_sqdist(n, dptr(X, 0), dptr(Y, 0)), sq, 1e-2);
    ck_assert_int_eq(dev_has_nonfinite(n, dptr(X, 0)), 0);
    float bad = INFINITY;
    dev_write_f32(X, n - 1, 1, &bad);
    ck_assert_int_eq(dev_has_nonfinite(n, dptr(X, 0)), 1);
    free(x); free(y);
    dev_free(X); dev_free(Y);
}
END_TEST

/* The same two checks on the plain product that runs in place of CLBlast's under the simulator. */
START_TEST(plain_random_shapes) {
    gemm_set_plain(1);
    random_shapes();
    gemm_set_plain(-1);
}
END_TEST
START_TEST(plain_strided_batched) {
    gemm_set_plain(1);
    strided_batched();
    gemm_set_plain(-1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, gemm_random_shapes);
    tcase_add_test(tc, gemm_strided_batched);
    tcase_add_test(tc, gemm_large_layer_shapes);
    tcase_add_test(tc, reductions);
    suite_add_tcase(s, tc);
    /* Its own case, so the simulator runs it alone (test_gemm:matmul): the cases above call CLBlast. */
    TCase *mm = tcase_create("matmul");
    tcase_set_timeout(mm, 900);
    tcase_add_test(mm, matmul_both_lane_sets);
    suite_add_tcase(s, mm);
    TCase *pl = tcase_create("plain");
    tcase_set_timeout(pl, 900);
    tcase_add_test(pl, plain_random_shapes);
    tcase_add_test(pl, plain_strided_batched);
    suite_add_tcase(s, pl);
    return tu_run(s);
}
