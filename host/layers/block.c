/* The fused norm + activation + pool block on the device (kernels in cl/norm_block.cl). One
 * launch per pass, one channel per work-item (CPU family) or per work-group (GPU family,
 * items over a plane, sums by group reduction); CLMTT_KERNEL_FAMILY=cpu|gpu forces one. */
#include "layers/block.h"
#include "core/util.h"

#include <limits.h>

int block_supports(NormKind norm, ActKind act, PoolKind pool) {
    int n_ok = norm == NORM_NONE || norm == NORM_INSTANCE || norm == NORM_BATCH;
    int a_ok = act == ACT_RELU || act == ACT_SIGMOID || act == ACT_LEAKYRELU;
    int p_ok = pool == POOL_NONE || pool == POOL_AVG || pool == POOL_MAX;
    return n_ok && a_ok && p_ok;
}

static void check_shape(const BlockShape *s) {
    if (!block_supports(s->norm, s->act, s->pool))
        die("block: unsupported chain (norm %d, activation %d, pool %d)", (int)s->norm, (int)s->act, (int)s->pool);
    if (s->C <= 0 || s->N <= 0 || s->H <= 0 || s->W <= 0)
        die("block: bad shape C=%d N=%d H=%d W=%d", s->C, s->N, s->H, s->W);
    if ((long long)s->C * s->N * s->H * s->W > INT_MAX)
        die("block: activation of %lld elements is too large (at most %d)", (long long)s->C * s->N * s->H * s->W,
            INT_MAX);
    if (s->pool != POOL_NONE && (s->H < 2 || s->W < 2)) die("block: a %dx%d plane is too small to pool", s->H, s->W);
}

int block_nsets(const BlockShape *s) {
    check_shape(s);
    return s->norm == NORM_INSTANCE ? s->N * s->C : s->norm == NORM_BATCH ? s->C : 0;
}

size_t block_out_size(const BlockShape *s) {
    check_shape(s);
    size_t planes = (size_t)s->C * s->N;
    return s->pool == POOL_NONE ? planes * s->H * s->W : planes * pool_out(s->H) * pool_out(s->W);
}

static size_t in_size(const BlockShape *s) { return (size_t)s->C * s->N * s->H * s->W; }

/* Sets per channel as the kernels take it: 0 (no norm), N (instance) or 1 (batch). */
static int sets_per_channel(const BlockShape *s) {
    return s->norm == NORM_INSTANCE ? s->N : s->norm == NORM_BATCH ? 1 : 0;
}

#define BLOCK_KARGS(s) KI((s)->C), KI((s)->N), KI((s)->H), KI((s)->W), KI(sets_per_channel(s)), KI((s)->act), \
    KI((s)->pool), KI((s)->out_nchw != 0)
/* An optional per-channel vector as kernel arguments (buffer, offset, present). */
#define CHAN_KARGS(p) KM((p).mem), KL((p).off), KI((p).mem != NULL)

/* Dies unless `m` is given and holds at least n floats (a short buffer would be read or
 * written out of bounds). */
static void need_buf(cl_mem m, size_t n, const char *what) {
    if (!m) die("block: %s is required", what);
    size_t bytes = 0;
    CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (bytes < n * sizeof(float))
        die("block: buffer '%s' holds %zu floats, needs %zu", what, bytes / sizeof(float), n);
}
static void need_ptr(DPtr p, size_t n, const char *what) { need_buf(p.mem, p.off + n, what); }
static void opt_ptr(DPtr p, size_t n, const char *what) { if (p.mem) need_ptr(p, n, what); }

/* The norm's inputs (gamma, beta, stats), checked only when the block normalizes. */
static void need_norm(const BlockShape *s, cl_mem stats, DPtr gamma, DPtr beta) {
    if (s->norm == NORM_NONE) return;
    need_buf(stats, 2 * (size_t)block_nsets(s), "stats");
    need_ptr(gamma, (size_t)s->C, "gamma");
    need_ptr(beta, (size_t)s->C, "beta");
}

/* 1 when parameter gradients are wanted; dies when only one of the two is given. */
static int want_pair(DPtr a, DPtr b, const char *what) {
    if (!a.mem && !b.mem) return 0;
    if (!a.mem || !b.mem) die("block: %s must be both given or both NULL", what);
    return 1;
}

/* One pass: `cpu` with one work-item per channel, or `grp` with one work-group per channel
 * and its local scratch as one more argument. */
static void launch(const BlockShape *s, const char *cpu, const char *grp, const KArg *args, int nargs) {
    size_t C = (size_t)s->C;
    if (rt_cpu_family()) {
        size_t l = rt_items_local(C, cpu);
        rt_launch_groups(cpu, (C + l - 1) / l, l, args, nargs);
        return;
    }
    KArg all[48];
    if (nargs + 1 > (int)(sizeof all / sizeof all[0])) die("internal: block kernel %s has %d arguments", grp, nargs);
    for (int i = 0; i < nargs; i++) all[i] = args[i];
    size_t l = rt_reduce_local(grp), hw = (size_t)s->H * s->W, want = 1;
    while (want < hw && want < l) want <<= 1;
    all[nargs] = KLOCAL(want * sizeof(float));
    rt_launch_groups(grp, C, want, all, nargs + 1);
}

