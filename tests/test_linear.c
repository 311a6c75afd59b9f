/* Linear and flatten: (a) the float64 references against central finite differences of
 * themselves (backward vs the forward, tangent vs the forward, rbackward vs the backward),
 * flatten against a hand-written example and as an adjoint pair; (b) the device passes
 * (float32) against the references, with parameters at odd offsets of flat buffers and
 * NaN-poisoned outputs; flatten on the device against the reference and as a round trip. */
#include "fdcheck.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/linear.h"

static size_t n_in(const LinearShape *s) { return (size_t)s->N * s->In; }
static size_t n_out(const LinearShape *s) { return (size_t)s->N * s->Out; }
static size_t n_w(const LinearShape *s) { return (size_t)s->Out * s->In; }

/* ---------- (a) references vs finite differences (float64) ---------- */

/* The reference layer seen through the shared finite-difference checks (fdcheck.h). */
FD_LAYER_CALLBACKS(linear)

static FdLayer fd_layer(const LinearShape *s) {
    return (FdLayer){s, n_in(s), n_out(s), n_w(s), (size_t)s->Out, fd_fwd, fd_bwd, fd_tan, fd_rbwd};
}

static const LinearShape fd_shapes[] = {{3, 7, 5}, {1, 1, 1}, {4, 2, 9}, {2, 12, 3}};

START_TEST(ref_fd) {
    for (size_t k = 0; k < sizeof fd_shapes / sizeof fd_shapes[0]; k++) {
        const LinearShape *s = &fd_shapes[k];
        FdLayer l = fd_layer(s);
        fd_check_layer(&l, 100 + 10 * k);
    }
}
END_TEST

/* A hand-worked linear layer and flatten example, and flatten as an adjoint pair. */
START_TEST(ref_known_values) {
    /* in = [[1, 2], [3, 4]], w = [[1, 0], [1, -1], [2, 1]], b = [0.5, 0, -1] */
    LinearShape s = {2, 2, 3};
    const double in[] = {1, 2, 3, 4}, w[] = {1, 0, 1, -1, 2, 1}, b[] = {0.5, 0, -1};
    const double want[] = {1.5, -1, 3, 3.5, -1, 9};
    double out[6];
    linear_forward_ref(&s, out, in, w, b);
    tu_check_close_d("linear forward by hand", out, want, 6, 0, 0);

    /* C=2, N=2, HW=3: CNHW in[c][n][s] = 100c + 10n + s. */
    double x[12], y[12], back[12];
    for (int c = 0; c < 2; c++)
        for (int n = 0; n < 2; n++)
            for (int p = 0; p < 3; p++) x[(c * 2 + n) * 3 + p] = 100 * c + 10 * n + p;
    const double flat[] = {0, 1, 2, 100, 101, 102, 10, 11, 12, 110, 111, 112};
    flatten_forward_ref(2, 2, 3, y, x);
    tu_check_close_d("flatten by hand", y, flat, 12, 0, 0);
    flatten_backward_ref(2, 2, 3, back, y);
    tu_check_close_d("flatten round trip", back, x, 12, 0, 0);

    /* <r, F x> = <F^T r, x> on random data of another shape. */
    int C = 3, N = 4, HW = 5;
    size_t n = (size_t)C * N * HW;
    double *u = tu_new_rand_d(n, 5), *r = tu_new_rand_d(n, 6), *fu = xmalloc(n * 8), *fr = xmalloc(n * 8);
    flatten_forward_ref(C, N, HW, fu, u);
    flatten_backward_ref(C, N, HW, fr, r);
    ck_assert_double_eq_tol(tu_dot_d(r, fu, n), tu_dot_d(fr, u, n), 1e-12);
    free(u); free(r); free(fu); free(fr);
}
END_TEST

/* ---------- (b) device vs reference ---------- */

typedef struct {
    LinearShape s;
    int bias, has_din, has_in_t;
    const char *name;
} DevCase;

static const DevCase dev_cases[] = {
    {{3, 7, 5}, 1, 1, 1, "3x7 -> 5"},
    {{3, 7, 5}, 0, 0, 0, "3x7 -> 5, no bias, no din, no in_t"},
    {{1, 1, 1}, 1, 1, 1, "1x1 -> 1"},
    {{64, 33, 65}, 1, 1, 0, "64x33 -> 65, no in_t"},
    {{17, 2048, 10}, 1, 1, 1, "ConvNet head 17x2048 -> 10"},
    {{300, 128, 10}, 0, 1, 1, "300x128 -> 10, no bias"},
};

/* One case on one path: one_launch 1 runs the layer's own one-launch kernels, 0 the matrix
 * products with separate bias passes. */
