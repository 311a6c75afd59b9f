/* The matching options of clmtt distill: the start-epoch window's upper bounds and draws;
 * PAD's kept entries against a known answer and a sorted order; the meta-gradient with
 * --loss_ratio and with --auto_match against central differences of the float64 unrolled
 * loss (matched step and kept entries held fixed), the matched step against the float64
 * argmin; the loss threshold leaving the whole set, its momentum and average bit-identical. */
#include "distill/match.h"
#include "distill/threshold.h"
#include "distill/window.h"
#include "fdcheck.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the start-epoch window ---- */

START_TEST(window_upper_bounds) {
    StartWindow w = {0, 2, 4, 10, 1};
    const int its[] = {0, 4, 5, 9, 10, 20, 100000};
    const int want[] = {2, 2, 3, 3, 4, 4, 4};   /* 2 + floor(2 it / 10), at most 4 */
    for (int i = 0; i < 7; i++)
        ck_assert_msg(window_upper(&w, its[i]) == want[i], "it %d: upper %d, want %d", its[i], window_upper(&w, its[i]),
                      want[i]);
    StartWindow v = {1, 3, 9, 7, 1};   /* 3 + floor(6 it / 7) */
    ck_assert_int_eq(window_upper(&v, 3), 5);
    ck_assert_int_eq(window_upper(&v, 6), 8);
    ck_assert_int_eq(window_upper(&v, 7), 9);
    w.sequential = 0;   /* Sequential_Generation off: max_start throughout */
    for (int i = 0; i < 7; i++) ck_assert_int_eq(window_upper(&w, its[i]), 4);
    ck_assert(window_in_use(&v));
    ck_assert(!window_in_use(&w));   /* [0, 4) throughout: MTT's window */
    StartWindow m = {0, 25, 25, 3000, 1};
    ck_assert(!window_in_use(&m));
    m.min_start = 1;
    ck_assert(window_in_use(&m));
}
END_TEST

START_TEST(window_draws_within_bounds) {
    StartWindow w = {1, 2, 6, 20, 1};
    Rng r;
    rng_init(&r, 9, 2);
    for (int it = 0; it <= 40; it++) {
        int upper = window_upper(&w, it), seen[8] = {0};
        for (int j = 0; j < 400; j++) {
            int s = window_draw(&w, it, &r);
            ck_assert_msg(s >= 1 && s < upper, "it %d: start %d outside [1, %d)", it, s, upper);
            seen[s]++;
        }
        for (int s = 1; s < upper; s++) ck_assert_msg(seen[s] > 0, "it %d: start %d never drawn", it, s);
    }
}
END_TEST

/* min 0 and no expansion draw exactly what MTT's rng_int(0, max - 1) draws, so plain runs
 * keep their random streams. */
START_TEST(window_default_is_the_plain_draw) {
    StartWindow w = {0, 25, 25, 3000, 1};
    Rng a, b;
    rng_init(&a, 77, 2);
    rng_init(&b, 77, 2);
    for (int it = 0; it < 500; it++) ck_assert_int_eq(window_draw(&w, it, &a), rng_int(&b, 0, 24));
}
END_TEST

/* ---- PAD's selection ---- */

