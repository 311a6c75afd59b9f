/* float64 references of the normalization layers (docs/algorithm.md#normalization), written element by
 * element over the CNHW tensor: every element knows its set and its affine index, per-set
 * means are accumulated in one sweep and applied in the next. NULL pointers: din/rdin and
 * dgamma/dbeta are skipped, in_t/gamma_t/beta_t are zero. */
#include "layers/norm.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NORM_REF_EPS 1e-5

typedef struct { int set, aff; } NormRefIdx;

/* Set and affine index of the CNHW element (c, n, p). */
static NormRefIdx ref_index(const NormShape *s, int c, int n, int p) {
    NormRefIdx r;
    switch (s->kind) {
    case NORM_INSTANCE: r.set = n * s->C + c; r.aff = c; break;
    case NORM_GROUP: r.set = n * 4 + c / (s->C / 4); r.aff = c; break;
    case NORM_LAYER: r.set = n; r.aff = c * s->HW + p; break;
    case NORM_BATCH: r.set = c; r.aff = c; break;
    default: die("norm ref: unknown normalization kind %d", (int)s->kind);
    }
    return r;
}

/* Every element's set and affine index, in CNHW order (malloc'd). */
static NormRefIdx *ref_indices(const NormShape *s) {
    (void)norm_nsets(s);   /* validates the shape */
    size_t total = (size_t)s->C * s->N * s->HW, i = 0;
    NormRefIdx *idx = xmalloc(total * sizeof *idx);
    for (int c = 0; c < s->C; c++)
        for (int n = 0; n < s->N; n++)
            for (int p = 0; p < s->HW; p++) idx[i++] = ref_index(s, c, n, p);
    return idx;
}

static double ref_set_size(const NormShape *s) {
    return (double)s->C * s->N * s->HW / norm_nsets(s);
}

/* zhat of every element from the stored statistics (malloc'd). */
static double *ref_zhat(const NormShape *s, const NormRefIdx *idx, const double *in, const double *stats) {
    size_t total = (size_t)s->C * s->N * s->HW;
    int ns = norm_nsets(s);
    double *z = xmalloc(total * sizeof *z);
    for (size_t i = 0; i < total; i++) z[i] = (in[i] - stats[idx[i].set]) * stats[ns + idx[i].set];
    return z;
}

/* Per-set means of a*b (b NULL: of a) into m[nsets]. */
static void ref_set_mean(const NormShape *s, const NormRefIdx *idx, const double *a, const double *b, double *m) {
    size_t total = (size_t)s->C * s->N * s->HW;
    int ns = norm_nsets(s);
    memset(m, 0, ns * sizeof *m);
    for (size_t i = 0; i < total; i++) m[idx[i].set] += b ? a[i] * b[i] : a[i];
    double n = ref_set_size(s);
    for (int k = 0; k < ns; k++) m[k] /= n;
}

/* zhat_t = r[(in_t - mean in_t) - zhat mean(zhat in_t)] of every element (malloc'd), and
 * the per-set mean(zhat in_t) into mt2 when given. in_t NULL: zeros. */
static double *ref_zhat_t(const NormShape *s, const NormRefIdx *idx, const double *zh, const double *in_t,
                          const double *stats, double *mt2_out) {
    size_t total = (size_t)s->C * s->N * s->HW;
    int ns = norm_nsets(s);
    double *zt = xcalloc(total, sizeof *zt);
    double *mt1 = xcalloc(ns, sizeof *mt1), *mt2 = xcalloc(ns, sizeof *mt2);
    if (in_t) {
        ref_set_mean(s, idx, in_t, NULL, mt1);
        ref_set_mean(s, idx, zh, in_t, mt2);
        for (size_t i = 0; i < total; i++) {
            int k = idx[i].set;
            zt[i] = stats[ns + k] * ((in_t[i] - mt1[k]) - zh[i] * mt2[k]);
        }
    }
    if (mt2_out) memcpy(mt2_out, mt2, ns * sizeof *mt2);
    free(mt1);
    free(mt2);
    return zt;
}

void norm_forward_ref(const NormShape *s, double *out, double *stats, const double *in, const double *gamma,
                      const double *beta) {
    NormRefIdx *idx = ref_indices(s);
    size_t total = (size_t)s->C * s->N * s->HW;
    int ns = norm_nsets(s);
    double *mean = stats, *rstd = stats + ns;
    ref_set_mean(s, idx, in, NULL, mean);
    /* Biased variance as the mean of squared deviations. */
    memset(rstd, 0, ns * sizeof *rstd);
    for (size_t i = 0; i < total; i++) {
        double d = in[i] - mean[idx[i].set];
        rstd[idx[i].set] += d * d;
    }
    double n = ref_set_size(s);
    for (int k = 0; k < ns; k++) rstd[k] = 1.0 / sqrt(rstd[k] / n + NORM_REF_EPS);
    for (size_t i = 0; i < total; i++) {
        int k = idx[i].set, a = idx[i].aff;
        out[i] = gamma[a] * (in[i] - mean[k]) * rstd[k] + beta[a];
    }
    free(idx);
}

