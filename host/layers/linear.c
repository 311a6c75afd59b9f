/* Device fully connected layer. A small layer (N x In x Out multiply-adds up to
 * linear_small_macs()) runs each pass as one launch of cl/linear.cl's linear_small_*
 * kernels, both products and the bias term together; a larger one runs every product as a
 * matmul (layers/matmul.h: CLBlast on GPUs, the register-tiled kernels on CPUs; row-major,
 * the transposes via the flags) with bias add and bias gradient as small kernels.
 * Shapes: in[N][In], w[Out][In], b[Out], out[N][Out]. */
#include "layers/linear.h"

#include <limits.h>
#include <stdlib.h>

#include "core/util.h"
#include "layers/matmul.h"


static void linear_check(const LinearShape *s, const char *who) {
    if (s->N <= 0 || s->In <= 0 || s->Out <= 0)
        die("%s: bad shape N=%d In=%d Out=%d", who, s->N, s->In, s->Out);
    if ((size_t)s->N * s->In > INT_MAX || (size_t)s->N * s->Out > INT_MAX)
        die("%s: %d x %d (out %d) is too large for one layer call", who, s->N, s->In, s->Out);
}

static void need(cl_mem m, const char *who, const char *name) {
    if (!m) die("%s: %s must not be NULL", who, name);
}

/* ---- the one-launch path ---------------------------------------------------------- */

enum { LINEAR_SMALL_MACS_DEFAULT = 1 << 24 };
static long small_macs = -1;   /* -1: not read yet */

size_t linear_small_macs(void) {
    if (small_macs < 0) {
        unsigned long long x;
        int got = env_count("CLMTT_LINEAR_SMALL_MACS", 0, LONG_MAX, &x);
        if (got < 0)
            die("CLMTT_LINEAR_SMALL_MACS: '%s' is not a count of multiply-adds (0 or more)",
                getenv("CLMTT_LINEAR_SMALL_MACS"));
        small_macs = got ? (long)x : LINEAR_SMALL_MACS_DEFAULT;
    }
    return (size_t)small_macs;
}

void linear_set_small_macs(size_t macs) { small_macs = macs > LONG_MAX ? LONG_MAX : (long)macs; }

static int small(const LinearShape *s) {
    return (double)s->N * s->In * s->Out <= (double)linear_small_macs();
}

/* out = x1 v1^T (+ x2 v2^T) (+ b) */
static void small_rows_wt(const LinearShape *s, cl_mem out, cl_mem x1, DPtr v1, cl_mem x2, DPtr v2, DPtr b) {
    int flags = (x2 ? 1 : 0) | (b.mem ? 2 : 0);
    size_t local = rt_reduce_local("linear_small_rows_wt");
    rt_count_gemm(s->N, s->In, s->Out, x2 ? 2 : 1, 0, 0, 0);
    LAUNCH_GROUPS("linear_small_rows_wt", (size_t)s->N * s->Out, local, KM(out), KM(x1), KM(v1.mem), KL(v1.off),
                  KM(x2 ? x2 : x1), KM(x2 ? v2.mem : v1.mem), KL(x2 ? v2.off : v1.off), KM(b.mem ? b.mem : v1.mem),
                  KL(b.off), KI(s->N), KI(s->In), KI(s->Out), KI(flags), KLOCAL(local * sizeof(float)));
}

/* d = g1 v1 (+ g2 v2) */
static void small_rows_w(const LinearShape *s, cl_mem d, cl_mem g1, DPtr v1, cl_mem g2, DPtr v2) {
    rt_count_gemm(s->N, s->In, s->Out, g2 ? 2 : 1, 0, 0, 0);
    LAUNCH("linear_small_rows_w", (size_t)s->N * s->In, KM(d), KM(g1), KM(v1.mem), KL(v1.off), KM(g2 ? g2 : g1),
           KM(g2 ? v2.mem : v1.mem), KL(g2 ? v2.off : v1.off), KI(s->N), KI(s->In), KI(s->Out), KI(g2 ? 1 : 0));
}

/* dw = g1^T x1 (+ g2^T x2), db = column sums of g1 (when db.mem) */
static void small_outer(const LinearShape *s, DPtr dw, DPtr db, cl_mem g1, cl_mem x1, cl_mem g2, cl_mem x2) {
    int flags = (g2 ? 1 : 0) | (db.mem ? 2 : 0);
    rt_count_gemm(s->N, s->In, s->Out, g2 ? 2 : 1, 0, 0, 0);
    LAUNCH("linear_small_outer", (size_t)s->Out * (s->In + (db.mem ? 1 : 0)), KM(dw.mem), KL(dw.off),
           KM(db.mem ? db.mem : dw.mem), KL(db.off), KM(g1), KM(x1), KM(g2 ? g2 : g1), KM(g2 ? x2 : x1), KI(s->N),
           KI(s->In), KI(s->Out), KI(flags));
}

/* ---- the product path ------------------------------------------------------------- */

/* out[N][Out] += b[Out] (broadcast over rows) */
static void bias_add(const LinearShape *s, cl_mem out, DPtr b) {
    LAUNCH("linear_bias_add", (size_t)s->N * s->Out, KM(out), KM(b.mem), KL(b.off), KI(s->N), KI(s->Out));
}

/* db[Out] = column sums of dout[N][Out] */
static void bias_grad(const LinearShape *s, DPtr db, cl_mem dout) {
    size_t local = rt_reduce_local("linear_bias_grad");
    LAUNCH_GROUPS("linear_bias_grad", (size_t)s->Out, local, KM(db.mem), KL(db.off), KM(dout), KI(s->N),
                  KI(s->Out), KLOCAL(local * sizeof(float)));
}

