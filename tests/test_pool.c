/* 2x2 pooling and stride-2 subsampling: float64 references against finite differences, the float32 kernels
 * against the references (odd and even sizes), and the max tie rule. */
#include "testutil.h"
#include "layers/pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const int SHAPES[][3] = {{3, 7, 5}, {2, 6, 4}, {4, 5, 8}, {1, 9, 9}, {5, 32, 32}, {3, 1, 1}, {2, 3, 1}};
#define NSHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

static size_t nin(const PoolShape *s) { return (size_t)s->planes * s->H * s->W; }
static size_t nout(const PoolShape *s) { return (size_t)s->planes * pool_out(s->H) * pool_out(s->W); }

/* Distinct values 0.01 apart in random order: no ties, and a step of 1e-6 never changes
 * which element of a window is the maximum. */
static void distinct_values(double *x, size_t n, uint64_t seed) {
    int *perm = xmalloc(n * sizeof(int));
    Rng r;
    rng_init(&r, seed, 5);
    rng_perm(&r, perm, (int)n);
    for (size_t i = 0; i < n; i++) x[i] = 0.01 * (perm[i] - (double)n / 2);
    free(perm);
}

/* backward_ref = gradient of <r, pool(x)> (each input element perturbed);
 * tangent_ref = directional derivative of pool along in_t;
 * the directional derivative of backward_ref along (dout -> rdout, in -> in_t) is
 * backward_ref applied to rdout, which is why pool.h has no separate rbackward. */
START_TEST(pool_ref_matches_finite_differences) {
    const double h = 1e-6;
    for (int kind = POOL_AVG; kind <= POOL_MAX; kind++)
        for (int si = 0; si < 4; si++) {
            PoolShape s = {(PoolKind)kind, SHAPES[si][0], SHAPES[si][1], SHAPES[si][2]};
            size_t ni = nin(&s), no = nout(&s);
            double *x = xmalloc(ni * 8), *r = xmalloc(no * 8), *v = xmalloc(ni * 8), *rr = xmalloc(no * 8);
            double *g = xmalloc(ni * 8), *fd = xmalloc(ni * 8), *xp = xmalloc(ni * 8), *xm = xmalloc(ni * 8);
            double *fp = xmalloc(no * 8), *fm = xmalloc(no * 8), *t = xmalloc(no * 8), *fdo = xmalloc(no * 8);
            double *dp = xmalloc(no * 8), *dm = xmalloc(no * 8), *bp = xmalloc(ni * 8), *bm = xmalloc(ni * 8);
            distinct_values(x, ni, 10 + si);
            tu_rand_d(r, no, 20 + si, -1, 1);
            tu_rand_d(v, ni, 30 + si, -1, 1);
            tu_rand_d(rr, no, 40 + si, -1, 1);
            const char *kn = kind == POOL_AVG ? "avg" : "max";

            pool_backward_ref(&s, g, r, x);
            for (size_t i = 0; i < ni; i++) {
                for (size_t j = 0; j < ni; j++) xp[j] = xm[j] = x[j];
                xp[i] += h; xm[i] -= h;
                pool_forward_ref(&s, fp, xp);
                pool_forward_ref(&s, fm, xm);
                fd[i] = (tu_dot_d(r, fp, no) - tu_dot_d(r, fm, no)) / (2 * h);
            }
            ck_assert_msg(tu_rel_err(g, fd, ni) < 1e-6, "%s %dx%dx%d backward_ref vs FD: rel err %g", kn, s.planes,
                          s.H, s.W, tu_rel_err(g, fd, ni));
            /* Odd last rows/columns get nothing. */
            for (int p = 0; p < s.planes; p++)
                for (int y = 0; y < s.H; y++)
                    for (int c = 0; c < s.W; c++)
                        if (y >= 2 * pool_out(s.H) || c >= 2 * pool_out(s.W))
                            ck_assert(g[((size_t)p * s.H + y) * s.W + c] == 0.0);

            pool_tangent_ref(&s, t, x, v);
            for (size_t j = 0; j < ni; j++) { xp[j] = x[j] + h * v[j]; xm[j] = x[j] - h * v[j]; }
            pool_forward_ref(&s, fp, xp);
            pool_forward_ref(&s, fm, xm);
            for (size_t j = 0; j < no; j++) fdo[j] = (fp[j] - fm[j]) / (2 * h);
            ck_assert_msg(tu_rel_err(t, fdo, no) < 1e-6, "%s tangent_ref vs FD: rel err %g", kn, tu_rel_err(t, fdo, no));

            for (size_t j = 0; j < no; j++) { dp[j] = r[j] + h * rr[j]; dm[j] = r[j] - h * rr[j]; }
            pool_backward_ref(&s, bp, dp, xp);
            pool_backward_ref(&s, bm, dm, xm);
            for (size_t j = 0; j < ni; j++) fd[j] = (bp[j] - bm[j]) / (2 * h);
            pool_backward_ref(&s, g, rr, x);
            ck_assert_msg(tu_rel_err(g, fd, ni) < 1e-6, "%s R-backward vs FD: rel err %g", kn, tu_rel_err(g, fd, ni));
            free(x); free(r); free(v); free(rr); free(g); free(fd); free(xp); free(xm);
            free(fp); free(fm); free(t); free(fdo); free(dp); free(dm); free(bp); free(bm);
        }
}
END_TEST

