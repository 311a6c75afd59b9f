/* Distillation: the chunk order of SPEC 7.4; the full meta-gradient (dL/dX, dL/dlr)
 * over 3 student steps against central finite differences of the unrolled loss computed
 * in float64 (no augmentation and each augmentation group, replaying the recorded
 * draws); peak device memory growing by one parameter vector per extra step. */
#include "distill.h"
#include "net_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(chunk_order_from_the_end) {
    Rng r;
    rng_init(&r, 3, 0);
    ChunkQueue q = {xmalloc(10 * sizeof(int)), 10, 4, 0};
    int rows[10], seen[10] = {0};
    int n1 = chunk_queue_next(&q, &r, rows);
    ck_assert_int_eq(n1, 2);   /* the short last chunk comes first */
    int last2[2] = {q.perm[8], q.perm[9]};
    ck_assert_int_eq(rows[0], last2[0]);
    ck_assert_int_eq(rows[1], last2[1]);
    for (int i = 0; i < n1; i++) seen[rows[i]]++;
    int n2 = chunk_queue_next(&q, &r, rows);
    ck_assert_int_eq(n2, 4);
    ck_assert_int_eq(rows[0], q.perm[4]);
    for (int i = 0; i < n2; i++) seen[rows[i]]++;
    int n3 = chunk_queue_next(&q, &r, rows);
    ck_assert_int_eq(n3, 4);
    ck_assert_int_eq(rows[0], q.perm[0]);
    for (int i = 0; i < n3; i++) seen[rows[i]]++;
    for (int i = 0; i < 10; i++) ck_assert_int_eq(seen[i], 1);   /* one permutation, each row once */
    ck_assert_int_eq(chunk_queue_next(&q, &r, rows), 2);          /* refilled */
    free(q.perm);
}
END_TEST

typedef struct {
    Net net;
    int nsyn, K, batch;
    int32_t labels[16];
    float *X, *theta0, *target;
    double alpha;
} Meta;

static void meta_make(Meta *m, const char *model, int K, uint64_t seed) {
    net_build(&m->net, model, 1, 6, 6, 3);
    m->nsyn = 6;
    m->K = K;
    m->batch = 4;
    for (int i = 0; i < m->nsyn; i++) m->labels[i] = i / 2;
    size_t P = m->net.nparams, img = 36;
    m->X = xmalloc(m->nsyn * img * 4);
    tu_rand(m->X, m->nsyn * img, seed, -1.5f, 1.5f);
    m->theta0 = xmalloc(P * 4);
    m->target = xmalloc(P * 4);
    Rng r;
    rng_init(&r, seed, 7);
    net_init_params(&m->net, &r, m->theta0);
    float *noise = xmalloc(P * 4);
    tu_rand(noise, P, seed + 1, -0.02f, 0.02f);
    for (size_t i = 0; i < P; i++) {
        m->theta0[i] += noise[i] * (m->net.layers[1].kind == LAYER_NORM ? 5.0f : 1.0f);
        m->target[i] = m->theta0[i] - noise[i] * 0.5f + 0.01f * (float)((i * 2654435761u % 1000) / 1000.0 - 0.5);
    }
    free(noise);
    m->alpha = 0.05;
}

static void meta_free(Meta *m) { free(m->X); free(m->theta0); free(m->target); }

/* The unrolled loss in float64, replaying the distiller's batches and draws. */
static double ref_meta_loss(const Meta *m, const Distiller *d, const double *X, double alpha) {
    size_t P = m->net.nparams, img = 36;
    double *theta = xmalloc(P * 8), *g = xmalloc(P * 8), *xb = xmalloc(m->batch * img * 8), *xa = xmalloc(m->batch * img * 8);
    for (size_t i = 0; i < P; i++) theta[i] = m->theta0[i];
    int y[16];
    for (int k = 0; k < m->K; k++) {
        int n = d->batch_n[k];
        const int *rows = d->batch_idx + (size_t)k * d->batch_syn;
        for (int r = 0; r < n; r++) {
            memcpy(xb + r * img, X + rows[r] * img, img * 8);
            y[r] = m->labels[rows[r]];
        }
        const double *in = xb;
        if (d->draws[k].group >= 0) {
            dsa_forward_ref(&d->draws[k], 1, 6, 6, xa, xb);
            in = xa;
        }
        RefExec re;
        ref_exec_init(&re, &m->net, n);
        ref_forward(&re, theta, in, y);
        ref_backward(&re, theta, y, g, NULL);
        ref_exec_free(&re);
        for (size_t i = 0; i < P; i++) theta[i] -= alpha * g[i];
    }
    double num = 0, den = 0;
    for (size_t i = 0; i < P; i++) {
        num += (theta[i] - m->target[i]) * (theta[i] - m->target[i]);
        den += ((double)m->theta0[i] - m->target[i]) * ((double)m->theta0[i] - m->target[i]);
    }
    free(theta); free(g); free(xb); free(xa);
    return num / den;
}

