/* Normalization layers on the device (kernels in cl/norm*.cl: the shared map and
 * formulas in norm.cl, one file per kernel family; formulas in docs/algorithm.md#per-layer-second-order-passes).
 *
 * Three kernel paths:
 *   generic  each pass is one per-set reduction kernel (one work-group per set) followed by
 *            one element-wise kernel, plus one kernel for the parameter gradients (a gather
 *            over the positions sharing an affine index, no atomics). Serves every kind;
 *            used for layer norm (per-element affine) and, on GPUs, for sets that are not
 *            one contiguous run or are large (group norm, batch norm).
 *   groups   GPU, one-run sets of at most NORM_FUSE_MAX elements (instance norm): each pass
 *            is one kernel, a work-group per set doing its sums and its element-wise part.
 *   items    CPU devices, all per-channel-affine kinds: each pass is one kernel, a work-item
 *            per set looping over its runs (no barriers, which cost much on CPU OpenCL).
 * The fused paths leave per-(set, run) sums of the parameter gradients; norm_collect_chan
 * adds them up per channel, so the parameter gradients need no extra pass over the data.
 * CLMTT_KERNEL_FAMILY=cpu|gpu forces the CPU or GPU choice on any device (for tests). */
#include "layers/norm.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* Integer description of a kind's sets; see the comment at the top of cl/norm.cl. */
typedef struct {
    int nhw, hw, setsize, run, spn, kch, ajs, aps;   /* set -> elements */
    int snst, cps, acst, ahst;                       /* element -> set, affine index */
    int nsets;
} NormMap;

#define NORM_MAP_KARGS(m) KI((m).nhw), KI((m).hw), KI((m).setsize), KI((m).run), KI((m).spn), KI((m).kch), \
    KI((m).ajs), KI((m).aps), KI((m).snst), KI((m).cps), KI((m).acst), KI((m).ahst)

/* Checks the shape and dies with a clear message when it cannot be normalized. */
static void check_shape(const NormShape *s) {
    if (s->kind < NORM_INSTANCE || s->kind > NORM_BATCH) die("norm: unknown normalization kind %d", (int)s->kind);
    if (s->C <= 0 || s->N <= 0 || s->HW <= 0) die("norm: bad shape C=%d N=%d HW=%d", s->C, s->N, s->HW);
    if ((long long)s->C * s->N * s->HW > INT_MAX)
        die("norm: activation of %lld elements is too large (at most %d)", (long long)s->C * s->N * s->HW, INT_MAX);
    if (s->kind == NORM_GROUP && s->C % 4 != 0)
        die("norm: group norm uses 4 groups, but C=%d is not a multiple of 4", s->C);
}

int norm_nsets(const NormShape *s) {
    check_shape(s);
    switch (s->kind) {
    case NORM_INSTANCE: return s->N * s->C;
    case NORM_GROUP: return s->N * 4;
    case NORM_LAYER: return s->N;
    default: return s->C;   /* NORM_BATCH */
    }
}

size_t norm_affine_size(const NormShape *s) {
    check_shape(s);
    return s->kind == NORM_LAYER ? (size_t)s->C * s->HW : (size_t)s->C;
}

static NormMap map_of(const NormShape *s) {
    check_shape(s);
    const int C = s->C, HW = s->HW, NHW = s->N * s->HW;
    NormMap m = {.nhw = NHW, .hw = HW, .run = HW, .ajs = 0, .aps = 0, .acst = 1, .ahst = 0};
    switch (s->kind) {
    case NORM_INSTANCE:   /* s = n*C + c: one run of HW */
        m.setsize = HW; m.spn = C; m.kch = 1; m.snst = C; m.cps = 1;
        break;
    case NORM_GROUP:      /* s = n*4 + g: C/4 runs of HW, channel g*C/4 + j */
        m.setsize = C / 4 * HW; m.spn = 4; m.kch = C / 4; m.ajs = 1; m.snst = 4; m.cps = C / 4;
        break;
    case NORM_LAYER:      /* s = n: C runs of HW, affine index c*HW + p */
        m.setsize = C * HW; m.spn = 1; m.kch = 0; m.ajs = HW; m.aps = 1; m.snst = 1; m.cps = C;
        m.acst = HW; m.ahst = 1;
        break;
    default:              /* NORM_BATCH, s = c: one contiguous run of N*HW */
        m.setsize = NHW; m.run = NHW; m.spn = C; m.kch = 1; m.snst = 0; m.cps = 1;
        break;
    }
    m.nsets = norm_nsets(s);
    return m;
}

