/* One distillation iteration with one wait (host/distill/iteration.h): the kernels of the
 * iteration's scalars (cl/scalars.cl) against their C references with poisoned outputs; the
 * runtime's counts of whole iterations (one blocking read, nothing else blocking) with
 * every option the one-read path covers; and the same set, bit for bit, as the host-side
 * path (distiller_meta_grad, the host's checks and threshold_update). */
#include "testutil.h"
#include "fdcheck.h"
#include "distill/iteration.h"
#include "distill/scalars.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* The device's slot format, from a reset. */
static int device_format(IterScalars *sc) {
    scalars_reset(sc);
    IterValues v;
    scalars_read(sc, &v);
    return v.format;
}

/* Every slot's bytes 0xff: a NaN in both formats, so an unwritten slot shows. */
static void poison_slots(IterScalars *sc) {
    size_t bytes = (size_t)sc->nslots * 8;
    unsigned char *p = xmalloc(bytes);
    memset(p, 0xff, bytes);
    dev_write(sc->buf, 0, bytes, p);
    free(p);
}

/* All slots decoded (malloc'd). */
static double *read_slots(IterScalars *sc, int format) {
    uint32_t *w = xmalloc((size_t)sc->nslots * 8);
    dev_read(sc->buf, 0, (size_t)sc->nslots * 8, w);
    double *v = xmalloc((size_t)sc->nslots * sizeof(double));
    for (int i = 0; i < sc->nslots; i++) v[i] = scalars_decode(w + 2 * i, format);
    free(w);
    return v;
}

/* fp64: the same bits as the reference; float pairs: within about 48 bits. */
static void check_value(const char *what, double got, double want, int format) {
    if (format == SC_TAG_FP64)
        ck_assert_msg(got == want || (isnan(got) && isnan(want)), "%s: %.17g, want %.17g", what, got, want);
    else
        ck_assert_msg(fabs(got - want) <= 1e-12 * fabs(want) + 1e-30, "%s: %.17g, want %.17g", what, got, want);
}

/* ---- the kernels ---- */

START_TEST(reset_writes_every_slot) {
    tu_init();
    IterScalars sc;
    scalars_init(&sc, 5);
    poison_slots(&sc);
    int format = device_format(&sc);
    ck_assert(format == SC_TAG_FP64 || format == SC_TAG_FLOAT);
    ck_assert_int_eq(format, RT.dev.fp64 ? SC_TAG_FP64 : SC_TAG_FLOAT);
    double *v = read_slots(&sc, format);
    for (int i = 1; i < sc.nslots; i++) ck_assert_msg(v[i] == (i == SC_MATCHED ? 5.0 : 0.0), "slot %d: %g", i, v[i]);
    free(v);
    scalars_free(&sc);
}
END_TEST

/* scalars_sum: the partials added in index order, set or subtracted; other slots untouched. */
START_TEST(sum_matches_reference) {
    tu_init();
    IterScalars sc;
    scalars_init(&sc, 4);
    int format = device_format(&sc);
    const int counts[3] = {1, 37, DEV_REDUCE_MAX_GROUPS};
    for (int c = 0; c < 3; c++) {
        int g = counts[c];
        float *p = tu_new_rand((size_t)g, 100 + (uint64_t)c);
        for (int i = 0; i < g; i++) p[i] *= (float)(1 << (i % 20));   /* magnitudes that round */
        cl_mem pm = tu_upload(p, (size_t)g);
        poison_slots(&sc);
        double before = 0.375 * (c + 1);
        scalars_write(&sc, SC_DLR, before, format);
        LAUNCH("scalars_sum", 1, KM(pm), KI(g), KM(sc.buf), KI(SC_D), KI(0));
        LAUNCH("scalars_sum", 1, KM(pm), KI(g), KM(sc.buf), KI(SC_DLR), KI(1));
        double *v = read_slots(&sc, format);
        double want = scalars_sum_ref(p, g);
        check_value("scalars_sum set", v[SC_D], want, format);
        check_value("scalars_sum subtract", v[SC_DLR], before - want, format);
        for (int i = 0; i < sc.nslots; i++)
            if (i != SC_D && i != SC_DLR) ck_assert_msg(isnan(v[i]), "scalars_sum wrote slot %d", i);
        free(v);
        free(p);
        dev_free(pm);
    }
    scalars_free(&sc);
}
END_TEST

