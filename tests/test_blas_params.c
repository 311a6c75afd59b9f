/* CLMTT_CLBLAST_PARAMS: a CLBlast tuner's JSON file read and applied (the products stay
 * correct with the tuned kernel), and every kind of bad file refused with a message that
 * names the file. */
#include "testutil.h"
#include "core/blas_params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shape of clblast_tuner_xgemm's output (CLBlast 1.5), shortened to the winner; the
 * configuration is a valid one for any OpenCL 1.2 device (tiles 32 x 32, 8 x 8 threads). */
static const char *GOOD_XGEMM =
    "{\n"
    "  \"kernel_family\": \"xgemm_1\",\n"
    "  \"precision\": \"32\",\n"
    "  \"best_kernel\": \"Xgemm\",\n"
    "  \"best_time\": \"1.23\",\n"
    "  \"best_parameters\": \"GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=8 MDIMC=8 MWG=32 NDIMB=8 NDIMC=8 NWG=32 "
    "PRECISION=32 SA=0 SB=0 STRM=0 STRN=0 VWM=2 VWN=2\",\n"
    "  \"arg_m\": \"1024\",\n"
    "  \"device\": \"%s\",\n"
    "  \"results\": [\n"
    "    {\"kernel\": \"Xgemm\", \"time\": 1.230, \"parameters\": {\"KWG\": 16}}\n"
    "  ]\n"
    "}\n";

static char *write_text(const char *dir, const char *name, const char *text) {
    char *p = tu_path(dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

START_TEST(good_file_read_and_applied) {
    tu_init();
    char *dir = tu_tempdir("blas_params"), text[2048];
    snprintf(text, sizeof text, GOOD_XGEMM, RT.dev.name);
    char *path = write_text(dir, "clblast_xgemm_1_32.json", text);
    BlasParams p;
    blas_params_read(path, &p);
    ck_assert_str_eq(p.kernel, "Xgemm");
    ck_assert_int_eq(p.precision, 32);
    ck_assert_int_eq(p.count, 16);   /* PRECISION is not a kernel parameter */
    for (int i = 0; i < p.count; i++) ck_assert_str_ne(p.names[i], "PRECISION");
    ck_assert_str_eq(p.names[2], "KWG");
    ck_assert_uint_eq(p.values[2], 16);
    blas_params_apply(&p, RT.dev.device, RT.dev.name, path);

    /* A product big enough for the indirect kernel (the one the file tunes), then checked. */
    int m = 300, n = 260, k = 520;
    float *a = xmalloc((size_t)m * k * 4), *b = xmalloc((size_t)k * n * 4);
    tu_rand(a, (size_t)m * k, 1, -1, 1);
    tu_rand(b, (size_t)k * n, 2, -1, 1);
    cl_mem A = tu_upload(a, (size_t)m * k), B = tu_upload(b, (size_t)k * n), C = tu_poisoned((size_t)m * n);
    gemm(0, 0, m, n, k, 1.0f, dptr(A, 0), k, dptr(B, 0), n, 0.0f, dptr(C, 0), n);
    float *got = tu_download(C, 0, (size_t)m * n);
    double *want = xmalloc((size_t)m * n * 8);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int q = 0; q < k; q++) s += (double)a[i * k + q] * b[q * n + j];
            want[i * n + j] = s;
        }
    tu_check_close("gemm with tuned parameters", got, want, (size_t)m * n, 1e-4, 1e-4);
    free(a); free(b); free(got); free(want);
    dev_free(A); dev_free(B); dev_free(C);
    free(path);
    tu_rm_tree(dir);
    free(dir);
}
END_TEST

static void read_only(void *path) {
    BlasParams p;
    blas_params_read(path, &p);
}

/* Each bad file dies with a message holding the file's path and `why`. */
static void expect_refused(const char *dir, const char *name, const char *text, const char *why) {
    char *path = text ? write_text(dir, name, text) : tu_path(dir, name);
    char err[2048];
    int st = tu_in_child(read_only, path, err, sizeof err);
    ck_assert_msg(st >= 1 && st < 128, "%s: exit status %d, expected an error exit", name, st);
    TU_ASSERT_HAS(err, path);
    TU_ASSERT_HAS(err, why);
    free(path);
}

