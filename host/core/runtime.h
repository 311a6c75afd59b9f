/* OpenCL runtime: one device, one context, one in-order queue, and every piece of device
 * state that hangs off them: the program and its kernels, the scratch buffers layers
 * reuse between calls, the memory accounting and the profile. Nothing else keeps device
 * state, so several runtimes (devices) can be open in one process: rt_open makes one,
 * rt_use makes it current, and RT names the current one.
 * Every OpenCL call goes through CL_CHECK, which names the error, the call and
 * the source line, then exits. Kernels from the cl folder are built once into one
 * program (cached on disk as a binary) and looked up by name. */
#ifndef CLMTT_RUNTIME_H
#define CLMTT_RUNTIME_H

#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int index;                   /* position in clmtt's device list */
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[256];
    char name[256];
    char vendor[256];
    char version[256];           /* device OpenCL version */
    char driver[256];
    cl_device_type type;
    cl_uint compute_units;
    cl_ulong global_mem;
    cl_ulong local_mem;
    cl_ulong max_alloc;
    size_t max_wg;
    int fp64;
    int fma;                     /* CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG: fma() is the device's own */
    cl_uint base_align_bits;     /* CL_DEVICE_MEM_BASE_ADDR_ALIGN */
    cl_uint vec_float;           /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT: floats in one SIMD register */
} DeviceInfo;

/* Grow-only scratch buffers that layers keep between calls so the hot path allocates
 * nothing; the in-order queue serializes their users. One slot per user. */
typedef enum {
    RT_SCRATCH_REDUCE = 0,   /* blas: per-group partial sums of a reduction */
    RT_SCRATCH_CONV_COLS,    /* conv2d: im2col columns of one chunk */
    RT_SCRATCH_CONV_SLICES,  /* conv2d: K-slice partial products of the weight gradient */
    RT_SCRATCH_NORM_SUMS,    /* norm: per-set sums and parameter-gradient partials */
    RT_SCRATCH_DSA_PARAMS,   /* dsa: one draw's parameters */
    RT_SCRATCH_DSA_MEANS,    /* dsa: one mean per sample */
    RT_SCRATCH_FFT,          /* dct2d: the complex rows of one FFT pass */
    RT_SCRATCH_DCT_T,        /* dct2d: the transposed planes between its two passes */
    RT_SCRATCH_FFT_OUT,      /* dct2d under CLMTT_OCLGRIND: the FFT's separate output */
    RT_SCRATCH_GEMM_TEMP,    /* blas: CLBlast's temporary for padded/transposed GEMM operands */
    RT_SCRATCH_SLOTS
} RtScratchSlot;

typedef struct { cl_mem mem; size_t floats; } RtScratch;
typedef struct { char name[64]; cl_kernel k; size_t max_wg; } RtKernel;   /* max_wg: CL_KERNEL_WORK_GROUP_SIZE */
typedef struct { char name[64]; double seconds; long calls; } RtProfile;
enum { RT_MAX_KERNELS = 512, RT_MAX_PROFILE = 256 };

/* Host-side calls whose fixed cost (driver latency, a round trip to the device) does not
 * shrink with the work they carry: what bounds small sets on a GPU. Counted always (one
 * add per call), read by clmtt bench. */
typedef struct {
    long launches;        /* kernel enqueues through LAUNCH / LAUNCH_GROUPS / LAUNCH_ITEMS */
    long blas_calls;      /* CLBlast calls (GEMM, batched GEMM, axpy, scal) */
    long other_enqueues;  /* fills, copies, non-blocking writes, clFFT transforms */
    long blocking_reads;  /* dev_read*: the host waits for the queue and the copy */
    long blocking_writes; /* dev_write*: the host waits for the copy */
    long waits;           /* clFinish and waits on events (staging upload, CLMTT_PROFILE) */
    long im2col_saved;    /* im2col launches not made: columns kept from an earlier pass (layers/conv_cols.h) */
    double gemm_flops;    /* arithmetic of the matrix products enqueued, 2 m n k each (blas.h's and matmul's) */
    long gemm_unaligned;  /* of those products, the ones with an operand or result starting off rt_align_floats() */
} RtCounts;

/* im2col columns of one convolution chunk kept across the passes of a reverse step
 * (layers/conv_cols.h): `buf` holds the columns of `src` for the layer shape `key` and the
 * chunk [n0, n0 + nc) while `valid`; buffers outlive their contents and are reused. */
typedef struct {
    cl_mem src, buf;
    int key[8], n0, nc, valid;
    size_t floats;
} RtColEntry;
enum { RT_MAX_COLS = 64 };
typedef struct {
    int on;               /* between conv_cols_begin and conv_cols_end */
    size_t cap, held;     /* floats: the cap, and what the buffers hold */
    int n;
    RtColEntry e[RT_MAX_COLS];
} RtCols;

