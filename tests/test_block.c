/* The fused norm + activation + pool block (host/layers/block.h):
 *  - float64 reference against central finite differences of the reference forward
 *    (backward incl. the conv bias gradient, tangent) and of the reference backward
 *    (R-backward), for every norm / activation / pool kind on a small odd shape;
 *  - device passes against the reference on random inputs, outputs and statistics poisoned
 *    with NaN first, gradients at offsets inside larger poisoned buffers (nothing else may
 *    be written), on odd shapes and on planes larger than one work-group; with and without
 *    the conv bias the block adds (the reference sees the biased input), CNHW and NCHW
 *    (flattened) outputs.
 * ctest runs it for both kernel families (test_block, test_block_gpu_family). */
#include "testutil.h"
#include "layers/block.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FD_H 1e-6
#define FD_RTOL 1e-5
#define FD_ATOL 1e-7
/* float32 device results vs float64: a few ulps per element, more for sums (below). */
#define DEV_RTOL 1e-4
#define DEV_ATOL 2e-5

static const NormKind NORMS[] = {NORM_NONE, NORM_INSTANCE, NORM_BATCH};
static const ActKind ACTS[] = {ACT_RELU, ACT_SIGMOID, ACT_LEAKYRELU};
static const PoolKind POOLS[] = {POOL_NONE, POOL_AVG, POOL_MAX};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static size_t in_size(const BlockShape *s) { return (size_t)s->C * s->N * s->H * s->W; }

static void tag_of(char *tag, size_t len, const BlockShape *s, const char *what) {
    snprintf(tag, len, "%s norm=%d act=%d pool=%d C=%d N=%d H=%d W=%d", what, (int)s->norm, (int)s->act,
             (int)s->pool, s->C, s->N, s->H, s->W);
}

/* Random inputs of one shape: in with a non-zero mean, gamma away from 0, and directions. */
typedef struct {
    BlockShape s;
    size_t ni, no, C;
    double *in, *gamma, *beta, *dout, *rdout, *in_t, *gamma_t, *beta_t;
} Case;

static double *rand_d(size_t n, uint64_t seed, double scale, double shift) {
    double *x = tu_new_rand_d(n, seed);
    for (size_t i = 0; i < n; i++) x[i] = scale * x[i] + shift;
    return x;
}

static Case case_of(const BlockShape *s, uint64_t seed) {
    Case c = {.s = *s, .ni = in_size(s), .no = block_out_size(s), .C = (size_t)s->C};
    c.in = rand_d(c.ni, seed, 1.5, 0.3);
    c.in_t = rand_d(c.ni, seed + 1, 1.0, 0.0);
    c.dout = rand_d(c.no, seed + 2, 1.0, 0.0);
    c.rdout = rand_d(c.no, seed + 3, 1.0, 0.0);
    c.gamma = rand_d(c.C, seed + 4, 0.5, 1.0);
    c.beta = rand_d(c.C, seed + 5, 0.5, 0.1);
    c.gamma_t = rand_d(c.C, seed + 6, 1.0, 0.0);
    c.beta_t = rand_d(c.C, seed + 7, 1.0, 0.0);
    return c;
}

static void case_free(Case *c) {
    free(c->in); free(c->gamma); free(c->beta); free(c->dout); free(c->rdout); free(c->in_t);
    free(c->gamma_t); free(c->beta_t);
}

/* ---- reference vs finite differences ---- */

/* The flat vector of everything the backward pass differentiates: in, gamma, beta, and a
 * per-channel bias added to in (the conv's bias, whose gradient the block returns). */
static size_t var_len(const Case *c) { return c->ni + 3 * c->C; }

/* Forward output at v (in, gamma, beta, bias) into out. */
static void forward_at(const Case *c, const double *v, double *out) {
    double *x = xmalloc(c->ni * 8);
    size_t per = c->ni / c->C;
    for (size_t i = 0; i < c->ni; i++) x[i] = v[i] + v[c->ni + 3 * c->C - c->C + i / per];
    block_forward_ref(&c->s, out, NULL, x, v + c->ni, v + c->ni + c->C);
    free(x);
}

