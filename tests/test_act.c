/* Activations: float64 references against central finite differences, and the
 * float32 kernels against the references. */
#include "testutil.h"
#include "layers/act.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const ActKind KINDS[3] = {ACT_RELU, ACT_SIGMOID, ACT_LEAKYRELU};
static const char *const KIND_NAMES[3] = {"relu", "sigmoid", "leakyrelu"};

/* Random doubles in [-3, 3] with |x| > 1e-3, away from the ReLU kink, so that a step
 * of h = 1e-6 never crosses it. */
static void rand_off_kink(double *x, size_t n, uint64_t seed) {
    tu_rand_d(x, n, seed, -3, 3);
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) < 2e-3) x[i] = x[i] < 0 ? x[i] - 2e-3 : x[i] + 2e-3;
}

/* backward_ref = gradient of L(x) = <r, f(x)>; tangent_ref = directional derivative of f;
 * rbackward_ref = directional derivative of backward_ref along (dout -> rdout, in -> in_t). */
START_TEST(act_ref_matches_finite_differences) {
    const size_t n = 64;
    const double h = 1e-6;
    double *x = xmalloc(n * 8), *r = xmalloc(n * 8), *v = xmalloc(n * 8), *rr = xmalloc(n * 8);
    double *g = xmalloc(n * 8), *fd = xmalloc(n * 8), *xp = xmalloc(n * 8), *xm = xmalloc(n * 8);
    double *fp = xmalloc(n * 8), *fm = xmalloc(n * 8), *t = xmalloc(n * 8), *rp = xmalloc(n * 8), *rm = xmalloc(n * 8);
    for (int kk = 0; kk < 3; kk++) {
        ActKind k = KINDS[kk];
        rand_off_kink(x, n, 100 + kk);
        tu_rand_d(r, n, 200 + kk, -1, 1);
        tu_rand_d(v, n, 300 + kk, -1, 1);
        tu_rand_d(rr, n, 400 + kk, -1, 1);
        char what[96];

        act_backward_ref(k, n, g, r, x);
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++) xp[j] = xm[j] = x[j];
            xp[i] += h; xm[i] -= h;
            act_forward_ref(k, n, fp, xp);
            act_forward_ref(k, n, fm, xm);
            fd[i] = (tu_dot_d(r, fp, n) - tu_dot_d(r, fm, n)) / (2 * h);
        }
        snprintf(what, sizeof what, "%s backward_ref vs FD", KIND_NAMES[kk]);
        ck_assert_msg(tu_rel_err(g, fd, n) < 1e-6, "%s: rel err %g", what, tu_rel_err(g, fd, n));

        act_tangent_ref(k, n, t, x, v);
        for (size_t j = 0; j < n; j++) { xp[j] = x[j] + h * v[j]; xm[j] = x[j] - h * v[j]; }
        act_forward_ref(k, n, fp, xp);
        act_forward_ref(k, n, fm, xm);
        for (size_t j = 0; j < n; j++) fd[j] = (fp[j] - fm[j]) / (2 * h);
        ck_assert_msg(tu_rel_err(t, fd, n) < 1e-6, "%s tangent_ref vs FD: rel err %g", KIND_NAMES[kk],
                      tu_rel_err(t, fd, n));

        /* xp, xm still hold x +- h v. */
        double *dp = xmalloc(n * 8), *dm = xmalloc(n * 8);
        for (size_t j = 0; j < n; j++) { dp[j] = r[j] + h * rr[j]; dm[j] = r[j] - h * rr[j]; }
        act_backward_ref(k, n, rp, dp, xp);
        act_backward_ref(k, n, rm, dm, xm);
        for (size_t j = 0; j < n; j++) fd[j] = (rp[j] - rm[j]) / (2 * h);
        act_rbackward_ref(k, n, g, r, rr, x, v);
        ck_assert_msg(tu_rel_err(g, fd, n) < 1e-6, "%s rbackward_ref vs FD: rel err %g", KIND_NAMES[kk],
                      tu_rel_err(g, fd, n));
        free(dp); free(dm);
    }
    /* The sigmoid's second-order term is really exercised: rbackward differs from f' rdout. */
    act_backward_ref(ACT_SIGMOID, n, fp, rr, x);
    act_rbackward_ref(ACT_SIGMOID, n, g, r, rr, x, v);
    ck_assert_msg(tu_rel_err(fp, g, n) > 1e-2, "sigmoid rbackward lacks its curvature term");
    free(x); free(r); free(v); free(rr); free(g); free(fd); free(xp); free(xm);
    free(fp); free(fm); free(t); free(rp); free(rm);
}
END_TEST

