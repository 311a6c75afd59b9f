/* The seam the features build on: two runtimes (devices) open in one process with their
 * own scratch and memory accounts; one student step's batch split into chunks, on one
 * device and across two, adding up to the whole batch's derivatives; the image
 * parameterizations' render and pullback as adjoints; the learnable set's optimizer and
 * its rollback after a non-finite update. */
#include "testutil.h"
#include "distill/learnset.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "net/registry.h"
#include "train/step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A batch of N inputs of 1 x 8 x 8 for ConvNetW32-shaped problems with soft targets. */
enum { N = 10, K = 4, SIDE = 8 };

typedef struct {
    Net net;
    float *theta, *lam, *x, *t;
    size_t P, in;
} Batch;

static void batch_make(Batch *b, const char *model, uint64_t seed) {
    net_build(&b->net, model, 1, SIDE, SIDE, K);
    b->P = b->net.nparams;
    b->in = SIDE * SIDE;
    b->theta = xmalloc(b->P * 4);
    Rng r;
    rng_init(&r, seed, 1);
    net_init_params(&b->net, &r, b->theta);
    b->lam = tu_new_rand(b->P, seed + 1);
    b->x = tu_new_rand(N * b->in, seed + 2);
    b->t = xmalloc(N * K * 4);
    for (int i = 0; i < N; i++) {
        float z = 0;
        for (int k = 0; k < K; k++) z += b->t[i * K + k] = 1.0f + (float)((i * 3 + k * 5) % 7);
        for (int k = 0; k < K; k++) b->t[i * K + k] /= z;
    }
}

static void batch_free(Batch *b) { free(b->theta); free(b->lam); free(b->x); free(b->t); }

/* Gradient, H lambda and u of rows [r0, r0 + nc) of b as a chunk of the whole batch on
 * the current runtime. acc 1: through the engine's partial-sum path (added into a zeroed
 * sum), then added into the host sums; acc 0 (the whole batch): written as one pass. u's
 * rows land at r0. */
static void run_chunk(const Batch *b, int r0, int nc, int acc, double *g, double *h, float *u) {
    StepEngine e;
    step_init(&e, &b->net, nc, 1, 0);
    cl_mem th = tu_upload(b->theta, b->P), la = tu_upload(b->lam, b->P);
    cl_mem x = tu_upload(b->x + (size_t)r0 * b->in, (size_t)nc * b->in), t = tu_upload(b->t + r0 * K, (size_t)nc * K);
    cl_mem G = tu_poisoned(b->P), H = tu_poisoned(b->P), U = tu_poisoned((size_t)nc * b->in);
    if (acc) {
        dev_fill(G, 0, b->P, 0.0f);
        dev_fill(H, 0, b->P, 0.0f);
    }
    step_grad_hvp(&e, dptr(th, 0), dptr(la, 0), x, t, nc, N, acc, dptr(G, 0), dptr(H, 0), U);
    float *gg = tu_download(G, 0, b->P), *gh = tu_download(H, 0, b->P), *gu = tu_download(U, 0, (size_t)nc * b->in);
    if (!acc) {   /* written as one pass: the gaps between tensors keep their poison */
        tu_zero_gaps(&b->net, gg);
        tu_zero_gaps(&b->net, gh);
    }
    for (size_t i = 0; i < b->P; i++) {
        g[i] = (acc ? g[i] : 0.0) + gg[i];
        h[i] = (acc ? h[i] : 0.0) + gh[i];
    }
    memcpy(u + (size_t)r0 * b->in, gu, (size_t)nc * b->in * 4);
    free(gg); free(gh); free(gu);
    cl_mem bufs[] = {th, la, x, t, G, H, U};
    for (int i = 0; i < 7; i++) dev_free(bufs[i]);
    step_free(&e);
}

static void compare(const char *what, const Batch *b, const double *g, const double *h, const float *u,
                    const double *g1, const double *h1, const float *u1) {
    char w[128];
    snprintf(w, sizeof w, "%s: gradient", what);
    tu_check_close_d(w, g, g1, b->P, 1e-4, 1e-6);
    snprintf(w, sizeof w, "%s: H lambda", what);
    tu_check_close_d(w, h, h1, b->P, 1e-4, 1e-6);
    double *ud = tu_to_double(u1, N * b->in);
    snprintf(w, sizeof w, "%s: input meta-gradient", what);
    tu_check_close(w, u, ud, N * b->in, 1e-4, 1e-7);
    free(ud);
}