/* scalars_reduce: the host-read reductions' values (the same partials, the same order). */
START_TEST(reduce_matches_host_reduction) {
    tu_init();
    IterScalars sc;
    scalars_init(&sc, 2);
    int format = device_format(&sc);
    const size_t sizes[3] = {1, 1000, 300001};
    for (int c = 0; c < 3; c++) {
        size_t n = sizes[c];
        float *x = tu_new_rand(n, 200 + (uint64_t)c), *y = tu_new_rand(n, 300 + (uint64_t)c);
        if (n > 10) x[n / 2] = NAN, x[n / 3] = INFINITY;
        cl_mem xm = tu_upload(x, n), ym = tu_upload(y, n);
        DPtr xp = dptr(xm, 0), yp = dptr(ym, 0);
        poison_slots(&sc);
        scalars_reduce(&sc, SC_GRAD_BAD, 0, RED_NONFINITE, n, xp, xp);
        if (n > 10) x[n / 2] = 0.5f, x[n / 3] = -0.25f;
        dev_write_f32(xm, 0, n, x);
        scalars_reduce(&sc, SC_D, 0, RED_SQDIST, n, xp, yp);
        scalars_reduce(&sc, SC_NUM, 0, RED_DOT, n, xp, yp);
        scalars_write(&sc, SC_DLR, 1.0, format);
        scalars_reduce(&sc, SC_DLR, 1, RED_DOT, n, xp, yp);
        double *v = read_slots(&sc, format);
        check_value("sqdist", v[SC_D], dev_sqdist(n, xp, yp), format);
        check_value("dot", v[SC_NUM], dev_dot(n, xp, yp), format);
        check_value("1 - dot", v[SC_DLR], 1.0 - dev_dot(n, xp, yp), format);
        ck_assert_msg(v[SC_GRAD_BAD] == (n > 10 ? 2.0 : 0.0), "non-finite count %g", v[SC_GRAD_BAD]);
        double ref = 0;
        for (size_t i = 0; i < n; i++) ref += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        ck_assert_msg(fabs(v[SC_D] - ref) <= 1e-5 * ref, "sqdist %.9g, float64 %.9g", v[SC_D], ref);
        free(v);
        /* The dot product with the update in one pass: the value of x before it changes,
         * and x + alpha z after. */
        float *z = tu_new_rand(n, 400 + (uint64_t)c);
        cl_mem zm = tu_upload(z, n);
        double dot_before = dev_dot(n, xp, yp);
        scalars_write(&sc, SC_DLR, 1.0, format);
        scalars_dot_update(&sc, SC_DLR, 1, n, xp, yp, -0.375f, dptr(zm, 0));
        v = read_slots(&sc, format);
        check_value("1 - dot (with the update)", v[SC_DLR], 1.0 - dot_before, format);
        float *x2 = tu_download(xm, 0, n);
        for (size_t i = 0; i < n; i++) {
            float want = x[i] + -0.375f * z[i];
            ck_assert_msg(fabsf(x2[i] - want) <= 1e-6f * (1.0f + fabsf(want)), "x[%zu] after the update: %.9g, want %.9g",
                          i, x2[i], want);
        }
        free(v); free(x2); free(z);
        dev_free(zm);
        free(x); free(y);
        dev_free(xm); dev_free(ym);
    }
    scalars_free(&sc);
}
END_TEST