/* Sums over every position sharing an affine index: dgamma = sum g1 zhat + g2 zhat_t
 * (g2 NULL: no second term), dbeta = sum g1. */
static void ref_param_grads(const NormShape *s, const NormRefIdx *idx, double *dgamma, double *dbeta,
                            const double *g1, const double *zh, const double *g2, const double *zt) {
    if (!dgamma && !dbeta) return;
    size_t total = (size_t)s->C * s->N * s->HW, na = norm_affine_size(s);
    double *dg = xcalloc(na, sizeof *dg), *db = xcalloc(na, sizeof *db);
    for (size_t i = 0; i < total; i++) {
        int a = idx[i].aff;
        dg[a] += g1[i] * zh[i] + (g2 ? g2[i] * zt[i] : 0.0);
        db[a] += g1[i];
    }
    if (dgamma) memcpy(dgamma, dg, na * sizeof *dg);
    if (dbeta) memcpy(dbeta, db, na * sizeof *db);
    free(dg);
    free(db);
}

void norm_backward_ref(const NormShape *s, double *din, double *dgamma, double *dbeta, const double *dout,
                       const double *in, const double *stats, const double *gamma) {
    NormRefIdx *idx = ref_indices(s);
    size_t total = (size_t)s->C * s->N * s->HW;
    int ns = norm_nsets(s);
    double *zh = ref_zhat(s, idx, in, stats);
    if (din) {
        double *dz = xmalloc(total * sizeof *dz), *m1 = xmalloc(ns * sizeof *m1), *m2 = xmalloc(ns * sizeof *m2);
        for (size_t i = 0; i < total; i++) dz[i] = gamma[idx[i].aff] * dout[i];
        ref_set_mean(s, idx, dz, NULL, m1);
        ref_set_mean(s, idx, dz, zh, m2);
        for (size_t i = 0; i < total; i++) {
            int k = idx[i].set;
            din[i] = stats[ns + k] * (dz[i] - m1[k] - zh[i] * m2[k]);
        }
        free(dz); free(m1); free(m2);
    }
    ref_param_grads(s, idx, dgamma, dbeta, dout, zh, NULL, NULL);
    free(zh);
    free(idx);
}

void norm_tangent_ref(const NormShape *s, double *out_t, const double *in, const double *in_t,
                      const double *stats, const double *gamma, const double *gamma_t, const double *beta_t) {
    NormRefIdx *idx = ref_indices(s);
    size_t total = (size_t)s->C * s->N * s->HW;
    double *zh = ref_zhat(s, idx, in, stats);
    double *zt = ref_zhat_t(s, idx, zh, in_t, stats, NULL);
    for (size_t i = 0; i < total; i++) {
        int a = idx[i].aff;
        out_t[i] = gamma[a] * zt[i] + (gamma_t ? gamma_t[a] * zh[i] : 0.0) + (beta_t ? beta_t[a] : 0.0);
    }
    free(zt);
    free(zh);
    free(idx);
}

void norm_rbackward_ref(const NormShape *s, double *rdin, double *rdgamma, double *rdbeta, const double *dout,
                        const double *rdout, const double *in, const double *in_t, const double *stats,
                        const double *gamma, const double *gamma_t) {
    NormRefIdx *idx = ref_indices(s);
    size_t total = (size_t)s->C * s->N * s->HW;
    int ns = norm_nsets(s);
    double *zh = ref_zhat(s, idx, in, stats);
    double *mt2 = xmalloc(ns * sizeof *mt2);
    double *zt = ref_zhat_t(s, idx, zh, in_t, stats, mt2);
    if (rdin) {
        double *dz = xmalloc(total * sizeof *dz), *rdz = xmalloc(total * sizeof *rdz);
        double *t = xmalloc(total * sizeof *t);
        double *d1 = xmalloc(ns * sizeof *d1), *d2 = xmalloc(ns * sizeof *d2);
        double *r1 = xmalloc(ns * sizeof *r1), *r2 = xmalloc(ns * sizeof *r2);
        for (size_t i = 0; i < total; i++) {
            int a = idx[i].aff;
            dz[i] = gamma[a] * dout[i];
            rdz[i] = gamma[a] * rdout[i] + (gamma_t ? gamma_t[a] * dout[i] : 0.0);
            t[i] = rdz[i] * zh[i] + dz[i] * zt[i];
        }
        ref_set_mean(s, idx, dz, NULL, d1);
        ref_set_mean(s, idx, dz, zh, d2);
        ref_set_mean(s, idx, rdz, NULL, r1);
        ref_set_mean(s, idx, t, NULL, r2);
        for (size_t i = 0; i < total; i++) {
            int k = idx[i].set;
            double r = stats[ns + k], r_t = -r * r * mt2[k];
            double q = dz[i] - d1[k] - zh[i] * d2[k];
            double rq = rdz[i] - r1[k] - zt[i] * d2[k] - zh[i] * r2[k];
            rdin[i] = r_t * q + r * rq;
        }
        free(dz); free(rdz); free(t); free(d1); free(d2); free(r1); free(r2);
    }
    ref_param_grads(s, idx, rdgamma, rdbeta, rdout, zh, dout, zt);
    free(zt);
    free(mt2);
    free(zh);
    free(idx);
}