/* Chunks of 3, 3 and 4 rows on one device add up to the whole batch. */
START_TEST(step_chunks_add_up) {
    tu_init();
    Batch b;
    batch_make(&b, "ConvNetW32", 5);
    double *g1 = xmalloc(b.P * 8), *h1 = xmalloc(b.P * 8), *g = xcalloc(b.P, 8), *h = xcalloc(b.P, 8);
    float *u1 = xmalloc(N * b.in * 4), *u = xmalloc(N * b.in * 4);
    run_chunk(&b, 0, N, 0, g1, h1, u1);
    run_chunk(&b, 0, 3, 1, g, h, u);
    run_chunk(&b, 3, 3, 1, g, h, u);
    run_chunk(&b, 6, 4, 1, g, h, u);
    compare("3 + 3 + 4 rows", &b, g, h, u, g1, h1, u1);
    free(g1); free(h1); free(g); free(h); free(u1); free(u);
    batch_free(&b);
}
END_TEST

/* H lambda and u of rows [0, nc) without a gradient buffer (the pass leaves out the
 * parameters' gradient products, as the distiller's reverse sweep runs it) are the same bits
 * as with one, whole batch (acc 0) and as a chunk added into a sum (acc 1). */
static void same_without_gradient(const Batch *b, int nc, int acc) {
    StepEngine e;
    step_init(&e, &b->net, nc, 1, 0);
    cl_mem th = tu_upload(b->theta, b->P), la = tu_upload(b->lam, b->P);
    cl_mem x = tu_upload(b->x, (size_t)nc * b->in), t = tu_upload(b->t, (size_t)nc * K);
    size_t nu = (size_t)nc * b->in;
    cl_mem G = tu_poisoned(b->P), H[2] = {tu_poisoned(b->P), tu_poisoned(b->P)}, U[2] = {tu_poisoned(nu), tu_poisoned(nu)};
    for (int i = 0; i < 2; i++) {
        if (acc) dev_fill(H[i], 0, b->P, 0.0f);
        if (acc && i == 0) dev_fill(G, 0, b->P, 0.0f);
        step_grad_hvp(&e, dptr(th, 0), dptr(la, 0), x, t, nc, N, acc, i == 0 ? dptr(G, 0) : dptr(NULL, 0), dptr(H[i], 0),
                      U[i]);
    }
    float *h0 = tu_download(H[0], 0, b->P), *h1 = tu_download(H[1], 0, b->P);
    float *u0 = tu_download(U[0], 0, nu), *u1 = tu_download(U[1], 0, nu);
    ck_assert_msg(memcmp(h0, h1, b->P * 4) == 0, "%s, %d rows, acc %d: H lambda differs without the gradient",
                  b->net.model, nc, acc);
    ck_assert_msg(memcmp(u0, u1, nu * 4) == 0, "%s, %d rows, acc %d: u differs without the gradient", b->net.model, nc,
                  acc);
    free(h0); free(h1); free(u0); free(u1);
    cl_mem bufs[] = {th, la, x, t, G, H[0], H[1], U[0], U[1]};
    for (int i = 0; i < 9; i++) dev_free(bufs[i]);
    step_free(&e);
}

/* Convolutions in fused blocks and a small linear layer (ConvNetW32), then every layer on its
 * own with the linear layer's products (fusion and the small path off), and an MLP. */
START_TEST(step_without_gradient_same_hvp_and_u) {
    tu_init();
    const char *models[] = {"ConvNetW32", "ConvNetW32", "MLP"};
    size_t small = linear_small_macs();
    for (int m = 0; m < 3; m++) {
        setenv("CLMTT_FUSE", m == 0 ? "1" : "0", 1);
        linear_set_small_macs(m == 1 ? 0 : small);
        Batch b;
        batch_make(&b, models[m], 8 + m);
        same_without_gradient(&b, N, 0);
        same_without_gradient(&b, 4, 1);
        batch_free(&b);
    }
    unsetenv("CLMTT_FUSE");
    linear_set_small_macs(small);
}
END_TEST

/* A second runtime holds its own buffers, scratch and memory account; the batch split
 * across the two runtimes (6 rows here, 4 there) adds up to the whole batch. */
