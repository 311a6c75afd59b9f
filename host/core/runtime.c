/* OpenCL runtime: device choice, checked calls, program build and binary cache. */
#include "core/runtime.h"
#include "core/blas_params.h"
#include "core/tensor.h"

#include <clblast_c.h>
#include "core/util.h"
#include "core/dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static Runtime rt_default;
Runtime *rt_current = &rt_default;
int rt_last_build_from_cache = 0;

extern const int clmtt_kernel_count;
extern const char *const clmtt_kernel_names[];
extern const char *const clmtt_kernel_sources[];

const char *cl_error_name(cl_int e) {
    switch (e) {
#define E(x) case x: return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH)
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E(CL_COMPILE_PROGRAM_FAILURE) E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE)
    E(CL_DEVICE_PARTITION_FAILED) E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE)
    E(CL_INVALID_CONTEXT) E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE)
    E(CL_INVALID_HOST_PTR) E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    E(CL_INVALID_IMAGE_SIZE) E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS)
    E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME)
    E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX)
    E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS)
    E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
    E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST) E(CL_INVALID_EVENT)
    E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT) E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
    E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS) E(CL_INVALID_LINKER_OPTIONS)
    E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "unknown OpenCL error";
    }
}

void cl_fail(cl_int err, const char *call, const char *file, int line) {
    int oom = err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES || err == CL_OUT_OF_HOST_MEMORY;
    die("OpenCL error %s (%d) in %s at %s:%d%s", cl_error_name(err), err, call, file, line,
        oom ? "\nclmtt: the device ran out of memory or resources; try a smaller --batch_syn/--batch_train or another "
              "--device" : "");
}

static void dev_str(cl_device_id d, cl_device_info what, char *out, size_t n) {
    out[0] = 0;
    if (clGetDeviceInfo(d, what, n, out, NULL) != CL_SUCCESS) snprintf(out, n, "?");
}

int rt_list_devices(DeviceInfo *out, int max) {
    cl_uint np = 0;
    if (clGetPlatformIDs(0, NULL, &np) != CL_SUCCESS || np == 0) return 0;
    cl_platform_id plats[16];
    if (np > 16) np = 16;
    CL_CHECK(clGetPlatformIDs(np, plats, NULL));
    int count = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
        cl_device_id devs[32];
        if (nd > 32) nd = 32;
        CL_CHECK(clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL));
        for (cl_uint d = 0; d < nd && count < max; d++) {
            DeviceInfo *di = &out[count];
            memset(di, 0, sizeof *di);
            di->index = count;
            di->platform = plats[p];
            di->device = devs[d];
            clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof di->platform_name, di->platform_name, NULL);
            dev_str(devs[d], CL_DEVICE_NAME, di->name, sizeof di->name);
            dev_str(devs[d], CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
            dev_str(devs[d], CL_DEVICE_VERSION, di->version, sizeof di->version);
            dev_str(devs[d], CL_DRIVER_VERSION, di->driver, sizeof di->driver);
            clGetDeviceInfo(devs[d], CL_DEVICE_TYPE, sizeof di->type, &di->type, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof di->compute_units, &di->compute_units, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof di->global_mem, &di->global_mem, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_LOCAL_MEM_SIZE, sizeof di->local_mem, &di->local_mem, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof di->max_alloc, &di->max_alloc, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof di->max_wg, &di->max_wg, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof di->base_align_bits, &di->base_align_bits, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof di->vec_float, &di->vec_float, NULL);
            cl_device_fp_config fp = 0;
            clGetDeviceInfo(devs[d], CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp, &fp, NULL);
            di->fp64 = fp != 0;
            cl_device_fp_config sp = 0;
            clGetDeviceInfo(devs[d], CL_DEVICE_SINGLE_FP_CONFIG, sizeof sp, &sp, NULL);
            di->fma = (sp & CL_FP_FMA) != 0;
            count++;
        }
    }
    return count;
}

int rt_default_device(const DeviceInfo *devs, int n) {
    const cl_device_type order[3] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_CPU};
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < n; i++)
            if (devs[i].type & order[o]) return i;
    return n > 0 ? 0 : -1;
}

int rt_default_device_for_rank(const DeviceInfo *devs, int n) {
    int def = rt_default_device(devs, n);
    if (def < 0 || dist_local_size() < 2) return def;
    int same[64], count = 0;
    for (int i = 0; i < n && count < 64; i++)
        if (devs[i].type == devs[def].type) same[count++] = i;
    return same[dist_local_rank() % count];
}

