/* Softmax cross-entropy against target rows: float64 references against finite
 * differences and a direct formula, the float32 kernels against the references (one-hot
 * and soft targets), argmax ties and bad labels. */
#include "testutil.h"
#include "layers/loss.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rand_labels(int *y, int n, int K, uint64_t seed) {
    Rng r;
    rng_init(&r, seed, 7);
    for (int i = 0; i < n; i++) y[i] = rng_int(&r, 0, K - 1);
}

/* One-hot float rows of labels (NaN rows for labels outside [0, K)), malloc'd. */
static float *onehot(const int *y, int N, int K) {
    float *t = xmalloc((size_t)N * K * sizeof(float));
    int32_t *yy = xmalloc((size_t)N * sizeof(int32_t));
    for (int i = 0; i < N; i++) yy[i] = y[i];
    ce_onehot_rows(t, yy, N, K);
    free(yy);
    return t;
}

static double *onehot_d(const int *y, int N, int K) {
    float *t = onehot(y, N, K);
    double *d = tu_to_double(t, (size_t)N * K);
    free(t);
    return d;
}

/* Random distributions per row (soft labels): softmax of uniform values in [-2, 2). */
static float *soft_rows(int N, int K, uint64_t seed) {
    float *t = xmalloc((size_t)N * K * sizeof(float));
    tu_rand(t, (size_t)N * K, seed, -2, 2);
    for (int n = 0; n < N; n++) {
        double z = 0;
        for (int k = 0; k < K; k++) z += exp(t[n * K + k]);
        for (int k = 0; k < K; k++) t[n * K + k] = (float)(exp(t[n * K + k]) / z);
    }
    return t;
}

/* The mean loss against log(sum exp o) - o[y] written out directly (moderate logits, so
 * no max subtraction is needed), probabilities summing to one, and the accuracy flag. */
START_TEST(ce_ref_forward_direct) {
    CeShape s = {7, 6};
    size_t nk = (size_t)s.N * s.K;
    double *o = xmalloc(nk * 8), *p = xmalloc(nk * 8), rl[7], cor[7];
    int y[7];
    tu_rand_d(o, nk, 1, -3, 3);
    rand_labels(y, s.N, s.K, 2);
    double *t = onehot_d(y, s.N, s.K);
    double mean = ce_forward_ref(&s, p, rl, cor, o, t), want_mean = 0;
    for (int n = 0; n < s.N; n++) {
        double se = 0, ps = 0;
        int am = 0;
        for (int k = 0; k < s.K; k++) {
            se += exp(o[n * s.K + k]);
            ps += p[n * s.K + k];
            if (o[n * s.K + k] > o[n * s.K + am]) am = k;
        }
        double l = log(se) - o[n * s.K + y[n]];
        ck_assert_double_eq_tol(rl[n], l, 1e-12);
        ck_assert_double_eq_tol(ps, 1.0, 1e-12);
        ck_assert(cor[n] == (am == y[n] ? 1.0 : 0.0));
        want_mean += l / s.N;
    }
    ck_assert_double_eq_tol(mean, want_mean, 1e-12);
    free(o); free(p); free(t);
}
END_TEST

/* ce_backward_ref = gradient of the mean loss; ce_rbackward_ref = directional derivative
 * of ce_backward_ref (through the probabilities) along logits_t. */