START_TEST(mask_known_answer) {
    enum { P = 8 };
    const float d[P] = {2, -1, 0, 1, 3, 0, 1.5f, -1};   /* squared errors 4 1 0 1 9 0 2.25 1 */
    float theta[P], target[P];
    for (int i = 0; i < P; i++) {
        target[i] = 0.25f * (float)i - 1.0f;
        theta[i] = target[i] + d[i];
    }
    unsigned char keep[P];
    double err[P];
    size_t order[P];
    ck_assert_uint_eq(match_dropped_count(0.5, P), 4);
    ck_assert_uint_eq(match_dropped_count(0.3, P), 2);
    ck_assert_uint_eq(match_dropped_count(0.999, P), 7);
    ck_assert_uint_eq(match_dropped_count(0.0, P), 0);
    /* Four smallest in (error, index) order: 2 and 5 (0), then 1 and 3 of the three 1s. */
    match_select(theta, target, P, 4, keep, err, order);
    const unsigned char want4[P] = {1, 0, 0, 0, 1, 0, 1, 1};
    ck_assert_mem_eq(keep, want4, P);
    match_select(theta, target, P, 2, keep, err, order);
    const unsigned char want2[P] = {1, 1, 0, 1, 1, 0, 1, 1};
    ck_assert_mem_eq(keep, want2, P);
    match_select(theta, target, P, 5, keep, err, order);
    const unsigned char want5[P] = {1, 0, 0, 0, 1, 0, 1, 0};
    ck_assert_mem_eq(keep, want5, P);
    match_select(theta, target, P, 0, keep, err, order);
    const unsigned char none[P] = {1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_mem_eq(keep, none, P);
}
END_TEST

static const double *g_err;
static int by_err_then_index(const void *pa, const void *pb) {
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    if (g_err[a] != g_err[b]) return g_err[a] < g_err[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* keep[i] = 0 exactly for the first `drop` entries of a full sort by (error, index). */
static void check_against_sort(const float *theta, const float *target, size_t P, size_t drop,
                               const unsigned char *keep, const char *what) {
    double *err = xmalloc(P * sizeof(double));
    size_t *idx = xmalloc(P * sizeof(size_t));
    for (size_t i = 0; i < P; i++) {
        double e = (double)theta[i] - target[i];
        err[i] = e * e;
        idx[i] = i;
    }
    g_err = err;
    qsort(idx, P, sizeof(size_t), by_err_then_index);
    unsigned char *want = xmalloc(P);
    memset(want, 1, P);
    for (size_t i = 0; i < drop; i++) want[idx[i]] = 0;
    size_t bad = 0;
    for (size_t i = 0; i < P; i++) bad += want[i] != keep[i];
    ck_assert_msg(bad == 0, "%s: %zu of %zu entries differ from the sorted selection of %zu", what, bad, P, drop);
    free(err); free(idx); free(want);
}

START_TEST(mask_matches_sorted_order) {
    enum { P = 5000 };
    float *theta = xmalloc(P * 4), *target = xmalloc(P * 4);
    tu_rand(target, P, 3, -1, 1);
    tu_rand(theta, P, 4, -1, 1);
    /* quantized errors: many ties */
    for (size_t i = 0; i < P; i++) theta[i] = target[i] + (float)((int)(theta[i] * 8)) / 8.0f;
    unsigned char *keep = xmalloc(P);
    double *err = xmalloc(P * sizeof(double));
    size_t *order = xmalloc(P * sizeof(size_t));
    const double ratios[] = {0.0001, 0.1, 0.37, 0.5, 0.9, 0.9999};
    for (int j = 0; j < 6; j++) {
        size_t drop = match_dropped_count(ratios[j], P);
        match_select(theta, target, P, drop, keep, err, order);
        char what[32];
        snprintf(what, sizeof what, "ratio %g", ratios[j]);
        check_against_sort(theta, target, P, drop, keep, what);
    }
    free(theta); free(target); free(keep); free(err); free(order);
}
END_TEST

/* ---- the meta-gradient with the options ---- */

static const FdMetaShape plain = {6, 0, 1, 5.0f, 0, 0};

/* The distiller's kept entries are the selection at its matched step's float32 parameters. */
static void check_kept_entries(const FdMeta *m, FdMetaRun *run, double ratio) {
    const Matcher *mt = &run->d.match;
    size_t P = m->net.nparams;
    ck_assert_uint_eq(mt->dropped, (size_t)floor(ratio * (double)P));
    DPtr at = step_vectors_at(&run->d.thetas, mt->step);
    float *theta = tu_download(at.mem, at.off, P);
    check_against_sort(theta, m->target, P, mt->dropped, mt->keep, "the distiller's kept entries");
    free(theta);
}

static void check_loss_ratio(const char *strategy, double ratio, uint64_t seed) {
    tu_init();
    FdMeta m;
    fd_meta_make(&m, &plain, "ConvNetAS", 3, seed);
    FdMetaRun run;
    fd_meta_distiller(&m, strategy, &run);
    MatchOptions opt = {0, ratio};
    distiller_set_match(&run.d, &opt);
    char what[96];
    snprintf(what, sizeof what, "loss_ratio %g ConvNetAS/%s", ratio, strategy);
    fd_check_meta_gradient(&m, &run, what, 1e-4, seed, 3, 7, 64, 3e-3, NULL);
    ck_assert_int_eq(run.d.match.step, 3);
    check_kept_entries(&m, &run, ratio);
    /* The mask matters: the loss over all entries is larger. */
    float *xs = tu_download(run.set.theta, 0, run.set.img->stored_floats);
    double *X = tu_to_double(xs, run.set.img->stored_floats);
    double masked = fd_meta_ref_loss(&m, &run, X, m.alpha);
    run.d.match.dropped = 0;
    double whole = fd_meta_ref_loss(&m, &run, X, m.alpha);
    printf("%s: masked loss %.6g, whole %.6g\n", what, masked, whole);
    ck_assert_msg(masked < whole * (1 - 1e-3), "%s: masked loss %g is not below the whole %g", what, masked, whole);
    free(xs); free(X);
    fd_meta_run_free(&run);
    fd_meta_free(&m);
}

START_TEST(meta_gradient_loss_ratio) { check_loss_ratio("none", 0.3, 61); }
END_TEST
START_TEST(meta_gradient_loss_ratio_dsa) { check_loss_ratio("color_crop_cutout_flip_scale_rotate", 0.75, 62); }
END_TEST

/* The first minimum of the float64 distances d_1 .. d_K. */
static int ref_argmin(const FdMeta *m, const double *thetas, int K, double *dist) {
    size_t P = m->net.nparams;
    int best = 1;
    for (int k = 1; k <= K; k++) {
        double s = 0;
        for (size_t i = 0; i < P; i++) {
            double e = thetas[(size_t)k * P + i] - m->target[i];
            s += e * e;
        }
        dist[k] = s;
        if (s < dist[best]) best = k;
    }
    return best;
}

/* K = 4 steps and a target near theta_2 (0.9 theta_2 + 0.1 theta_3 of the float64 unroll of
 * the same batches), so the matched step is 2 and steps 2, 3 are left out of the sweep. */
static void check_auto_match(const char *strategy, double ratio, uint64_t seed) {
    tu_init();
    enum { K = 4 };
    FdMeta m;
    fd_meta_make(&m, &plain, "ConvNetAS", K, seed);
    FdMetaRun run;
    fd_meta_distiller(&m, strategy, &run);
    MatchOptions opt = {1, ratio};
    distiller_set_match(&run.d, &opt);
    size_t P = m.net.nparams, nx = run.set.img->stored_floats;
    /* A first meta-gradient records the batches fd_check_meta_gradient will draw again. */
    Rng r;
    rng_init(&r, seed, 11);
    double dlr;
    distiller_meta_grad(&run.d, &run.set, m.theta0, m.target, &r, &dlr);
    float *xs = tu_download(run.set.theta, 0, nx);
    double *X = tu_to_double(xs, nx);
    double *thetas = xmalloc((size_t)(K + 1) * P * sizeof(double));
    fd_meta_ref_thetas(&m, &run, X, m.alpha, K, thetas);
    for (size_t i = 0; i < P; i++) m.target[i] = (float)(0.9 * thetas[2 * P + i] + 0.1 * thetas[3 * P + i]);

    char what[96];
    snprintf(what, sizeof what, "auto_match%s ConvNetAS/%s", ratio > 0 ? " + loss_ratio" : "", strategy);
    int reached = fd_check_meta_gradient(&m, &run, what, 1e-4, seed, 0, 1, (int)nx, 3e-3, NULL);
    double dist[K + 1];
    int want = ref_argmin(&m, thetas, K, dist);
    printf("%s: matched step %d, float64 argmin %d (d = %.3g %.3g %.3g %.3g), %d pixels reached\n", what,
           run.d.match.step, want, dist[1], dist[2], dist[3], dist[4], reached);
    ck_assert_int_eq(want, 2);
    ck_assert_int_eq(run.d.match.step, want);
    /* fd_check_meta_gradient compared the loss with the float64 loss at the matched step;
     * without the mask that is d_2 / D of the reference. */
    if (ratio == 0) {
        double D = 0;
        for (size_t i = 0; i < P; i++) D += ((double)m.theta0[i] - m.target[i]) * ((double)m.theta0[i] - m.target[i]);
        ck_assert_double_eq_tol(fd_meta_ref_loss(&m, &run, X, m.alpha), dist[2] / D, 1e-12 * dist[2] / D);
    } else {
        check_kept_entries(&m, &run, ratio);
    }
    free(xs); free(X); free(thetas);
    fd_meta_run_free(&run);
    fd_meta_free(&m);
}

START_TEST(meta_gradient_auto_match) { check_auto_match("none", 0.0, 71); }
END_TEST
START_TEST(meta_gradient_auto_match_loss_ratio_dsa) { check_auto_match("color_crop_cutout_flip_scale_rotate", 0.5, 72); }
END_TEST

/* ---- the threshold ---- */

typedef struct { float *theta, *vel, *ema; float lr; } SetState;

static SetState set_state(LearnSet *s) {
    SetState st = {tu_download(s->theta, 0, s->total), tu_download(s->vel, 0, s->total),
                   tu_download(s->ema, 0, s->total), s->lr};
    return st;
}
static void set_state_free(SetState *st) { free(st->theta); free(st->vel); free(st->ema); }

/* 1 when a and b differ somewhere in [off, off + n). */
static int differs(const float *a, const float *b, size_t off, size_t n) {
    return memcmp(a + off, b + off, n * sizeof(float)) != 0;
}

START_TEST(threshold_skip_leaves_the_set) {
    tu_init();
    static const FdMetaShape soft = {6, 0, 1, 5.0f, 0, 1};
    FdMeta m;
    fd_meta_make(&m, &soft, "ConvNetAS", 3, 81);
    FdMetaRun run;
    fd_meta_distiller(&m, "none", &run);
    LearnSet *s = &run.set;
    float logits[FD_META_NSYN * FD_META_CLASSES];
    learnset_logits(s, logits);
    learnset_set_optim(s, 100.0, 1e-3);
    learnset_set_soft(s, logits, 2.0, 0.9);   /* images, labels and the step size all learned */
    learnset_set_ema(s, 0.9);
    Rng r;
    rng_init(&r, 81, 11);
    double dlr;
    /* An update first, so that the momentum is not zero. */
    double loss = distiller_meta_grad(&run.d, s, m.theta0, m.target, &r, &dlr);
    ck_assert_int_eq(threshold_update(s, loss, 2 * loss), SET_UPDATED);
    SetState a = set_state(s);
    /* Above the threshold: nothing moves. */
    loss = distiller_meta_grad(&run.d, s, m.theta0, m.target, &r, &dlr);
    ck_assert_int_eq(threshold_update(s, loss, 0.5 * loss), SET_SKIPPED);
    SetState b = set_state(s);
    size_t t = s->total;
    ck_assert_msg(!differs(a.theta, b.theta, 0, t), "a skipped iteration changed the set");
    ck_assert_msg(!differs(a.vel, b.vel, 0, t), "a skipped iteration changed the momentum");
    ck_assert_msg(!differs(a.ema, b.ema, 0, t), "a skipped iteration changed the moving average");
    ck_assert_msg(a.lr == b.lr, "a skipped iteration changed syn_lr");
    /* At the threshold (loss <= threshold): every tensor moves. */
    ck_assert_int_eq(threshold_update(s, loss, loss), SET_UPDATED);
    SetState c = set_state(s);
    size_t ni = s->img->stored_floats, ny = (size_t)s->n * s->K;
    const char *names[3] = {"images", "labels", "syn_lr"};
    size_t offs[3] = {0, s->off_targets, s->off_lr}, lens[3] = {ni, ny, 1};
    for (int j = 0; j < 3; j++) {
        ck_assert_msg(differs(b.theta, c.theta, offs[j], lens[j]), "an update below the threshold left the %s", names[j]);
        ck_assert_msg(differs(b.vel, c.vel, offs[j], lens[j]), "an update left the %s' momentum", names[j]);
        ck_assert_msg(differs(b.ema, c.ema, offs[j], lens[j]), "an update left the %s' average", names[j]);
    }
    ck_assert_msg(c.lr != b.lr, "an update left syn_lr");
    set_state_free(&a); set_state_free(&b); set_state_free(&c);
    fd_meta_run_free(&run);
    fd_meta_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("match");
    TCase *tc = tcase_create("match");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, window_upper_bounds);
    tcase_add_test(tc, window_draws_within_bounds);
    tcase_add_test(tc, window_default_is_the_plain_draw);
    tcase_add_test(tc, mask_known_answer);
    tcase_add_test(tc, mask_matches_sorted_order);
    tcase_add_test(tc, threshold_skip_leaves_the_set);
    tcase_add_test(tc, meta_gradient_loss_ratio);
    tcase_add_test(tc, meta_gradient_loss_ratio_dsa);
    tcase_add_test(tc, meta_gradient_auto_match);
    tcase_add_test(tc, meta_gradient_auto_match_loss_ratio_dsa);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