/* CLMTT_MAX_ALLOC_BYTES lowers the per-buffer cap below the device's
 * CL_DEVICE_MAX_MEM_ALLOC_SIZE (never raises it): the tests force chunking and dev_alloc's
 * refusal with it, and a driver that overstates its cap can be given headroom. */
static void apply_alloc_cap(void) {
    unsigned long long v;
    int got = env_count("CLMTT_MAX_ALLOC_BYTES", 1024, ULLONG_MAX, &v);
    if (got < 0)
        die("CLMTT_MAX_ALLOC_BYTES must be a whole number of bytes, at least 1024, got '%s'", getenv("CLMTT_MAX_ALLOC_BYTES"));
    if (!got) return;
    if (v < RT.dev.max_alloc) RT.dev.max_alloc = (cl_ulong)v;
}

/* Opens device `index` into the current runtime (which must be closed). */
static void open_current(int index) {
    const char *og = getenv("CLMTT_OCLGRIND");
    if (og && *og && strcmp(og, "0") != 0 && strcmp(og, "1") != 0)
        die("CLMTT_OCLGRIND must be 0 or 1, got '%s'", og);
    DeviceInfo devs[64];
    int n = rt_list_devices(devs, 64);
    if (n == 0)
        die("no OpenCL device found. Install an OpenCL driver (on Debian: pocl-opencl-icd for the CPU, "
            "or your GPU vendor's OpenCL ICD) and check 'clmtt devices'");
    if (index < 0) {
        const char *env = getenv("CLMTT_DEVICE");
        if (env && *env) {
            index = rt_pick_device(env);
            if (index < 0) die("CLMTT_DEVICE='%s' is not a device index or a list of them (see 'clmtt devices')", env);
        } else {
            index = rt_default_device_for_rank(devs, n);
        }
    }
    if (index >= n) die("--device %d: there are only %d OpenCL device(s) (see 'clmtt devices')", index, n);
    RT.dev = devs[index];
    apply_alloc_cap();
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)RT.dev.platform, 0};
    RT.ctx = clCreateContext(props, 1, &RT.dev.device, NULL, NULL, &err);
    CL_CHECK_ERR(err, "clCreateContext");
    const char *prof = getenv("CLMTT_PROFILE");
    RT.profile = prof && *prof && strcmp(prof, "0") != 0;
    RT.queue = clCreateCommandQueue(RT.ctx, RT.dev.device, RT.profile ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    CL_CHECK_ERR(err, "clCreateCommandQueue");
    RT.oclgrind = og && strcmp(og, "1") == 0;
    RT.ready = 1;
    blas_params_apply_env(RT.dev.device, RT.dev.name);   /* CLMTT_CLBLAST_PARAMS */
}

void rt_init(int index) {
    rt_current = &rt_default;
    if (RT.ready) return;
    open_current(index);
}

Runtime *rt_open(int index) {
    Runtime *prev = rt_current, *r = xcalloc(1, sizeof *r);
    rt_current = r;
    open_current(index);
    rt_current = prev;
    return r;
}

Runtime *rt_use(Runtime *r) {
    Runtime *prev = rt_current;
    rt_current = r;
    return prev;
}

void rt_finish(void) {
    RT.counts.waits++;
    CL_CHECK(clFinish(RT.queue));
}

size_t rt_align_floats(void) {
    size_t a = RT.dev.base_align_bits / 32;
    return a > 32 ? a : 32;
}

size_t rt_align_up(size_t n) {
    size_t a = rt_align_floats();
    return (n + a - 1) / a * a;
}

void rt_count_gemm(double m, double n, double k, double batch, size_t a_off, size_t b_off, size_t c_off) {
    size_t al = rt_align_floats();
    RT.counts.gemm_flops += 2.0 * m * n * k * batch;
    RT.counts.gemm_unaligned += (a_off % al || b_off % al || c_off % al) ? 1 : 0;
}

RtCounts rt_counts(void) { return RT.counts; }