START_TEST(step_split_across_two_runtimes) {
    tu_init();
    Batch b;
    batch_make(&b, "ConvNetW32", 6);
    double *g1 = xmalloc(b.P * 8), *h1 = xmalloc(b.P * 8), *g = xcalloc(b.P, 8), *h = xcalloc(b.P, 8);
    float *u1 = xmalloc(N * b.in * 4), *u = xmalloc(N * b.in * 4);
    run_chunk(&b, 0, N, 0, g1, h1, u1);
    size_t held_a = dev_mem_current();
    Runtime *a = rt_current;
    Runtime *second = rt_open(-1);
    ck_assert_ptr_ne(second, a);
    ck_assert_ptr_ne(second->ctx, a->ctx);
    ck_assert_ptr_eq(rt_current, a);
    run_chunk(&b, 0, 6, 1, g, h, u);
    Runtime *prev = rt_use(second);
    ck_assert_ptr_eq(prev, a);
    ck_assert_uint_eq(dev_mem_current(), 0);
    run_chunk(&b, 6, 4, 1, g, h, u);
    /* The convolutions ran on the second runtime's own scratch. */
    ck_assert_ptr_nonnull(second->scratch[RT_SCRATCH_CONV_COLS].mem);
    ck_assert_uint_gt(dev_mem_current(), 0);   /* its scratch, until it closes */
    rt_use(a);
    ck_assert_uint_eq(dev_mem_current(), held_a);
    rt_close(second);
    ck_assert_ptr_eq(rt_current, a);
    compare("6 rows on one runtime + 4 on another", &b, g, h, u, g1, h1, u1);
    free(g1); free(h1); free(g); free(h); free(u1); free(u);
    batch_free(&b);
}
END_TEST

/* <render(s), u> = <s, pullback(u)> for random stored forms and meta-gradients. */
static void check_adjoint(ImageParam *p, const char *what, double tol) {
    enum { ROWS = 5, B = 3 };
    int32_t idx[B] = {4, 0, 2};
    size_t in = (size_t)p->C * p->H * p->W, out_n = (size_t)p->rounds * B * in;
    Rng rng;
    rng_init(&rng, 9, 9);
    p->ops->draw(p, 1, B, &rng);
    float *s = tu_new_rand(p->stored_floats, 11), *uu = tu_new_rand(out_n, 12);
    cl_mem S = tu_upload(s, p->stored_floats), U = tu_upload(uu, out_n), I = dev_alloc(sizeof idx, "idx");
    dev_write(I, 0, sizeof idx, idx);
    cl_mem R = tu_poisoned(out_n), D = tu_poisoned(p->stored_floats);
    p->ops->render(p, 1, dptr(S, 0), I, 0, B, R);
    dev_fill(D, 0, p->stored_floats, 0.0f);
    p->ops->pullback(p, 1, dptr(D, 0), I, 0, B, U, 1.0f);
    float *r = tu_download(R, 0, out_n), *d = tu_download(D, 0, p->stored_floats);
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < out_n; i++) { ck_assert(isfinite(r[i])); lhs += (double)r[i] * uu[i]; }
    for (size_t i = 0; i < p->stored_floats; i++) rhs += (double)s[i] * d[i];
    ck_assert_msg(fabs(lhs - rhs) <= 1e-6 * (fabs(lhs) + 1), "%s: <render s, u> = %g, <s, pullback u> = %g", what, lhs, rhs);
    /* save and load are inverse maps of the file's images (exact for pixels and canvases,
     * to float rounding for coefficients). */
    float *img = xmalloc((size_t)p->rows * p->C * p->fh * p->fw * 4);   /* the file's images */
    p->ops->save(p, dptr(S, 0), img);
    cl_mem S2 = tu_poisoned(p->stored_floats);
    p->ops->load(p, img, dptr(S2, 0));
    float *back = tu_download(S2, 0, p->stored_floats);
    double *sd = tu_to_double(s, p->stored_floats);
    tu_check_close(what, back, sd, p->stored_floats, 0, tol);
    free(sd);
    free(s); free(uu); free(r); free(d); free(img); free(back);
    dev_free(S); dev_free(U); dev_free(I); dev_free(R); dev_free(D); dev_free(S2);
    (void)ROWS;
}