START_TEST(argmin_matches_reference) {
    tu_init();
    enum { K = 9 };
    IterScalars sc;
    scalars_init(&sc, K);
    int format = device_format(&sc);
    for (int trial = 0; trial < 4; trial++) {
        double dist[K];
        tu_rand_d(dist, K, 400 + (uint64_t)trial, 0.5, 2.0);
        if (trial == 1) dist[6] = dist[3] = 0.125;   /* a tie: the first wins */
        if (trial == 2) dist[0] = 0.01;
        if (trial == 3) dist[K - 1] = 0.01;
        poison_slots(&sc);
        for (int k = 0; k < K; k++) scalars_write(&sc, SC_HEAD + k, dist[k], format);
        scalars_argmin(&sc);
        double *v = read_slots(&sc, format);
        double best;
        int want = scalars_argmin_ref(dist, K, &best);
        if (trial == 1) ck_assert_int_eq(want, 4);
        ck_assert_msg((int)v[SC_MATCHED] == want, "trial %d: step %g, want %d", trial, v[SC_MATCHED], want);
        double enc;
        uint32_t w[2];
        scalars_encode(best, format, w);
        enc = scalars_decode(w, format);
        check_value("argmin distance", v[SC_NUM], enc, format);
        for (int i = 0; i < SC_HEAD; i++)
            if (i != SC_MATCHED && i != SC_NUM) ck_assert_msg(isnan(v[i]), "argmin wrote slot %d", i);
        free(v);
    }
    scalars_free(&sc);
}
END_TEST