static double *vars_of(const Case *c) {
    double *v = xcalloc(var_len(c), 8);
    memcpy(v, c->in, c->ni * 8);
    memcpy(v + c->ni, c->gamma, c->C * 8);
    memcpy(v + c->ni + c->C, c->beta, c->C * 8);
    return v;   /* bias 0 */
}

/* Gradient of <dout, forward> at v by the reference backward, in the layout of vars_of. */
static void backward_at(const Case *c, const double *v, const double *dout, double *g) {
    double *x = xmalloc(c->ni * 8);
    size_t per = c->ni / c->C;
    for (size_t i = 0; i < c->ni; i++) x[i] = v[i] + v[c->ni + 2 * c->C + i / per];
    block_backward_ref(&c->s, g, g + c->ni, g + c->ni + c->C, g + c->ni + 2 * c->C, dout, x, v + c->ni,
                       v + c->ni + c->C);
    if (c->s.norm == NORM_NONE) memset(g + c->ni, 0, 2 * c->C * 8);   /* no gamma, beta */
    free(x);
}

static void check_ref_fd(const BlockShape *s, uint64_t seed) {
    Case c = case_of(s, seed);
    size_t m = var_len(&c);
    char tag[160];
    double *v = vars_of(&c), *g = xmalloc(m * 8), *fd = xmalloc(m * 8);
    double *op = xmalloc(c.no * 8), *om = xmalloc(c.no * 8);
    /* backward: every partial derivative of <dout, forward> */
    backward_at(&c, v, c.dout, g);
    for (size_t i = 0; i < m; i++) {
        double keep = v[i];
        v[i] = keep + FD_H; forward_at(&c, v, op);
        v[i] = keep - FD_H; forward_at(&c, v, om);
        v[i] = keep;
        fd[i] = (tu_dot_d(c.dout, op, c.no) - tu_dot_d(c.dout, om, c.no)) / (2 * FD_H);
    }
    tag_of(tag, sizeof tag, s, "ref backward (in, gamma, beta, bias) vs FD");
    tu_check_close_d(tag, g, fd, m, FD_RTOL, FD_ATOL);
    /* tangent along (in_t, gamma_t, beta_t) */
    double *dir = xcalloc(m, 8), *t = xmalloc(c.no * 8), *tfd = xmalloc(c.no * 8);
    memcpy(dir, c.in_t, c.ni * 8);
    memcpy(dir + c.ni, c.gamma_t, c.C * 8);
    memcpy(dir + c.ni + c.C, c.beta_t, c.C * 8);
    double *vp = tu_along(v, dir, FD_H, m), *vm = tu_along(v, dir, -FD_H, m);
    block_tangent_ref(&c.s, t, c.in, c.in_t, c.gamma, c.beta, c.gamma_t, c.beta_t);
    forward_at(&c, vp, op);
    forward_at(&c, vm, om);
    for (size_t i = 0; i < c.no; i++) tfd[i] = (op[i] - om[i]) / (2 * FD_H);
    tag_of(tag, sizeof tag, s, "ref tangent vs FD");
    tu_check_close_d(tag, t, tfd, c.no, FD_RTOL, FD_ATOL);
    /* R-backward: the directional derivative of the backward along dir and rdout */
    double *r = xmalloc(m * 8), *gp = xmalloc(m * 8), *gm = xmalloc(m * 8);
    double *dp = tu_along(c.dout, c.rdout, FD_H, c.no), *dm = tu_along(c.dout, c.rdout, -FD_H, c.no);
    block_rbackward_ref(&c.s, r, r + c.ni, r + c.ni + c.C, r + c.ni + 2 * c.C, c.dout, c.rdout, c.in, c.in_t, c.gamma,
                        c.beta, c.gamma_t, c.beta_t);
    if (s->norm == NORM_NONE) memset(r + c.ni, 0, 2 * c.C * 8);
    backward_at(&c, vp, dp, gp);
    backward_at(&c, vm, dm, gm);
    for (size_t i = 0; i < m; i++) fd[i] = (gp[i] - gm[i]) / (2 * FD_H);
    tag_of(tag, sizeof tag, s, "ref R-backward (rdin, rdgamma, rdbeta, rdbias) vs FD");
    tu_check_close_d(tag, r, fd, m, FD_RTOL, FD_ATOL);
    ck_assert_msg(tu_dot_d(r, r, c.ni) > 1e-6, "%s: degenerate check (zero R-backward)", tag);
    free(v); free(g); free(fd); free(op); free(om); free(dir); free(t); free(tfd); free(vp); free(vm);
    free(r); free(gp); free(gm); free(dp); free(dm);
    case_free(&c);
}

