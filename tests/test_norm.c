/* Normalization layers (instance, group, layer, batch):
 *  - float64 references against central finite differences of the reference forward
 *    (backward, tangent) and of the reference backward (R-backward);
 *  - device passes against the references (gamma/beta slices at offsets inside larger
 *    buffers, outputs poisoned with NaN, NULL din / in_t / gamma_t cases);
 *  - BatchNorm eval forward and running statistics against their formulas. */
#include "testutil.h"
#include "layers/norm.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FD_H 1e-5
#define FD_RTOL 1e-6
#define FD_ATOL 1e-8
#define DEV_RTOL 1e-4
#define DEV_ATOL 1e-5

/* Small odd shapes for the finite-difference checks (C, N, HW = 5x3). */
static const NormShape SMALL[] = {
    {NORM_INSTANCE, 8, 3, 15}, {NORM_GROUP, 8, 3, 15}, {NORM_GROUP, 12, 3, 15}, {NORM_LAYER, 8, 3, 15},
    {NORM_BATCH, 8, 3, 15},    {NORM_BATCH, 8, 4, 15}, {NORM_BATCH, 3, 5, 1},
};
/* Sets larger than one work-group (HW = 17x19), so the kernels' strided loops run. */
static const NormShape LARGE[] = {
    {NORM_INSTANCE, 8, 5, 323}, {NORM_GROUP, 8, 5, 323}, {NORM_LAYER, 8, 5, 323}, {NORM_BATCH, 8, 5, 323},
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* tu_small: the sets larger than one work-group keep their HW (the strided loops still
 * run) with 2 samples instead of 5. */
static NormShape sized(NormShape s) {
    if (tu_small() && s.HW > 256 && s.N > 2) s.N = 2;
    return s;
}

static const char *kind_name(NormKind k) {
    switch (k) {
    case NORM_INSTANCE: return "instance";
    case NORM_GROUP: return "group";
    case NORM_LAYER: return "layer";
    default: return "batch";
    }
}

static size_t total_of(const NormShape *s) { return (size_t)s->C * s->N * s->HW; }

static double dot_d(const double *a, const double *b, size_t n) {
    double t = 0;
    for (size_t i = 0; i < n; i++) t += a[i] * b[i];
    return t;
}

/* x + h*d (d NULL: x) into out. */
static void axpy_into(double *out, const double *x, double h, const double *d, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = x[i] + (d ? h * d[i] : 0.0);
}

/* Random float64 inputs of one shape: activations with a non-zero mean, gamma away from 1. */
typedef struct {
    NormShape s;
    size_t n, na;
    int ns;
    double *in, *gamma, *beta, *dout, *rdout, *in_t, *gamma_t, *beta_t;
} RefCase;

static RefCase ref_case(const NormShape *s, uint64_t seed) {
    RefCase c;
    c.s = *s;
    c.n = total_of(s);
    c.na = norm_affine_size(s);
    c.ns = norm_nsets(s);
    double **bufs[] = {&c.in, &c.dout, &c.rdout, &c.in_t};
    for (int k = 0; k < 4; k++) {
        *bufs[k] = xmalloc(c.n * sizeof(double));
        tu_rand_d(*bufs[k], c.n, seed + k, -1, 1);
    }
    for (size_t i = 0; i < c.n; i++) c.in[i] = 1.5 * c.in[i] + 0.5;
    double **abufs[] = {&c.gamma, &c.beta, &c.gamma_t, &c.beta_t};
    for (int k = 0; k < 4; k++) {
        *abufs[k] = xmalloc(c.na * sizeof(double));
        tu_rand_d(*abufs[k], c.na, seed + 10 + k, -1, 1);
    }
    for (size_t a = 0; a < c.na; a++) c.gamma[a] = 1.0 + 0.5 * c.gamma[a];
    return c;
}

static void ref_case_free(RefCase *c) {
    free(c->in); free(c->dout); free(c->rdout); free(c->in_t);
    free(c->gamma); free(c->beta); free(c->gamma_t); free(c->beta_t);
}

/* L = <dout, forward(in, gamma, beta)>. */
static double fd_loss(const RefCase *c, const double *in, const double *gamma, const double *beta) {
    double *out = xmalloc(c->n * sizeof *out), *stats = xmalloc(2 * c->ns * sizeof *stats);
    norm_forward_ref(&c->s, out, stats, in, gamma, beta);
    double l = dot_d(c->dout, out, c->n);
    free(out);
    free(stats);
    return l;
}

static void check_backward_fd(const RefCase *c, const char *tag) {
    size_t n = c->n, na = c->na;
    double *out = xmalloc(n * 8), *stats = xmalloc(2 * c->ns * 8);
    double *din = xmalloc(n * 8), *dg = xmalloc(na * 8), *db = xmalloc(na * 8);
    norm_forward_ref(&c->s, out, stats, c->in, c->gamma, c->beta);
    norm_backward_ref(&c->s, din, dg, db, c->dout, c->in, stats, c->gamma);
    double *fin = xmalloc(n * 8), *fg = xmalloc(na * 8), *fb = xmalloc(na * 8);
    double *x = xmalloc(n * 8), *p = xmalloc(na * 8);
    memcpy(x, c->in, n * 8);
    for (size_t i = 0; i < n; i++) {
        x[i] = c->in[i] + FD_H;
        double lp = fd_loss(c, x, c->gamma, c->beta);
        x[i] = c->in[i] - FD_H;
        double lm = fd_loss(c, x, c->gamma, c->beta);
        x[i] = c->in[i];
        fin[i] = (lp - lm) / (2 * FD_H);
    }
    for (int which = 0; which < 2; which++) {
        const double *base = which ? c->beta : c->gamma;
        double *fd = which ? fb : fg;
        memcpy(p, base, na * 8);
        for (size_t a = 0; a < na; a++) {
            p[a] = base[a] + FD_H;
            double lp = which ? fd_loss(c, c->in, c->gamma, p) : fd_loss(c, c->in, p, c->beta);
            p[a] = base[a] - FD_H;
            double lm = which ? fd_loss(c, c->in, c->gamma, p) : fd_loss(c, c->in, p, c->beta);
            p[a] = base[a];
            fd[a] = (lp - lm) / (2 * FD_H);
        }
    }
    char what[128];
    snprintf(what, sizeof what, "%s: ref din vs FD", tag);
    tu_check_close_d(what, din, fin, n, FD_RTOL, FD_ATOL);
    snprintf(what, sizeof what, "%s: ref dgamma vs FD", tag);
    tu_check_close_d(what, dg, fg, na, FD_RTOL, FD_ATOL);
    snprintf(what, sizeof what, "%s: ref dbeta vs FD", tag);
    tu_check_close_d(what, db, fb, na, FD_RTOL, FD_ATOL);
    free(out); free(stats); free(din); free(dg); free(db); free(fin); free(fg); free(fb); free(x); free(p);
}

/* Tangent along (in_t, gamma_t, beta_t) vs the directional difference of the forward. */
static void check_tangent_fd(const RefCase *c, const double *in_t, const double *gamma_t, const double *beta_t,
                             const char *tag) {
    size_t n = c->n, na = c->na;
    double *stats = xmalloc(2 * c->ns * 8), *out = xmalloc(n * 8), *tan = xmalloc(n * 8);
    norm_forward_ref(&c->s, out, stats, c->in, c->gamma, c->beta);
    norm_tangent_ref(&c->s, tan, c->in, in_t, stats, c->gamma, gamma_t, beta_t);
    double *x = xmalloc(n * 8), *g = xmalloc(na * 8), *b = xmalloc(na * 8), *op = xmalloc(n * 8), *fd = xmalloc(n * 8);
    axpy_into(x, c->in, FD_H, in_t, n);
    axpy_into(g, c->gamma, FD_H, gamma_t, na);
    axpy_into(b, c->beta, FD_H, beta_t, na);
    norm_forward_ref(&c->s, op, stats, x, g, b);
    axpy_into(x, c->in, -FD_H, in_t, n);
    axpy_into(g, c->gamma, -FD_H, gamma_t, na);
    axpy_into(b, c->beta, -FD_H, beta_t, na);
    norm_forward_ref(&c->s, out, stats, x, g, b);
    for (size_t i = 0; i < n; i++) fd[i] = (op[i] - out[i]) / (2 * FD_H);
    char what[128];
    snprintf(what, sizeof what, "%s: ref tangent vs FD", tag);
    tu_check_close_d(what, tan, fd, n, FD_RTOL, FD_ATOL);
    free(stats); free(out); free(tan); free(x); free(g); free(b); free(op); free(fd);
}

/* (din, dgamma, dbeta) at (dout, in, gamma), statistics recomputed from in; into one
 * vector of n + 2*na. */
static void backward_at(const RefCase *c, const double *dout, const double *in, const double *gamma, double *res) {
    double *out = xmalloc(c->n * 8), *stats = xmalloc(2 * c->ns * 8);
    norm_forward_ref(&c->s, out, stats, in, gamma, c->beta);
    norm_backward_ref(&c->s, res, res + c->n, res + c->n + c->na, dout, in, stats, gamma);
    free(out);
    free(stats);
}

/* R-backward along (rdout, in_t, gamma_t) vs the directional difference of the backward. */
static void check_rbackward_fd(const RefCase *c, const double *in_t, const double *gamma_t, const char *tag) {
    size_t n = c->n, na = c->na, m = n + 2 * na;
    double *stats = xmalloc(2 * c->ns * 8), *out = xmalloc(n * 8), *rb = xmalloc(m * 8);
    norm_forward_ref(&c->s, out, stats, c->in, c->gamma, c->beta);
    norm_rbackward_ref(&c->s, rb, rb + n, rb + n + na, c->dout, c->rdout, c->in, in_t, stats, c->gamma, gamma_t);
    double *d = xmalloc(n * 8), *x = xmalloc(n * 8), *g = xmalloc(na * 8);
    double *bp = xmalloc(m * 8), *bm = xmalloc(m * 8), *fd = xmalloc(m * 8);
    axpy_into(d, c->dout, FD_H, c->rdout, n);
    axpy_into(x, c->in, FD_H, in_t, n);
    axpy_into(g, c->gamma, FD_H, gamma_t, na);
    backward_at(c, d, x, g, bp);
    axpy_into(d, c->dout, -FD_H, c->rdout, n);
    axpy_into(x, c->in, -FD_H, in_t, n);
    axpy_into(g, c->gamma, -FD_H, gamma_t, na);
    backward_at(c, d, x, g, bm);
    for (size_t i = 0; i < m; i++) fd[i] = (bp[i] - bm[i]) / (2 * FD_H);
    char what[128];
    snprintf(what, sizeof what, "%s: ref rdin vs FD", tag);
    tu_check_close_d(what, rb, fd, n, FD_RTOL, FD_ATOL);
    snprintf(what, sizeof what, "%s: ref rdgamma vs FD", tag);
    tu_check_close_d(what, rb + n, fd + n, na, FD_RTOL, FD_ATOL);
    snprintf(what, sizeof what, "%s: ref rdbeta vs FD", tag);
    tu_check_close_d(what, rb + n + na, fd + n + na, na, FD_RTOL, FD_ATOL);
    /* The R-backward must depend on every direction: guard against a test along zero. */
    ck_assert_msg(tu_rel_err(rb, fd, m) < 1e-6 && dot_d(rb, rb, n) > 1e-6, "%s: degenerate R-backward check", tag);
    free(stats); free(out); free(rb); free(d); free(x); free(g); free(bp); free(bm); free(fd);
}

START_TEST(ref_matches_finite_differences) {
    for (size_t k = 0; k < COUNT(SMALL); k++) {
        RefCase c = ref_case(&SMALL[k], 100 + 20 * k);
        char tag[96];
        snprintf(tag, sizeof tag, "%s C=%d N=%d HW=%d", kind_name(c.s.kind), c.s.C, c.s.N, c.s.HW);
        check_backward_fd(&c, tag);
        check_tangent_fd(&c, c.in_t, c.gamma_t, c.beta_t, tag);
        check_tangent_fd(&c, NULL, c.gamma_t, c.beta_t, tag);
        check_tangent_fd(&c, c.in_t, NULL, NULL, tag);
        check_rbackward_fd(&c, c.in_t, c.gamma_t, tag);
        check_rbackward_fd(&c, NULL, c.gamma_t, tag);
        check_rbackward_fd(&c, c.in_t, NULL, tag);
        ref_case_free(&c);
    }
}
END_TEST

/* ---- device vs reference ---- */

/* A parameter-like buffer holding two slices of na floats at odd offsets. */
#define SLICE_A 5
static size_t slice_b(size_t na) { return SLICE_A + na + 3; }
static size_t slices_len(size_t na) { return slice_b(na) + na + 7; }

/* Buffer with a at SLICE_A and b at slice_b; the rest is filler. */
static cl_mem upload_slices(const float *a, const float *b, size_t na) {
    size_t len = slices_len(na);
    float *h = xmalloc(len * 4);
    for (size_t i = 0; i < len; i++) h[i] = 1234.5f;
    memcpy(h + SLICE_A, a, na * 4);
    memcpy(h + slice_b(na), b, na * 4);
    cl_mem m = tu_upload(h, len);
    free(h);
    return m;
}

/* Checks the two slices of a poisoned gradient buffer against want_a/want_b and that
 * nothing else was written. */
static void check_slices(const char *what, cl_mem m, const double *want_a, const double *want_b, size_t na,
                         double atol) {
    size_t len = slices_len(na), b = slice_b(na);
    float *h = tu_download(m, 0, len);
    char w[160];
    snprintf(w, sizeof w, "%s (gamma part)", what);
    tu_check_close(w, h + SLICE_A, want_a, na, DEV_RTOL, atol);
    snprintf(w, sizeof w, "%s (beta part)", what);
    tu_check_close(w, h + b, want_b, na, DEV_RTOL, atol);
    for (size_t i = 0; i < len; i++)
        if (i < SLICE_A || (i >= SLICE_A + na && i < b) || i >= b + na)
            ck_assert_msg(isnan(h[i]), "%s: element %zu outside the slices was written", what, i);
    free(h);
}

typedef struct {
    NormShape s;
    size_t n, na;
    int ns;
    float *f_in, *f_dout, *f_rdout, *f_in_t, *f_gamma, *f_beta, *f_gamma_t, *f_beta_t;
    double *in, *dout, *rdout, *in_t, *gamma, *beta, *gamma_t, *beta_t;
    cl_mem in_d, dout_d, rdout_d, in_t_d, params_d, tangents_d, stats_d;
    double *stats;   /* reference statistics */
} DevCase;

static void dev_case(DevCase *c, const NormShape *s, uint64_t seed, float shift) {
    memset(c, 0, sizeof *c);
    c->s = *s;
    c->n = total_of(s);
    c->na = norm_affine_size(s);
    c->ns = norm_nsets(s);
    float **act[] = {&c->f_in, &c->f_dout, &c->f_rdout, &c->f_in_t};
    double **dact[] = {&c->in, &c->dout, &c->rdout, &c->in_t};
    for (int k = 0; k < 4; k++) {
        *act[k] = xmalloc(c->n * 4);
        tu_rand(*act[k], c->n, seed + k, -1, 1);
    }
    for (size_t i = 0; i < c->n; i++) c->f_in[i] = 1.5f * c->f_in[i] + shift;
    float **aff[] = {&c->f_gamma, &c->f_beta, &c->f_gamma_t, &c->f_beta_t};
    double **daff[] = {&c->gamma, &c->beta, &c->gamma_t, &c->beta_t};
    for (int k = 0; k < 4; k++) {
        *aff[k] = xmalloc(c->na * 4);
        tu_rand(*aff[k], c->na, seed + 10 + k, -1, 1);
    }
    for (size_t a = 0; a < c->na; a++) c->f_gamma[a] = 1.0f + 0.5f * c->f_gamma[a];
    for (int k = 0; k < 4; k++) {
        *dact[k] = tu_to_double(*act[k], c->n);
        *daff[k] = tu_to_double(*aff[k], c->na);
    }
    c->in_d = tu_upload(c->f_in, c->n);
    c->dout_d = tu_upload(c->f_dout, c->n);
    c->rdout_d = tu_upload(c->f_rdout, c->n);
    c->in_t_d = tu_upload(c->f_in_t, c->n);
    c->params_d = upload_slices(c->f_gamma, c->f_beta, c->na);
    c->tangents_d = upload_slices(c->f_gamma_t, c->f_beta_t, c->na);
    c->stats_d = tu_poisoned(2 * (size_t)c->ns);
    c->stats = xmalloc(2 * c->ns * 8);
}

static void dev_case_free(DevCase *c) {
    free(c->f_in); free(c->f_dout); free(c->f_rdout); free(c->f_in_t);
    free(c->f_gamma); free(c->f_beta); free(c->f_gamma_t); free(c->f_beta_t);
    free(c->in); free(c->dout); free(c->rdout); free(c->in_t);
    free(c->gamma); free(c->beta); free(c->gamma_t); free(c->beta_t);
    free(c->stats);
    dev_free(c->in_d); dev_free(c->dout_d); dev_free(c->rdout_d); dev_free(c->in_t_d);
    dev_free(c->params_d); dev_free(c->tangents_d); dev_free(c->stats_d);
}

static DPtr gamma_of(cl_mem m) { return dptr(m, SLICE_A); }
static DPtr beta_of(cl_mem m, size_t na) { return dptr(m, slice_b(na)); }
static const DPtr NO_PTR = {NULL, 0};

static void check_out(const char *tag, const char *what, cl_mem m, const double *want, size_t n, double atol) {
    float *h = tu_download(m, 0, n);
    char w[400];
    snprintf(w, sizeof w, "%s: %s", tag, what);
    tu_check_close(w, h, want, n, DEV_RTOL, atol);
    free(h);
}

/* out_atol: inputs far from zero carry an absolute rounding error of a few ulps of the
 * input into zhat, whatever the algorithm. */
static void dev_forward(DevCase *c, const char *tag, double out_atol) {
    cl_mem out = tu_poisoned(c->n);
    norm_forward(&c->s, out, c->stats_d, c->in_d, gamma_of(c->params_d), beta_of(c->params_d, c->na));
    double *want = xmalloc(c->n * 8);
    norm_forward_ref(&c->s, want, c->stats, c->in, c->gamma, c->beta);
    check_out(tag, "forward stats", c->stats_d, c->stats, 2 * (size_t)c->ns, DEV_ATOL);
    check_out(tag, "forward out", out, want, c->n, out_atol);
    free(want);
    dev_free(out);
}

/* Parameter-gradient sums run over up to N*HW terms: the absolute tolerance grows with sqrt. */
static double sum_atol(const DevCase *c) {
    double terms = c->s.kind == NORM_LAYER ? c->s.N : (double)c->s.N * c->s.HW;
    return DEV_ATOL * sqrt(terms);
}

static void dev_backward(DevCase *c, int with_din, const char *tag) {
    cl_mem din = with_din ? tu_poisoned(c->n) : NULL;
    cl_mem grads = tu_poisoned(slices_len(c->na));
    norm_backward(&c->s, din, gamma_of(grads), beta_of(grads, c->na), c->dout_d, c->in_d, c->stats_d,
                  gamma_of(c->params_d));
    double *want = xmalloc(c->n * 8), *wg = xmalloc(c->na * 8), *wb = xmalloc(c->na * 8);
    norm_backward_ref(&c->s, with_din ? want : NULL, wg, wb, c->dout, c->in, c->stats, c->gamma);
    char w[160];
    if (with_din) check_out(tag, "backward din", din, want, c->n, DEV_ATOL);
    snprintf(w, sizeof w, "%s: backward dgamma/dbeta%s", tag, with_din ? "" : " (din NULL)");
    check_slices(w, grads, wg, wb, c->na, sum_atol(c));
    free(want); free(wg); free(wb);
    dev_free(din);
    dev_free(grads);
}

static void dev_tangent(DevCase *c, int with_in_t, int with_pt, const char *tag) {
    cl_mem out_t = tu_poisoned(c->n);
    norm_tangent(&c->s, out_t, c->in_d, with_in_t ? c->in_t_d : NULL, c->stats_d, gamma_of(c->params_d),
                 with_pt ? gamma_of(c->tangents_d) : NO_PTR, with_pt ? beta_of(c->tangents_d, c->na) : NO_PTR);
    double *want = xmalloc(c->n * 8);
    norm_tangent_ref(&c->s, want, c->in, with_in_t ? c->in_t : NULL, c->stats, c->gamma,
                     with_pt ? c->gamma_t : NULL, with_pt ? c->beta_t : NULL);
    char w[96];
    snprintf(w, sizeof w, "tangent (in_t %s, gamma_t/beta_t %s)", with_in_t ? "set" : "NULL", with_pt ? "set" : "NULL");
    check_out(tag, w, out_t, want, c->n, DEV_ATOL);
    free(want);
    dev_free(out_t);
}

static void dev_rbackward(DevCase *c, int with_rdin, int with_in_t, int with_gt, const char *tag) {
    cl_mem rdin = with_rdin ? tu_poisoned(c->n) : NULL;
    cl_mem grads = tu_poisoned(slices_len(c->na));
    norm_rbackward(&c->s, rdin, gamma_of(grads), beta_of(grads, c->na), c->dout_d, c->rdout_d, c->in_d,
                   with_in_t ? c->in_t_d : NULL, c->stats_d, gamma_of(c->params_d),
                   with_gt ? gamma_of(c->tangents_d) : NO_PTR);
    double *want = xmalloc(c->n * 8), *wg = xmalloc(c->na * 8), *wb = xmalloc(c->na * 8);
    norm_rbackward_ref(&c->s, with_rdin ? want : NULL, wg, wb, c->dout, c->rdout, c->in, with_in_t ? c->in_t : NULL,
                       c->stats, c->gamma, with_gt ? c->gamma_t : NULL);
    char w[160];
    snprintf(w, sizeof w, "%s: rbackward (rdin %s, in_t %s, gamma_t %s)", tag, with_rdin ? "set" : "NULL",
             with_in_t ? "set" : "NULL", with_gt ? "set" : "NULL");
    if (with_rdin) check_out(w, "rdin", rdin, want, c->n, DEV_ATOL);
    check_slices(w, grads, wg, wb, c->na, sum_atol(c));
    free(want); free(wg); free(wb);
    dev_free(rdin);
    dev_free(grads);
}

static void device_vs_ref(const NormShape *s, uint64_t seed, float shift) {
    DevCase c;
    dev_case(&c, s, seed, shift);
    char tag[96];
    snprintf(tag, sizeof tag, "device %s C=%d N=%d HW=%d shift=%g", kind_name(s->kind), s->C, s->N, s->HW, shift);
    dev_forward(&c, tag, DEV_ATOL);
    dev_backward(&c, 1, tag);
    dev_backward(&c, 0, tag);
    dev_tangent(&c, 1, 1, tag);
    dev_tangent(&c, 0, 1, tag);
    dev_tangent(&c, 1, 0, tag);
    dev_rbackward(&c, 1, 1, 1, tag);
    dev_rbackward(&c, 1, 0, 1, tag);
    dev_rbackward(&c, 1, 1, 0, tag);
    dev_rbackward(&c, 0, 1, 1, tag);
    dev_rbackward(&c, 0, 0, 1, tag);
    dev_case_free(&c);
}

START_TEST(device_matches_ref_small) {
    tu_init();
    for (size_t k = 0; k < COUNT(SMALL); k++) device_vs_ref(&SMALL[k], 500 + 20 * k, 0.5f);
}
END_TEST

START_TEST(device_matches_ref_large) {
    tu_init();
    for (size_t k = 0; k < COUNT(LARGE); k++) {
        NormShape sh = sized(LARGE[k]);
        device_vs_ref(&sh, 700 + 20 * k, 0.5f);
    }
}
END_TEST

/* Activations far from zero: a one-pass E[x^2] - E[x]^2 variance would lose every digit
 * in float32; the two-pass one keeps the statistics to the usual tolerance. */
START_TEST(device_stats_with_large_mean) {
    tu_init();
    const NormShape shapes[] = {{NORM_INSTANCE, 8, 3, 15}, {NORM_LAYER, 8, 5, 323}, {NORM_BATCH, 8, 5, 323}};
    for (size_t k = 0; k < COUNT(shapes); k++) {
        DevCase c;
        NormShape sh = sized(shapes[k]);
        dev_case(&c, &sh, 900 + 20 * k, 1000.0f);
        char tag[96];
        snprintf(tag, sizeof tag, "device %s shifted by 1000", kind_name(shapes[k].kind));
        /* |zhat| error ~ a few ulps of 1000 times rstd (~1). */
        dev_forward(&c, tag, 8 * 1000.0 * FLT_EPSILON);
        dev_case_free(&c);
    }
}
END_TEST

/* ---- BatchNorm eval and running statistics ---- */

START_TEST(batchnorm_eval_and_running) {
    tu_init();
    const NormShape shapes[] = {{NORM_BATCH, 8, 3, 15}, {NORM_BATCH, 8, 4, 15}, {NORM_BATCH, 3, 5, 1},
                                {NORM_BATCH, 8, 5, 323}};
    for (size_t k = 0; k < COUNT(shapes); k++) {
        DevCase c;
        NormShape sh = sized(shapes[k]);
        dev_case(&c, &sh, 1100 + 20 * k, 0.5f);
        const NormShape *s = &c.s;
        int C = s->C, nhw = s->N * s->HW;
        float *rm = xmalloc(C * 4), *rv = xmalloc(C * 4);
        tu_rand(rm, C, 1200 + k, -1, 1);
        tu_rand(rv, C, 1300 + k, 0.5f, 2.0f);
        cl_mem rm_d = tu_upload(rm, C), rv_d = tu_upload(rv, C), out = tu_poisoned(c.n);
        char tag[96];
        snprintf(tag, sizeof tag, "batchnorm C=%d N=%d HW=%d", C, s->N, s->HW);

        /* Eval: out = gamma (x - run_mean) / sqrt(run_var + eps) + beta. */
        batchnorm_eval_forward(s, out, c.in_d, rm_d, rv_d, gamma_of(c.params_d), beta_of(c.params_d, c.na));
        double *want = xmalloc(c.n * 8);
        for (int ch = 0; ch < C; ch++)
            for (int j = 0; j < nhw; j++) {
                size_t i = (size_t)ch * nhw + j;
                want[i] = c.gamma[ch] * (c.in[i] - rm[ch]) / sqrt((double)rv[ch] + 1e-5) + c.beta[ch];
            }
        check_out(tag, "eval forward", out, want, c.n, DEV_ATOL);

        /* Training forward, then the running update from the batch mean and unbiased variance. */
        dev_forward(&c, tag, DEV_ATOL);
        batchnorm_update_running(s, rm_d, rv_d, c.stats_d);
        double *wm = xmalloc(C * 8), *wv = xmalloc(C * 8);
        for (int ch = 0; ch < C; ch++) {
            double mean = 0, var = 0;
            for (int j = 0; j < nhw; j++) mean += c.in[(size_t)ch * nhw + j];
            mean /= nhw;
            for (int j = 0; j < nhw; j++) {
                double d = c.in[(size_t)ch * nhw + j] - mean;
                var += d * d;
            }
            wm[ch] = 0.9 * rm[ch] + 0.1 * mean;
            wv[ch] = 0.9 * rv[ch] + 0.1 * var / (nhw - 1);
        }
        check_out(tag, "running mean", rm_d, wm, C, DEV_ATOL);
        check_out(tag, "running var", rv_d, wv, C, DEV_ATOL);
        free(rm); free(rv); free(want); free(wm); free(wv);
        dev_free(rm_d); dev_free(rv_d); dev_free(out);
        dev_case_free(&c);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("norm");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, ref_matches_finite_differences);
    tcase_add_test(tc, device_matches_ref_small);
    tcase_add_test(tc, device_matches_ref_large);
    tcase_add_test(tc, device_stats_with_large_mean);
    tcase_add_test(tc, batchnorm_eval_and_running);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