static void check_meta_gradient(const char *model, const char *strategy, double h, uint64_t seed) {
    tu_init();
    Meta m;
    meta_make(&m, model, 3, seed);
    DsaStrategy st;
    dsa_strategy_parse(strategy, &st);
    Distiller d;
    distiller_init(&d, &m.net, m.nsyn, m.labels, m.batch, m.K, &st);
    distiller_set_images(&d, m.X);
    Rng r;
    rng_init(&r, seed, 11);
    double dalpha;
    double loss = distiller_meta_grad(&d, m.theta0, m.target, (float)m.alpha, &r, &dalpha);
    size_t nx = (size_t)m.nsyn * 36;
    float *dx = tu_download(d.dX, 0, nx);
    double *X = tu_to_double(m.X, nx);
    double ref = ref_meta_loss(&m, &d, X, m.alpha);
    ck_assert_msg(fabs(loss - ref) <= 1e-4 * fabs(ref), "%s/%s: loss %.8g, float64 reference %.8g", model, strategy, loss, ref);
    /* dL/dalpha */
    double fa = (ref_meta_loss(&m, &d, X, m.alpha + h) - ref_meta_loss(&m, &d, X, m.alpha - h)) / (2 * h);
    ck_assert_msg(fabs(fa - dalpha) <= 2e-3 * fabs(fa) + 1e-6, "%s/%s: dL/dlr %.8g, finite differences %.8g", model,
                  strategy, dalpha, fa);
    /* dL/dX at pixels spread over every image, including unused rows (gradient 0). */
    double fd[64], got[64];
    int k = 0;
    for (size_t j = 3; j < nx && k < 64; j += 7, k++) {
        double keep = X[j];
        X[j] = keep + h;
        double lp = ref_meta_loss(&m, &d, X, m.alpha);
        X[j] = keep - h;
        double lm = ref_meta_loss(&m, &d, X, m.alpha);
        X[j] = keep;
        fd[k] = (lp - lm) / (2 * h);
        got[k] = dx[j];
    }
    double e = tu_rel_err(got, fd, (size_t)k);
    ck_assert_msg(e < 3e-3, "%s/%s: dL/dX relative error %g over %d pixels", model, strategy, e, k);
    free(dx); free(X);
    distiller_free(&d);
    meta_free(&m);
}

/* Sigmoid keeps the unrolled loss smooth, so finite differences are clean. */
START_TEST(meta_gradient_no_augmentation) { check_meta_gradient("ConvNetAS", "none", 1e-4, 21); }
END_TEST
START_TEST(meta_gradient_color) { check_meta_gradient("ConvNetAS", "color", 1e-4, 22); }
END_TEST
START_TEST(meta_gradient_crop) { check_meta_gradient("ConvNetAS", "crop", 1e-4, 23); }
END_TEST
START_TEST(meta_gradient_cutout) { check_meta_gradient("ConvNetAS", "cutout", 1e-4, 24); }
END_TEST
START_TEST(meta_gradient_flip) { check_meta_gradient("ConvNetAS", "flip", 1e-4, 25); }
END_TEST
START_TEST(meta_gradient_scale) { check_meta_gradient("ConvNetAS", "scale", 1e-4, 26); }
END_TEST
START_TEST(meta_gradient_rotate) { check_meta_gradient("ConvNetAS", "rotate", 1e-4, 27); }
END_TEST
/* ReLU: piecewise smooth, so a small step in float64. */
START_TEST(meta_gradient_relu_network) { check_meta_gradient("ConvNetW32", "color_crop_cutout_flip_scale_rotate", 1e-6, 28); }
END_TEST

static size_t peak_for_steps(int K) {
    Meta m;
    meta_make(&m, "ConvNetW32", K, 40);
    DsaStrategy st;
    dsa_strategy_parse("color_crop_cutout_flip_scale_rotate", &st);
    size_t before = dev_mem_current();
    dev_mem_reset_peak();
    Distiller d;
    distiller_init(&d, &m.net, m.nsyn, m.labels, m.batch, K, &st);
    distiller_set_images(&d, m.X);
    Rng r;
    rng_init(&r, 1, 1);
    double da;
    distiller_meta_grad(&d, m.theta0, m.target, 0.01f, &r, &da);
    size_t peak = dev_mem_peak() - before;
    distiller_free(&d);
    meta_free(&m);
    return peak;
}

START_TEST(memory_grows_one_vector_per_step) {
    tu_init();
    peak_for_steps(8);   /* grow-only scratch buffers reach their size first */
    size_t p2 = peak_for_steps(2), p8 = peak_for_steps(8);
    Net net;
    net_build(&net, "ConvNetW32", 1, 6, 6, 3);
    double vec = (double)net.nparams * 4, growth = ((double)p8 - (double)p2) / vec;
    ck_assert_msg(growth > 5.99 && growth < 6.05, "peak grows by %.3f parameter vectors from 2 to 8 steps (want 6)", growth);
}
END_TEST

int main(void) {
    Suite *s = suite_create("distill");
    TCase *tc = tcase_create("distill");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, chunk_order_from_the_end);
    tcase_add_test(tc, meta_gradient_no_augmentation);
    tcase_add_test(tc, meta_gradient_color);
    tcase_add_test(tc, meta_gradient_crop);
    tcase_add_test(tc, meta_gradient_cutout);
    tcase_add_test(tc, meta_gradient_flip);
    tcase_add_test(tc, meta_gradient_scale);
    tcase_add_test(tc, meta_gradient_rotate);
    tcase_add_test(tc, meta_gradient_relu_network);
    tcase_add_test(tc, memory_grows_one_vector_per_step);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
