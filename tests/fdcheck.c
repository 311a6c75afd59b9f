#include "fdcheck.h"
#include "net/registry.h"
#include "net/net_ref.h"
#include "testutil.h"
#include "augment/texture.h"
#include "layers/dct2d.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void fd_check_layer(const FdLayer *l, uint64_t seed) {
    fd_check_backward(l, seed);
    fd_check_tangent(l, 1, seed + 100);
    fd_check_tangent(l, 0, seed + 200);
    fd_check_rbackward(l, 1, seed + 300);
    fd_check_rbackward(l, 0, seed + 400);
}

/* ---- the distiller's meta-gradient ---- */

/* Floats per row of X: an image, or a canvas in texture mode. */
static size_t fd_meta_row(const FdMetaShape *s) {
    int c = s->canvas_size ? s->canvas_size : 1;
    return (size_t)c * s->side * c * s->side;
}

/* Frequency sets: positions by increasing h + w (low frequencies first), ties by position. */
static int64_t *fd_freq_order(int side) {
    int64_t *o = xmalloc((size_t)side * side * sizeof(int64_t));
    int n = 0;
    for (int d = 0; d <= 2 * (side - 1); d++)
        for (int h = 0; h < side; h++)
            if (d - h >= 0 && d - h < side) o[n++] = h * side + (d - h);
    return o;
}

/* Decodes one frequency row (K coefficients at the order's first K positions) into an image. */
static void fd_freq_decode(int side, int K, const int32_t *index, const double *coef, double *img) {
    double *plane = xcalloc((size_t)side * side, sizeof(double));
    for (int j = 0; j < K; j++) plane[index[j]] = coef[j];
    dct2d_inverse_ref(side, side, 1, img, plane);
    free(plane);
}

/* Width 8 keeps every layer, kernel and partial tile of the width-32 and width-128 networks at
 * 1/16 to 1/256 of their products, which Oclgrind interprets one instruction at a time. */
void fd_net_build(Net *net, const char *model, int side) {
    if (tu_small() && convnet_build_width(net, model, FD_SMALL_WIDTH, 1, side, side, FD_META_CLASSES)) return;
    net_build(net, model, 1, side, side, FD_META_CLASSES);
}

void fd_meta_make(FdMeta *m, const FdMetaShape *shape, const char *model, int K, uint64_t seed) {
    m->shape = *shape;
    fd_net_build(&m->net, model, shape->side);
    m->K = K;
    m->batch = 4;
    for (int i = 0; i < FD_META_NSYN; i++) m->labels[i] = i / 2;
    size_t P = m->net.nparams, nx = FD_META_NSYN * fd_meta_row(shape);
    m->X = xmalloc(nx * 4);
    tu_rand(m->X, nx, seed, -1.5f, 1.5f);
    if (shape->freq_dims) {   /* images that lie in the span of the kept coefficients */
        int side = shape->side, K = shape->freq_dims;
        int64_t *order = fd_freq_order(side);
        int32_t *index = xmalloc((size_t)K * sizeof(int32_t));
        for (int j = 0; j < K; j++) index[j] = (int32_t)order[j];
        double coef[64], *img = xmalloc(fd_meta_row(shape) * sizeof(double));
        for (int i = 0; i < FD_META_NSYN; i++) {
            for (int j = 0; j < K; j++) coef[j] = m->X[i * fd_meta_row(shape) + j];
            fd_freq_decode(side, K, index, coef, img);
            for (size_t e = 0; e < fd_meta_row(shape); e++) m->X[i * fd_meta_row(shape) + e] = (float)img[e];
        }
        free(order); free(index); free(img);
    }
    /* Start and target are made in the files' packed order (the problem does not depend on
     * the gaps of clmtt's layout, which stay zero as in a real run) and then unpacked. */
    m->theta0 = xmalloc(P * 4);
    m->target = xmalloc(P * 4);
    Rng r;
    rng_init(&r, seed, 7);
    net_init_params(&m->net, &r, m->theta0);
    size_t D = m->net.ndense;
    float *noise = xmalloc(D * 4), *t0 = xmalloc(D * 4), *tg = xmalloc(D * 4);
    net_pack(&m->net, m->theta0, t0);
    tu_rand(noise, D, seed + 1, -0.02f, 0.02f);
    float scale = m->net.layers[1].kind == LAYER_NORM ? shape->norm_noise : 1.0f;
    for (size_t i = 0; i < D; i++) {
        t0[i] += noise[i] * scale;
        tg[i] = t0[i] - noise[i] * 0.5f + 0.01f * (float)((i * 2654435761u % 1000) / 1000.0 - 0.5);
    }
    net_unpack(&m->net, t0, m->theta0);
    net_unpack(&m->net, tg, m->target);
    free(noise); free(t0); free(tg);
    m->alpha = 0.05;
    m->Y = NULL;
    if (shape->soft) {
        m->Y = xmalloc(FD_META_NSYN * FD_META_CLASSES * sizeof(double));
        float y[FD_META_NSYN * FD_META_CLASSES];
        tu_rand(y, FD_META_NSYN * FD_META_CLASSES, seed + 5, -1, 1);
        for (int i = 0; i < FD_META_NSYN * FD_META_CLASSES; i++) m->Y[i] = y[i];
    }
}

