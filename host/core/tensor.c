#include "core/tensor.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

size_t dtype_size(DType t) { return t == DT_I64 ? 8 : 4; }
const char *dtype_name(DType t) { return t == DT_F32 ? "F32" : t == DT_I32 ? "I32" : "I64"; }

static size_t mem_size(cl_mem m) {
    size_t sz = 0;
    CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof sz, &sz, NULL));
    return sz;
}

/* Under CLMTT_OCLGRIND every host-side store is one blocking write of the whole buffer
 * (Runtime.oclgrind says why): the buffer is read, `bytes` at `off` are replaced by src
 * (NULL: zeros), and the whole is written back. Every dev_alloc buffer starts zeroed, so
 * all its bytes are defined and the rewrite hides nothing; an undefined value a kernel
 * stored is reported at that store. */
static void whole_store(cl_mem m, size_t off, size_t bytes, const void *src) {
    size_t sz = mem_size(m);
    if (off > sz || bytes > sz - off) die("internal: store of %zu bytes at %zu past a %zu-byte buffer", bytes, off, sz);
    unsigned char *all = xcalloc(sz ? sz : 1, 1);
    if (off > 0 || bytes < sz) CL_CHECK(clEnqueueReadBuffer(RT.queue, m, CL_TRUE, 0, sz, all, 0, NULL, NULL));
    if (src) memcpy(all + off, src, bytes);
    else memset(all + off, 0, bytes);
    CL_CHECK(clEnqueueWriteBuffer(RT.queue, m, CL_TRUE, 0, sz, all, 0, NULL, NULL));
    free(all);
}

cl_mem dev_alloc(size_t bytes, const char *what) {
    if (bytes == 0) bytes = 4;
    char a[32], b[32], c[32];
    if (bytes > RT.dev.max_alloc)
        die("cannot allocate %s (%s) on %s: the device allows at most %s per buffer",
            what, human_bytes((double)bytes, a, sizeof a), RT.dev.name, human_bytes((double)RT.dev.max_alloc, b, sizeof b));
    if (RT.mem_current + bytes > RT.dev.global_mem)
        die("cannot allocate %s (%s) on %s: %s already in use of %s device memory",
            what, human_bytes((double)bytes, a, sizeof a), RT.dev.name,
            human_bytes((double)RT.mem_current, b, sizeof b), human_bytes((double)RT.dev.global_mem, c, sizeof c));
    cl_int err;
    cl_mem m = clCreateBuffer(RT.ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        die("cannot allocate %s (%s) on %s: %s (%s in use, device has %s)", what,
            human_bytes((double)bytes, a, sizeof a), RT.dev.name, cl_error_name(err),
            human_bytes((double)RT.mem_current, b, sizeof b), human_bytes((double)RT.dev.global_mem, c, sizeof c));
    /* Touching the buffer makes lazy drivers commit it now, where a failure can be named. */
    const cl_uint zero = 0;
    RT.counts.other_enqueues++;
    if (RT.oclgrind) whole_store(m, 0, bytes, NULL);
    else CL_CHECK(clEnqueueFillBuffer(RT.queue, m, &zero, 4, 0, bytes & ~(size_t)3, 0, NULL, NULL));
    RT.mem_current += bytes;
    if (RT.mem_current > RT.mem_peak) RT.mem_peak = RT.mem_current;
    return m;
}

size_t dev_max_items(size_t item_bytes) {
    size_t n = item_bytes ? (size_t)(RT.dev.max_alloc / item_bytes) : (size_t)RT.dev.max_alloc;
    return n ? n : 1;
}

void dev_free(cl_mem m) {
    if (!m) return;
    RT.mem_current -= mem_size(m);
    if (RT.oclgrind) rt_keep_buffer(m);
    else CL_CHECK(clReleaseMemObject(m));
}

size_t dev_mem_current(void) { return RT.mem_current; }
size_t dev_mem_peak(void) { return RT.mem_peak; }
void dev_mem_reset_peak(void) { RT.mem_peak = RT.mem_current; }

void dev_write(cl_mem m, size_t off, size_t bytes, const void *src) {
    if (!bytes) return;
    RT.counts.blocking_writes++;
    if (RT.oclgrind) whole_store(m, off, bytes, src);
    else CL_CHECK(clEnqueueWriteBuffer(RT.queue, m, CL_TRUE, off, bytes, src, 0, NULL, NULL));
}
void dev_write_async(cl_mem m, size_t off, size_t bytes, const void *src) {
    if (!bytes) return;
    if (RT.oclgrind) {   /* a whole-buffer store (see Runtime.oclgrind), blocking */
        RT.counts.blocking_writes++;
        whole_store(m, off, bytes, src);
        return;
    }
    RT.counts.other_enqueues++;
    CL_CHECK(clEnqueueWriteBuffer(RT.queue, m, CL_FALSE, off, bytes, src, 0, NULL, NULL));
}
void dev_read(cl_mem m, size_t off, size_t bytes, void *dst) {
    if (!bytes) return;
    RT.counts.blocking_reads++;
    CL_CHECK(clEnqueueReadBuffer(RT.queue, m, CL_TRUE, off, bytes, dst, 0, NULL, NULL));
}
void dev_write_f32(cl_mem m, size_t off, size_t n, const float *src) { dev_write(m, off * 4, n * 4, src); }
void dev_read_f32(cl_mem m, size_t off, size_t n, float *dst) { dev_read(m, off * 4, n * 4, dst); }

void dev_fill(cl_mem m, size_t off, size_t n, float v) {
    if (!n) return;
    RT.counts.other_enqueues++;
    if (RT.oclgrind) {
        float *x = xmalloc(n * sizeof *x);
        for (size_t i = 0; i < n; i++) x[i] = v;
        whole_store(m, off * 4, n * 4, x);
        free(x);
    } else CL_CHECK(clEnqueueFillBuffer(RT.queue, m, &v, sizeof v, off * 4, n * 4, 0, NULL, NULL));
}
void dev_copy(cl_mem dst, size_t doff, cl_mem src, size_t soff, size_t n) {
    if (!n) return;
    RT.counts.other_enqueues++;
    if (RT.oclgrind) {
        float *x = xmalloc(n * sizeof *x);
        dev_read_f32(src, soff, n, x);
        whole_store(dst, doff * 4, n * 4, x);
        free(x);
    } else CL_CHECK(clEnqueueCopyBuffer(RT.queue, src, dst, soff * 4, doff * 4, n * 4, 0, NULL, NULL));
}

Tensor tensor_new(DType dt, int ndim, const int64_t *shape, const char *what) {
    Tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.ndim = ndim;
    t.numel = 1;
    for (int i = 0; i < ndim; i++) { t.shape[i] = shape[i]; t.numel *= (size_t)shape[i]; }
    t.mem = dev_alloc(t.numel * dtype_size(dt), what);
    t.owns = 1;
    return t;
}

Tensor tensor_f32(size_t n, const char *what) {
    int64_t s = (int64_t)n;
    return tensor_new(DT_F32, 1, &s, what);
}

void tensor_free(Tensor *t) {
    if (t->owns && t->mem) dev_free(t->mem);
    memset(t, 0, sizeof *t);
}

size_t tensor_bytes(const Tensor *t) { return t->numel * dtype_size(t->dtype); }