START_TEST(ce_ref_matches_finite_differences) {
    const double h = 1e-6;
    const int shapes[][2] = {{6, 5}, {3, 17}, {1, 2}};
    for (int si = 0; si < 6; si++) {
        CeShape s = {shapes[si % 3][0], shapes[si % 3][1]};
        size_t nk = (size_t)s.N * s.K;
        double *o = xmalloc(nk * 8), *t = xmalloc(nk * 8), *p = xmalloc(nk * 8), *g = xmalloc(nk * 8);
        double *fd = xmalloc(nk * 8), *op = xmalloc(nk * 8), *om = xmalloc(nk * 8);
        double *gp = xmalloc(nk * 8), *gm = xmalloc(nk * 8);
        int *yl = xmalloc((size_t)s.N * sizeof(int));
        tu_rand_d(o, nk, 10 + si, -4, 4);
        tu_rand_d(t, nk, 20 + si, -1, 1);
        rand_labels(yl, s.N, s.K, 30 + si);
        /* The first three shapes with one-hot targets, the last three with soft ones. */
        double *y;
        if (si < 3) {
            y = onehot_d(yl, s.N, s.K);
        } else {
            float *f = soft_rows(s.N, s.K, 40 + si);
            y = tu_to_double(f, nk);
            free(f);
        }

        ce_forward_ref(&s, p, NULL, NULL, o, y);
        ce_backward_ref(&s, g, p, y);
        for (size_t i = 0; i < nk; i++) {
            for (size_t j = 0; j < nk; j++) op[j] = om[j] = o[j];
            op[i] += h; om[i] -= h;
            fd[i] = (ce_forward_ref(&s, gp, NULL, NULL, op, y) - ce_forward_ref(&s, gm, NULL, NULL, om, y)) / (2 * h);
        }
        ck_assert_msg(tu_rel_err(g, fd, nk) < 1e-6, "N=%d K=%d backward_ref vs FD: rel err %g", s.N, s.K,
                      tu_rel_err(g, fd, nk));

        for (size_t j = 0; j < nk; j++) { op[j] = o[j] + h * t[j]; om[j] = o[j] - h * t[j]; }
        double *pp = xmalloc(nk * 8), *pm = xmalloc(nk * 8);
        ce_forward_ref(&s, pp, NULL, NULL, op, y);
        ce_forward_ref(&s, pm, NULL, NULL, om, y);
        ce_backward_ref(&s, gp, pp, y);
        ce_backward_ref(&s, gm, pm, y);
        for (size_t j = 0; j < nk; j++) fd[j] = (gp[j] - gm[j]) / (2 * h);
        ce_rbackward_ref(&s, g, p, t);
        ck_assert_msg(tu_rel_err(g, fd, nk) < 1e-6, "N=%d K=%d rbackward_ref vs FD: rel err %g", s.N, s.K,
                      tu_rel_err(g, fd, nk));
        free(o); free(t); free(p); free(g); free(fd); free(op); free(om); free(gp); free(gm); free(y); free(yl);
        free(pp); free(pm);
    }
}
END_TEST

/* One shape on the device vs the reference: probs, rowloss, correct, backward and
 * rbackward from one pass, every output poisoned; then passes with fewer outputs give the
 * same values and leave the others untouched. Target rows [N][K] (a NaN row stands for a
 * bad label). */
