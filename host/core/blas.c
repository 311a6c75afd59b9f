#include "core/blas.h"
#include "core/util.h"

#include <clblast_c.h>
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

/* Every CLBlast call goes through here, so the runtime counts it (RtCounts.blas_calls). */
#define BLAS_CHECK(call) do { RT.counts.blas_calls++; CLBlastStatusCode st_ = (call); \
    if (st_ != CLBlastSuccess) { \
        die("CLBlast error %s (%d) in %s at %s:%d", clblast_status_name(st_), (int)st_, #call, __FILE__, __LINE__); \
    } } while (0)

static CLBlastTranspose tr(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

void gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha,
          DPtr a, size_t lda, DPtr b, size_t ldb, float beta, DPtr c, size_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) { /* C = beta*C: CLBlast rejects k == 0 */
        if (beta == 0.0f) for (size_t i = 0; i < m; i++) dev_fill(c.mem, c.off + i * ldc, n, 0.0f);
        else if (beta != 1.0f) for (size_t i = 0; i < m; i++) scal(n, beta, dptr_add(c, i * ldc));
        return;
    }
    cl_event ev = NULL;
    BLAS_CHECK(CLBlastSgemm(CLBlastLayoutRowMajor, tr(ta), tr(tb), m, n, k, alpha,
                            a.mem, a.off, lda, b.mem, b.off, ldb, beta, c.mem, c.off, ldc, &RT.queue, RT.profile ? &ev : NULL));
    rt_profile_event(ta ? (tb ? "gemm_TT" : "gemm_TN") : (tb ? "gemm_NT" : "gemm_NN"), ev);
}

void gemm_batched(int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                  DPtr a, size_t lda, size_t sa, DPtr b, size_t ldb, size_t sb,
                  float beta, DPtr c, size_t ldc, size_t sc, size_t batch) {
    if (batch == 0 || m == 0 || n == 0) return;
    if (batch == 1) { gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return; }
    BLAS_CHECK(CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, tr(ta), tr(tb), m, n, k, alpha,
                                          a.mem, a.off, lda, sa, b.mem, b.off, ldb, sb, beta,
                                          c.mem, c.off, ldc, sc, batch, &RT.queue, NULL));
}

void axpy(size_t n, float alpha, DPtr x, DPtr y) {
    if (n) BLAS_CHECK(CLBlastSaxpy(n, alpha, x.mem, x.off, 1, y.mem, y.off, 1, &RT.queue, NULL));
}

void scal(size_t n, float alpha, DPtr x) {
    if (n) BLAS_CHECK(CLBlastSscal(n, alpha, x.mem, x.off, 1, &RT.queue, NULL));
}

/* Partial sums per work-group (kernel reduce_partials in cl/common.cl), finished in double. */
enum { RED_DOT = 0, RED_SUM = 1, RED_SQDIST = 2, RED_NONFINITE = 3 };
static double reduce(int op, size_t n, DPtr x, DPtr y) {
    if (n == 0) return 0.0;
    enum { GROUPS = 128 };
    cl_mem partial = rt_scratch(RT_SCRATCH_REDUCE, GROUPS);
    size_t local = rt_reduce_local("reduce_partials");
    size_t groups = (n + local - 1) / local;
    if (groups > GROUPS) groups = GROUPS;
    LAUNCH_GROUPS("reduce_partials", groups, local, KM(x.mem), KL(x.off), KM(y.mem), KL(y.off), KL(n),
                  KI(op), KM(partial), KLOCAL(local * sizeof(float)));
    float p[GROUPS];
    dev_read_f32(partial, 0, groups, p);
    double s = 0.0;
    for (size_t i = 0; i < groups; i++) s += p[i];
    return s;
}

double dev_dot(size_t n, DPtr x, DPtr y) { return reduce(RED_DOT, n, x, y); }
double dev_sum(size_t n, DPtr x) { return reduce(RED_SUM, n, x, x); }
double dev_sqdist(size_t n, DPtr x, DPtr y) { return reduce(RED_SQDIST, n, x, y); }
int dev_has_nonfinite(size_t n, DPtr x) { return reduce(RED_NONFINITE, n, x, x) != 0.0; }