RtCounts rt_counts_sub(RtCounts b, RtCounts a) {
    RtCounts d = {b.launches - a.launches, b.blas_calls - a.blas_calls, b.other_enqueues - a.other_enqueues,
                  b.blocking_reads - a.blocking_reads, b.blocking_writes - a.blocking_writes, b.waits - a.waits,
                  b.im2col_saved - a.im2col_saved, b.gemm_flops - a.gemm_flops, b.gemm_unaligned - a.gemm_unaligned};
    return d;
}

long rt_counts_blocking(const RtCounts *c) { return c->blocking_reads + c->blocking_writes + c->waits; }

void rt_keep_buffer(cl_mem m) {
    if (RT.nkept == RT.kept_cap) {
        RT.kept_cap = RT.kept_cap ? 2 * RT.kept_cap : 256;
        RT.kept = xrealloc(RT.kept, RT.kept_cap * sizeof *RT.kept);
    }
    RT.kept[RT.nkept++] = m;
}

/* ---- kernels ---------------------------------------------------------------- */


/* ---- profiling (CLMTT_PROFILE=1): device time per kernel name ---------------- */


/* Adds the device time from t0 to t1 (ns) to the profile line `name`. */
static void profile_add(const char *name, cl_ulong t0, cl_ulong t1) {
    int i = 0;
    while (i < RT.nprof && strcmp(RT.prof[i].name, name) != 0) i++;
    if (i == RT.nprof) {
        if (RT.nprof == RT_MAX_PROFILE) return;
        snprintf(RT.prof[RT.nprof++].name, sizeof RT.prof[0].name, "%s", name);
    }
    RT.prof[i].seconds += t1 > t0 ? (double)(t1 - t0) * 1e-9 : 0.0;
    RT.prof[i].calls++;
}

/* Waits for `last`, then adds the time from `from`'s `start` (START or END) to `last`'s end
 * under name, and releases both events. */