/* forward, backward (din fully poisoned: odd edges must be written as 0) and tangent on
 * the device vs the reference, for both kinds and every shape (including H or W = 1,
 * where there is no output and backward writes zeros only). */
START_TEST(pool_device_matches_ref) {
    tu_init();
    for (int kind = POOL_AVG; kind <= POOL_MAX; kind++)
        for (int si = 0; si < NSHAPES; si++) {
            PoolShape s = {(PoolKind)kind, SHAPES[si][0], SHAPES[si][1], SHAPES[si][2]};
            size_t ni = nin(&s), no = nout(&s), nob = no ? no : 1;
            float *x = xmalloc(ni * 4), *v = xmalloc(ni * 4), *d = xmalloc(nob * 4);
            tu_rand(x, ni, 50 + si, -1, 1);
            tu_rand(v, ni, 60 + si, -1, 1);
            tu_rand(d, nob, 70 + si, -1, 1);
            double *xd = tu_to_double(x, ni), *vd = tu_to_double(v, ni), *dd = tu_to_double(d, nob);
            double *want_o = xmalloc(nob * 8), *want_i = xmalloc(ni * 8);
            cl_mem X = tu_upload(x, ni), V = tu_upload(v, ni), D = tu_upload(d, nob);
            cl_mem out = tu_poisoned(nob), din = tu_poisoned(ni);
            char what[128];
            const char *kn = kind == POOL_AVG ? "avg" : "max";

            pool_forward(&s, out, X);
            float *got = tu_download(out, 0, no ? no : 1);
            pool_forward_ref(&s, want_o, xd);
            snprintf(what, sizeof what, "%s forward %dx%dx%d", kn, s.planes, s.H, s.W);
            tu_check_close(what, got, want_o, no, 1e-6, 1e-7);
            free(got);

            pool_backward(&s, din, D, X);
            got = tu_download(din, 0, ni);
            pool_backward_ref(&s, want_i, dd, xd);
            snprintf(what, sizeof what, "%s backward %dx%dx%d", kn, s.planes, s.H, s.W);
            tu_check_close(what, got, want_i, ni, 1e-6, 0);
            free(got);

            dev_fill(out, 0, nob, NAN);
            pool_tangent(&s, out, X, V);
            got = tu_download(out, 0, nob);
            pool_tangent_ref(&s, want_o, xd, vd);
            snprintf(what, sizeof what, "%s tangent %dx%dx%d", kn, s.planes, s.H, s.W);
            tu_check_close(what, got, want_o, no, 1e-6, 1e-7);
            free(got);

            free(x); free(v); free(d); free(xd); free(vd); free(dd); free(want_o); free(want_i);
            dev_free(X); dev_free(V); dev_free(D); dev_free(out); dev_free(din);
        }
}
END_TEST

/* Stride-2 subsampling: the reference against hand indexing and its transpose (the
 * forward is linear, so <r, S x> = <S^T r, x> exactly), and the device against the
 * reference with poisoned outputs (odd sizes: the last row and column are kept). */