static size_t total_of(const NormShape *s) { return (size_t)s->C * s->N * s->HW; }

/* Work-group size of `kernel` for a reduction over n elements: a power of two, no larger
 * than needed. */
static size_t local_for(int n, const char *kernel) {
    size_t l = rt_reduce_local(kernel), want = 1;
    while (want < (size_t)n && want < l) want <<= 1;
    return want;
}

#define NORM_FUSE_MAX 4096   /* largest one-run set the GPU "groups" path takes */

typedef enum { PATH_GENERIC, PATH_GROUPS, PATH_ITEMS } NormPath;


static NormPath path_of(const NormShape *s, const NormMap *m) {
    if (s->kind == NORM_LAYER) return PATH_GENERIC;
    if (rt_cpu_family()) return PATH_ITEMS;
    if (m->run == m->setsize && m->kch == 1 && m->setsize <= NORM_FUSE_MAX) return PATH_GROUPS;
    return PATH_GENERIC;
}


/* One pass of a fused path: `cpu` (one work-item per set) or `grp` (one work-group per set,
 * whose kernel takes its local scratch as one more argument); args: the arguments both share. */
static void launch_fused(NormPath path, const NormMap *m, const char *cpu, const char *grp, const KArg *args,
                         int nargs) {
    size_t sets = (size_t)m->nsets;
    if (path == PATH_ITEMS) {
        size_t l = rt_items_local(sets, cpu);
        rt_launch_groups(cpu, (sets + l - 1) / l, l, args, nargs);
        return;
    }
    KArg all[40];
    if (nargs + 1 > (int)(sizeof all / sizeof all[0])) die("internal: norm kernel %s has %d arguments", grp, nargs);
    memcpy(all, args, (size_t)nargs * sizeof(KArg));
    size_t l = local_for(m->setsize, grp);
    all[nargs] = KLOCAL(l * sizeof(float));
    rt_launch_groups(grp, sets, l, all, nargs + 1);
}

/* Parameter-gradient partials of the fused paths: 2 rows of nsets*kch (= samples x C) floats. */
static size_t npart_of(const NormMap *m) { return (size_t)m->nsets * m->kch; }

/* Per-set sums scratch (6 rows of nsets floats for the generic path, the partials for the
 * fused ones): the runtime's, kept between calls so the hot path allocates nothing. */
static cl_mem sums_buffer(size_t need) { return rt_scratch(RT_SCRATCH_NORM_SUMS, need); }

/* Dies unless `m` is given and holds at least n floats (a short buffer would be read or
 * written out of bounds). */
static void need_buf(cl_mem m, size_t n, const char *what) {
    if (!m) die("norm: %s is required", what);
    size_t bytes = 0;
    CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (bytes < n * sizeof(float)) die("norm: buffer '%s' holds %zu floats, needs %zu", what, bytes / sizeof(float), n);
}
static void need_ptr(DPtr p, size_t n, const char *what) { need_buf(p.mem, p.off + n, what); }
/* Optional inputs: checked only when given. */
static void opt_buf(cl_mem m, size_t n, const char *what) { if (m) need_buf(m, n, what); }
static void opt_ptr(DPtr p, size_t n, const char *what) { if (p.mem) need_ptr(p, n, what); }

