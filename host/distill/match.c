/* The matching loss's options; see match.h. */
#include "distill/match.h"
#include "core/blas.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void matcher_init(Matcher *mt, const MatchOptions *opt, size_t P) {
    memset(mt, 0, sizeof *mt);
    if (!(opt->loss_ratio >= 0 && opt->loss_ratio < 1)) die("internal: loss_ratio %g", opt->loss_ratio);
    mt->opt = *opt;
    mt->P = P;
    if (opt->loss_ratio > 0) {
        mt->keep = xmalloc(P);
        mt->theta = xmalloc(P * sizeof(float));
        mt->lam = xmalloc(P * sizeof(float));
        mt->err = xmalloc(P * sizeof(double));
        mt->order = xmalloc(P * sizeof(size_t));
    }
}

void matcher_free(Matcher *mt) {
    free(mt->keep); free(mt->theta); free(mt->lam); free(mt->err); free(mt->order);
    memset(mt, 0, sizeof *mt);
}

size_t match_dropped_count(double r, size_t P) {
    size_t m = (size_t)floor(r * (double)P);
    return m < P ? m : P;
}

/* (err, index) order: a total order, so the selected set does not depend on the pivots. */
static int before(const double *err, size_t a, size_t b) { return err[a] < err[b] || (err[a] == err[b] && a < b); }

static void swap_idx(size_t *o, size_t i, size_t j) { size_t t = o[i]; o[i] = o[j]; o[j] = t; }

/* Rearranges order[0..n) so that order[0..t] are its t+1 first entries in the total order
 * (quickselect, median-of-three pivot, Lomuto partition). */
static void select_first(const double *err, size_t *order, size_t n, size_t t) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        /* median of three moved to hi */
        if (before(err, order[mid], order[lo])) swap_idx(order, mid, lo);
        if (before(err, order[hi], order[lo])) swap_idx(order, hi, lo);
        if (before(err, order[mid], order[hi])) swap_idx(order, mid, hi);
        size_t pivot = order[hi], store = lo;
        for (size_t i = lo; i < hi; i++)
            if (before(err, order[i], pivot)) swap_idx(order, i, store++);
        swap_idx(order, store, hi);
        if (store == t) return;
        if (t < store) hi = store - 1;
        else lo = store + 1;
    }
}

void match_select(const float *theta, const float *target, size_t P, size_t drop, unsigned char *keep, double *err,
                  size_t *order) {
    memset(keep, 1, P);
    if (drop == 0) return;
    if (drop > P) die("internal: dropping %zu of %zu entries", drop, P);
    for (size_t i = 0; i < P; i++) {
        double e = (double)theta[i] - (double)target[i];
        err[i] = e * e;
        order[i] = i;
    }
    select_first(err, order, P, drop - 1);
    for (size_t i = 0; i < drop; i++) keep[order[i]] = 0;
}

int matcher_seed(Matcher *mt, int K, const StepVectors *thetas, cl_mem target_dev, const float *target_host, IterScalars *sc,
                 cl_mem lam) {
    size_t P = mt->P;
    mt->dropped = match_dropped_count(mt->opt.loss_ratio, P);
    /* The distances on the device: d_1 .. d_K and their first minimum, or d_K alone. */
    if (mt->opt.auto_match) {
        for (int k = 1; k <= K; k++)
            scalars_reduce(sc, SC_HEAD + k - 1, 0, RED_SQDIST, P, step_vectors_at(thetas, k), dptr(target_dev, 0));
        scalars_argmin(sc);
    } else {
        scalars_reduce(sc, SC_NUM, 0, RED_SQDIST, P, step_vectors_at(thetas, K), dptr(target_dev, 0));
    }
    mt->step = mt->opt.auto_match ? 0 : K;   /* auto_match: known at the iteration's read */
    if (mt->dropped == 0) return 1;
    /* PAD: the kept entries of the matched step, selected on the host; this waits for D
     * and the matched step. */
    IterValues v;
    scalars_read(sc, &v);
    if (!(v.D > 0)) die("the expert's start and target snapshots are identical: the loss is undefined (expert_epochs >= 1?)");
    int k = v.matched;
    mt->step = k;
    DPtr theta_k = step_vectors_at(thetas, k);
    dev_read_f32(theta_k.mem, theta_k.off, P, mt->theta);
    match_select(mt->theta, target_host, P, mt->dropped, mt->keep, mt->err, mt->order);
    /* lambda as distill_lambda_seed computes it (float), zero where left out; the numerator
     * in double from the selection's squared errors. */
    float scale = (float)(2.0 / v.D);
    double num = 0;
    for (size_t i = 0; i < P; i++) {
        mt->lam[i] = mt->keep[i] ? scale * (mt->theta[i] - target_host[i]) : 0.0f;
        if (mt->keep[i]) num += mt->err[i];
    }
    dev_write_f32(lam, 0, P, mt->lam);
    scalars_write(sc, SC_NUM, num, v.format);
    return 0;
}

void matcher_seed_at(const Matcher *mt, int step, DPtr theta_step, cl_mem target_dev, IterScalars *sc, cl_mem lam) {
    LAUNCH("distill_lambda_seed", mt->P, KM(lam), KM(theta_step.mem), KM(target_dev), KM(sc->buf), KI(step), KL(theta_step.off),
           KL(mt->P));
}
