#include "core/blas.h"
#include "core/util.h"

#include <clblast_c.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *clblast_status_name(int s) {
    switch (s) {
    case CLBlastSuccess: return "CLBlastSuccess";
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInvalidVectorX: return "CLBlastInvalidVectorX";
    case CLBlastInvalidVectorY: return "CLBlastInvalidVectorY";
    case CLBlastInvalidDimension: return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA: return "CLBlastInvalidLeadDimA";
    case CLBlastInvalidLeadDimB: return "CLBlastInvalidLeadDimB";
    case CLBlastInvalidLeadDimC: return "CLBlastInvalidLeadDimC";
    case CLBlastInvalidIncrementX: return "CLBlastInvalidIncrementX";
    case CLBlastInvalidIncrementY: return "CLBlastInvalidIncrementY";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryX: return "CLBlastInsufficientMemoryX";
    case CLBlastInsufficientMemoryY: return "CLBlastInsufficientMemoryY";
    case CLBlastInvalidBatchCount: return "CLBlastInvalidBatchCount";
    case CLBlastInvalidOverrideKernel: return "CLBlastInvalidOverrideKernel";
    case CLBlastMissingOverrideParameter: return "CLBlastMissingOverrideParameter";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision: return "CLBlastNoHalfPrecision";
    case CLBlastNoDoublePrecision: return "CLBlastNoDoublePrecision";
    case CLBlastInvalidVectorScalar: return "CLBlastInvalidVectorScalar";
    case CLBlastInsufficientMemoryScalar: return "CLBlastInsufficientMemoryScalar";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return cl_error_name(s);
    }
}

/* Every CLBlast call goes through here, so the runtime counts it (RtCounts.blas_calls).
 * Under CLMTT_PROFILE a marker before and one after the call bracket everything CLBlast
 * enqueues for it (one call may run several kernels: pads, transposes, the product), and
 * the profile books the span under `name` (rt_profile_span). */
#define BLAS_CALL(name, call) do { RT.counts.blas_calls++; cl_event before_ = rt_profile_marker(); \
    CLBlastStatusCode st_ = (call); \
    if (st_ != CLBlastSuccess) { \
        die("CLBlast error %s (%d) in %s at %s:%d", clblast_status_name(st_), (int)st_, #call, __FILE__, __LINE__); \
    } \
    if (before_) rt_profile_span((name), before_, rt_profile_marker()); } while (0)

static CLBlastTranspose tr(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

/* The profile's line for a product: transposes and the row-major shape, e.g. "gemm_NT 64x27x8192". */
static const char *gemm_name(char *buf, size_t cap, const char *what, int ta, int tb, size_t m, size_t n, size_t k) {
    if (!RT.profile) return what;
    snprintf(buf, cap, "%s_%c%c %zux%zux%zu", what, ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k);
    return buf;
}

static int plain_on = -1;   /* -1: as the runtime says (RT.oclgrind) */

void gemm_set_plain(int on) { plain_on = on; }

static int plain(void) { return plain_on >= 0 ? plain_on : RT.oclgrind; }

/* The products through cl/gemm_plain.cl, `batch` problems in one launch. */
static void gemm_plain(int ta, int tb, size_t m, size_t n, size_t k, float alpha, DPtr a, size_t lda, size_t sa,
                       DPtr b, size_t ldb, size_t sb, float beta, DPtr c, size_t ldc, size_t sc, size_t batch) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || batch > INT_MAX)
        die("internal: a plain product of %zux%zux%zu x %zu", m, n, k, batch);
    LAUNCH("gemm_plain", m * n * batch, KI(ta), KI(tb), KI((int)m), KI((int)n), KI((int)k), KF(alpha), KM(a.mem),
           KL(a.off), KL(lda), KL(sa), KM(b.mem), KL(b.off), KL(ldb), KL(sb), KF(beta), KM(c.mem), KL(c.off), KL(ldc),
           KL(sc), KI((int)batch));
}

/* The row-major product C[m,n] = op(A) op(B) is the column-major product C^T = op(B)^T op(A)^T:
 * a row-major r x c matrix with leading dimension ld is, in the same memory, a column-major
 * c x r one. So every call passes B first, A second, n before m, with the transposes as given.
 * Why: CLBlast's kernels are column-major. Row-major, its indirect (large-matrix) path copies
 * C into a transposed temporary and back on every call; column-major it copies an operand
 * only when it must be padded or transposed to the kernel's tiles (the direct path, for
 * small products, needs nothing). CLBlastSGemmTempBufferSize says how many bytes a call
 * needs; gemm hands CLBlast the runtime's grow-only buffer (RT_SCRATCH_GEMM_TEMP) for them,
 * so CLBlast allocates nothing per call. The strided-batched routine has no such argument in
 * CLBlast's C API (1.5): it allocates what it needs itself. */
void gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha,
          DPtr a, size_t lda, DPtr b, size_t ldb, float beta, DPtr c, size_t ldc) {
    if (m == 0 || n == 0) return;
    rt_count_gemm((double)m, (double)n, (double)k, 1, a.off, b.off, c.off);
    if (plain()) {
        gemm_plain(ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
        return;
    }
    if (k == 0) { /* C = beta*C: CLBlast rejects k == 0 */
        if (beta == 0.0f) for (size_t i = 0; i < m; i++) dev_fill(c.mem, c.off + i * ldc, n, 0.0f);
        else if (beta != 1.0f) for (size_t i = 0; i < m; i++) scal(n, beta, dptr_add(c, i * ldc));
        return;
    }
    size_t temp_bytes = 0;
    CLBlastStatusCode st = CLBlastSGemmTempBufferSize(CLBlastLayoutColMajor, tr(tb), tr(ta), n, m, k, b.off, ldb,
                                                      a.off, lda, c.off, ldc, &RT.queue, &temp_bytes);
    if (st != CLBlastSuccess)
        die("CLBlast error %s (%d) sizing the temporary of a %zux%zux%zu product", clblast_status_name(st), (int)st,
            m, n, k);
    char name[96];
    if (temp_bytes == 0) {   /* the direct kernel, or operands that need no padding: no temporary */
        BLAS_CALL(gemm_name(name, sizeof name, "gemm", ta, tb, m, n, k),
                  CLBlastSgemm(CLBlastLayoutColMajor, tr(tb), tr(ta), n, m, k, alpha, b.mem, b.off, ldb, a.mem, a.off,
                               lda, beta, c.mem, c.off, ldc, &RT.queue, NULL));
        return;
    }
    /* The size comes in bytes. */
    cl_mem temp = rt_scratch(RT_SCRATCH_GEMM_TEMP, (temp_bytes + sizeof(float) - 1) / sizeof(float));
    BLAS_CALL(gemm_name(name, sizeof name, "gemm", ta, tb, m, n, k),
              CLBlastSgemmWithTempBuffer(CLBlastLayoutColMajor, tr(tb), tr(ta), n, m, k, alpha, b.mem, b.off, ldb,
                                         a.mem, a.off, lda, beta, c.mem, c.off, ldc, &RT.queue, NULL, temp));
}

void gemm_batched(int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                  DPtr a, size_t lda, size_t sa, DPtr b, size_t ldb, size_t sb,
                  float beta, DPtr c, size_t ldc, size_t sc, size_t batch) {
    if (batch == 0 || m == 0 || n == 0) return;
    if (batch == 1) { gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return; }
    rt_count_gemm((double)m, (double)n, (double)k, (double)batch, a.off, b.off, c.off);
    if (plain()) {
        gemm_plain(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
        return;
    }
    char name[96];
    BLAS_CALL(gemm_name(name, sizeof name, "gemm_batched", ta, tb, m, n, k),
              CLBlastSgemmStridedBatched(CLBlastLayoutColMajor, tr(tb), tr(ta), n, m, k, alpha, b.mem, b.off, ldb, sb,
                                         a.mem, a.off, lda, sa, beta, c.mem, c.off, ldc, sc, batch, &RT.queue, NULL));
}

void axpy(size_t n, float alpha, DPtr x, DPtr y) {
    if (n) BLAS_CALL("axpy", CLBlastSaxpy(n, alpha, x.mem, x.off, 1, y.mem, y.off, 1, &RT.queue, NULL));
}

void scal(size_t n, float alpha, DPtr x) {
    if (n) BLAS_CALL("scal", CLBlastSscal(n, alpha, x.mem, x.off, 1, &RT.queue, NULL));
}

/* Partial sums per work-group (kernel reduce_partials in cl/common.cl) into the
 * runtime's reduction scratch; nothing waits. */
/* op 4 of reduce_partials is the dot product with the update of x by alpha z. */
static cl_mem reduce_partials(int op, size_t n, DPtr x, DPtr y, float alpha, DPtr z, int *groups) {
    enum { GROUPS = DEV_REDUCE_MAX_GROUPS };
    cl_mem partial = rt_scratch(RT_SCRATCH_REDUCE, GROUPS);
    size_t local = rt_reduce_local("reduce_partials");
    size_t g = (n + local - 1) / local;
    if (g > GROUPS) g = GROUPS;
    *groups = (int)g;
    if (n == 0) return partial;
    LAUNCH_GROUPS("reduce_partials", g, local, KM(x.mem), KL(x.off), KM(y.mem), KL(y.off), KM(z.mem ? z.mem : y.mem),
                  KL(z.off), KF(alpha), KL(n), KI(op), KM(partial), KLOCAL(local * sizeof(float)));
    return partial;
}

cl_mem dev_reduce_partials(DevReduceOp op, size_t n, DPtr x, DPtr y, int *groups) {
    return reduce_partials((int)op, n, x, y, 0.0f, dptr(NULL, 0), groups);
}

cl_mem dev_reduce_dot_update(size_t n, DPtr x, DPtr y, float alpha, DPtr z, int *groups) {
    if (!z.mem) die("internal: dev_reduce_dot_update without the update's vector");
    return reduce_partials(4, n, x, y, alpha, z, groups);
}

/* The partial sums read back and finished in double. */
static double reduce(DevReduceOp op, size_t n, DPtr x, DPtr y) {
    if (n == 0) return 0.0;
    int groups;
    cl_mem partial = dev_reduce_partials(op, n, x, y, &groups);
    float p[DEV_REDUCE_MAX_GROUPS];
    dev_read_f32(partial, 0, (size_t)groups, p);
    double s = 0.0;
    for (int i = 0; i < groups; i++) s += p[i];
    return s;
}

double dev_dot(size_t n, DPtr x, DPtr y) { return reduce(RED_DOT, n, x, y); }
double dev_sum(size_t n, DPtr x) { return reduce(RED_SUM, n, x, x); }
double dev_sqdist(size_t n, DPtr x, DPtr y) { return reduce(RED_SQDIST, n, x, y); }
int dev_has_nonfinite(size_t n, DPtr x) { return reduce(RED_NONFINITE, n, x, x) != 0.0; }