static void profile_between(const char *name, cl_event from, cl_profiling_info start, cl_event last) {
    RT.counts.waits++;
    CL_CHECK(clWaitForEvents(1, &last));
    cl_ulong t0 = 0, t1 = 0;
    clGetEventProfilingInfo(from, start, sizeof t0, &t0, NULL);
    clGetEventProfilingInfo(last, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
    if (from != last) clReleaseEvent(from);
    clReleaseEvent(last);
    profile_add(name, t0, t1);
}

void rt_profile_event(const char *name, cl_event ev) {
    if (ev) profile_between(name, ev, CL_PROFILING_COMMAND_START, ev);
}

cl_event rt_profile_marker(void) {
    if (!RT.profile) return NULL;
    cl_event ev = NULL;
    RT.counts.other_enqueues++;
    CL_CHECK(clEnqueueMarkerWithWaitList(RT.queue, 0, NULL, &ev));
    return ev;
}

void rt_profile_span(const char *name, cl_event before, cl_event after) {
    if (!before || !after) {
        if (before) clReleaseEvent(before);
        if (after) clReleaseEvent(after);
        return;
    }
    profile_between(name, before, CL_PROFILING_COMMAND_END, after);
}

static int prof_cmp(const void *a, const void *b) {
    double x = ((const RtProfile *)a)->seconds, y = ((const RtProfile *)b)->seconds;
    return x < y ? 1 : x > y ? -1 : 0;
}

void rt_profile_report(void) {
    if (!RT.profile || RT.nprof == 0) return;
    RtProfile *prof = RT.prof;
    int nprof = RT.nprof;
    qsort(prof, (size_t)nprof, sizeof prof[0], prof_cmp);
    double total = 0;
    for (int i = 0; i < nprof; i++) total += prof[i].seconds;
    fprintf(stderr, "device time by kernel (CLMTT_PROFILE) on %s, total %.3f s:\n", RT.dev.name, total);
    for (int i = 0; i < nprof; i++)
        fprintf(stderr, "  %-32s %9.3f s %5.1f%% %8ld calls\n", prof[i].name, prof[i].seconds,
                100 * prof[i].seconds / (total > 0 ? total : 1), prof[i].calls);
}

/* Releases everything the current runtime holds and clears it. */
static void close_current(void) {
    if (!RT.ready) return;
    clFinish(RT.queue);
    rt_profile_report();
    if (RT.staging_pending) clReleaseEvent(RT.staging_pending);
    free(RT.staging);
    for (int i = 0; i < RT_SCRATCH_SLOTS; i++) dev_free(RT.scratch[i].mem);
    for (int i = 0; i < RT.cols.n; i++) dev_free(RT.cols.e[i].buf);
    for (size_t i = 0; i < RT.nkept; i++) clReleaseMemObject(RT.kept[i]);
    free(RT.kept);
    /* CLBlast caches compiled programs per context for the whole process; a program of a
     * released context must not outlive it (its release at exit would touch freed memory),
     * so the cache is emptied (other runtimes' programs are rebuilt on their next use). */
    CLBlastClearCache();
    for (int i = 0; i < RT.nkernels; i++) clReleaseKernel(RT.kernels[i].k);
    if (RT.program) clReleaseProgram(RT.program);
    clReleaseCommandQueue(RT.queue);
    clReleaseContext(RT.ctx);
    memset(&RT, 0, sizeof RT);
}

void rt_shutdown(void) {
    rt_current = &rt_default;
    close_current();
}

void rt_close(Runtime *r) {
    if (!r) return;
    Runtime *prev = rt_use(r);
    close_current();
    rt_current = prev == r ? &rt_default : prev;
    if (r != &rt_default) free(r);
}

/* ---- scratch ------------------------------------------------------------------ */

static const char *const scratch_names[RT_SCRATCH_SLOTS] = {
    "reduction partial sums", "convolution columns", "convolution slice products",
    "norm per-set sums", "augmentation parameters", "augmentation means", "FFT rows", "DCT transposed planes",
    "FFT output rows", "GEMM temporary"};

cl_mem rt_scratch(RtScratchSlot slot, size_t floats) {
    if ((int)slot < 0 || slot >= RT_SCRATCH_SLOTS) die("internal: bad scratch slot %d", (int)slot);
    RtScratch *s = &RT.scratch[slot];
    if (floats > s->floats) {
        dev_free(s->mem);
        s->mem = dev_alloc(floats * sizeof(float), scratch_names[slot]);
        s->floats = floats;
    }
    return s->mem;
}

cl_mem rt_scratch_upload(RtScratchSlot slot, const float *host, size_t n) {
    cl_mem m = rt_scratch(slot, n);
    if (n == 0) return m;
    if (RT.oclgrind) {   /* a whole-buffer store (see Runtime.oclgrind) */
        dev_write_f32(m, 0, n, host);
        return m;
    }
    if (RT.staging_pending) {
        RT.counts.waits++;
        CL_CHECK(clWaitForEvents(1, &RT.staging_pending));
        CL_CHECK(clReleaseEvent(RT.staging_pending));
        RT.staging_pending = NULL;
    }
    if (n > RT.staging_floats) {
        RT.staging = xrealloc(RT.staging, n * sizeof(float));
        RT.staging_floats = n;
    }
    memcpy(RT.staging, host, n * sizeof(float));
    RT.counts.other_enqueues++;
    CL_CHECK(clEnqueueWriteBuffer(RT.queue, m, CL_FALSE, 0, n * sizeof(float), RT.staging, 0, NULL,
                                  &RT.staging_pending));
    return m;
}

const char *rt_cache_dir(void) {
    static char dir[4096];
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x) snprintf(dir, sizeof dir, "%s/clmtt", x);
    else snprintf(dir, sizeof dir, "%s/.cache/clmtt", getenv("HOME") ? getenv("HOME") : "/tmp");
    return dir;
}

#define CACHE_MAGIC "CLMTTBIN"

