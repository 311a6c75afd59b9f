/* Device listing, the binary program cache (hit on the second build, recovery from
 * a damaged cache file), named OpenCL errors, the counts of host calls, the devices command,
 * and the host-side stores and deferred releases of CLMTT_OCLGRIND=1. */
#include "core/dist.h"
#include "testutil.h"
#include "layers/act.h"
#include "net/net.h"
#include "net/registry.h"

#include <cjson/cJSON.h>

#include <math.h>
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

/* The reader behind the numeric CLMTT_* variables: whole decimal numbers in range, nothing else. */
START_TEST(env_count_rules) {
    unsigned long long v = 77;
    unsetenv("CLMTT_TEST_COUNT");
    ck_assert_int_eq(env_count("CLMTT_TEST_COUNT", 0, 100, &v), 0);
    setenv("CLMTT_TEST_COUNT", "", 1);
    ck_assert_int_eq(env_count("CLMTT_TEST_COUNT", 0, 100, &v), 0);
    ck_assert_uint_eq(v, 77);
    const char *good[] = {"0", "7", "100", "007"};
    const unsigned long long want[] = {0, 7, 100, 7};
    for (int i = 0; i < 4; i++) {
        setenv("CLMTT_TEST_COUNT", good[i], 1);
        ck_assert_int_eq(env_count("CLMTT_TEST_COUNT", 0, 100, &v), 1);
        ck_assert_uint_eq(v, want[i]);
    }
    const char *bad[] = {"-1", "+3", " 3", "3 ", "3.5", "1e3", "0x10", "101", "abc", "99999999999999999999999"};
    for (int i = 0; i < 10; i++) {
        v = 77;
        setenv("CLMTT_TEST_COUNT", bad[i], 1);
        ck_assert_msg(env_count("CLMTT_TEST_COUNT", 0, 100, &v) == -1, "'%s' was accepted", bad[i]);
        ck_assert_uint_eq(v, 77);
    }
    setenv("CLMTT_TEST_COUNT", "4", 1);
    ck_assert_int_eq(env_count("CLMTT_TEST_COUNT", 5, 100, &v), -1);   /* below the minimum */
    unsetenv("CLMTT_TEST_COUNT");
}
END_TEST

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

/* Fails naming the first field of `got` that differs from `want`. */
static void check_counts(const char *what, RtCounts got, RtCounts want) {
    ck_assert_msg(got.launches == want.launches && got.blas_calls == want.blas_calls &&
                      got.other_enqueues == want.other_enqueues && got.blocking_reads == want.blocking_reads &&
                      got.blocking_writes == want.blocking_writes && got.waits == want.waits &&
                      got.im2col_saved == want.im2col_saved && got.gemm_flops == want.gemm_flops,
                  "%s: counted launches %ld blas %ld other %ld reads %ld writes %ld waits %ld flops %g, "
                  "want %ld %ld %ld %ld %ld %ld %g",
                  what, got.launches, got.blas_calls, got.other_enqueues, got.blocking_reads, got.blocking_writes,
                  got.waits, got.gemm_flops, want.launches, want.blas_calls, want.other_enqueues, want.blocking_reads,
                  want.blocking_writes, want.waits, want.gemm_flops);
}