static void device_vs_ref(int N, int K, float scale, const float *targets, uint64_t seed) {
    CeShape s = {N, K};
    size_t nk = (size_t)N * K;
    float *o = xmalloc(nk * 4), *t = xmalloc(nk * 4);
    tu_rand(o, nk, seed, -scale, scale);
    tu_rand(t, nk, seed + 1, -1, 1);
    double *od = tu_to_double(o, nk), *td = tu_to_double(t, nk);
    double *p = xmalloc(nk * 8), *rl = xmalloc((size_t)N * 8), *cor = xmalloc((size_t)N * 8);
    double *g = xmalloc(nk * 8), *rg = xmalloc(nk * 8), *yd = tu_to_double(targets, nk);
    ce_forward_ref(&s, p, rl, cor, od, yd);
    ce_backward_ref(&s, g, p, yd);
    ce_rbackward_ref(&s, rg, p, td);

    cl_mem O = tu_upload(o, nk), T = tu_upload(t, nk), Y = tu_upload(targets, nk);
    cl_mem P = tu_poisoned(nk), RL = tu_poisoned(N), C = tu_poisoned(N), G = tu_poisoned(nk), RG = tu_poisoned(nk);
    CeOut all = {P, RL, C, G, RG};
    ce_pass(&s, &all, O, T, Y);
    float *gp = tu_download(P, 0, nk), *grl = tu_download(RL, 0, N), *gc = tu_download(C, 0, N);
    float *gg = tu_download(G, 0, nk), *grg = tu_download(RG, 0, nk);
    char what[96];
    snprintf(what, sizeof what, "probs N=%d K=%d", N, K);
    tu_check_close(what, gp, p, nk, 2e-5, 1e-8);
    for (int n = 0; n < N; n++) {
        if (isnan(rl[n])) {
            ck_assert_msg(isnan(grl[n]), "N=%d K=%d row %d (bad label): rowloss %g, want NaN", N, K, n, grl[n]);
            grl[n] = 0.0f;
            rl[n] = 0.0;
            /* The backward of a bad row is NaN too, so the step that uses it is caught. */
            for (int k = 0; k < K; k++) {
                ck_assert_msg(isnan(gg[n * K + k]), "N=%d K=%d row %d (bad label): dlogits %g, want NaN", N, K, n,
                              gg[n * K + k]);
                gg[n * K + k] = 0.0f;
                g[n * K + k] = 0.0;
            }
        }
    }
    snprintf(what, sizeof what, "rowloss N=%d K=%d", N, K);
    tu_check_close(what, grl, rl, N, 1e-5, 1e-5 * (1 + scale));
    snprintf(what, sizeof what, "correct N=%d K=%d", N, K);
    tu_check_close(what, gc, cor, N, 0, 0);
    snprintf(what, sizeof what, "backward N=%d K=%d", N, K);
    tu_check_close(what, gg, g, nk, 2e-5, 1e-8 / N);
    snprintf(what, sizeof what, "rbackward N=%d K=%d", N, K);
    tu_check_close(what, grg, rg, nk, 1e-4, 1e-7 / N);

    /* Without rowloss and correct the probabilities are the same. */
    dev_fill(P, 0, nk, NAN);
    ce_forward(&s, P, NULL, NULL, O, Y);
    free(gp);
    gp = tu_download(P, 0, nk);
    snprintf(what, sizeof what, "probs (no rowloss/correct) N=%d K=%d", N, K);
    tu_check_close(what, gp, p, nk, 2e-5, 1e-8);

    /* The backward alone (a gradient step's pass): the same dlogits, and the outputs not
     * asked for keep their poison. */
    float *again = tu_download(G, 0, nk);
    dev_fill(P, 0, nk, NAN);
    dev_fill(G, 0, nk, NAN);
    dev_fill(RL, 0, N, 7.0f);
    dev_fill(RG, 0, nk, 7.0f);
    CeOut grad_only = {P, NULL, NULL, G, NULL};
    ce_pass(&s, &grad_only, O, NULL, Y);
    float *g2 = tu_download(G, 0, nk), *rl2 = tu_download(RL, 0, N), *rg2 = tu_download(RG, 0, nk);
    for (size_t i = 0; i < nk; i++) {
        ck_assert_msg(memcmp(&g2[i], &again[i], 4) == 0, "N=%d K=%d: dlogits[%zu] %g alone, %g with every output", N, K,
                      i, g2[i], again[i]);
        ck_assert_msg(rg2[i] == 7.0f, "N=%d K=%d: rdlogits[%zu] written (%g) though not asked for", N, K, i, rg2[i]);
    }
    for (int n = 0; n < N; n++) ck_assert_msg(rl2[n] == 7.0f, "N=%d K=%d: rowloss[%d] written though not asked for", N, K, n);
    free(again); free(g2); free(rl2); free(rg2);

    free(o); free(t); free(od); free(td); free(p); free(rl); free(cor); free(g); free(rg); free(yd);
    free(gp); free(grl); free(gc); free(gg); free(grg);
    dev_free(O); dev_free(T); dev_free(Y); dev_free(P); dev_free(RL); dev_free(C); dev_free(G); dev_free(RG);
}