void block_forward(const BlockShape *s, cl_mem out, cl_mem stats, cl_mem in, DPtr gamma, DPtr beta, DPtr bias,
                   cl_mem run_mean, cl_mem run_var) {
    check_shape(s);
    opt_ptr(bias, (size_t)s->C, "bias");
    need_buf(out, block_out_size(s), "out"); need_buf(in, in_size(s), "in"); need_norm(s, stats, gamma, beta);
    int upd = run_mean != NULL || run_var != NULL;
    if (upd) {
        if (s->norm != NORM_BATCH) die("block: running statistics are for batch norm only");
        need_buf(run_mean, (size_t)s->C, "run_mean"); need_buf(run_var, (size_t)s->C, "run_var");
    }
    if (s->norm == NORM_BATCH && s->N * s->H * s->W < 2)
        die("batchnorm: training needs more than one value per channel (N*HW = %d)", s->N * s->H * s->W);
    launch(s, "block_cpu_fwd", "block_grp_fwd", KARGS_(KM(out), KM(in), KM(stats), KM(gamma.mem), KL(gamma.off),
           KM(beta.mem), KL(beta.off), KM(run_mean), KM(run_var), KI(upd), CHAN_KARGS(bias), BLOCK_KARGS(s)));
}

void block_backward(const BlockShape *s, cl_mem din, DPtr dgamma, DPtr dbeta, DPtr dbias, cl_mem dout, cl_mem in,
                    cl_mem stats, DPtr gamma, DPtr beta, DPtr bias) {
    check_shape(s);
    size_t C = (size_t)s->C;
    need_buf(din, in_size(s), "din"); need_buf(dout, block_out_size(s), "dout"); need_buf(in, in_size(s), "in");
    need_norm(s, stats, gamma, beta);
    int want_gb = s->norm != NORM_NONE && want_pair(dgamma, dbeta, "dgamma and dbeta");
    if (want_gb) { need_ptr(dgamma, C, "dgamma"); need_ptr(dbeta, C, "dbeta"); }
    opt_ptr(dbias, C, "dbias");
    opt_ptr(bias, C, "bias");
    launch(s, "block_cpu_bwd", "block_grp_bwd", KARGS_(KM(din), KM(dout), KM(in), KM(stats), KM(gamma.mem),
           KL(gamma.off), KM(beta.mem), KL(beta.off), KM(dgamma.mem), KL(dgamma.off), KM(dbeta.mem), KL(dbeta.off),
           KI(want_gb), KM(dbias.mem), KL(dbias.off), KI(dbias.mem != NULL), CHAN_KARGS(bias), BLOCK_KARGS(s)));
}

void block_tangent(const BlockShape *s, cl_mem out_t, cl_mem in, cl_mem in_t, cl_mem stats, DPtr gamma, DPtr beta,
                   DPtr gamma_t, DPtr beta_t, DPtr bias, DPtr bias_t) {
    check_shape(s);
    need_buf(out_t, block_out_size(s), "out_t"); need_buf(in, in_size(s), "in"); need_buf(in_t, in_size(s), "in_t");
    need_norm(s, stats, gamma, beta);
    if (s->norm != NORM_NONE) { need_ptr(gamma_t, (size_t)s->C, "gamma_t"); need_ptr(beta_t, (size_t)s->C, "beta_t"); }
    opt_ptr(bias, (size_t)s->C, "bias"); opt_ptr(bias_t, (size_t)s->C, "bias_t");
    launch(s, "block_cpu_tan", "block_grp_tan", KARGS_(KM(out_t), KM(in), KM(in_t), KM(stats), KM(gamma.mem),
           KL(gamma.off), KM(beta.mem), KL(beta.off), KM(gamma_t.mem), KL(gamma_t.off), KM(beta_t.mem),
           KL(beta_t.off), CHAN_KARGS(bias), CHAN_KARGS(bias_t), BLOCK_KARGS(s)));
}

void block_rbackward(const BlockShape *s, cl_mem rdin, DPtr rdgamma, DPtr rdbeta, DPtr rdbias, cl_mem dout,
                     cl_mem rdout, cl_mem in, cl_mem in_t, cl_mem stats, DPtr gamma, DPtr beta, DPtr gamma_t,
                     DPtr beta_t, DPtr bias, DPtr bias_t) {
    check_shape(s);
    size_t C = (size_t)s->C, no = block_out_size(s), ni = in_size(s);
    need_buf(rdin, ni, "rdin"); need_buf(dout, no, "dout"); need_buf(rdout, no, "rdout"); need_buf(in, ni, "in");
    need_buf(in_t, ni, "in_t"); need_norm(s, stats, gamma, beta);
    if (s->norm != NORM_NONE) { need_ptr(gamma_t, C, "gamma_t"); need_ptr(beta_t, C, "beta_t"); }
    int want_gb = s->norm != NORM_NONE && want_pair(rdgamma, rdbeta, "rdgamma and rdbeta");
    if (want_gb) { need_ptr(rdgamma, C, "rdgamma"); need_ptr(rdbeta, C, "rdbeta"); }
    opt_ptr(rdbias, C, "rdbias");
    opt_ptr(bias, C, "bias"); opt_ptr(bias_t, C, "bias_t");
    launch(s, "block_cpu_rbwd", "block_grp_rbwd", KARGS_(KM(rdin), KM(dout), KM(rdout), KM(in), KM(in_t), KM(stats),
           KM(gamma.mem), KL(gamma.off), KM(beta.mem), KL(beta.off), KM(gamma_t.mem), KL(gamma_t.off),
           KM(beta_t.mem), KL(beta_t.off), KM(rdgamma.mem), KL(rdgamma.off), KM(rdbeta.mem), KL(rdbeta.off),
           KI(want_gb), KM(rdbias.mem), KL(rdbias.off), KI(rdbias.mem != NULL), CHAN_KARGS(bias), CHAN_KARGS(bias_t),
           BLOCK_KARGS(s)));
}
