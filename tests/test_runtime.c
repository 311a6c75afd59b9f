/* Device listing, the binary program cache (hit on the second build, recovery from
 * a damaged cache file), named OpenCL errors, the devices command, and the host-side
 * stores and deferred releases of CLMTT_OCLGRIND=1. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(lists_devices) {
    DeviceInfo d[16];
    int n = rt_list_devices(d, 16);
    ck_assert_int_gt(n, 0);
    int def = rt_default_device(d, n);
    ck_assert_int_ge(def, 0);
    ck_assert(strlen(d[def].name) > 0);
    ck_assert(d[def].global_mem > 0);
    ck_assert(d[def].max_wg > 0);
}
END_TEST

START_TEST(error_names) {
    ck_assert_str_eq(cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(cl_error_name(CL_INVALID_KERNEL_NAME), "CL_INVALID_KERNEL_NAME");
}
END_TEST

static cl_program build_probe(const char *tag) {
    char src[256];
    snprintf(src, sizeof src, "__kernel void probe(__global float *x) { x[get_global_id(0)] = %s; }\n", tag);
    const char *srcs[1] = {src};
    return rt_build_program(1, srcs, "");
}

START_TEST(program_cache) {
    char *dir = tu_tempdir("cache");
    setenv("XDG_CACHE_HOME", dir, 1);
    tu_init();
    char tag[64];
    snprintf(tag, sizeof tag, "%d.0f", (int)getpid());
    cl_program p1 = build_probe(tag);
    ck_assert_int_eq(rt_last_build_from_cache, 0);
    clReleaseProgram(p1);
    cl_program p2 = build_probe(tag);
    ck_assert_int_eq(rt_last_build_from_cache, 1);
    /* The cached program runs. */
    cl_int err;
    cl_kernel k = clCreateKernel(p2, "probe", &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_mem x = tu_poisoned(4);
    clSetKernelArg(k, 0, sizeof x, &x);
    size_t g = 4;
    CL_CHECK(clEnqueueNDRangeKernel(RT.queue, k, 1, NULL, &g, NULL, 0, NULL, NULL));
    float *v = tu_download(x, 0, 4);
    ck_assert_float_eq(v[3], (float)getpid());
    free(v);
    clReleaseKernel(k);
    clReleaseProgram(p2);
    dev_free(x);
    /* Damage every cache file: the next build must notice and rebuild. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "for f in %s/clmtt/*.bin; do printf 'garbage' | dd of=$f bs=1 seek=30 conv=notrunc status=none; done", dir);
    ck_assert_int_eq(system(cmd), 0);
    cl_program p3 = build_probe(tag);
    ck_assert_int_eq(rt_last_build_from_cache, 0);
    clReleaseProgram(p3);
    /* ... and the rebuilt entry is good again. */
    cl_program p4 = build_probe(tag);
    ck_assert_int_eq(rt_last_build_from_cache, 1);
    clReleaseProgram(p4);
    /* A truncated file is rejected as well. */
    snprintf(cmd, sizeof cmd, "for f in %s/clmtt/*.bin; do truncate -s 20 $f; done", dir);
    ck_assert_int_eq(system(cmd), 0);
    cl_program p5 = build_probe(tag);
    ck_assert_int_eq(rt_last_build_from_cache, 0);
    clReleaseProgram(p5);
    unsetenv("XDG_CACHE_HOME");
    tu_rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(devices_command) {
    char *logs = tu_tempdir("runtime");
    TuRun r = tu_clmtt(logs, "devices");
    TU_EXPECT_OK(r);
    int found_star = r.out[0] == '*' || tu_has(r.out, "\n*");   /* a line "* <index>: <name>" */
    ck_assert_msg(found_star && tu_has(r.out, "global memory:"), "no default device with its memory:\n%s", r.out);
    tu_run_free(&r);
    setenv("CLMTT_DEVICE", "99", 1);
    r = tu_clmtt(logs, "devices");
    unsetenv("CLMTT_DEVICE");
    TU_EXPECT_OK(r);   /* listing ignores the choice */
    tu_run_free(&r);
    r = tu_clmtt(logs, "devices --bogus");
    TU_EXPECT_FAIL_WITH(r, "unknown flag '--bogus'");
    tu_run_free(&r);
    r = tu_clmtt(logs, "nosuchcommand");
    ck_assert_msg(r.status != 0, "%s: an unknown command exited 0", r.log);
    tu_run_free(&r);
    tu_rm_tree(logs);
    free(logs);
}
END_TEST

static void open_and_close(void *arg) {
    (void)arg;
    rt_close(rt_open(-1));
}

/* Host-side stores into a buffer of 10 floats (partial write, partial fill, copy from
 * another buffer, scratch upload) on the current runtime; returns the buffer's contents
 * and the scratch's first 5 floats (malloc'd, 15 floats). */
static float *store_sequence(void) {
    const float a[4] = {1, 2, 3, 4}, b[6] = {10, 11, 12, 13, 14, 15}, up[5] = {-1, -2, -3, -4, -5};
    cl_mem m = dev_alloc(10 * sizeof(float), "test buffer"), m2 = dev_alloc(6 * sizeof(float), "test source");
    float *out = xmalloc(15 * sizeof(float));
    dev_read_f32(m, 0, 10, out);
    for (int i = 0; i < 10; i++) ck_assert_msg(out[i] == 0.0f, "a new buffer holds %g at %d, want 0", out[i], i);
    dev_write_f32(m, 3, 4, a);
    dev_fill(m, 1, 2, 7.5f);
    dev_write_f32(m2, 0, 6, b);
    dev_copy(m, 7, m2, 2, 3);
    dev_read_f32(m, 0, 10, out);
    rt_scratch(RT_SCRATCH_REDUCE, 9);
    cl_mem s = rt_scratch_upload(RT_SCRATCH_REDUCE, up, 5);
    dev_read_f32(s, 0, 5, out + 10);
    size_t before = dev_mem_current();
    dev_free(m);
    dev_free(m2);
    ck_assert_uint_eq(before - dev_mem_current(), 16 * sizeof(float));
    return out;
}

/* Under CLMTT_OCLGRIND=1 every host-side store gives what the plain OpenCL calls give,
 * released buffers wait for the runtime's close, and a bad value is named. */
START_TEST(oclgrind_switch) {
    tu_init();
    const float want[15] = {0, 7.5f, 7.5f, 1, 2, 3, 4, 12, 13, 14, -1, -2, -3, -4, -5};
    float *plain = store_sequence();
    ck_assert_int_eq((int)RT.nkept, 0);
    setenv("CLMTT_OCLGRIND", "1", 1);
    Runtime *r = rt_open(-1);
    unsetenv("CLMTT_OCLGRIND");
    Runtime *prev = rt_use(r);
    ck_assert(RT.oclgrind);
    float *og = store_sequence();
    ck_assert_int_eq((int)RT.nkept, 2);   /* the scratch is the runtime's own */
    rt_use(prev);
    rt_close(r);
    for (int i = 0; i < 15; i++) {
        ck_assert_msg(plain[i] == want[i], "plain stores: element %d is %g, want %g", i, plain[i], want[i]);
        ck_assert_msg(og[i] == want[i], "CLMTT_OCLGRIND stores: element %d is %g, want %g", i, og[i], want[i]);
    }
    free(plain);
    free(og);
    char err[512];
    setenv("CLMTT_OCLGRIND", "yes", 1);
    int st = tu_in_child(open_and_close, NULL, err, sizeof err);
    unsetenv("CLMTT_OCLGRIND");
    ck_assert_msg(st != 0, "CLMTT_OCLGRIND=yes was accepted");
    TU_ASSERT_HAS(err, "CLMTT_OCLGRIND must be 0 or 1, got 'yes'");
}
END_TEST

int main(void) {
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, lists_devices);
    tcase_add_test(tc, error_names);
    tcase_add_test(tc, program_cache);
    tcase_add_test(tc, devices_command);
    tcase_add_test(tc, oclgrind_switch);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