static void print_build_log(cl_program prog) {
    size_t len = 0;
    clGetProgramBuildInfo(prog, RT.dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
    char *log = xmalloc(len + 1);
    clGetProgramBuildInfo(prog, RT.dev.device, CL_PROGRAM_BUILD_LOG, len, log, NULL);
    log[len] = 0;
    fprintf(stderr, "clmtt: OpenCL program build failed on %s; build log:\n%s\n", RT.dev.name, log);
    free(log);
}

/* Loads a cached binary; returns NULL (and the caller rebuilds) on any doubt. */
static cl_program load_cached(const char *path, const char *options) {
    size_t n;
    unsigned char *buf = read_file(path, &n);
    if (!buf) return NULL;
    cl_program prog = NULL;
    size_t hdr = 8 + 8 + 8;
    if (n >= hdr && memcmp(buf, CACHE_MAGIC, 8) == 0) {
        uint64_t len, sum;
        memcpy(&len, buf + 8, 8);
        memcpy(&sum, buf + 16, 8);
        if (len == n - hdr && len > 0 && hash64(buf + hdr, len, 7) == sum) {
            const unsigned char *bin = buf + hdr;
            size_t blen = len;
            cl_int st, err;
            prog = clCreateProgramWithBinary(RT.ctx, 1, &RT.dev.device, &blen, &bin, &st, &err);
            if (err != CL_SUCCESS || st != CL_SUCCESS) prog = NULL;
            else if (clBuildProgram(prog, 1, &RT.dev.device, options, NULL, NULL) != CL_SUCCESS) {
                clReleaseProgram(prog);
                prog = NULL;
            }
        }
    }
    if (!prog) fprintf(stderr, "clmtt: ignoring a damaged kernel cache file %s (rebuilding it)\n", path);
    free(buf);
    return prog;
}

static void store_cached(const char *path, cl_program prog) {
    size_t blen = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof blen, &blen, NULL) != CL_SUCCESS || blen == 0) return;
    unsigned char *buf = xmalloc(24 + blen);
    unsigned char *bin = buf + 24;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) { free(buf); return; }
    uint64_t len = blen, sum = hash64(bin, blen, 7);
    memcpy(buf, CACHE_MAGIC, 8);
    memcpy(buf + 8, &len, 8);
    memcpy(buf + 16, &sum, 8);
    mkdir_p(rt_cache_dir());
    /* The cache is an optimisation: a failure to write it is not an error. */
    write_file_atomic_quiet(path, buf, 24 + blen);
    free(buf);
}

cl_program rt_build_program(int nsrc, const char *const *srcs, const char *options) {
    uint64_t h = 1469598103934665603ULL;
    h = hash64(RT.dev.platform_name, strlen(RT.dev.platform_name), h);
    h = hash64(RT.dev.name, strlen(RT.dev.name), h);
    h = hash64(RT.dev.driver, strlen(RT.dev.driver), h);
    h = hash64(options, strlen(options), h);
    for (int i = 0; i < nsrc; i++) h = hash64(srcs[i], strlen(srcs[i]), h);
    char path[4200];
    snprintf(path, sizeof path, "%s/%016llx.bin", rt_cache_dir(), (unsigned long long)h);
    cl_program prog = NULL;
    if (file_exists(path)) prog = load_cached(path, options);
    rt_last_build_from_cache = prog != NULL;
    if (prog) return prog;
    cl_int err;
    prog = clCreateProgramWithSource(RT.ctx, (cl_uint)nsrc, (const char **)srcs, NULL, &err);
    CL_CHECK_ERR(err, "clCreateProgramWithSource");
    err = clBuildProgram(prog, 1, &RT.dev.device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        print_build_log(prog);
        cl_fail(err, "clBuildProgram", __FILE__, __LINE__);
    }
    store_cached(path, prog);
    return prog;
}

/* Sources in program order: common.cl first (shared helpers), the rest by name.
 * CLMTT_KERNEL_DIR=path replaces any file found there, for kernel development. */
static void build_main_program(void) {
    const char *dir = getenv("CLMTT_KERNEL_DIR");
    const char **srcs = xcalloc((size_t)clmtt_kernel_count + 1, sizeof *srcs);
    char **owned = xcalloc((size_t)clmtt_kernel_count + 1, sizeof *owned);
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < clmtt_kernel_count; i++) {
            int is_common = strcmp(clmtt_kernel_names[i], "common.cl") == 0;
            if ((pass == 0) != is_common) continue;
            const char *s = clmtt_kernel_sources[i];
            if (dir && *dir) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", dir, clmtt_kernel_names[i]);
                size_t len;
                char *text = (char *)read_file(path, &len);
                if (text) { owned[n] = text; s = text; }
            }
            srcs[n++] = s;
        }
    /* CLMTT_OCLGRIND: kernels steer around the simulator's gaps (cl/dct.cl). CLMTT_FMA: the
     * device reports fused multiply-add (cl/common.cl mad_fast). */
    char opts[96];
    snprintf(opts, sizeof opts, "-cl-std=CL1.2%s%s", RT.oclgrind ? " -D CLMTT_OCLGRIND" : "",
             RT.dev.fma ? " -D CLMTT_FMA" : "");
    RT.program = rt_build_program(n, srcs, opts);
    for (int i = 0; i < n; i++) free(owned[i]);
    free(owned);
    free(srcs);
}