START_TEST(subsample_device_matches_ref) {
    tu_init();
    for (int si = 0; si < NSHAPES; si++) {
        PoolShape s = {POOL_NONE, SHAPES[si][0], SHAPES[si][1], SHAPES[si][2]};
        int Ho = subsample_out(s.H), Wo = subsample_out(s.W);
        size_t ni = nin(&s), no = (size_t)s.planes * Ho * Wo;
        float *x = xmalloc(ni * 4), *d = xmalloc(no * 4);
        tu_rand(x, ni, 80 + si, -1, 1);
        tu_rand(d, no, 90 + si, -1, 1);
        double *xd = tu_to_double(x, ni), *dd = tu_to_double(d, no), *want_o = xmalloc(no * 8), *want_i = xmalloc(ni * 8);
        subsample_forward_ref(&s, want_o, xd);
        subsample_backward_ref(&s, want_i, dd);
        for (int p = 0; p < s.planes; p++)
            for (int y = 0; y < Ho; y++)
                for (int c = 0; c < Wo; c++)
                    ck_assert(want_o[((size_t)p * Ho + y) * Wo + c] == xd[((size_t)p * s.H + 2 * y) * s.W + 2 * c]);
        ck_assert_double_eq_tol(tu_dot_d(dd, want_o, no), tu_dot_d(want_i, xd, ni), 1e-12);
        cl_mem X = tu_upload(x, ni), D = tu_upload(d, no), out = tu_poisoned(no), din = tu_poisoned(ni);
        char what[96];
        subsample_forward(&s, out, X);
        float *got = tu_download(out, 0, no);
        snprintf(what, sizeof what, "subsample forward %dx%dx%d", s.planes, s.H, s.W);
        tu_check_close(what, got, want_o, no, 0, 0);
        free(got);
        subsample_backward(&s, din, D);
        got = tu_download(din, 0, ni);
        snprintf(what, sizeof what, "subsample backward %dx%dx%d", s.planes, s.H, s.W);
        tu_check_close(what, got, want_i, ni, 0, 0);
        free(got);
        free(x); free(d); free(xd); free(dd); free(want_o); free(want_i);
        dev_free(X); dev_free(D); dev_free(out); dev_free(din);
    }
}
END_TEST

/* Max pooling with ties: the first maximum in the order (0,0), (0,1), (1,0), (1,1) wins,
 * on the device and in the reference. One 2x8 plane holds four windows:
 *   all equal -> (0,0);  max at (0,1) and (1,0) -> (0,1);  at (1,0) and (1,1) -> (1,0);
 *   a unique max at (1,1) -> (1,1). */
START_TEST(pool_max_ties_take_first) {
    tu_init();
    const float x[16] = {2, 2, 0, 5, 1, 0, 1, 1,
                         2, 2, 5, 3, 4, 4, 0, 3};
    const int want_pos[4] = {0, 1, 2, 3};   /* window position of the winner, per window */
    const float d[4] = {1, 2, 3, 4};
    float v[16];
    for (int i = 0; i < 16; i++) v[i] = (float)(10 + i);
    PoolShape s = {POOL_MAX, 1, 2, 8};
    cl_mem X = tu_upload(x, 16), V = tu_upload(v, 16), D = tu_upload(d, 4);
    cl_mem din = tu_poisoned(16), out = tu_poisoned(4);
    pool_backward(&s, din, D, X);
    float *g = tu_download(din, 0, 16);
    pool_tangent(&s, out, X, V);
    float *t = tu_download(out, 0, 4);
    double xd[16], dd[4], vd[16], gr[16], tr[4];
    for (int i = 0; i < 16; i++) { xd[i] = x[i]; vd[i] = v[i]; }
    for (int i = 0; i < 4; i++) dd[i] = d[i];
    pool_backward_ref(&s, gr, dd, xd);
    pool_tangent_ref(&s, tr, xd, vd);
    for (int w = 0; w < 4; w++) {
        int win = (want_pos[w] >> 1) * 8 + 2 * w + (want_pos[w] & 1);
        for (int q = 0; q < 4; q++) {
            int i = (q >> 1) * 8 + 2 * w + (q & 1);
            float want = i == win ? d[w] : 0.0f;
            ck_assert_msg(g[i] == want, "device backward window %d element %d: got %g want %g", w, q, g[i], want);
            ck_assert_msg(gr[i] == want, "reference backward window %d element %d: got %g want %g", w, q, gr[i], want);
        }
        ck_assert_msg(t[w] == v[win], "device tangent window %d: got %g want %g", w, t[w], v[win]);
        ck_assert_msg(tr[w] == v[win], "reference tangent window %d: got %g want %g", w, tr[w], v[win]);
    }
    free(g); free(t);
    dev_free(X); dev_free(V); dev_free(D); dev_free(din); dev_free(out);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, pool_ref_matches_finite_differences);
    tcase_add_test(tc, pool_device_matches_ref);
    tcase_add_test(tc, pool_max_ties_take_first);
    tcase_add_test(tc, subsample_device_matches_ref);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