void fd_meta_free(FdMeta *m) { free(m->X); free(m->theta0); free(m->target); free(m->Y); }

void fd_meta_distiller(const FdMeta *m, const char *strategy, FdMetaRun *r) {
    DsaStrategy st;
    dsa_strategy_parse(strategy, &st);
    const FdMetaShape *sh = &m->shape;
    ImageParam *p;
    if (sh->canvas_size) {
        p = imageparam_texture(FD_META_NSYN, 1, sh->side, sh->side, sh->canvas_size, sh->canvas_samples, m->K, m->batch);
    } else if (sh->freq_dims) {
        int64_t *order = fd_freq_order(sh->side);
        p = imageparam_freq(FD_META_NSYN, 1, sh->side, sh->side, sh->freq_dims, order, m->batch);
        free(order);
    } else {
        p = imageparam_pixels(FD_META_NSYN, 1, sh->side, sh->side);
    }
    ck_assert_uint_eq(p->stored_floats, FD_META_NSYN * (sh->freq_dims ? (size_t)sh->freq_dims : fd_meta_row(sh)));
    learnset_init(&r->set, p, FD_META_CLASSES, m->X, m->labels, NULL, (float)m->alpha);
    if (sh->soft) {
        float *y = tu_to_float(m->Y, FD_META_NSYN * FD_META_CLASSES);
        learnset_set_soft(&r->set, y, 0.0, 0.0);
        for (int i = 0; i < FD_META_NSYN * FD_META_CLASSES; i++) m->Y[i] = y[i];   /* the float values the set holds */
        free(y);
    }
    distiller_init(&r->d, &m->net, FD_META_NSYN, p->rounds, m->batch, m->K, &st);
}

void fd_meta_run_free(FdMetaRun *r) {
    distiller_free(&r->d);
    learnset_free(&r->set);
}

/* Step k's network inputs into xb: the rows of the batch, or canvas_samples rounds of their
 * crops; their one-hot target rows into y. Returns how many. */
static int fd_meta_batch(const FdMeta *m, const FdMetaRun *run, const double *X, int k, double *xb, double *y) {
    const Distiller *d = &run->d;
    const ImageParam *p = run->set.img;
    int n = d->batch_n[k], S = p->rounds, side = m->shape.side;
    const int *rows = d->batch_idx + (size_t)k * d->batch_syn;
    if (m->shape.canvas_size) {
        TexShape s = {1, side, side, p->fh, p->fw};
        texture_crop_forward_ref(&s, xb, X, rows, imageparam_texture_offsets(p, k), n, S);
    } else if (m->shape.freq_dims) {
        int K;
        const int32_t *index = imageparam_freq_index(p, &K);
        for (int r = 0; r < n; r++) fd_freq_decode(side, K, index, X + (size_t)rows[r] * K, xb + r * d->in_img);
    } else {
        for (int r = 0; r < n; r++) memcpy(xb + r * d->in_img, X + rows[r] * d->in_img, d->in_img * 8);
    }
    for (int b = 0; b < n * S; b++) {
        int row = rows[b % n];
        if (m->Y) {   /* softmax of the row's logits */
            const double *l = m->Y + row * FD_META_CLASSES;
            double mx = l[0], z = 0;
            for (int c = 1; c < FD_META_CLASSES; c++) mx = l[c] > mx ? l[c] : mx;
            for (int c = 0; c < FD_META_CLASSES; c++) z += exp(l[c] - mx);
            for (int c = 0; c < FD_META_CLASSES; c++) y[b * FD_META_CLASSES + c] = exp(l[c] - mx) / z;
        } else {
            for (int c = 0; c < FD_META_CLASSES; c++) y[b * FD_META_CLASSES + c] = m->labels[row] == c;
        }
    }
    return n * S;
}