void norm_forward(const NormShape *s, cl_mem out, cl_mem stats, cl_mem in, DPtr gamma, DPtr beta) {
    NormMap m = map_of(s);
    size_t n = total_of(s), na = norm_affine_size(s);
    if (s->kind == NORM_BATCH && s->N * s->HW < 2)
        die("batchnorm: training needs more than one value per channel (N*HW = %d)", s->N * s->HW);
    need_buf(out, n, "out"); need_buf(stats, 2 * (size_t)m.nsets, "stats"); need_buf(in, n, "in");
    need_ptr(gamma, na, "gamma"); need_ptr(beta, na, "beta");
    NormPath path = path_of(s, &m);
    if (path != PATH_GENERIC) {
        launch_fused(path, &m, "norm_cpu_fwd", "norm_grp_fwd", KARGS_(KM(out), KM(in), KM(stats), KI(m.nsets),
                     KM(gamma.mem), KL(gamma.off), KM(beta.mem), KL(beta.off), NORM_MAP_KARGS(m)));
        return;
    }
    size_t l = local_for(m.setsize, "norm_set_stats");
    LAUNCH_GROUPS("norm_set_stats", (size_t)m.nsets, l, KM(in), KM(stats), KI(m.nsets), NORM_MAP_KARGS(m),
                  KLOCAL(l * sizeof(float)));
    LAUNCH("norm_fwd_apply", n, KM(out), KM(in), KM(stats), KI(m.nsets), KM(gamma.mem), KL(gamma.off),
           KM(beta.mem), KL(beta.off), KI(n), NORM_MAP_KARGS(m));
}

/* An absent optional DPtr argument. */
static const DPtr NO_PTR = {NULL, 0};

/* Per-set sums (rows as in cl/norm.cl); unused buffers may be NULL (NO_PTR for gamma_t). */
static void set_sums(const NormMap *m, cl_mem sums, cl_mem in, cl_mem stats, DPtr gamma, cl_mem dout, cl_mem rdout,
                     cl_mem in_t, DPtr gamma_t, int has_d, int has_r) {
    size_t l = local_for(m->setsize, "norm_set_sums");
    LAUNCH_GROUPS("norm_set_sums", (size_t)m->nsets, l, KM(in), KM(stats), KI(m->nsets), KM(gamma.mem),
                  KL(gamma.off), KM(dout), KM(rdout), KM(in_t), KM(gamma_t.mem), KL(gamma_t.off), KI(in_t != NULL),
                  KI(has_d), KI(has_r), KI(gamma_t.mem != NULL), KM(sums), NORM_MAP_KARGS(*m),
                  KLOCAL(l * sizeof(float)));
}

/* 1 when parameter gradients are wanted; dies when only one of the two is given. */
static int want_param_grads(DPtr dgamma, DPtr dbeta) {
    if (!dgamma.mem && !dbeta.mem) return 0;
    if (!dgamma.mem || !dbeta.mem) die("norm: dgamma and dbeta must be both given or both NULL");
    return 1;
}

/* Generic path: dgamma = sum g1 zhat (+ g2 zhat_t when in_t), dbeta = sum g1, over positions
 * sharing an affine index. Both outputs NULL: nothing to do. */
static void param_grads(const NormShape *s, const NormMap *m, DPtr dgamma, DPtr dbeta, cl_mem g1, cl_mem g2,
                        cl_mem in, cl_mem in_t, cl_mem stats, cl_mem sums) {
    if (!want_param_grads(dgamma, dbeta)) return;
    if (s->kind == NORM_LAYER) {
        size_t asize = norm_affine_size(s);
        LAUNCH("norm_pgrad_elem", asize, KM(g1), KM(g2), KM(in), KM(in_t), KM(stats), KM(sums), KI(m->nsets),
               KI(in_t != NULL), KM(dgamma.mem), KL(dgamma.off), KM(dbeta.mem), KL(dbeta.off), KI(asize),
               NORM_MAP_KARGS(*m));
    } else {
        size_t l = local_for(m->nhw, "norm_pgrad_chan");
        LAUNCH_GROUPS("norm_pgrad_chan", (size_t)s->C, l, KM(g1), KM(g2), KM(in), KM(in_t), KM(stats), KM(sums),
                      KI(m->nsets), KI(in_t != NULL), KM(dgamma.mem), KL(dgamma.off), KM(dbeta.mem), KL(dbeta.off),
                      NORM_MAP_KARGS(*m), KLOCAL(l * sizeof(float)));
    }
}

/* Fused paths: per-channel parameter gradients from the partials in `part`. */
static void collect_param_grads(const NormShape *s, const NormMap *m, cl_mem part, DPtr dgamma, DPtr dbeta) {
    size_t np = npart_of(m);
    LAUNCH("norm_collect_chan", (size_t)s->C, KM(part), KI(np), KI(s->C), KI(np / s->C), KM(dgamma.mem),
           KL(dgamma.off), KM(dbeta.mem), KL(dbeta.off));
}