/* check(s, seed) for every norm x activation x pool of a block of C channels, N samples,
 * H x W planes, each with its own seed: first + 20, first + 40, ... */
static void each_kind(int C, int N, int H, int W, uint64_t first, void (*check)(const BlockShape *, uint64_t)) {
    uint64_t seed = first;
    for (size_t a = 0; a < COUNT(NORMS); a++)
        for (size_t b = 0; b < COUNT(ACTS); b++)
            for (size_t p = 0; p < COUNT(POOLS); p++) {
                BlockShape s = {NORMS[a], ACTS[b], POOLS[p], C, N, H, W, 0};
                check(&s, seed += 20);
            }
}

START_TEST(ref_matches_finite_differences) { each_kind(3, 2, 5, 7, 500, check_ref_fd); }
END_TEST

/* ---- device vs reference ---- */

static cl_mem upload_d(const double *x, size_t n) {
    float *f = tu_to_float(x, n);
    cl_mem m = tu_upload(f, n);
    free(f);
    return m;
}

/* Parameter-like buffer: a at offset 3, b at 3 + C + 2 (filler elsewhere). */
static size_t off_b(size_t C) { return 3 + C + 2; }
static size_t pair_len(size_t C) { return off_b(C) + C + 4; }
static cl_mem upload_pair(const double *a, const double *b, size_t C) {
    size_t len = pair_len(C);
    double *h = xmalloc(len * 8);
    for (size_t i = 0; i < len; i++) h[i] = 77.0;
    memcpy(h + 3, a, C * 8);
    memcpy(h + off_b(C), b, C * 8);
    cl_mem m = upload_d(h, len);
    free(h);
    return m;
}

static void check_dev(const char *tag, const char *what, cl_mem m, size_t off, const double *want, size_t n,
                      double atol) {
    float *h = tu_download(m, off, n);
    char w[256];
    snprintf(w, sizeof w, "%s: %s", tag, what);
    tu_check_close(w, h, want, n, DEV_RTOL, atol);
    free(h);
}

/* Round the float64 inputs to float32 so the reference sees what the device sees. */
static void round_to_float(double *x, size_t n) { for (size_t i = 0; i < n; i++) x[i] = (float)x[i]; }

/* x + v[c] on a CNHW tensor of C channels (a copy; v NULL: a plain copy). */
static double *plus_channel(const double *x, const double *v, size_t C, size_t n) {
    double *y = xmalloc(n * 8);
    for (size_t i = 0; i < n; i++) y[i] = x[i] + (v ? v[i / (n / C)] : 0.0);
    return y;
}

/* A C x N stack of planes of `hw` between CNHW and NCHW, in place (to_nchw 1: CNHW -> NCHW). */
static void planes_swap(double *x, int C, int N, size_t hw, int to_nchw) {
    size_t n = (size_t)C * N * hw;
    double *t = xmalloc(n * 8);
    for (int c = 0; c < C; c++)
        for (int k = 0; k < N; k++) {
            size_t cn = ((size_t)c * N + k) * hw, nc = ((size_t)k * C + c) * hw;
            memcpy(t + (to_nchw ? nc : cn), x + (to_nchw ? cn : nc), hw * 8);
        }
    memcpy(x, t, n * 8);
    free(t);
}