/* theta after `steps` float64 student steps from theta0 on r's recorded batches and draws;
 * all (may be NULL) gets theta_0 .. theta_steps, (steps + 1) x P. */
static void fd_meta_ref_unroll(const FdMeta *m, const FdMetaRun *r, const double *X, double alpha, int steps,
                               double *theta, double *all) {
    const Distiller *d = &r->d;
    size_t P = m->net.nparams, in_img = d->in_img;
    int rows_max = m->batch * d->rounds, side = m->shape.side;
    double *g = xmalloc(P * 8), *xb = xmalloc(rows_max * in_img * 8), *xa = xmalloc(rows_max * in_img * 8);
    double *y = xmalloc((size_t)rows_max * FD_META_CLASSES * sizeof(double));
    for (size_t i = 0; i < P; i++) theta[i] = m->theta0[i];
    if (all) memcpy(all, theta, P * 8);
    for (int k = 0; k < steps; k++) {
        int n = fd_meta_batch(m, r, X, k, xb, y);
        const double *in = xb;
        if (d->draws[k].group >= 0) {
            dsa_forward_ref(&d->draws[k], 1, side, side, xa, xb);
            in = xa;
        }
        RefExec re;
        ref_exec_init(&re, &m->net, n);
        ref_forward(&re, theta, in, y);
        ref_backward(&re, theta, y, g, NULL);
        ref_exec_free(&re);
        for (size_t i = 0; i < P; i++) theta[i] -= alpha * g[i];
        if (all) memcpy(all + (size_t)(k + 1) * P, theta, P * 8);
    }
    free(g); free(xb); free(xa); free(y);
}

void fd_meta_ref_thetas(const FdMeta *m, const FdMetaRun *r, const double *X, double alpha, int steps,
                        double *thetas) {
    double *theta = xmalloc(m->net.nparams * 8);
    fd_meta_ref_unroll(m, r, X, alpha, steps, theta, thetas);
    free(theta);
}

double fd_meta_ref_loss(const FdMeta *m, const FdMetaRun *r, const double *X, double alpha) {
    const Matcher *mt = &r->d.match;
    size_t P = m->net.nparams;
    /* The distiller's last matched step and kept entries, held fixed. */
    int steps = mt->step > 0 ? mt->step : m->K;
    const unsigned char *keep = mt->dropped ? mt->keep : NULL;
    double *theta = xmalloc(P * 8);
    fd_meta_ref_unroll(m, r, X, alpha, steps, theta, NULL);
    double num = 0, den = 0;
    for (size_t i = 0; i < P; i++) {
        if (!keep || keep[i]) num += (theta[i] - m->target[i]) * (theta[i] - m->target[i]);
        den += ((double)m->theta0[i] - m->target[i]) * ((double)m->theta0[i] - m->target[i]);
    }
    free(theta);
    return num / den;
}