void norm_backward(const NormShape *s, cl_mem din, DPtr dgamma, DPtr dbeta, cl_mem dout, cl_mem in, cl_mem stats,
                   DPtr gamma) {
    NormMap m = map_of(s);
    size_t n = total_of(s), na = norm_affine_size(s);
    need_buf(dout, n, "dout"); need_buf(in, n, "in"); need_buf(stats, 2 * (size_t)m.nsets, "stats");
    need_ptr(gamma, na, "gamma"); opt_buf(din, n, "din"); opt_ptr(dgamma, na, "dgamma"); opt_ptr(dbeta, na, "dbeta");
    NormPath path = path_of(s, &m);
    if (path != PATH_GENERIC) {
        int want = want_param_grads(dgamma, dbeta);
        if (!din && !want) return;
        cl_mem part = sums_buffer(2 * npart_of(&m));
        launch_fused(path, &m, "norm_cpu_bwd", "norm_grp_bwd", KARGS_(KM(din), KM(dout), KM(in), KM(stats),
                     KI(m.nsets), KM(gamma.mem), KL(gamma.off), KM(part), KI(npart_of(&m)), KI(want),
                     KI(din != NULL), NORM_MAP_KARGS(m)));
        if (want) collect_param_grads(s, &m, part, dgamma, dbeta);
        return;
    }
    cl_mem sums = sums_buffer(6 * (size_t)m.nsets);
    if (din) {
        set_sums(&m, sums, in, stats, gamma, dout, NULL, NULL, NO_PTR, 1, 0);
        LAUNCH("norm_bwd_apply", n, KM(din), KM(dout), KM(in), KM(stats), KM(sums), KI(m.nsets), KM(gamma.mem),
               KL(gamma.off), KI(n), NORM_MAP_KARGS(m));
    }
    param_grads(s, &m, dgamma, dbeta, dout, NULL, in, NULL, stats, sums);
}

void norm_tangent(const NormShape *s, cl_mem out_t, cl_mem in, cl_mem in_t, cl_mem stats, DPtr gamma, DPtr gamma_t,
                  DPtr beta_t) {
    NormMap m = map_of(s);
    size_t n = total_of(s), na = norm_affine_size(s);
    need_buf(out_t, n, "out_t"); need_buf(in, n, "in"); need_buf(stats, 2 * (size_t)m.nsets, "stats");
    need_ptr(gamma, na, "gamma"); opt_buf(in_t, n, "in_t"); opt_ptr(gamma_t, na, "gamma_t");
    opt_ptr(beta_t, na, "beta_t");
    NormPath path = path_of(s, &m);
    if (path != PATH_GENERIC) {
        launch_fused(path, &m, "norm_cpu_tan", "norm_grp_tan", KARGS_(KM(out_t), KM(in), KM(in_t), KM(stats),
                     KI(m.nsets), KM(gamma.mem), KL(gamma.off), KM(gamma_t.mem), KL(gamma_t.off), KM(beta_t.mem),
                     KL(beta_t.off), KI(in_t != NULL), KI(gamma_t.mem != NULL), KI(beta_t.mem != NULL),
                     NORM_MAP_KARGS(m)));
        return;
    }
    cl_mem sums = sums_buffer(6 * (size_t)m.nsets);
    if (in_t) set_sums(&m, sums, in, stats, gamma, NULL, NULL, in_t, NO_PTR, 0, 0);
    LAUNCH("norm_tan_apply", n, KM(out_t), KM(in), KM(in_t), KM(stats), KM(sums), KI(m.nsets), KM(gamma.mem),
           KL(gamma.off), KM(gamma_t.mem), KL(gamma_t.off), KM(beta_t.mem), KL(beta_t.off), KI(in_t != NULL),
           KI(gamma_t.mem != NULL), KI(beta_t.mem != NULL), KI(n), NORM_MAP_KARGS(m));
}