START_TEST(gate_matches_reference) {
    tu_init();
    IterScalars sc;
    scalars_init(&sc, 1);
    int format = device_format(&sc);
    /* num, D, dlr, grad_bad, threshold */
    const double cases[][5] = {
        {0.5, 2.0, 0.1, 0, INFINITY},  {0.5, 2.0, 0.1, 0, 0.25},    {0.5, 2.0, 0.1, 0, 0.2499},
        {0.5, 2.0, 0.1, 3, INFINITY},  {0.5, 2.0, NAN, 0, INFINITY}, {0.5, 0.0, 0.1, 0, INFINITY},
        {INFINITY, 2.0, 0.1, 0, 1e30}, {0.7, 3.0, -INFINITY, 0, 1.0}, {1.0, 3.0, 0.0, 0, 1.0 / 3.0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const double *q = cases[c];
        if (format != SC_TAG_FP64 && c == 8) continue;   /* an exact tie in double */
        poison_slots(&sc);
        scalars_write(&sc, SC_NUM, q[0], format);
        scalars_write(&sc, SC_D, q[1], format);
        scalars_write(&sc, SC_DLR, q[2], format);
        scalars_write(&sc, SC_GRAD_BAD, q[3], format);
        int64_t bits;
        memcpy(&bits, &q[4], sizeof bits);
        LAUNCH("scalars_gate", 1, KM(sc.buf), KL(bits), KF(q[4]));
        double *v = read_slots(&sc, format);
        int want = scalars_gate_ref(q[0], q[1], q[2], q[3], q[4]);
        ck_assert_msg((int)v[SC_OUTCOME] == want, "case %zu: outcome %g, want %d", c, v[SC_OUTCOME], want);
        ck_assert_msg(isnan(v[SC_LR]) && isnan(v[SC_MATCHED]), "the gate wrote another slot");
        free(v);
    }
    scalars_free(&sc);
}
END_TEST

/* distill_lambda_seed writes lambda at the matched step only; scalars_put_float one float. */
START_TEST(seed_and_put_match_reference) {
    tu_init();
    enum { K = 3 };
    size_t P = 1031, stride = P + 7;   /* theta_k at k * stride, as the distiller pads them */
    IterScalars sc;
    scalars_init(&sc, K);
    int format = device_format(&sc);
    float *thetas = tu_new_rand((K + 1) * stride, 500), *target = tu_new_rand(P, 501);
    cl_mem tm = tu_upload(thetas, (K + 1) * stride), gm = tu_upload(target, P);
    double D = 7.123456789;
    MatchOptions opt = {1, 0.0};
    Matcher mt;
    matcher_init(&mt, &opt, P);
    for (int step = 1; step <= K; step++) {
        poison_slots(&sc);
        scalars_write(&sc, SC_D, D, format);
        scalars_write(&sc, SC_MATCHED, 2, format);
        cl_mem lam = tu_poisoned(P);
        matcher_seed_at(&mt, step, dptr(tm, (size_t)step * stride), gm, &sc, lam);
        float *got = tu_download(lam, 0, P);
        if (step != 2) {
            tu_check_untouched("lambda at an unmatched step", lam, P, 0, 0, 0, 0);
        } else {
            float scale = scalars_lambda_scale_ref(D);
            for (size_t i = 0; i < P; i++) {
                float want = scale * (thetas[2 * stride + i] - target[i]);
                if (format == SC_TAG_FP64) ck_assert_msg(got[i] == want, "lambda[%zu] %.9g, want %.9g", i, got[i], want);
                else ck_assert_msg(fabsf(got[i] - want) <= 1e-6f * fabsf(want), "lambda[%zu]", i);
            }
        }
        free(got);
        dev_free(lam);
    }
    cl_mem dst = tu_poisoned(9);
    scalars_write(&sc, SC_DLR, -0.1234567890123, format);
    scalars_put_float(&sc, SC_DLR, dptr(dst, 5));
    float *got = tu_download(dst, 0, 9);
    ck_assert_msg(got[5] == (float)-0.1234567890123, "put_float %.9g", got[5]);
    tu_check_untouched("put_float", dst, 9, 5, 1, 0, 0);
    free(got);
    dev_free(dst);
    matcher_free(&mt);
    free(thetas); free(target);
    dev_free(tm); dev_free(gm);
    scalars_free(&sc);
}
END_TEST

/* learnset_keep_or_undo and scalars_settle for every outcome, with and without a bad step. */
START_TEST(keep_or_undo_matches_reference) {
    tu_init();
    size_t n = 777;
    IterScalars sc;
    scalars_init(&sc, 1);
    int format = device_format(&sc);
    const int outcomes[3] = {SC_UPDATED, SC_SKIPPED, SC_NOT_FINITE};
    for (int o = 0; o < 3; o++)
        for (int bad = 0; bad < 2; bad++)
            for (int has_ema = 0; has_ema < 2; has_ema++) {
                uint64_t seed = 600 + 10 * (uint64_t)o + 2 * (uint64_t)bad + (uint64_t)has_ema;
                float *h[6];
                cl_mem m[6];
                for (int j = 0; j < 6; j++) {
                    h[j] = tu_new_rand(n, seed * 7 + (uint64_t)j);
                    m[j] = tu_upload(h[j], n);
                }
                poison_slots(&sc);
                scalars_write(&sc, SC_OUTCOME, outcomes[o], format);
                scalars_write(&sc, SC_SET_BAD, bad ? 2.0 : 0.0, format);
                LAUNCH("learnset_keep_or_undo", n, KM(m[0]), KM(m[1]), KM(m[2]), KM(m[3]), KM(m[4]), KM(m[5]), KL(n),
                       KI(has_ema), KM(sc.buf));
                LAUNCH("scalars_settle", 1, KM(sc.buf), KM(m[0]), KL(n - 1));
                scalars_keep_or_undo_ref(h[0], h[1], has_ema ? h[2] : NULL, h[3], h[4], h[5], n, outcomes[o],
                                         bad ? 2.0 : 0.0);
                for (int j = 0; j < 3; j++) {
                    float *got = tu_download(m[j], 0, n);
                    ck_assert_msg(memcmp(got, h[j], n * sizeof(float)) == 0, "outcome %d bad %d ema %d: buffer %d",
                                  outcomes[o], bad, has_ema, j);
                    free(got);
                }
                double *v = read_slots(&sc, format);
                ck_assert_int_eq((int)v[SC_OUTCOME], scalars_settle_ref(outcomes[o], bad ? 2.0 : 0.0));
                ck_assert_msg(v[SC_LR] == (double)h[0][n - 1], "settle's step size %g", v[SC_LR]);
                free(v);
                for (int j = 0; j < 6; j++) { free(h[j]); dev_free(m[j]); }
            }
    scalars_free(&sc);
}
END_TEST

/* ---- the float-pair format, built here whatever the device ---- */

extern const int clmtt_kernel_count;
extern const char *const clmtt_kernel_names[];
extern const char *const clmtt_kernel_sources[];

/* cl/scalars.cl alone (it needs nothing else), built with CLMTT_SCALARS_FLOAT. */
static cl_program float_program(void) {
    for (int i = 0; i < clmtt_kernel_count; i++)
        if (strcmp(clmtt_kernel_names[i], "scalars.cl") == 0) {
            const char *src[1] = {clmtt_kernel_sources[i]};
            return rt_build_program(1, src, "-cl-std=CL1.2 -D CLMTT_SCALARS_FLOAT");
        }
    ck_abort_msg("cl/scalars.cl is not in the program");
    return NULL;
}

/* One work-item per element of `global` (rounded up to 64) of kernel `name` of prog. */
static void run_in(cl_program prog, const char *name, size_t global, const KArg *args, int nargs) {
    cl_int err;
    cl_kernel k = clCreateKernel(prog, name, &err);
    CL_CHECK_ERR(err, "clCreateKernel");
    for (int i = 0; i < nargs; i++) CL_CHECK(clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].ptr));
    size_t local = 1, g = global;
    CL_CHECK(clEnqueueNDRangeKernel(RT.queue, k, 1, NULL, &g, &local, 0, NULL, NULL));
    CL_CHECK(clReleaseKernel(k));
}
#define RUN_IN(prog, name, global, ...) run_in((prog), (name), (global), KARGS_(__VA_ARGS__))