static void device_path(const DevCase *c, int _i, int one_launch) {
    const LinearShape *s = &c->s;
    size_t ni = n_in(s), no = n_out(s), nw = n_w(s), nb = s->Out;
    uint64_t seed = 1000 + 17 * _i;
    float *in = tu_new_rand(ni, seed), *in_t = tu_new_rand(ni, seed + 1), *w = tu_new_rand(nw, seed + 2), *b = tu_new_rand(nb, seed + 3);
    float *w_t = tu_new_rand(nw, seed + 4), *b_t = tu_new_rand(nb, seed + 5), *dout = tu_new_rand(no, seed + 6), *rdout = tu_new_rand(no, seed + 7);

    /* Parameters at odd offsets of one flat buffer; a wrong offset reads 1e30. */
    size_t ow = 5, ob = ow + nw + 3, otw = ob + nb + 1, otb = otw + nw + 7, np = otb + nb + 2;
    float *params = xmalloc(np * 4);
    for (size_t i = 0; i < np; i++) params[i] = 1e30f;
    memcpy(params + ow, w, nw * 4); memcpy(params + ob, b, nb * 4);
    memcpy(params + otw, w_t, nw * 4); memcpy(params + otb, b_t, nb * 4);
    cl_mem P = tu_upload(params, np);
    DPtr pw = dptr(P, ow), pb = c->bias ? dptr(P, ob) : dptr(NULL, 0);
    DPtr pwt = dptr(P, otw), pbt = c->bias ? dptr(P, otb) : dptr(NULL, 0);
    cl_mem IN = tu_upload(in, ni), INT = c->has_in_t ? tu_upload(in_t, ni) : NULL;
    cl_mem DOUT = tu_upload(dout, no), RDOUT = tu_upload(rdout, no);
    size_t gw = 3, gb = gw + nw + 4, ng = gb + nb + 5;

    cl_mem OUT = tu_poisoned(no), OUTT = tu_poisoned(no);
    cl_mem DIN = c->has_din ? tu_poisoned(ni) : NULL, RDIN = c->has_din ? tu_poisoned(ni) : NULL;
    cl_mem G = tu_poisoned(ng), RG = tu_poisoned(ng);
    linear_set_small_macs(one_launch ? SIZE_MAX : 0);
    RtCounts before = rt_counts();
    linear_forward(s, OUT, IN, pw, pb);
    linear_backward(s, DIN, dptr(G, gw), c->bias ? dptr(G, gb) : dptr(NULL, 0), DOUT, IN, pw);
    linear_tangent(s, OUTT, IN, INT, pw, pwt, pbt);
    linear_rbackward(s, RDIN, dptr(RG, gw), c->bias ? dptr(RG, gb) : dptr(NULL, 0), DOUT, RDOUT, IN, INT, pw, pwt);
    RtCounts n = rt_counts_sub(rt_counts(), before);
    /* The one-launch path: forward 1, backward 1 or 2, tangent 1, R-backward 1 or 2. */
    long want = one_launch ? 4 + 2 * c->has_din : -1;
    if (one_launch)
        ck_assert_msg(n.launches == want && n.blas_calls == 0, "%s (one launch per pass): %ld launches, %ld CLBlast calls, "
                      "expected %ld and 0", c->name, n.launches, n.blas_calls, want);
    else {   /* one call per product and per bias pass */
        want = 4 + 3 * c->has_din + 2 * c->has_in_t + 4 * c->bias;
        ck_assert_msg(n.launches + n.blas_calls == want, "%s (products): %ld launches and %ld CLBlast calls, expected %ld "
                      "calls", c->name, n.launches, n.blas_calls, want);
    }
    ck_assert_msg(n.gemm_flops > 0, "%s: no arithmetic counted", c->name);
    tu_check_untouched("backward gradients", G, ng, gw, nw, gb, c->bias ? nb : 0);
    tu_check_untouched("rbackward gradients", RG, ng, gw, nw, gb, c->bias ? nb : 0);

    double *din = tu_to_double(in, ni), *dint = tu_to_double(in_t, ni), *dwd = tu_to_double(w, nw);
    double *dbd = tu_to_double(b, nb), *dwtd = tu_to_double(w_t, nw), *dbtd = tu_to_double(b_t, nb);
    double *ddout = tu_to_double(dout, no), *drdout = tu_to_double(rdout, no);
    double *x_t = c->has_in_t ? dint : NULL;
    double *r_out = xmalloc(no * 8), *r_din = xmalloc(ni * 8), *r_dw = xmalloc(nw * 8), *r_db = xmalloc(nb * 8);
    char what[160];
    /* Tolerance: rtol 1e-4 plus 1e-5*sqrt(terms summed per element). */
#define CMP(label, buf, off, want, n, fan) do { \
        float *got_ = tu_download(buf, off, n); \
        snprintf(what, sizeof what, "%s%s: %s", c->name, one_launch ? " (one launch per pass)" : "", label); \
        tu_check_close(what, got_, want, n, 1e-4, 1e-5 * sqrt((double)(fan))); \
        free(got_); } while (0)

    linear_forward_ref(s, r_out, din, dwd, c->bias ? dbd : NULL);
    CMP("forward out", OUT, 0, r_out, no, s->In + 1);
    linear_backward_ref(s, r_din, r_dw, r_db, ddout, din, dwd);
    if (c->has_din) CMP("backward din", DIN, 0, r_din, ni, s->Out);
    CMP("backward dw", G, gw, r_dw, nw, s->N);
    if (c->bias) CMP("backward db", G, gb, r_db, nb, s->N);
    linear_tangent_ref(s, r_out, din, x_t, dwd, dwtd, c->bias ? dbtd : NULL);
    CMP("tangent out_t", OUTT, 0, r_out, no, 2 * s->In + 1);
    linear_rbackward_ref(s, r_din, r_dw, r_db, ddout, drdout, din, x_t, dwd, dwtd);
    if (c->has_din) CMP("rbackward rdin", RDIN, 0, r_din, ni, 2 * s->Out);
    CMP("rbackward rdw", RG, gw, r_dw, nw, 2 * s->N);
    if (c->bias) CMP("rbackward rdb", RG, gb, r_db, nb, s->N);