START_TEST(imageparam_render_pullback_adjoint) {
    tu_init();
    ImageParam *px = imageparam_pixels(5, 2, 6, 6);
    ck_assert_str_eq(px->ops->name, "pixels");
    check_adjoint(px, "pixels", 0);
    imageparam_free(px);
    ImageParam *tx = imageparam_texture(5, 2, 6, 6, 2, 3, 4, 3);
    ck_assert_uint_eq(tx->stored_floats, 5 * 2 * 12 * 12);
    check_adjoint(tx, "texture", 0);
    imageparam_free(tx);
    /* 7 of 36 DCT coefficients per channel, at a scrambled ranking. */
    int64_t order[2 * 36];
    for (int c = 0; c < 2; c++)
        for (int q = 0; q < 36; q++) order[c * 36 + q] = (q * 7 + c * 5) % 36;
    ImageParam *fx = imageparam_freq(5, 2, 6, 6, 7, order, 3);
    ck_assert_str_eq(fx->ops->name, "freq");
    ck_assert_uint_eq(fx->stored_floats, 5 * 2 * 7);
    check_adjoint(fx, "freq", 1e-5);
    imageparam_free(fx);
}
END_TEST

/* The set's update is the one optimizer per tensor (momentum 0.5 on images and step size);
 * an update that makes the images non-finite is undone, momentum included. */
START_TEST(learnset_update_and_rollback) {
    tu_init();
    enum { R = 4, C = 1, S = 3, KK = 2 };
    size_t n = R * C * S * S;
    float *x = tu_new_rand(n, 21);
    int32_t labels[R] = {0, 0, 1, 1};
    LearnSet ls;
    learnset_init(&ls, imageparam_pixels(R, C, S, S), KK, x, labels, NULL, 0.01f);
    learnset_set_optim(&ls, 10.0, 0.001);
    /* Target rows are one-hot and sit after the images. */
    float t[R * KK];
    dev_read_f32(ls.theta, ls.off_targets, R * KK, t);
    for (int i = 0; i < R; i++)
        for (int k = 0; k < KK; k++) ck_assert_float_eq(t[i * KK + k], labels[i] == k ? 1.0f : 0.0f);
    float *g = tu_new_rand(n, 22);
    double xs[64], gs[64], v[64];
    for (size_t i = 0; i < n; i++) { xs[i] = x[i]; gs[i] = g[i]; }
    Sgd ref = {10.0, 0.5, 0.0, 1};
    for (int step = 0; step < 2; step++) {
        dev_write_f32(ls.grad, 0, n, g);
        learnset_set_lr_grad(&ls, 0.5);
        ck_assert(learnset_grad_finite(&ls));
        ck_assert_int_eq(learnset_update(&ls), 1);
        sgd_step_ref(&ref, n, xs, gs, v);
        ref.fresh = 0;
    }
    float *got = tu_download(ls.theta, 0, n);
    tu_check_close("images after two updates", got, xs, n, 1e-6, 1e-6);
    /* step size: v = 0.5, then 0.75; lr = 0.01 - 0.001 * (0.5 + 0.75) */
    ck_assert_float_eq_tol(ls.lr, 0.01f - 0.001f * 1.25f, 1e-7f);
    float before_lr = ls.lr;
    float *before = tu_download(ls.theta, 0, ls.total), *before_v = tu_download(ls.vel, 0, ls.total);
    /* A gradient that overflows the images: the update is refused and undone. */
    float big[64];
    for (size_t i = 0; i < n; i++) big[i] = 3e38f;
    dev_write_f32(ls.grad, 0, n, big);
    ck_assert_int_eq(learnset_update(&ls), 0);
    float *after = tu_download(ls.theta, 0, ls.total), *after_v = tu_download(ls.vel, 0, ls.total);
    ck_assert_int_eq(memcmp(before, after, ls.total * 4), 0);
    ck_assert_int_eq(memcmp(before_v, after_v, ls.total * 4), 0);
    ck_assert_float_eq(ls.lr, before_lr);
    ck_assert_int_eq(ls.opt_images.fresh, 0);
    /* A NaN gradient is seen before any update. */
    big[3] = NAN;
    dev_write_f32(ls.grad, 0, n, big);
    ck_assert(!learnset_grad_finite(&ls));
    free(x); free(g); free(got); free(before); free(before_v); free(after); free(after_v);
    learnset_free(&ls);
}
END_TEST

/* --ema_decay: the set evaluation and the files read is the moving average of every update;
 * the raw set keeps training. */
