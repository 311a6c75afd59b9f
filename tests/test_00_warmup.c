/* Runs first: builds the kernel program and CLBlast's GEMM kernels once, so the
 * later tests find them in clmtt's and PoCL's caches. */
#include "testutil.h"

START_TEST(warm_program_and_gemm) {
    tu_init();
    ck_assert_ptr_nonnull(rt_kernel("reduce_partials"));
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
    cl_mem A = tu_upload(a, 6), B = tu_upload(b, 6), C = tu_poisoned(4);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            gemm(ta, tb, 2, 2, 3, 1.0f, dptr(A, 0), ta ? 2 : 3, dptr(B, 0), tb ? 3 : 2, 0.0f, dptr(C, 0), 2);
    gemm(0, 0, 2, 2, 3, 1.0f, dptr(A, 0), 3, dptr(B, 0), 2, 0.0f, dptr(C, 0), 2);
    float *c = tu_download(C, 0, 4);
    double want[4] = {1 + 3, 2 + 3, 4 + 6, 5 + 6};
    tu_check_close("2x3 * 3x2", c, want, 4, 1e-6, 0);
    free(c);
    dev_free(A); dev_free(B); dev_free(C);
}
END_TEST

int main(void) {
    Suite *s = suite_create("warmup");
    TCase *tc = tcase_create("warmup");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, warm_program_and_gemm);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