void norm_rbackward(const NormShape *s, cl_mem rdin, DPtr rdgamma, DPtr rdbeta, cl_mem dout, cl_mem rdout, cl_mem in,
                    cl_mem in_t, cl_mem stats, DPtr gamma, DPtr gamma_t) {
    NormMap m = map_of(s);
    size_t n = total_of(s), na = norm_affine_size(s);
    need_buf(dout, n, "dout"); need_buf(rdout, n, "rdout"); need_buf(in, n, "in");
    need_buf(stats, 2 * (size_t)m.nsets, "stats"); need_ptr(gamma, na, "gamma"); opt_buf(rdin, n, "rdin");
    opt_buf(in_t, n, "in_t"); opt_ptr(gamma_t, na, "gamma_t"); opt_ptr(rdgamma, na, "rdgamma");
    opt_ptr(rdbeta, na, "rdbeta");
    NormPath path = path_of(s, &m);
    if (path != PATH_GENERIC) {
        int want = want_param_grads(rdgamma, rdbeta);
        if (!rdin && !want) return;
        cl_mem part = sums_buffer(2 * npart_of(&m));
        launch_fused(path, &m, "norm_cpu_rbwd", "norm_grp_rbwd", KARGS_(KM(rdin), KM(dout), KM(rdout), KM(in),
                     KM(in_t), KM(stats), KI(m.nsets), KM(gamma.mem), KL(gamma.off), KM(gamma_t.mem),
                     KL(gamma_t.off), KI(in_t != NULL), KI(gamma_t.mem != NULL), KM(part), KI(npart_of(&m)),
                     KI(want), KI(rdin != NULL), NORM_MAP_KARGS(m)));
        if (want) collect_param_grads(s, &m, part, rdgamma, rdbeta);
        return;
    }
    cl_mem sums = sums_buffer(6 * (size_t)m.nsets);
    /* The input-gradient tangent needs every row; the parameter gradients only rows 0-1. */
    if (rdin || in_t) set_sums(&m, sums, in, stats, gamma, dout, rdout, in_t, gamma_t, rdin != NULL, rdin != NULL);
    if (rdin)
        LAUNCH("norm_rbwd_apply", n, KM(rdin), KM(dout), KM(rdout), KM(in), KM(in_t), KM(stats), KM(sums),
               KI(m.nsets), KM(gamma.mem), KL(gamma.off), KM(gamma_t.mem), KL(gamma_t.off), KI(in_t != NULL),
               KI(gamma_t.mem != NULL), KI(n), NORM_MAP_KARGS(m));
    param_grads(s, &m, rdgamma, rdbeta, rdout, dout, in, in_t, stats, sums);
}

void batchnorm_eval_forward(const NormShape *s, cl_mem out, cl_mem in, cl_mem run_mean, cl_mem run_var, DPtr gamma,
                            DPtr beta) {
    check_shape(s);
    if (s->kind != NORM_BATCH) die("batchnorm_eval_forward: kind %d is not NORM_BATCH", (int)s->kind);
    size_t n = total_of(s), C = (size_t)s->C;
    need_buf(out, n, "out"); need_buf(in, n, "in"); need_buf(run_mean, C, "run_mean"); need_buf(run_var, C, "run_var");
    need_ptr(gamma, C, "gamma"); need_ptr(beta, C, "beta");
    LAUNCH("norm_bn_eval", n, KM(out), KM(in), KM(run_mean), KM(run_var), KM(gamma.mem), KL(gamma.off),
           KM(beta.mem), KL(beta.off), KI(s->N * s->HW), KI(n));
}

void batchnorm_update_running(const NormShape *s, cl_mem run_mean, cl_mem run_var, cl_mem stats) {
    check_shape(s);
    if (s->kind != NORM_BATCH) die("batchnorm_update_running: kind %d is not NORM_BATCH", (int)s->kind);
    if (s->N * s->HW < 2)
        die("batchnorm: training needs more than one value per channel (N*HW = %d)", s->N * s->HW);
    size_t C = (size_t)s->C;
    need_buf(run_mean, C, "run_mean"); need_buf(run_var, C, "run_var"); need_buf(stats, 2 * C, "stats");
    LAUNCH("norm_bn_running", C, KM(run_mean), KM(run_var), KM(stats), KI(s->C), KI(s->N * s->HW));
}