START_TEST(learnset_ema) {
    tu_init();
    enum { R = 2, S = 3, KK = 2 };
    size_t n = R * S * S;
    float *x = tu_new_rand(n, 31), *g = tu_new_rand(n, 32);
    int32_t labels[R] = {0, 1};
    LearnSet ls;
    learnset_init(&ls, imageparam_pixels(R, 1, S, S), KK, x, labels, NULL, 0.01f);
    learnset_set_optim(&ls, 1.0, 0.001);
    learnset_set_ema(&ls, 0.9);
    double raw[32], avg[32], v[32], gd[32], lr = 0.01, vlr = 0, lravg = 0.01;
    for (size_t i = 0; i < n; i++) { raw[i] = avg[i] = x[i]; gd[i] = g[i]; }
    Sgd ref = {1.0, 0.5, 0.0, 1};
    for (int step = 0; step < 3; step++) {
        dev_write_f32(ls.grad, 0, n, g);
        learnset_set_lr_grad(&ls, 0.25);
        ck_assert_int_eq(learnset_update(&ls), 1);
        sgd_step_ref(&ref, n, raw, gd, v);
        vlr = ref.fresh ? 0.25 : 0.5 * vlr + 0.25;
        ref.fresh = 0;
        lr -= 0.001 * vlr;
        for (size_t i = 0; i < n; i++) avg[i] = 0.9 * avg[i] + 0.1 * raw[i];
        lravg = 0.9 * lravg + 0.1 * lr;
    }
    float *shown = xmalloc(n * 4), *theta = tu_download(ls.theta, 0, n);
    learnset_images(&ls, shown);
    tu_check_close("the average the set shows", shown, avg, n, 1e-5, 1e-6);
    tu_check_close("the raw set", theta, raw, n, 1e-5, 1e-6);
    ck_assert_float_eq_tol(learnset_shown_lr(&ls), (float)lravg, 1e-6f);
    ck_assert_float_eq_tol(ls.lr, (float)lr, 1e-6f);
    free(x); free(g); free(shown); free(theta);
    learnset_free(&ls);
}
END_TEST

/* Evaluation inside distill trains on the learned labels: learnset_targets gives the softmax
 * of the shown (averaged) logits, in float64 here, and nothing without learned labels. */
START_TEST(learnset_targets_are_softmax_of_shown_logits) {
    tu_init();
    enum { R = 3, S = 2, KK = 4 };
    size_t n = R * S * S;
    float *x = tu_new_rand(n, 41), *y0 = tu_new_rand(R * KK, 42), *gy = tu_new_rand(R * KK, 43);
    int32_t labels[R] = {0, 1, 2};
    LearnSet ls;
    learnset_init(&ls, imageparam_pixels(R, 1, S, S), KK, x, labels, NULL, 0.01f);
    float t[R * KK];
    for (int i = 0; i < R * KK; i++) t[i] = NAN;
    ck_assert_int_eq(learnset_targets(&ls, t), 0);
    ck_assert(isnan(t[0]));
    for (int i = 0; i < R * KK; i++) y0[i] *= 3;
    learnset_set_soft(&ls, y0, 2.0, 0.9);
    learnset_set_ema(&ls, 0.5);
    learnset_zero_grad(&ls);
    dev_write_f32(ls.grad, ls.off_targets, R * KK, gy);
    learnset_set_lr_grad(&ls, 0.0);
    ck_assert_int_eq(learnset_update(&ls), 1);
    /* Shown logits: 0.5 y0 + 0.5 (y0 - 2 gy); their softmax per row. */
    double want[R * KK];
    for (int r = 0; r < R; r++) {
        double m = -1e300, z = 0, y[KK];
        for (int k = 0; k < KK; k++) {
            y[k] = (double)y0[r * KK + k] - 1.0 * gy[r * KK + k];
            if (y[k] > m) m = y[k];
        }
        for (int k = 0; k < KK; k++) z += exp(y[k] - m);
        for (int k = 0; k < KK; k++) want[r * KK + k] = exp(y[k] - m) / z;
    }
    ck_assert_int_eq(learnset_targets(&ls, t), 1);
    tu_check_close("evaluation's target rows", t, want, R * KK, 1e-5, 1e-6);
    free(x); free(y0); free(gy);
    learnset_free(&ls);
}
END_TEST

int main(void) {
    Suite *s = suite_create("seam");
    TCase *tc = tcase_create("seam");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, step_chunks_add_up);
    tcase_add_test(tc, step_without_gradient_same_hvp_and_u);
    tcase_add_test(tc, step_split_across_two_runtimes);
    tcase_add_test(tc, imageparam_render_pullback_adjoint);
    tcase_add_test(tc, learnset_update_and_rollback);
    tcase_add_test(tc, learnset_ema);
    tcase_add_test(tc, learnset_targets_are_softmax_of_shown_logits);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