START_TEST(float_pairs_match_reference) {
    tu_init();
    enum { K = 5, G = DEV_REDUCE_MAX_GROUPS };
    cl_program prog = float_program();
    IterScalars sc;
    scalars_init(&sc, K);
    poison_slots(&sc);
    RUN_IN(prog, "scalars_reset", (size_t)sc.nslots, KM(sc.buf), KI(sc.nslots), KI(K));
    IterValues v;
    scalars_read(&sc, &v);
    ck_assert_int_eq(v.format, SC_TAG_FLOAT);
    ck_assert(v.matched == K && v.D == 0 && v.dlr == 0);
    /* Sums of partials of spread magnitudes, set and subtracted: within 2^-46 of the sum of
     * magnitudes (float alone would be 2^-24). */
    float *p = tu_new_rand(G, 800);
    double mag = 0;
    for (int i = 0; i < G; i++) {
        p[i] *= (float)(1 << (i % 23));
        mag += fabs(p[i]);
    }
    cl_mem pm = tu_upload(p, G);
    RUN_IN(prog, "scalars_sum", 1, KM(pm), KI(G), KM(sc.buf), KI(SC_D), KI(0));
    scalars_write(&sc, SC_DLR, 0.5, SC_TAG_FLOAT);
    RUN_IN(prog, "scalars_sum", 1, KM(pm), KI(G), KM(sc.buf), KI(SC_DLR), KI(1));
    scalars_read(&sc, &v);
    double want = scalars_sum_ref(p, G);
    ck_assert_msg(fabs(v.D - want) <= 0x1p-46 * mag, "float-pair sum %.17g, want %.17g", v.D, want);
    ck_assert_msg(fabs(v.dlr - (0.5 - want)) <= 0x1p-46 * mag, "float-pair 0.5 - sum %.17g", v.dlr);
    /* argmin with a tie, the gate, lambda's scale. */
    double dist[K] = {3.0, 1.25, 2.0, 1.25, 1.5};
    for (int k = 0; k < K; k++) scalars_write(&sc, SC_HEAD + k, dist[k], SC_TAG_FLOAT);
    RUN_IN(prog, "scalars_argmin", 1, KM(sc.buf), KI(SC_HEAD), KI(K));
    scalars_read(&sc, &v);
    ck_assert_int_eq(v.matched, 2);
    ck_assert(v.num == 1.25);
    const double gates[][5] = {{0.5, 2.0, 0.1, 0, INFINITY}, {0.5, 2.0, 0.1, 0, 0.2}, {0.5, 2.0, NAN, 0, 1.0},
                               {0.5, 2.0, 0.1, 1, 1.0},      {1.0, 3.0, 0.1, 0, 0.34}};
    for (size_t c = 0; c < sizeof gates / sizeof gates[0]; c++) {
        const double *q = gates[c];
        scalars_write(&sc, SC_NUM, q[0], SC_TAG_FLOAT);
        scalars_write(&sc, SC_D, q[1], SC_TAG_FLOAT);
        scalars_write(&sc, SC_DLR, q[2], SC_TAG_FLOAT);
        scalars_write(&sc, SC_GRAD_BAD, q[3], SC_TAG_FLOAT);
        RUN_IN(prog, "scalars_gate", 1, KM(sc.buf), KL(0), KF(q[4]));
        scalars_read(&sc, &v);
        ck_assert_msg(v.outcome == scalars_gate_ref(q[0], q[1], q[2], q[3], q[4]), "float-pair gate case %zu: %d", c,
                      v.outcome);
    }
    size_t P = 257;
    float *th = tu_new_rand(2 * P, 801), *tg = tu_new_rand(P, 802);
    cl_mem tm = tu_upload(th, 2 * P), gm = tu_upload(tg, P), lam = tu_poisoned(P);
    scalars_write(&sc, SC_D, 3.0, SC_TAG_FLOAT);
    scalars_write(&sc, SC_MATCHED, 1, SC_TAG_FLOAT);
    RUN_IN(prog, "distill_lambda_seed", P, KM(lam), KM(tm), KM(gm), KM(sc.buf), KI(1), KL(P), KL(P));
    float *got = tu_download(lam, 0, P);
    for (size_t i = 0; i < P; i++) {
        float w = scalars_lambda_scale_ref(3.0) * (th[P + i] - tg[i]);
        ck_assert_msg(fabsf(got[i] - w) <= 1e-6f * fabsf(w) + 1e-12f, "float-pair lambda[%zu] %g, want %g", i, got[i], w);
    }
    free(got); free(th); free(tg); free(p);
    dev_free(tm); dev_free(gm); dev_free(lam); dev_free(pm);
    scalars_free(&sc);
    CL_CHECK(clReleaseProgram(prog));
}
END_TEST