START_TEST(ce_device_matches_ref) {
    tu_init();
    /* N, K, logit scale (large logits check the max subtraction). */
    const int shapes[][3] = {{37, 10, 5}, {5, 200, 5}, {300, 100, 3}, {3, 1, 2}, {64, 10, 60}, {2000, 10, 4}};
    for (int si = 0; si < 6; si++) {
        int N = shapes[si][0], K = shapes[si][1];
        /* tu_small: the widest rows (K = 200), K = 1 and the largest logits stay. */
        if (tu_small() && N * K > 1000) continue;
        int *y = xmalloc((size_t)N * sizeof(int));
        rand_labels(y, N, K, 100 + si);
        float *t = onehot(y, N, K);
        device_vs_ref(N, K, (float)shapes[si][2], t, 200 + si);
        free(t);
        /* Soft targets through the same kernels. */
        t = soft_rows(N, K, 300 + si);
        device_vs_ref(N, K, (float)shapes[si][2], t, 400 + si);
        free(t);
        free(y);
    }
}
END_TEST

/* Labels outside [0, K) give NaN target rows, so a NaN row loss and backward (the host
 * sees them) and correct = 0; the other rows are unaffected. */
START_TEST(ce_device_bad_labels) {
    tu_init();
    int y[6] = {3, -1, 10, 0, 1000000, -2147483647 - 1};
    float *t = onehot(y, 6, 10);
    device_vs_ref(6, 10, 3.0f, t, 300);
    free(t);
    double o[20], p[20], rl[2], cor[2];
    int yr[2] = {1, 10};
    CeShape s = {2, 10};
    tu_rand_d(o, 20, 5, -1, 1);
    double *td = onehot_d(yr, 2, 10);
    ce_forward_ref(&s, p, rl, cor, o, td);
    free(td);
    ck_assert(isfinite(rl[0]) && isnan(rl[1]) && cor[1] == 0.0);
}
END_TEST

/* The accuracy flag uses the first maximum: with the row maximum at positions 2 and 5,
 * label 2 is correct and label 5 is not. */
START_TEST(ce_argmax_tie_takes_first) {
    tu_init();
    const int N = 4, K = 7;
    float o[4 * 7];
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) o[n * K + k] = 0.1f * (float)k - 2.0f;
    for (int n = 0; n < N; n++) o[n * K + 2] = o[n * K + 5] = 3.0f;
    o[3 * K + 6] = 3.5f;   /* row 3: a unique maximum at 6 */
    const int y[4] = {2, 5, 0, 6};
    const double want[4] = {1, 0, 0, 1};
    CeShape s = {N, K};
    float *t = onehot(y, N, K);
    cl_mem O = tu_upload(o, (size_t)N * K), Y = tu_upload(t, (size_t)N * K), P = tu_poisoned((size_t)N * K),
           C = tu_poisoned(N);
    ce_forward(&s, P, NULL, C, O, Y);
    float *gc = tu_download(C, 0, N);
    tu_check_close("correct with ties (device)", gc, want, N, 0, 0);
    double od[4 * 7], p[4 * 7], cor[4];
    for (int i = 0; i < N * K; i++) od[i] = o[i];
    double *td = tu_to_double(t, (size_t)N * K);
    ce_forward_ref(&s, p, NULL, cor, od, td);
    tu_check_close_d("correct with ties (reference)", cor, want, N, 0, 0);
    free(gc); free(t); free(td);
    dev_free(O); dev_free(Y); dev_free(P); dev_free(C);
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, ce_ref_forward_direct);
    tcase_add_test(tc, ce_ref_matches_finite_differences);
    tcase_add_test(tc, ce_device_matches_ref);
    tcase_add_test(tc, ce_device_bad_labels);
    tcase_add_test(tc, ce_argmax_tie_takes_first);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