/* Each kind of call moves its own count by exactly one; calls with nothing to do move none. */
START_TEST(counts_calls) {
    tu_init();
    enum { M = 3, N = 4, K = 5 };
    float *ha = tu_new_rand(M * K, 1), *hb = tu_new_rand(K * N, 2), *hx = tu_new_rand(16, 3);
    cl_mem a = tu_upload(ha, M * K), b = tu_upload(hb, K * N), c = tu_poisoned(M * N);
    cl_mem x = tu_upload(hx, 16), y = tu_poisoned(16);
    rt_kernel("act_fwd");   /* the program's build is not a call to count */
    rt_finish();

    RtCounts c0 = rt_counts();
    LAUNCH("act_fwd", 16, KM(y), KM(x), KL(16), KI(ACT_RELU));
    LAUNCH("act_fwd", 0, KM(y), KM(x), KL(0), KI(ACT_RELU));   /* empty: not enqueued */
    gemm(0, 0, M, N, K, 1.0f, dptr(a, 0), K, dptr(b, 0), N, 0.0f, dptr(c, 0), N);
    gemm(0, 0, 0, N, K, 1.0f, dptr(a, 0), K, dptr(b, 0), N, 0.0f, dptr(c, 0), N);   /* empty */
    float out[16], cm[M * N];
    dev_read_f32(y, 0, 16, out);
    dev_read_f32(y, 0, 0, out);   /* empty */
    check_counts("launch, GEMM, read", rt_counts_sub(rt_counts(), c0), (RtCounts){1, 1, 0, 1, 0, 0, 0, 2.0 * M * N * K, 0});
    for (int i = 0; i < 16; i++) ck_assert_float_eq(out[i], hx[i] > 0 ? hx[i] : 0.0f);

    c0 = rt_counts();
    dev_write_f32(x, 0, 16, hx);
    dev_fill(y, 0, 16, 0.0f);
    dev_copy(y, 0, x, 0, 16);
    axpy(16, 2.0f, dptr(x, 0), dptr(y, 0));
    scal(16, 0.5f, dptr(y, 0));
    rt_finish();
    RtCounts d = rt_counts_sub(rt_counts(), c0);
    check_counts("write, fill, copy, axpy, scal, finish", d, (RtCounts){0, 2, 2, 0, 1, 1, 0, 0, 0});
    ck_assert_int_eq(rt_counts_blocking(&d), 2);

    /* A reduction is one launch and one blocking read of its partial sums (once its scratch
     * buffer exists: the first one allocates it, which is one fill). */
    c0 = rt_counts();
    dev_sum(1, dptr(x, 0));
    check_counts("first reduction", rt_counts_sub(rt_counts(), c0), (RtCounts){1, 0, 1, 1, 0, 0, 0, 0, 0});
    c0 = rt_counts();
    double dot = dev_dot(16, dptr(x, 0), dptr(y, 0));
    dev_read_f32(c, 0, M * N, cm);
    check_counts("dot, read", rt_counts_sub(rt_counts(), c0), (RtCounts){1, 0, 0, 2, 0, 0, 0, 0, 0});
    double want = 0;
    for (int i = 0; i < 16; i++) want += 1.5 * (double)hx[i] * hx[i];
    ck_assert_double_eq_tol(dot, want, 1e-4 * (1 + fabs(want)));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)ha[i * K + k] * hb[k * N + j];
            ck_assert_double_eq_tol(cm[i * N + j], s, 1e-5);
        }
    dev_free(a); dev_free(b); dev_free(c); dev_free(x); dev_free(y);
    free(ha); free(hb); free(hx);
}
END_TEST

/* The BENCH_JSON record of one clmtt bench run (cJSON; NULL when there is none). */
static cJSON *bench_record(const char *out) {
    const char *p = strstr(out, "BENCH_JSON ");
    return p ? cJSON_Parse(p + strlen("BENCH_JSON ")) : NULL;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "BENCH_JSON has no number '%s'", key);
    return v->valuedouble;
}

/* clmtt bench --what=gemm: one record per product of every linear layer (forward, backward
 * data, backward weights) at ipc 1, 10 and 50, with the batch as the forward's rows, a
 * positive rate, and a summary with the best rate and the peak estimate. */
START_TEST(bench_gemm_shapes) {
    char *logs = tu_tempdir("bench_gemm");
    TuRun r = tu_clmtt(logs, "bench --what=gemm --dataset=MNIST --model=MLP --seed=1");
    TU_EXPECT_OK(r);
    ck_assert_msg(tu_has(r.out, "device peak measured:") && tu_has(r.out, "best measured:"), "no summary in:\n%s", r.out);
    int records = 0, forwards = 0, summaries = 0;
    double best = 0;
    for (const char *p = strstr(r.out, "BENCH_JSON "); p; p = strstr(p + 1, "BENCH_JSON ")) {
        cJSON *o = cJSON_Parse(p + strlen("BENCH_JSON "));
        ck_assert_ptr_nonnull(o);
        const cJSON *what = cJSON_GetObjectItemCaseSensitive(o, "what");
        ck_assert(cJSON_IsString(what));
        if (strcmp(what->valuestring, "gemm") == 0) {
            records++;
            ck_assert(num(o, "gflops") > 0 && num(o, "seconds") > 0);
            ck_assert(num(o, "batch") == 10 * num(o, "ipc"));
            const cJSON *pass = cJSON_GetObjectItemCaseSensitive(o, "pass");
            if (strcmp(pass->valuestring, "forward") == 0) {
                forwards++;
                ck_assert(num(o, "m") == num(o, "batch"));
            }
            if (num(o, "gflops") > best) best = num(o, "gflops");
        } else {
            ck_assert_str_eq(what->valuestring, "gemm_summary");
            summaries++;
            ck_assert(num(o, "device_peak_gflops") > 0);
            ck_assert_double_eq(num(o, "best_gflops"), best);
        }
        cJSON_Delete(o);
    }
    Net net;
    net_build(&net, "MLP", 1, 28, 28, 10);
    int linear = 0;
    for (int i = 0; i < net.nlayers; i++) linear += net.layers[i].kind == LAYER_LINEAR;
    ck_assert_int_eq(records, 3 * 3 * linear);
    ck_assert_int_eq(forwards, 3 * linear);
    ck_assert_int_eq(summaries, 1);
    tu_run_free(&r);
    tu_rm_tree(logs);
    free(logs);
}
END_TEST

/* clmtt bench --what distill reports its counts: the sweeps' steps fit inside the iteration,
 * every step launches kernels, and the same seed gives the same counts. */