/* ---- whole iterations ---- */

typedef struct {
    const char *strategy;
    int soft, auto_match, ema;
    double loss_ratio;
    double threshold_factor;   /* threshold = factor x the first iteration's loss; 0: none */
} Case;

/* A learnable set of m with every tensor learned (labels when soft), its options. */
static void make_run(const FdMeta *m, const Case *c, FdMetaRun *run) {
    fd_meta_distiller(m, c->strategy, run);
    LearnSet *s = &run->set;
    learnset_set_optim(s, 100.0, 1e-3);
    if (c->soft) {
        float logits[FD_META_NSYN * FD_META_CLASSES];
        learnset_logits(s, logits);
        learnset_set_soft(s, logits, 2.0, 0.9);
    }
    if (c->ema) learnset_set_ema(s, 0.9);
    MatchOptions opt = {c->auto_match, c->loss_ratio};
    distiller_set_match(&run->d, &opt);
}

/* The host-side path: the meta-gradient, the host's finiteness checks, threshold_update. */
static SetUpdate host_iteration(FdMetaRun *run, const FdMeta *m, Rng *r, double threshold, double *loss, double *dlr) {
    *loss = distiller_meta_grad(&run->d, &run->set, m->theta0, m->target, r, dlr);
    if (!isfinite(*loss) || !isfinite(*dlr) || !learnset_grad_finite(&run->set)) return SET_NOT_FINITE;
    return threshold_update(&run->set, *loss, threshold);
}

static void check_same_buffer(const char *what, const char *name, cl_mem a, cl_mem b, size_t n) {
    if (!a && !b) return;
    float *x = tu_download(a, 0, n), *y = tu_download(b, 0, n);
    ck_assert_msg(memcmp(x, y, n * sizeof(float)) == 0, "%s: the one-wait iteration's %s differs from the host path's",
                  what, name);
    free(x); free(y);
}