typedef struct {
    DeviceInfo dev;
    cl_context ctx;
    cl_command_queue queue;
    cl_program program;          /* all kernels of cl/ */
    int profile;                 /* CLMTT_PROFILE=1: time every kernel (serializes the queue) */
    int ready;
    RtKernel kernels[RT_MAX_KERNELS];
    int nkernels;
    RtProfile prof[RT_MAX_PROFILE];
    int nprof;
    RtScratch scratch[RT_SCRATCH_SLOTS];
    float *staging;              /* host copy behind the one pending non-blocking upload */
    size_t staging_floats;
    cl_event staging_pending;
    size_t mem_current, mem_peak;  /* bytes held through dev_alloc, and their peak */
    /* CLMTT_OCLGRIND=1: work around two defects of Oclgrind's uninitialized-value checker
     * (tools/oclgrind.md). It sizes a buffer's shadow by the last host-side store into it,
     * not by the buffer, so a fill, a copy or a write that does not cover the whole buffer
     * from offset 0 leaves a short shadow and later kernel stores past it are lost; and it
     * keeps a released buffer's shadow for the next buffer placed at the same address.
     * Under the switch every host-side store is one write of the whole buffer (tensor.c)
     * and dev_free defers every release to the runtime's close. The program is built with
     * -D CLMTT_OCLGRIND, and the DCT's FFTs write out of place (host/layers/dct2d.c). */
    int oclgrind;
    cl_mem *kept;                /* buffers dev_free handed over, released at close */
    size_t nkept, kept_cap;
    RtCounts counts;               /* since the runtime opened */
    RtCols cols;                   /* conv2d's kept im2col columns */
} Runtime;

/* The current runtime; RT is shorthand for it. */
extern Runtime *rt_current;
#define RT (*rt_current)