/* A per-channel vector on the device at offset 2 of a poisoned buffer (absent when v NULL). */
static DPtr upload_chan(const double *v, size_t C, cl_mem *buf) {
    *buf = NULL;
    if (!v) return dptr(NULL, 0);
    double *h = xmalloc((C + 5) * 8);
    for (size_t i = 0; i < C + 5; i++) h[i] = NAN;
    memcpy(h + 2, v, C * 8);
    *buf = upload_d(h, C + 5);
    free(h);
    return dptr(*buf, 2);
}

static void device_case(const BlockShape *shape, uint64_t seed) {
    /* Every other kind writes NCHW; two kinds in three get a bias. */
    BlockShape sv = *shape;
    sv.out_nchw = (int)((seed / 20) % 2);
    const BlockShape *s = &sv;
    int with_bias = (seed / 20) % 3 != 0;
    Case c = case_of(s, seed);
    double *bias = with_bias ? rand_d(c.C, seed + 8, 1.0, 0.2) : NULL, *bias_t = with_bias ? rand_d(c.C, seed + 9, 1.0, 0.0) : NULL;
    double **all[] = {&c.in, &c.in_t, &c.dout, &c.rdout, &c.gamma, &c.beta, &c.gamma_t, &c.beta_t};
    size_t lens[] = {c.ni, c.ni, c.no, c.no, c.C, c.C, c.C, c.C};
    for (size_t k = 0; k < COUNT(all); k++) round_to_float(*all[k], lens[k]);
    if (bias) { round_to_float(bias, c.C); round_to_float(bias_t, c.C); }
    /* The reference: the biased input, CNHW output gradients; the device: NCHW ones when asked. */
    double *in_b = plus_channel(c.in, bias, c.C, c.ni), *in_tb = plus_channel(c.in_t, bias_t, c.C, c.ni);
    size_t ohw = c.no / ((size_t)s->C * s->N);
    double *dout_dev = plus_channel(c.dout, NULL, c.C, c.no), *rdout_dev = plus_channel(c.rdout, NULL, c.C, c.no);
    if (s->out_nchw) { planes_swap(dout_dev, s->C, s->N, ohw, 1); planes_swap(rdout_dev, s->C, s->N, ohw, 1); }
    char tag[200];
    tag_of(tag, sizeof tag, s, "device");
    snprintf(tag + strlen(tag), sizeof tag - strlen(tag), "%s%s", with_bias ? " bias" : "", s->out_nchw ? " NCHW" : "");
    int ns = block_nsets(s);
    size_t C = c.C, plen = pair_len(C);
    /* sums run over N*H*W terms per channel */
    double sum_atol = DEV_ATOL * sqrt((double)s->N * s->H * s->W);
    cl_mem in = upload_d(c.in, c.ni), in_t = upload_d(c.in_t, c.ni), dout = upload_d(dout_dev, c.no);
    cl_mem rdout = upload_d(rdout_dev, c.no), bias_buf, bias_t_buf;
    DPtr xb = upload_chan(bias, c.C, &bias_buf), tb = upload_chan(bias_t, c.C, &bias_t_buf);
    cl_mem params = upload_pair(c.gamma, c.beta, C), tangents = upload_pair(c.gamma_t, c.beta_t, C);
    DPtr g = dptr(params, 3), b = dptr(params, off_b(C)), gt = dptr(tangents, 3), bt = dptr(tangents, off_b(C));
    cl_mem stats = tu_poisoned(2 * (size_t)ns + 1);

    /* forward */
    cl_mem out = tu_poisoned(c.no);
    double *want = xmalloc((c.ni > c.no ? c.ni : c.no) * 8), *wstats = xmalloc((2 * (size_t)ns + 1) * 8);
    block_forward(s, out, stats, in, g, b, xb, NULL, NULL);
    block_forward_ref(s, want, wstats, in_b, c.gamma, c.beta);
    if (s->out_nchw) planes_swap(want, s->C, s->N, ohw, 1);
    check_dev(tag, "forward out", out, 0, want, c.no, DEV_ATOL);
    /* The statistics are the unbiased input's: the means without the bias. */
    for (int k = 0; bias && k < ns; k++) wstats[k] -= bias[k % s->C];
    if (ns) check_dev(tag, "forward stats", stats, 0, wstats, 2 * (size_t)ns, DEV_ATOL);
    tu_check_untouched("forward stats (past the end)", stats, 2 * (size_t)ns + 1, 0, 2 * (size_t)ns, 0, 0);

    /* backward */
    double *wg = xmalloc(C * 8), *wb = xmalloc(C * 8), *wbias = xmalloc(C * 8);
    cl_mem din = tu_poisoned(c.ni), grads = tu_poisoned(plen), dbias_buf = tu_poisoned(C + 6);
    DPtr dg = s->norm != NORM_NONE ? dptr(grads, 3) : dptr(NULL, 0);
    DPtr db = s->norm != NORM_NONE ? dptr(grads, off_b(C)) : dptr(NULL, 0);
    block_backward(s, din, dg, db, dptr(dbias_buf, 2), dout, in, stats, g, b, xb);
    block_backward_ref(s, want, wg, wb, wbias, c.dout, in_b, c.gamma, c.beta);
    check_dev(tag, "backward din", din, 0, want, c.ni, DEV_ATOL);
    check_dev(tag, "backward dbias", dbias_buf, 2, wbias, C, sum_atol);
    tu_check_untouched("backward dbias buffer", dbias_buf, C + 6, 2, C, 0, 0);
    if (s->norm != NORM_NONE) {
        check_dev(tag, "backward dgamma", grads, 3, wg, C, sum_atol);
        check_dev(tag, "backward dbeta", grads, off_b(C), wb, C, sum_atol);
    }
    tu_check_untouched("backward parameter buffer", grads, plen, 3, s->norm ? C : 0, off_b(C), s->norm ? C : 0);

    /* tangent */
    cl_mem out_t = tu_poisoned(c.no);
    block_tangent(s, out_t, in, in_t, stats, g, b, gt, bt, xb, tb);
    block_tangent_ref(s, want, in_b, in_tb, c.gamma, c.beta, c.gamma_t, c.beta_t);
    if (s->out_nchw) planes_swap(want, s->C, s->N, ohw, 1);
    check_dev(tag, "tangent", out_t, 0, want, c.no, DEV_ATOL);

    /* R-backward */
    cl_mem rdin = tu_poisoned(c.ni), rgrads = tu_poisoned(plen), rbias = tu_poisoned(C + 6);
    DPtr rg = s->norm != NORM_NONE ? dptr(rgrads, 3) : dptr(NULL, 0);
    DPtr rb = s->norm != NORM_NONE ? dptr(rgrads, off_b(C)) : dptr(NULL, 0);
    block_rbackward(s, rdin, rg, rb, dptr(rbias, 2), dout, rdout, in, in_t, stats, g, b, gt, bt, xb, tb);
    block_rbackward_ref(s, want, wg, wb, wbias, c.dout, c.rdout, in_b, in_tb, c.gamma, c.beta, c.gamma_t, c.beta_t);
    check_dev(tag, "R-backward rdin", rdin, 0, want, c.ni, DEV_ATOL);
    check_dev(tag, "R-backward rdbias", rbias, 2, wbias, C, sum_atol);
    tu_check_untouched("R-backward rdbias buffer", rbias, C + 6, 2, C, 0, 0);
    if (s->norm != NORM_NONE) {
        check_dev(tag, "R-backward rdgamma", rgrads, 3, wg, C, sum_atol);
        check_dev(tag, "R-backward rdbeta", rgrads, off_b(C), wb, C, sum_atol);
    }
    tu_check_untouched("R-backward parameter buffer", rgrads, plen, 3, s->norm ? C : 0, off_b(C), s->norm ? C : 0);

    free(want); free(wstats); free(wg); free(wb); free(wbias);
    free(bias); free(bias_t); free(in_b); free(in_tb); free(dout_dev); free(rdout_dev);
    cl_mem bufs[] = {in, in_t, dout, rdout, params, tangents, stats, out, din, grads, dbias_buf, out_t, rdin, rgrads, rbias,
                     bias_buf, bias_t_buf};
    for (size_t k = 0; k < COUNT(bufs); k++) if (bufs[k]) dev_free(bufs[k]);
    case_free(&c);
}