/* Three iterations (two under CLMTT_TEST_SMALL) each way from the same state and streams: the counts of the one-wait
 * path, and the same loss, dL/dlr, decision and set (images, labels, step size, momentum,
 * average) as the host path. */
static void check_case(const char *what, const Case *c, uint64_t seed) {
    tu_init();
    FdMeta m;
    static const FdMetaShape plain = {6, 0, 1, 5.0f, 0, 0}, soft = {6, 0, 1, 5.0f, 0, 1};
    fd_meta_make(&m, c->soft ? &soft : &plain, "ConvNetAS", 4, seed);
    FdMetaRun a, b;
    make_run(&m, c, &a);
    make_run(&m, c, &b);
    Rng ra, rb;
    rng_init(&ra, seed, 11);
    rng_init(&rb, seed, 11);
    double threshold = INFINITY, loss0 = 0;
    int skipped = 0, updated = 0;
    /* tu_small (the simulator's runs): two iterations, which still update, and skip under a threshold. */
    for (int it = 0; it < (tu_small() ? 2 : 3); it++) {
        IterResult r;
        RtCounts c0 = rt_counts();
        distill_iteration(&a.d, &a.set, m.theta0, m.target, &ra, threshold, &r);
        RtCounts n = rt_counts_sub(rt_counts(), c0);
        printf("%s, iteration %d: loss %.9g, dL/dlr %.9g, update %d, matched step %d; %ld launches, %ld CLBlast, "
               "%ld other enqueues; %ld reads, %ld writes, %ld waits\n", what, it, r.loss, r.dlr, (int)r.update,
               a.d.match.step, n.launches, n.blas_calls, n.other_enqueues, n.blocking_reads, n.blocking_writes, n.waits);
        /* Under CLMTT_OCLGRIND=1 every host-side store is a blocking whole-buffer write. */
        if (c->loss_ratio == 0 && !RT.oclgrind) {
            ck_assert_msg(n.blocking_reads == 1 && n.blocking_writes == 0 && n.waits == 0,
                          "%s: %ld blocking reads, %ld writes, %ld waits in one iteration", what, n.blocking_reads,
                          n.blocking_writes, n.waits);
        }
        double loss, dlr;
        SetUpdate u = host_iteration(&b, &m, &rb, threshold, &loss, &dlr);
        ck_assert_msg(u == r.update, "%s: decision %d, host path %d", what, (int)r.update, (int)u);
        ck_assert_msg(loss == r.loss && dlr == r.dlr, "%s: loss %.17g dlr %.17g, host path %.17g %.17g", what, r.loss,
                      r.dlr, loss, dlr);
        ck_assert_int_eq(a.d.match.step, b.d.match.step);
        ck_assert_msg(a.set.lr == b.set.lr, "%s: syn_lr %.9g, host path %.9g", what, a.set.lr, b.set.lr);
        ck_assert_msg(a.set.opt_images.fresh == b.set.opt_images.fresh && a.set.opt_lr.fresh == b.set.opt_lr.fresh,
                      "%s: the optimizers' state differs", what);
        size_t t = a.set.total;
        check_same_buffer(what, "set", a.set.theta, b.set.theta, t);
        check_same_buffer(what, "momentum", a.set.vel, b.set.vel, t);
        check_same_buffer(what, "gradient", a.set.grad, b.set.grad, t);
        if (c->ema) check_same_buffer(what, "average", a.set.ema, b.set.ema, t);
        skipped += r.update == SET_SKIPPED;
        updated += r.update == SET_UPDATED;
        /* With a threshold: far below the loss (skipped), then far above it (updated). */
        if (it == 0 && c->threshold_factor > 0) loss0 = r.loss;
        if (c->threshold_factor > 0) threshold = (it == 0 ? c->threshold_factor : 1 / c->threshold_factor) * loss0;
    }
    ck_assert_msg(updated >= 1, "%s: no iteration updated the set", what);
    if (c->threshold_factor > 0) ck_assert_msg(skipped >= 1, "%s: the threshold skipped nothing", what);
    fd_meta_run_free(&a);
    fd_meta_run_free(&b);
    fd_meta_free(&m);
}

