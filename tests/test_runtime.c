/* Device listing, the binary program cache (hit on the second build, recovery from
 * a damaged cache file), named OpenCL errors, and the devices command. */
#include "core/dist.h"
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

/* --device lists: one process is node-local rank 0 and takes the first entry; bad lists
 * are refused (-1), and the command names the flag and the text. */
START_TEST(device_lists) {
    ck_assert_int_eq(dist_local_rank(), 0);
    ck_assert_int_eq(rt_pick_device("0"), 0);
    ck_assert_int_eq(rt_pick_device("3"), 3);
    ck_assert_int_eq(rt_pick_device("1,0"), 1);
    ck_assert_int_eq(rt_pick_device("2,0,1"), 2);
    const char *bad[] = {"", ",", "0,", ",0", "a", "0,a", "-1", "0,,1", "1 ", "0;1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(rt_pick_device(bad[i]) == -1, "'%s' was taken as a device list", bad[i]);
    char *logs = tu_tempdir("runtime");
    TuRun r = tu_clmtt(logs, "bench --what train --dataset MNIST --model ConvNetW32 --batch_train 4 "
                       "--train_batches 1 --device 0,x");
    TU_EXPECT_FAIL_WITH(r, "--device expects a device index or a list like 0,1");
    TU_ASSERT_HAS(r.err, "'0,x'");
    ck_assert_msg(!tu_has(r.err, "rank"), "a plain run speaks of ranks: %s", r.err);
    tu_run_free(&r);
    setenv("CLMTT_DEVICE", "0,x", 1);
    r = tu_clmtt(logs, "bench --what train --dataset MNIST --model ConvNetW32 --batch_train 4 --train_batches 1");
    unsetenv("CLMTT_DEVICE");
    TU_EXPECT_FAIL_WITH(r, "CLMTT_DEVICE='0,x' is not a device index or a list");
    tu_run_free(&r);
    /* A list of one process's entries: the first is used, and the run works. */
    r = tu_clmtt(logs, "bench --what train --dataset MNIST --model ConvNetW32 --batch_train 4 --train_batches 1 "
                 "--device 0,5");
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    tu_rm_tree(logs);
    free(logs);
}
END_TEST

/* Sub-streams depend on both ids and differ from each other and from the plain streams. */
START_TEST(substreams) {
    ck_assert(rng_substream(4, 0) == rng_substream(4, 0));
    uint64_t seen[64];
    int n = 0;
    for (uint64_t s = 0; s < 4; s++)
        for (uint64_t i = 0; i < 16; i++) {
            uint64_t v = rng_substream(s, i);
            ck_assert_msg(v > 16, "sub-stream (%llu, %llu) is %llu, one of the small plain stream ids",
                          (unsigned long long)s, (unsigned long long)i, (unsigned long long)v);
            for (int k = 0; k < n; k++) ck_assert_msg(seen[k] != v, "two sub-streams share an id");
            seen[n++] = v;
        }
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

int main(void) {
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, lists_devices);
    tcase_add_test(tc, error_names);
    tcase_add_test(tc, program_cache);
    tcase_add_test(tc, devices_command);
    tcase_add_test(tc, device_lists);
    tcase_add_test(tc, substreams);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