const char *cl_error_name(cl_int err);
void cl_fail(cl_int err, const char *call, const char *file, int line);
#define CL_CHECK(call) do { cl_int err_ = (call); \
    if (err_ != CL_SUCCESS) cl_fail(err_, #call, __FILE__, __LINE__); } while (0)
/* For calls returning an object and writing an error code into &err. */
#define CL_CHECK_ERR(err, what) do { if ((err) != CL_SUCCESS) cl_fail((err), (what), __FILE__, __LINE__); } while (0)

/* Lists every device of every platform; returns the count (0 when none). */
int rt_list_devices(DeviceInfo *out, int max);
/* Default: first GPU, else first accelerator, else first CPU. -1 = none. */
int rt_default_device(const DeviceInfo *devs, int n);
/* This rank's device from a list "N" or "N,M,...": entry (node-local rank mod count)
 * (host/core/dist.h), so ranks on one node spread over the listed devices. Returns -1 for
 * a bad list. */
int rt_pick_device(const char *list);
/* Default for a rank: with several ranks on the node, the node-local rank picks among the
 * devices of the default's type (GPUs on a GPU node); alone, the default. */
int rt_default_device_for_rank(const DeviceInfo *devs, int n);
/* Opens the device: `index` >= 0 picks it; -1 means CLMTT_DEVICE (a list as for
 * rt_pick_device) or the rank's default.
 * Exits with a clear message when there is no device. rt_init opens the process's
 * default runtime (a no-op when it is open) and makes it current; rt_shutdown closes it. */
void rt_init(int index);
void rt_shutdown(void);
/* A further runtime on device `index` (-1 as above), for work split across devices. It
 * is not made current; rt_close releases it and all its buffers' scratch. */
Runtime *rt_open(int index);
void rt_close(Runtime *r);
/* Makes `r` current and returns the one that was. */
Runtime *rt_use(Runtime *r);

/* Scratch buffer `slot` of at least `floats` floats (grown, never shrunk; contents are
 * not kept when it grows; NULL while nothing was asked of it). Owned and freed by the runtime. */
cl_mem rt_scratch(RtScratchSlot slot, size_t floats);
/* Copies n host floats into scratch `slot` without waiting for the device: the data go
 * through a runtime-owned staging copy, reused only after its last write finished. */
cl_mem rt_scratch_upload(RtScratchSlot slot, const float *host, size_t n);
/* Holds a buffer the caller is done with until the runtime closes (CLMTT_OCLGRIND). */
void rt_keep_buffer(cl_mem m);
/* Waits for the queue to drain. */
void rt_finish(void);

/* Kernel by name (created once, cached). Builds the program on first use. */
cl_kernel rt_kernel(const char *name);
/* Directory of the binary cache ($XDG_CACHE_HOME/clmtt or ~/.cache/clmtt). */
const char *rt_cache_dir(void);
/* Statistics of the last program build, for tests: 1 = loaded from the cache. */
extern int rt_last_build_from_cache;
/* Builds (or loads from the cache) a program from sources; exits with the
 * build log on failure. Exposed for tests of the cache. */
cl_program rt_build_program(int nsrc, const char *const *srcs, const char *options);

/* Kernel arguments: LAUNCH(name, global, KM(buf), KI(n), KF(x), ...). */
typedef struct { size_t size; const void *ptr; } KArg;
#define KM(v) ((KArg){sizeof(cl_mem), &(cl_mem){(v)}})
#define KI(v) ((KArg){sizeof(cl_int), &(cl_int){(cl_int)(v)}})
#define KU(v) ((KArg){sizeof(cl_uint), &(cl_uint){(cl_uint)(v)}})
#define KL(v) ((KArg){sizeof(cl_long), &(cl_long){(cl_long)(v)}})
#define KF(v) ((KArg){sizeof(cl_float), &(cl_float){(cl_float)(v)}})
#define KLOCAL(bytes) ((KArg){(bytes), NULL})
#define KARGS_(...) (KArg[]){__VA_ARGS__}, (int)(sizeof((KArg[]){__VA_ARGS__}) / sizeof(KArg))
/* One work-item per element, global size rounded up: kernels check bounds. */
void rt_launch(const char *name, size_t global, const KArg *args, int nargs);
/* `groups` work-groups of `local` items each (for per-group reductions). */
void rt_launch_groups(const char *name, size_t groups, size_t local, const KArg *args, int nargs);
#define LAUNCH(name, global, ...) rt_launch((name), (global), KARGS_(__VA_ARGS__))
#define LAUNCH_GROUPS(name, groups, local, ...) rt_launch_groups((name), (groups), (local), KARGS_(__VA_ARGS__))

/* Profiling: waits for `ev`, adds its device time under `name`, releases it (NULL: no-op). */
void rt_profile_event(const char *name, cl_event ev);
void rt_profile_report(void);
/* Under CLMTT_PROFILE, a marker enqueued now (NULL otherwise): it completes when everything
 * enqueued before it has. rt_profile_span books the device time from the end of `before` to
 * the end of `after` under `name` (both markers, released): the span of the commands between,
 * however many a library enqueued for one call. */
cl_event rt_profile_marker(void);
void rt_profile_span(const char *name, cl_event before, cl_event after);

/* The current runtime's counts so far; b - a field by field; the host's waits on the device
 * (blocking reads + blocking writes + waits). */
RtCounts rt_counts(void);
RtCounts rt_counts_sub(RtCounts b, RtCounts a);
long rt_counts_blocking(const RtCounts *c);
/* Counts a matrix product of m x n x k (times `batch`): 2 m n k flops each in
 * RtCounts.gemm_flops, and one in RtCounts.gemm_unaligned when its A, B or C starts (offsets in
 * floats) off rt_align_floats(). Kernels without operand offsets pass zeros. */
void rt_count_gemm(double m, double n, double k, double batch, size_t a_off, size_t b_off, size_t c_off);

/* Kernel family: 1 for CPU devices (kernels that loop and vectorize inside one work-item),
 * 0 for GPUs (CLBlast GEMMs, work-group kernels). CLMTT_KERNEL_FAMILY=cpu|gpu forces one. */
int rt_cpu_family(void);
/* `items` work-items of `kernel` in groups small enough that every compute unit gets several
 * (for CPU-family kernels, which vectorize inside one item, not across items), and no larger
 * than the kernel allows (CL_KERNEL_WORK_GROUP_SIZE). */
size_t rt_items_local(size_t items, const char *kernel);
#define LAUNCH_ITEMS(name, items, ...) do { \
        size_t n_ = (items), l_ = rt_items_local(n_, (name)); \
        LAUNCH_GROUPS((name), (n_ + l_ - 1) / l_, l_, __VA_ARGS__); } while (0)

/* Alignment in floats for offsets into a buffer that CLBlast reads as a matrix: the device's
 * CL_DEVICE_MEM_BASE_ADDR_ALIGN (bits) and at least 32 floats (128 bytes), so a slice starts
 * where a sub-buffer could and on a cache line of every current GPU. Both are powers of two,
 * so the larger is a multiple of the other. rt_align_up rounds n up to it. */
size_t rt_align_floats(void);
size_t rt_align_up(size_t n);

/* Local size for the reduction kernel `kernel`: a power of two <= 256 and <= the work-group
 * size the kernel allows on this device (CL_KERNEL_WORK_GROUP_SIZE, which registers or local
 * memory can make smaller than the device's maximum). */
size_t rt_reduce_local(const char *kernel);

#endif
