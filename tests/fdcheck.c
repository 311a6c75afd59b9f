#include "fdcheck.h"
#include "testutil.h"

#include <stdlib.h>

/* In float64 with h = 1e-6 the central differences carry about 1e-9 relative error. */
#define FD_RTOL 1e-6
#define FD_ATOL 1e-7
#define FD_REL_ERR_MAX 1e-8

/* L = <r, forward(in, w, b)> */
static double fd_loss(const FdLayer *l, const double *r, const double *in, const double *w, const double *b) {
    double *out = xmalloc(l->n_out * sizeof(double));
    l->forward(l->shape, out, in, w, b);
    double v = tu_dot_d(r, out, l->n_out);
    free(out);
    return v;
}

/* Central difference of fd_loss along coordinate i of x (one of in, w, b). */
static double fd_coord(const FdLayer *l, const double *r, double *in, double *w, double *b, double *x, size_t i) {
    double keep = x[i];
    x[i] = keep + FD_STEP;
    double lp = fd_loss(l, r, in, w, b);
    x[i] = keep - FD_STEP;
    double lm = fd_loss(l, r, in, w, b);
    x[i] = keep;
    return (lp - lm) / (2 * FD_STEP);
}

static void fd_compare(const char *what, const double *got, const double *fd, size_t n) {
    tu_check_close_d(what, got, fd, n, FD_RTOL, FD_ATOL);
    if (n) ck_assert_msg(tu_rel_err(got, fd, n) < FD_REL_ERR_MAX, "%s: relative error %g", what, tu_rel_err(got, fd, n));
}

void fd_check_backward(const FdLayer *l, uint64_t seed) {
    size_t ni = l->n_in, nw = l->n_w, nb = l->n_b;
    double *in = tu_new_rand_d(ni, seed), *w = tu_new_rand_d(nw, seed + 1), *b = tu_new_rand_d(nb, seed + 2);
    double *r = tu_new_rand_d(l->n_out, seed + 3);
    double *din = xmalloc(ni * 8), *dw = xmalloc(nw * 8), *db = xmalloc(nb * 8);
    l->backward(l->shape, din, dw, db, r, in, w);
    double *fin = xmalloc(ni * 8), *fw = xmalloc(nw * 8), *fb = xmalloc(nb * 8);
    for (size_t i = 0; i < ni; i++) fin[i] = fd_coord(l, r, in, w, b, in, i);
    for (size_t i = 0; i < nw; i++) fw[i] = fd_coord(l, r, in, w, b, w, i);
    for (size_t i = 0; i < nb; i++) fb[i] = fd_coord(l, r, in, w, b, b, i);
    fd_compare("ref backward din vs FD", din, fin, ni);
    fd_compare("ref backward dw vs FD", dw, fw, nw);
    fd_compare("ref backward db vs FD", db, fb, nb);
    free(in); free(w); free(b); free(r); free(din); free(dw); free(db); free(fin); free(fw); free(fb);
}

void fd_check_tangent(const FdLayer *l, int with_in_t, uint64_t seed) {
    size_t ni = l->n_in, no = l->n_out, nw = l->n_w, nb = l->n_b;
    double *in = tu_new_rand_d(ni, seed), *w = tu_new_rand_d(nw, seed + 1), *b = tu_new_rand_d(nb, seed + 2);
    double *in_t = with_in_t ? tu_new_rand_d(ni, seed + 3) : NULL, *w_t = tu_new_rand_d(nw, seed + 4),
           *b_t = tu_new_rand_d(nb, seed + 5);
    double *out_t = xmalloc(no * 8), *op = xmalloc(no * 8), *om = xmalloc(no * 8);
    l->tangent(l->shape, out_t, in, in_t, w, w_t, b_t);
    double *ip = tu_along(in, in_t, FD_STEP, ni), *wp = tu_along(w, w_t, FD_STEP, nw), *bp = tu_along(b, b_t, FD_STEP, nb);
    double *im = tu_along(in, in_t, -FD_STEP, ni), *wm = tu_along(w, w_t, -FD_STEP, nw), *bm = tu_along(b, b_t, -FD_STEP, nb);
    l->forward(l->shape, op, ip, wp, bp);
    l->forward(l->shape, om, im, wm, bm);
    for (size_t i = 0; i < no; i++) op[i] = (op[i] - om[i]) / (2 * FD_STEP);
    fd_compare("ref tangent vs FD", out_t, op, no);
    free(in); free(w); free(b); free(in_t); free(w_t); free(b_t); free(out_t); free(op); free(om);
    free(ip); free(wp); free(bp); free(im); free(wm); free(bm);
}

void fd_check_rbackward(const FdLayer *l, int with_in_t, uint64_t seed) {
    size_t ni = l->n_in, no = l->n_out, nw = l->n_w, nb = l->n_b;
    double *in = tu_new_rand_d(ni, seed), *w = tu_new_rand_d(nw, seed + 1), *dout = tu_new_rand_d(no, seed + 2);
    double *in_t = with_in_t ? tu_new_rand_d(ni, seed + 3) : NULL, *w_t = tu_new_rand_d(nw, seed + 4),
           *rdout = tu_new_rand_d(no, seed + 5);
    double *rdin = xmalloc(ni * 8), *rdw = xmalloc(nw * 8), *rdb = xmalloc(nb * 8);
    l->rbackward(l->shape, rdin, rdw, rdb, dout, rdout, in, in_t, w, w_t);
    /* The backward at (dout, in, w) +- h (rdout, in_t, w_t). */
    double *dinp = xmalloc(ni * 8), *dwp = xmalloc(nw * 8), *dbp = xmalloc(nb * 8);
    double *dinm = xmalloc(ni * 8), *dwm = xmalloc(nw * 8), *dbm = xmalloc(nb * 8);
    double *ip = tu_along(in, in_t, FD_STEP, ni), *wp = tu_along(w, w_t, FD_STEP, nw), *gp = tu_along(dout, rdout, FD_STEP, no);
    double *im = tu_along(in, in_t, -FD_STEP, ni), *wm = tu_along(w, w_t, -FD_STEP, nw), *gm = tu_along(dout, rdout, -FD_STEP, no);
    l->backward(l->shape, dinp, dwp, dbp, gp, ip, wp);
    l->backward(l->shape, dinm, dwm, dbm, gm, im, wm);
    for (size_t i = 0; i < ni; i++) dinp[i] = (dinp[i] - dinm[i]) / (2 * FD_STEP);
    for (size_t i = 0; i < nw; i++) dwp[i] = (dwp[i] - dwm[i]) / (2 * FD_STEP);
    for (size_t i = 0; i < nb; i++) dbp[i] = (dbp[i] - dbm[i]) / (2 * FD_STEP);
    fd_compare("ref rbackward rdin vs FD", rdin, dinp, ni);
    fd_compare("ref rbackward rdw vs FD", rdw, dwp, nw);
    fd_compare("ref rbackward rdb vs FD", rdb, dbp, nb);
    free(in); free(w); free(dout); free(in_t); free(w_t); free(rdout); free(rdin); free(rdw); free(rdb);
    free(dinp); free(dwp); free(dbp); free(dinm); free(dwm); free(dbm);
    free(ip); free(wp); free(gp); free(im); free(wm); free(gm);
}