START_TEST(bad_files_refused) {
    char *dir = tu_tempdir("blas_params_bad");
    expect_refused(dir, "missing.json", NULL, "cannot open");
    expect_refused(dir, "empty.json", "", "empty");
    expect_refused(dir, "notjson.json", "KWG=16 MWG=32\n", "not a JSON object");
    expect_refused(dir, "nobest.json", "{\"precision\": \"32\", \"best_kernel\": \"Xgemm\"}", "\"best_parameters\"");
    expect_refused(dir, "nokernel.json", "{\"precision\": \"32\", \"best_parameters\": \"KWG=16\"}", "\"best_kernel\"");
    expect_refused(dir, "badprec.json",
                   "{\"precision\": \"3232\", \"best_kernel\": \"Xgemm\", \"best_parameters\": \"KWG=16\"}", "\"precision\"");
    expect_refused(dir, "numprec.json", "{\"precision\": 32, \"best_kernel\": \"Xgemm\", \"best_parameters\": \"KWG=16\"}",
                   "must be a string");
    expect_refused(dir, "badpair.json",
                   "{\"precision\": \"32\", \"best_kernel\": \"Xgemm\", \"best_parameters\": \"KWG=16 MWG\"}", "NAME=VALUE");
    expect_refused(dir, "badvalue.json",
                   "{\"precision\": \"32\", \"best_kernel\": \"Xgemm\", \"best_parameters\": \"KWG=1x6\"}", "non-negative integer");
    expect_refused(dir, "onlyprec.json",
                   "{\"precision\": \"32\", \"best_kernel\": \"Xgemm\", \"best_parameters\": \"PRECISION=32\"}", "no kernel parameters");
    tu_rm_tree(dir);
    free(dir);
}
END_TEST

/* Through clmtt: a file CLBlast refuses (a parameter missing, an unknown kernel) stops the
 * command when the runtime opens, naming the file. */
START_TEST(refused_by_clblast_through_env) {
    char *dir = tu_tempdir("blas_params_env");
    char *missing = write_text(dir, "missing_kwg.json",
                               "{\"precision\": \"32\", \"best_kernel\": \"Xgemm\", \"best_parameters\": "
                               "\"GEMMK=0 KREG=1 KWI=2 MDIMA=8 MDIMC=8 MWG=32 NDIMB=8 NDIMC=8 NWG=32 SA=0 SB=0 STRM=0 STRN=0 VWM=2 VWN=2\"}");
    char *unknown = write_text(dir, "unknown.json",
                               "{\"precision\": \"32\", \"best_kernel\": \"NoSuchKernel\", \"best_parameters\": \"KWG=16\"}");
    TuRun r = tu_shell(dir, "CLMTT_CLBLAST_PARAMS=%s %s bench --what=gemm --dataset=MNIST", missing, tu_clmtt_bin());
    TU_EXPECT_FAIL_WITH(r, missing);
    TU_EXPECT_FAIL_WITH(r, "CLBlastMissingOverrideParameter");
    tu_run_free(&r);
    r = tu_shell(dir, "CLMTT_CLBLAST_PARAMS=%s %s bench --what=gemm --dataset=MNIST", unknown, tu_clmtt_bin());
    TU_EXPECT_FAIL_WITH(r, unknown);
    TU_EXPECT_FAIL_WITH(r, "kernel NoSuchKernel");
    TU_EXPECT_FAIL_WITH(r, "CLBlast has no kernel of that name");
    tu_run_free(&r);
    r = tu_shell(dir, "CLMTT_CLBLAST_PARAMS=%s/absent.json %s bench --what=gemm --dataset=MNIST", dir, tu_clmtt_bin());
    TU_EXPECT_FAIL_WITH(r, "absent.json: cannot open the CLBlast parameters file");
    tu_run_free(&r);
    free(missing); free(unknown);
    tu_rm_tree(dir);
    free(dir);
}
END_TEST

/* A file clblast_tuner_xgemm wrote (tests/fixtures/clblast): read as the tuner meant it. */
START_TEST(tuner_output_read_and_applied) {
    tu_init();
    char *src = xstrdup(__FILE__), *cut = strstr(src, "/tests/test_blas_params.c");
    if (cut) *cut = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/clblast/clblast_xgemm_2_32.json", src);
    free(src);
    BlasParams p;
    blas_params_read(path, &p);
    ck_assert_str_eq(p.kernel, "Xgemm");
    ck_assert_int_eq(p.precision, 32);
    ck_assert_int_eq(p.count, 16);
    const char *want[] = {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB", "NDIMC", "NWG",
                          "SA", "SB", "STRM", "STRN", "VWM", "VWN"};
    for (int i = 0; i < 16; i++) ck_assert_str_eq(p.names[i], want[i]);
    ck_assert_str_eq(p.device, "pthread-skylake-avx512-Intel(R) Xeon(R) Processor");
    blas_params_apply(&p, RT.dev.device, RT.dev.name, path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("blas_params");
    TCase *tc = tcase_create("blas_params");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, bad_files_refused);
    tcase_add_test(tc, refused_by_clblast_through_env);
    tcase_add_test(tc, good_file_read_and_applied);
    tcase_add_test(tc, tuner_output_read_and_applied);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