START_TEST(device_matches_ref_small) {
    tu_init();
    each_kind(5, 3, 7, 5, 900, device_case);
}
END_TEST

/* Planes larger than one work-group (the GPU family's strided loops), even and odd sizes. */
START_TEST(device_matches_ref_large) {
    tu_init();
    const BlockShape shapes[] = {
        {NORM_INSTANCE, ACT_RELU, POOL_AVG, 4, 3, 32, 32, 0}, {NORM_BATCH, ACT_RELU, POOL_MAX, 3, 4, 17, 19, 0},
        {NORM_INSTANCE, ACT_SIGMOID, POOL_MAX, 3, 2, 19, 17, 0}, {NORM_NONE, ACT_LEAKYRELU, POOL_AVG, 3, 2, 18, 20, 0},
    };
    for (size_t k = 0; k < COUNT(shapes); k++) {
        BlockShape s = shapes[k];
        if (tu_small() && s.N > 2) s.N = 2;
        device_case(&s, 1500 + 10 * k);
    }
}
END_TEST

/* Batch norm's running statistics as norm.h defines them, and bad input rejected. */
START_TEST(batchnorm_running_statistics) {
    tu_init();
    BlockShape s = {NORM_BATCH, ACT_RELU, POOL_AVG, 3, 2, 4, 6, 0};
    Case c = case_of(&s, 2100);
    round_to_float(c.in, c.ni);
    cl_mem in = upload_d(c.in, c.ni), params = upload_pair(c.gamma, c.beta, c.C), stats = tu_poisoned(6);
    cl_mem out = tu_poisoned(c.no);
    double rm0[3] = {0.5, -0.25, 1.0}, rv0[3] = {2.0, 0.5, 1.0};
    cl_mem rm = upload_d(rm0, 3), rv = upload_d(rv0, 3);
    /* A conv bias: the running mean is the biased input's, the variance unchanged. */
    double bias[3] = {0.75, -1.5, 0.0};
    cl_mem bias_buf;
    DPtr xb = upload_chan(bias, 3, &bias_buf);
    block_forward(&s, out, stats, in, dptr(params, 3), dptr(params, off_b(c.C)), xb, rm, rv);
    double want_m[3], want_v[3];
    size_t per = c.ni / c.C;
    for (int ch = 0; ch < 3; ch++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < per; i++) m += c.in[ch * per + i];
        m /= (double)per;
        for (size_t i = 0; i < per; i++) v += (c.in[ch * per + i] - m) * (c.in[ch * per + i] - m);
        want_m[ch] = 0.9 * rm0[ch] + 0.1 * (m + bias[ch]);
        want_v[ch] = 0.9 * rv0[ch] + 0.1 * v / (double)(per - 1);
    }
    check_dev("batch norm block", "running mean", rm, 0, want_m, 3, 1e-5);
    check_dev("batch norm block", "running variance", rv, 0, want_v, 3, 1e-4);
    cl_mem bufs[] = {in, params, stats, out, rm, rv, bias_buf};
    for (size_t k = 0; k < COUNT(bufs); k++) dev_free(bufs[k]);
    case_free(&c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("block");
    TCase *tc = tcase_create("block");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, ref_matches_finite_differences);
    tcase_add_test(tc, device_matches_ref_small);
    tcase_add_test(tc, device_matches_ref_large);
    tcase_add_test(tc, batchnorm_running_statistics);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