/* out[N][Out] = x[N][In] * v[Out][In]^T + beta*out */
static void rows_times_wt(const LinearShape *s, cl_mem out, cl_mem x, DPtr v, float beta) {
    matmul(0, 1, s->N, s->Out, s->In, dptr(x, 0), s->In, v, s->In, MATMUL_NO_BIAS, beta != 0.0f, dptr(out, 0), s->Out);
}

/* d[N][In] = g[N][Out] * v[Out][In] + beta*d */
static void rows_times_w(const LinearShape *s, cl_mem d, cl_mem g, DPtr v, float beta) {
    matmul(0, 0, s->N, s->In, s->Out, dptr(g, 0), s->Out, v, s->In, MATMUL_NO_BIAS, beta != 0.0f, dptr(d, 0), s->In);
}

/* dw[Out][In] = g[N][Out]^T * x[N][In] + beta*dw */
static void outer_sum(const LinearShape *s, DPtr dw, cl_mem g, cl_mem x, float beta) {
    matmul(1, 0, s->Out, s->In, s->N, dptr(g, 0), s->Out, dptr(x, 0), s->In, MATMUL_NO_BIAS, beta != 0.0f, dw, s->In);
}

void linear_forward(const LinearShape *s, cl_mem out, cl_mem in, DPtr w, DPtr b) {
    const char *who = "linear_forward";
    linear_check(s, who);
    need(out, who, "out"); need(in, who, "in"); need(w.mem, who, "w");
    if (small(s)) { small_rows_wt(s, out, in, w, NULL, w, b); return; }
    rows_times_wt(s, out, in, w, 0.0f);
    if (b.mem) bias_add(s, out, b);
}

void linear_backward(const LinearShape *s, cl_mem din, DPtr dw, DPtr db, cl_mem dout, cl_mem in, DPtr w) {
    const char *who = "linear_backward";
    linear_check(s, who);
    need(dout, who, "dout"); need(in, who, "in"); need(w.mem, who, "w");
    if (!dw.mem && db.mem) die("internal: %s: a bias gradient without the weights'", who);
    if (small(s)) {
        if (din) small_rows_w(s, din, dout, w, NULL, w);
        if (dw.mem) small_outer(s, dw, db, dout, in, NULL, NULL);
        return;
    }
    if (din) rows_times_w(s, din, dout, w, 0.0f);
    if (dw.mem) outer_sum(s, dw, dout, in, 0.0f);
    if (db.mem) bias_grad(s, db, dout);
}

void linear_tangent(const LinearShape *s, cl_mem out_t, cl_mem in, cl_mem in_t, DPtr w, DPtr w_t, DPtr b_t) {
    const char *who = "linear_tangent";
    linear_check(s, who);
    need(out_t, who, "out_t"); need(in, who, "in"); need(w.mem, who, "w"); need(w_t.mem, who, "w_t");
    if (small(s)) {   /* in w_t^T first: it is the only term when in_t is NULL */
        small_rows_wt(s, out_t, in, w_t, in_t, w, b_t);
        return;
    }
    if (in_t) rows_times_wt(s, out_t, in_t, w, 0.0f);
    rows_times_wt(s, out_t, in, w_t, in_t ? 1.0f : 0.0f);
    if (b_t.mem) bias_add(s, out_t, b_t);
}

void linear_rbackward(const LinearShape *s, cl_mem rdin, DPtr rdw, DPtr rdb, cl_mem dout, cl_mem rdout,
                      cl_mem in, cl_mem in_t, DPtr w, DPtr w_t) {
    const char *who = "linear_rbackward";
    linear_check(s, who);
    need(rdw.mem, who, "rdw"); need(dout, who, "dout"); need(rdout, who, "rdout"); need(in, who, "in");
    need(w.mem, who, "w"); need(w_t.mem, who, "w_t");
    if (small(s)) {
        if (rdin) small_rows_w(s, rdin, rdout, w, dout, w_t);
        small_outer(s, rdw, rdb, rdout, in, in_t ? dout : NULL, in_t);
        return;
    }
    if (rdin) {
        rows_times_w(s, rdin, rdout, w, 0.0f);
        rows_times_w(s, rdin, dout, w_t, 1.0f);
    }
    outer_sum(s, rdw, rdout, in, 0.0f);
    if (in_t) outer_sum(s, rdw, dout, in_t, 1.0f);
    if (rdb.mem) bias_grad(s, rdb, rdout);
}

static void flatten_check(int C, int N, int HW, cl_mem a, cl_mem b, const char *who) {
    if (C <= 0 || N <= 0 || HW <= 0) die("%s: bad shape C=%d N=%d HW=%d", who, C, N, HW);
    if ((size_t)C * N * HW > INT_MAX) die("%s: %d x %d x %d is too large", who, C, N, HW);
    if (!a || !b) die("%s: buffers must not be NULL", who);
}

void flatten_forward(int C, int N, int HW, cl_mem out, cl_mem in) {
    flatten_check(C, N, HW, out, in, "flatten_forward");
    LAUNCH("linear_flatten_fwd", (size_t)C * N * HW, KM(out), KM(in), KI(C), KI(N), KI(HW));
}

void flatten_backward(int C, int N, int HW, cl_mem din, cl_mem dout) {
    flatten_check(C, N, HW, din, dout, "flatten_backward");
    LAUNCH("linear_flatten_bwd", (size_t)C * N * HW, KM(din), KM(dout), KI(C), KI(N), KI(HW));
}