#undef CMP

    free(in); free(in_t); free(w); free(b); free(w_t); free(b_t); free(dout); free(rdout); free(params);
    free(din); free(dint); free(dwd); free(dbd); free(dwtd); free(dbtd); free(ddout); free(drdout);
    free(r_out); free(r_din); free(r_dw); free(r_db);
    dev_free(P); dev_free(IN); dev_free(INT); dev_free(DOUT); dev_free(RDOUT); dev_free(OUT); dev_free(OUTT);
    dev_free(DIN); dev_free(RDIN); dev_free(G); dev_free(RG);
}

START_TEST(device_vs_ref) {
    tu_init();
    const DevCase *c = &dev_cases[_i];
    /* tu_small: the small products only; they take every option and kernel too. */
    if (tu_small() && (size_t)c->s.N * c->s.In * c->s.Out > 20000) return;
    size_t old = linear_small_macs();
    device_path(c, _i, 1);
    device_path(c, _i, 0);
    linear_set_small_macs(old);
}
END_TEST

/* Flatten on the device: both directions equal the reference exactly (a permutation),
 * and backward(forward(x)) == x. */
START_TEST(flatten_device) {
    tu_init();
    const int shapes[][3] = {{2, 2, 3}, {128, 5, 16}, {3, 7, 1}, {1, 1, 1}, {5, 3, 49}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int C = shapes[k][0], N = shapes[k][1], HW = shapes[k][2];
        size_t n = (size_t)C * N * HW;
        float *x = tu_new_rand(n, 60 + k);
        cl_mem X = tu_upload(x, n), Y = tu_poisoned(n), Z = tu_poisoned(n);
        flatten_forward(C, N, HW, Y, X);
        flatten_backward(C, N, HW, Z, Y);
        float *y = tu_download(Y, 0, n), *z = tu_download(Z, 0, n);
        double *xd = tu_to_double(x, n), *yd = tu_to_double(y, n), *want = xmalloc(n * 8);
        char what[96];
        flatten_forward_ref(C, N, HW, want, xd);
        snprintf(what, sizeof what, "flatten_forward C=%d N=%d HW=%d", C, N, HW);
        tu_check_close(what, y, want, n, 0, 0);
        flatten_backward_ref(C, N, HW, want, yd);
        snprintf(what, sizeof what, "flatten_backward C=%d N=%d HW=%d", C, N, HW);
        tu_check_close(what, z, want, n, 0, 0);
        tu_check_close("flatten round trip", z, xd, n, 0, 0);
        free(x); free(y); free(z); free(xd); free(yd); free(want);
        dev_free(X); dev_free(Y); dev_free(Z);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("linear");
    TCase *tc = tcase_create("linear");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, ref_fd);
    tcase_add_test(tc, ref_known_values);
    tcase_add_loop_test(tc, device_vs_ref, 0, (int)(sizeof dev_cases / sizeof dev_cases[0]));
    tcase_add_test(tc, flatten_device);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