START_TEST(iteration_plain) { check_case("plain", &(Case){"none", 0, 0, 0, 0.0, 0}, 701); }
END_TEST
START_TEST(iteration_dsa) { check_case("DSA", &(Case){"color_crop_cutout_flip_scale_rotate", 0, 0, 0, 0.0, 0}, 702); }
END_TEST
START_TEST(iteration_soft_labels) { check_case("soft labels", &(Case){"none", 1, 0, 0, 0.0, 0}, 703); }
END_TEST
START_TEST(iteration_auto_match) { check_case("auto_match", &(Case){"flip_scale", 0, 1, 0, 0.0, 0}, 704); }
END_TEST
START_TEST(iteration_threshold) { check_case("threshold", &(Case){"none", 0, 0, 0, 0.0, 1e-9}, 705); }
END_TEST
START_TEST(iteration_ema) { check_case("EMA", &(Case){"none", 1, 0, 1, 0.0, 0}, 706); }
END_TEST
START_TEST(iteration_loss_ratio) { check_case("loss_ratio (host selection)", &(Case){"none", 0, 1, 1, 0.3, 0}, 707); }
END_TEST

/* A step that makes the set non-finite is undone on the device, as learnset_update does. */
START_TEST(iteration_divergence_undone) {
    tu_init();
    FdMeta m;
    static const FdMetaShape plain = {6, 0, 1, 5.0f, 0, 0};
    fd_meta_make(&m, &plain, "ConvNetAS", 3, 708);
    Case c = {"none", 0, 0, 1, 0.0, 0};
    FdMetaRun a;
    make_run(&m, &c, &a);
    learnset_set_optim(&a.set, INFINITY, 1e-3);   /* a step that cannot stay finite */
    float *before = tu_download(a.set.theta, 0, a.set.total), *ema = tu_download(a.set.ema, 0, a.set.total);
    float lr = a.set.lr;
    Rng r;
    rng_init(&r, 708, 11);
    IterResult res;
    RtCounts c0 = rt_counts();
    distill_iteration(&a.d, &a.set, m.theta0, m.target, &r, INFINITY, &res);
    RtCounts n = rt_counts_sub(rt_counts(), c0);
    if (!RT.oclgrind) {   /* there every host-side store is a blocking write */
        ck_assert_int_eq(n.blocking_reads, 1);
        ck_assert_int_eq(rt_counts_blocking(&n), 1);
    }
    ck_assert_int_eq(res.update, SET_DIVERGED);
    float *after = tu_download(a.set.theta, 0, a.set.total), *ema2 = tu_download(a.set.ema, 0, a.set.total);
    ck_assert_msg(memcmp(before, after, a.set.total * sizeof(float)) == 0, "a diverged step was kept");
    ck_assert_msg(memcmp(ema, ema2, a.set.total * sizeof(float)) == 0, "a diverged step moved the average");
    ck_assert(a.set.lr == lr);
    ck_assert_int_eq(a.set.opt_images.fresh, 1);
    free(before); free(after); free(ema); free(ema2);
    fd_meta_run_free(&a);
    fd_meta_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("iteration");
    TCase *tc = tcase_create("iteration");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, reset_writes_every_slot);
    tcase_add_test(tc, sum_matches_reference);
    tcase_add_test(tc, reduce_matches_host_reduction);
    tcase_add_test(tc, argmin_matches_reference);
    tcase_add_test(tc, gate_matches_reference);
    tcase_add_test(tc, seed_and_put_match_reference);
    tcase_add_test(tc, keep_or_undo_matches_reference);
    tcase_add_test(tc, float_pairs_match_reference);
    tcase_add_test(tc, iteration_plain);
    tcase_add_test(tc, iteration_dsa);
    tcase_add_test(tc, iteration_soft_labels);
    tcase_add_test(tc, iteration_auto_match);
    tcase_add_test(tc, iteration_threshold);
    tcase_add_test(tc, iteration_ema);
    tcase_add_test(tc, iteration_loss_ratio);
    tcase_add_test(tc, iteration_divergence_undone);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