/* ReLU's derivative at exactly 0 is 0, leaky ReLU's is 0.01 (PyTorch's convention). */
START_TEST(act_ref_kink_convention) {
    double x[3] = {0.0, -0.0, 1.0}, d[3] = {1, 1, 1}, g[3];
    act_backward_ref(ACT_RELU, 3, g, d, x);
    ck_assert(g[0] == 0.0 && g[1] == 0.0 && g[2] == 1.0);
    act_backward_ref(ACT_LEAKYRELU, 3, g, d, x);
    ck_assert(g[0] == 0.01 && g[1] == 0.01 && g[2] == 1.0);
}
END_TEST

/* Every pass on the device against the reference, outputs poisoned with NaN, an odd
 * size, inputs with exact zeros and large magnitudes (sigmoid saturation). */
START_TEST(act_device_matches_ref) {
    tu_init();
    const size_t n = 50001;
    float *x = xmalloc(n * 4), *t = xmalloc(n * 4), *d = xmalloc(n * 4), *rd = xmalloc(n * 4);
    tu_rand(x, n, 11, -6, 6);
    tu_rand(t, n, 12, -1, 1);
    tu_rand(d, n, 13, -1, 1);
    tu_rand(rd, n, 14, -1, 1);
    for (size_t i = 0; i < n; i += 97) x[i] = 0.0f;
    x[1] = 40.0f; x[2] = -40.0f; x[3] = 100.0f; x[4] = -100.0f;
    double *xd = tu_to_double(x, n), *td = tu_to_double(t, n), *dd = tu_to_double(d, n), *rdd = tu_to_double(rd, n);
    double *want = xmalloc(n * 8);
    cl_mem X = tu_upload(x, n), T = tu_upload(t, n), D = tu_upload(d, n), RD = tu_upload(rd, n);
    for (int kk = 0; kk < 3; kk++) {
        ActKind k = KINDS[kk];
        char what[96];
        cl_mem out = tu_poisoned(n);
        act_forward(k, n, out, X);
        float *got = tu_download(out, 0, n);
        act_forward_ref(k, n, want, xd);
        snprintf(what, sizeof what, "%s forward", KIND_NAMES[kk]);
        tu_check_close(what, got, want, n, 1e-5, 1e-7);
        free(got);

        dev_fill(out, 0, n, NAN);
        act_backward(k, n, out, D, X);
        got = tu_download(out, 0, n);
        act_backward_ref(k, n, want, dd, xd);
        snprintf(what, sizeof what, "%s backward", KIND_NAMES[kk]);
        tu_check_close(what, got, want, n, 1e-5, 1e-7);
        free(got);

        dev_fill(out, 0, n, NAN);
        act_tangent(k, n, out, X, T);
        got = tu_download(out, 0, n);
        act_tangent_ref(k, n, want, xd, td);
        snprintf(what, sizeof what, "%s tangent", KIND_NAMES[kk]);
        tu_check_close(what, got, want, n, 1e-5, 1e-7);
        free(got);

        dev_fill(out, 0, n, NAN);
        act_rbackward(k, n, out, D, RD, X, T);
        got = tu_download(out, 0, n);
        act_rbackward_ref(k, n, want, dd, rdd, xd, td);
        snprintf(what, sizeof what, "%s rbackward", KIND_NAMES[kk]);
        tu_check_close(what, got, want, n, 1e-5, 1e-7);
        free(got);
        dev_free(out);
    }
    free(x); free(t); free(d); free(rd); free(xd); free(td); free(dd); free(rdd); free(want);
    dev_free(X); dev_free(T); dev_free(D); dev_free(RD);
}
END_TEST

/* A NaN input stays NaN through the forward pass of every kind (divergence is visible). */
START_TEST(act_device_propagates_nan) {
    tu_init();
    float x[3] = {NAN, 1.0f, -1.0f};
    cl_mem X = tu_upload(x, 3), out = dev_alloc(3 * sizeof(float), "out");
    for (int kk = 0; kk < 3; kk++) {
        act_forward(KINDS[kk], 3, out, X);
        float *got = tu_download(out, 0, 3);
        ck_assert_msg(isnan(got[0]), "%s: NaN input gave %g", KIND_NAMES[kk], got[0]);
        ck_assert(isfinite(got[1]) && isfinite(got[2]));
        free(got);
    }
    dev_free(X); dev_free(out);
}
END_TEST

int main(void) {
    Suite *s = suite_create("act");
    TCase *tc = tcase_create("act");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, act_ref_matches_finite_differences);
    tcase_add_test(tc, act_ref_kink_convention);
    tcase_add_test(tc, act_device_matches_ref);
    tcase_add_test(tc, act_device_propagates_nan);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