int fd_check_meta_gradient(const FdMeta *m, FdMetaRun *run, const char *what, double h, uint64_t seed, size_t first,
                           size_t stride, int npix, double tol, int *sampled) {
    Rng r;
    rng_init(&r, seed, 11);
    double dalpha;
    const FdMetaRun *d = run;
    ck_assert_float_eq(run->set.lr, (float)m->alpha);
    double loss = distiller_meta_grad(&run->d, &run->set, m->theta0, m->target, &r, &dalpha);
    size_t nx = run->set.img->stored_floats;
    float *dx = tu_download(run->set.grad, 0, nx);
    float glr;
    dev_read_f32(run->set.grad, run->set.off_lr, 1, &glr);
    ck_assert_msg(glr == (float)dalpha, "%s: the set's step-size gradient %g is not dL/dlr %g", what, glr, dalpha);
    /* The stored form as the set holds it (for frequency sets, the coefficients it encoded). */
    float *xs = tu_download(run->set.theta, 0, nx);
    double *X = tu_to_double(xs, nx);
    free(xs);
    double ref = fd_meta_ref_loss(m, d, X, m->alpha);
    ck_assert_msg(fabs(loss - ref) <= 1e-4 * fabs(ref), "%s: loss %.8g, float64 reference %.8g", what, loss, ref);
    double fa = (fd_meta_ref_loss(m, d, X, m->alpha + h) - fd_meta_ref_loss(m, d, X, m->alpha - h)) / (2 * h);
    ck_assert_msg(fabs(fa - dalpha) <= 2e-3 * fabs(fa) + 1e-6, "%s: dL/dlr %.8g, finite differences %.8g", what, dalpha,
                  fa);
    double *fd = xmalloc(npix * sizeof(double)), *got = xmalloc(npix * sizeof(double));
    int k = 0, reached = 0;
    for (size_t j = first; j < nx && k < npix; j += stride, k++) {
        double keep = X[j];
        X[j] = keep + h;
        double lp = fd_meta_ref_loss(m, d, X, m->alpha);
        X[j] = keep - h;
        double lm = fd_meta_ref_loss(m, d, X, m->alpha);
        X[j] = keep;
        fd[k] = (lp - lm) / (2 * h);
        got[k] = dx[j];
        reached += fd[k] != 0;
    }
    double e = tu_rel_err(got, fd, (size_t)k);
    if (m->Y) {   /* dL/dY at every logit */
        enum { NY = FD_META_NSYN * FD_META_CLASSES };
        float *gy = tu_download(run->set.grad, run->set.off_targets, NY);
        double fy[NY], gyd[NY];
        for (int j = 0; j < NY; j++) {
            double keep = m->Y[j];
            m->Y[j] = keep + h;
            double lp = fd_meta_ref_loss(m, d, X, m->alpha);
            m->Y[j] = keep - h;
            double lm = fd_meta_ref_loss(m, d, X, m->alpha);
            m->Y[j] = keep;
            fy[j] = (lp - lm) / (2 * h);
            gyd[j] = gy[j];
        }
        double ey = tu_rel_err(gyd, fy, NY);
        printf("meta-gradient %s: dL/dY relative error %.2e over %d logits\n", what, ey, NY);
        ck_assert_msg(ey < tol, "%s: dL/dY relative error %g", what, ey);
        free(gy);
    }
    printf("meta-gradient %s: loss %.6g (float64 %.6g), dL/dlr %.6g (fd %.6g), dL/dX relative error %.2e, %d of %d "
           "pixels reached\n", what, loss, ref, dalpha, fa, e, reached, k);
    ck_assert_msg(e < tol, "%s: dL/dX relative error %g over %d pixels", what, e, k);
    free(dx); free(X); free(fd); free(got);
    if (sampled) *sampled = k;
    return reached;
}

size_t fd_meta_peak(const FdMetaShape *shape, int K) {
    FdMeta m;
    fd_meta_make(&m, shape, "ConvNetW32", K, 40);
    size_t before = dev_mem_current();
    dev_mem_reset_peak();
    FdMetaRun run;
    fd_meta_distiller(&m, "color_crop_cutout_flip_scale_rotate", &run);
    Rng r;
    rng_init(&r, 1, 1);
    double da;
    distiller_meta_grad(&run.d, &run.set, m.theta0, m.target, &r, &da);
    size_t peak = dev_mem_peak() - before;
    fd_meta_run_free(&run);
    fd_meta_free(&m);
    return peak;
}