START_TEST(bench_reports_counts) {
    tu_init();   /* for rt_cpu_family: the kernel family clmtt picks on this device */
    char *logs = tu_tempdir("bench");
    const char *cmd = "bench --what=distill --dataset=FashionMNIST --model=ConvNetW32 --ipc=1 --syn_steps=3 "
                      "--iterations=2 --seed=4";
    setenv("CLMTT_CONV_COLS_FLOATS", "100000000", 1);   /* kept columns on, in either family */
    TuRun r1 = tu_clmtt(logs, "%s", cmd), r2 = tu_clmtt(logs, "%s", cmd);
    unsetenv("CLMTT_CONV_COLS_FLOATS");
    TU_EXPECT_OK(r1);
    TU_EXPECT_OK(r2);
    ck_assert_msg(tu_has(r1.out, "forward sweep, per student step:") && tu_has(r1.out, "reverse sweep, per student step:"),
                  "no per-step counts in:\n%s", r1.out);
    cJSON *a = bench_record(r1.out), *b = bench_record(r2.out);
    ck_assert_msg(a && b, "no BENCH_JSON record");
    static const char *const kinds[] = {"launches", "blas_calls", "other_enqueues", "blocking_reads",
                                        "blocking_writes", "waits", "blocking"};
    for (int i = 0; i < 7; i++) {
        char it[64], fw[64], rv[64];
        snprintf(it, sizeof it, "iteration_%s", kinds[i]);
        snprintf(fw, sizeof fw, "forward_step_%s", kinds[i]);
        snprintf(rv, sizeof rv, "reverse_step_%s", kinds[i]);
        ck_assert_msg(num(a, it) >= 3 * (num(a, fw) + num(a, rv)), "%s %g < 3 x (%g + %g)", it, num(a, it), num(a, fw),
                      num(a, rv));
        ck_assert_msg(num(a, it) == num(b, it) && num(a, fw) == num(b, fw) && num(a, rv) == num(b, rv),
                      "%s differs between two runs of the same seed", kinds[i]);
    }
    ck_assert(num(a, "forward_step_launches") > 0 && num(a, "reverse_step_launches") > num(a, "forward_step_launches"));
    /* CLBlast: every product of the convolutions on the GPU family; on the CPU family the
     * products run cl/conv.cl's kernels and the vector updates clmtt's own. */
    if (!rt_cpu_family())
        ck_assert(num(a, "iteration_blas_calls") > 0 && num(a, "forward_step_blas_calls") > 0 &&
                  num(a, "reverse_step_blas_calls") > 0);
    ck_assert(num(a, "iteration_blocking_reads") > 0);
    /* The matrix products' arithmetic: the same in both runs, split over the sweeps' steps,
     * and set against a measured peak. */
    ck_assert(num(a, "iteration_gemm_gflop") > 0 && num(a, "iteration_gemm_gflop") == num(b, "iteration_gemm_gflop"));
    ck_assert(num(a, "reverse_step_gemm_gflop") > num(a, "forward_step_gemm_gflop") &&
              num(a, "forward_step_gemm_gflop") > 0);
    ck_assert(num(a, "device_peak_gflops") > 0 && num(a, "iteration_gflops_rate") > 0);
    ck_assert_msg(tu_has(r1.out, "matrix products:"), "no matrix-product line in:\n%s", r1.out);
    /* A step's later passes read the im2col columns its first passes built: the forward
     * sweep's backward pass, and the reverse step's tangent, R-backward and backward. */
    ck_assert(num(a, "forward_step_im2col_saved") > 0 &&
              num(a, "reverse_step_im2col_saved") > num(a, "forward_step_im2col_saved"));
    ck_assert(num(a, "iteration_im2col_saved") == num(b, "iteration_im2col_saved"));
    ck_assert(num(a, "iteration_blocking") == num(a, "iteration_blocking_reads") + num(a, "iteration_blocking_writes") +
                                                   num(a, "iteration_waits"));
    /* A CPU device's buffers live in the process's memory, so its peak RSS holds them. */
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(a, "device_type");
    ck_assert(cJSON_IsString(type));
    if (strcmp(type->valuestring, "CPU") == 0)
        ck_assert_msg(num(a, "host_peak_rss_bytes") >= num(a, "peak_device_bytes"), "peak RSS %g below the device peak %g",
                      num(a, "host_peak_rss_bytes"), num(a, "peak_device_bytes"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    tu_run_free(&r1);
    tu_run_free(&r2);
    tu_rm_tree(logs);
    free(logs);
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
    tcase_add_test(tc, env_count_rules);
    tcase_add_test(tc, program_cache);
    tcase_add_test(tc, counts_calls);
    tcase_add_test(tc, bench_reports_counts);
    tcase_add_test(tc, bench_gemm_shapes);
    tcase_add_test(tc, devices_command);
    tcase_add_test(tc, device_lists);
    tcase_add_test(tc, substreams);
    tcase_add_test(tc, oclgrind_switch);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
