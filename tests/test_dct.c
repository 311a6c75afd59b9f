/* The 2-D DCT: the float64 reference against the defining sum and as an orthonormal map;
 * the device transform (clFFT) against the reference at every resolution the datasets use
 * and at odd sizes, forward and inverse, outputs poisoned. */
#include "testutil.h"
#include "layers/dct2d.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The reference at one coefficient against the double sum written out. */
START_TEST(dct_ref_matches_definition) {
    const int H = 5, W = 6;
    double x[30], X[30], back[30];
    tu_rand_d(x, 30, 1, -1, 1);
    dct2d_forward_ref(H, W, 1, X, x);
    for (int k1 = 0; k1 < H; k1++)
        for (int k2 = 0; k2 < W; k2++) {
            double s = 0;
            for (int n1 = 0; n1 < H; n1++)
                for (int n2 = 0; n2 < W; n2++)
                    s += x[n1 * W + n2] * cos(M_PI * (2 * n1 + 1) * k1 / (2.0 * H)) * cos(M_PI * (2 * n2 + 1) * k2 / (2.0 * W));
            s *= sqrt((k1 ? 2.0 : 1.0) / H) * sqrt((k2 ? 2.0 : 1.0) / W);
            ck_assert_double_eq_tol(X[k1 * W + k2], s, 1e-12);
        }
    dct2d_inverse_ref(H, W, 1, back, X);
    tu_check_close_d("inverse of forward", back, x, 30, 0, 1e-12);
    /* orthonormal: the energy is kept */
    ck_assert_double_eq_tol(tu_dot_d(x, x, 30), tu_dot_d(X, X, 30), 1e-12);
}
END_TEST

static void device_vs_ref(int H, int W, int B) {
    size_t n = (size_t)B * H * W;
    float *x = tu_new_rand(n, (uint64_t)(H * 1000 + W));
    double *xd = tu_to_double(x, n), *want = xmalloc(n * 8), *want_inv = xmalloc(n * 8);
    dct2d_forward_ref(H, W, B, want, xd);
    dct2d_inverse_ref(H, W, B, want_inv, xd);
    cl_mem X = tu_upload(x, n), F = tu_poisoned(n), I = tu_poisoned(n);
    Dct2d d;
    dct2d_init(&d, H, W);
    dct2d(&d, 0, F, X, B);
    dct2d(&d, 1, I, X, B);
    float *f = tu_download(F, 0, n), *inv = tu_download(I, 0, n);
    char what[64];
    /* float32 FFTs of length <= 256: about 1e-6 of the norm per element. */
    snprintf(what, sizeof what, "DCT %dx%d x%d", H, W, B);
    tu_check_close(what, f, want, n, 1e-4, 2e-5);
    snprintf(what, sizeof what, "IDCT %dx%d x%d", H, W, B);
    tu_check_close(what, inv, want_inv, n, 1e-4, 2e-5);
    double *fd = tu_to_double(f, n);
    ck_assert_msg(tu_rel_err(fd, want, n) < 2e-6, "DCT %dx%d: relative error %g", H, W, tu_rel_err(fd, want, n));
    dct2d_free(&d);
    free(x); free(xd); free(want); free(want_inv); free(f); free(inv); free(fd);
    dev_free(X); dev_free(F); dev_free(I);
}

START_TEST(dct_device_matches_ref) {
    tu_init();
    const int sizes[][3] = {{28, 28, 4}, {32, 32, 3}, {64, 64, 2}, {128, 128, 1}, {256, 256, 1},
                            {6, 10, 5}, {7, 5, 3}, {1, 8, 2}, {9, 1, 2}};
    for (int i = 0; i < 9; i++) {
        /* tu_small: up to 32 x 32 (odd, prime and power-of-two lengths all stay). */
        if (tu_small() && sizes[i][0] * sizes[i][1] > 1024) continue;
        device_vs_ref(sizes[i][0], sizes[i][1], sizes[i][2]);
    }
}
END_TEST

/* Two batch sizes through one Dct2d (two plans), and the inverse undoing the forward. */
START_TEST(dct_device_round_trip) {
    tu_init();
    Dct2d d;
    dct2d_init(&d, 28, 28);
    for (int B = 1; B <= 6; B += 5) {
        size_t n = (size_t)B * 784;
        float *x = tu_new_rand(n, 50 + B);
        double *xd = tu_to_double(x, n);
        cl_mem X = tu_upload(x, n), F = tu_poisoned(n), R = tu_poisoned(n);
        dct2d(&d, 0, F, X, B);
        dct2d(&d, 1, R, F, B);
        float *r = tu_download(R, 0, n);
        tu_check_close("IDCT(DCT(x))", r, xd, n, 0, 5e-6);
        free(x); free(xd); free(r);
        dev_free(X); dev_free(F); dev_free(R);
    }
    ck_assert_int_eq(d.nplans, 2);   /* length 28 serves both passes; one plan per batch size */
    dct2d_free(&d);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dct");
    TCase *tc = tcase_create("dct");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, dct_ref_matches_definition);
    tcase_add_test(tc, dct_device_matches_ref);
    tcase_add_test(tc, dct_device_round_trip);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