/* The cache entry of kernel `name` (created on first use). */
static RtKernel *kernel_entry(const char *name) {
    for (int i = 0; i < RT.nkernels; i++)
        if (strcmp(RT.kernels[i].name, name) == 0) return &RT.kernels[i];
    rt_kernel(name);
    return &RT.kernels[RT.nkernels - 1];
}

cl_kernel rt_kernel(const char *name) {
    for (int i = 0; i < RT.nkernels; i++)
        if (strcmp(RT.kernels[i].name, name) == 0) return RT.kernels[i].k;
    if (!RT.ready) die("internal: kernel '%s' requested before the device was opened", name);
    if (!RT.program) build_main_program();
    if (RT.nkernels == RT_MAX_KERNELS) die("internal: too many kernels");
    cl_int err;
    cl_kernel k = clCreateKernel(RT.program, name, &err);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "clmtt: kernel '%s' not found in cl/*.cl\n", name);
        cl_fail(err, "clCreateKernel", __FILE__, __LINE__);
    }
    snprintf(RT.kernels[RT.nkernels].name, sizeof RT.kernels[0].name, "%s", name);
    RT.kernels[RT.nkernels].k = k;
    /* A kernel may allow fewer items per group than the device (registers, local memory). */
    size_t wg = 0;
    if (clGetKernelWorkGroupInfo(k, RT.dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL) != CL_SUCCESS ||
        wg == 0 || wg > RT.dev.max_wg)
        wg = RT.dev.max_wg;
    RT.kernels[RT.nkernels].max_wg = wg;
    RT.nkernels++;
    return k;
}

static void set_args(cl_kernel k, const char *name, const KArg *args, int nargs) {
    for (int i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) {
            fprintf(stderr, "clmtt: bad argument %d of kernel '%s'\n", i, name);
            cl_fail(err, "clSetKernelArg", __FILE__, __LINE__);
        }
    }
}

void rt_launch(const char *name, size_t global, const KArg *args, int nargs) {
    if (global == 0) return;
    RtKernel *e = kernel_entry(name);
    cl_kernel k = e->k;
    set_args(k, name, args, nargs);
    size_t local = e->max_wg >= 64 ? 64 : e->max_wg;
    size_t g = (global + local - 1) / local * local;
    cl_event ev = NULL;
    RT.counts.launches++;
    CL_CHECK(clEnqueueNDRangeKernel(RT.queue, k, 1, NULL, &g, &local, 0, NULL, RT.profile ? &ev : NULL));
    rt_profile_event(name, ev);
}

void rt_launch_groups(const char *name, size_t groups, size_t local, const KArg *args, int nargs) {
    if (groups == 0) return;
    RtKernel *e = kernel_entry(name);
    cl_kernel k = e->k;
    if (local > e->max_wg)
        die("kernel '%s' allows at most %zu work-items per group on %s, but %zu were asked (a driver limit; "
            "please report it)", name, e->max_wg, RT.dev.name, local);
    set_args(k, name, args, nargs);
    size_t g = groups * local;
    cl_event ev = NULL;
    RT.counts.launches++;
    CL_CHECK(clEnqueueNDRangeKernel(RT.queue, k, 1, NULL, &g, &local, 0, NULL, RT.profile ? &ev : NULL));
    rt_profile_event(name, ev);
}

size_t rt_reduce_local(const char *kernel) {
    size_t cap = kernel_entry(kernel)->max_wg, l = 256;
    while (l > cap) l >>= 1;
    return l;
}

int rt_cpu_family(void) {
    const char *e = getenv("CLMTT_KERNEL_FAMILY");
    if (e && *e) {
        if (strcmp(e, "cpu") == 0) return 1;
        if (strcmp(e, "gpu") == 0) return 0;
        die("CLMTT_KERNEL_FAMILY must be 'cpu' or 'gpu', got '%s'", e);
    }
    return (RT.dev.type & CL_DEVICE_TYPE_CPU) != 0;
}

size_t rt_items_local(size_t items, const char *kernel) {
    size_t want = items / (8 * (size_t)(RT.dev.compute_units ? RT.dev.compute_units : 1)), l = 1;
    size_t cap = kernel_entry(kernel)->max_wg;
    while (l * 2 <= want && l * 2 <= 64 && l * 2 <= cap) l *= 2;
    return l;
}
