/* Conv2d: (a) the float64 references against central finite differences of themselves
 * (backward vs the forward, tangent vs the forward, rbackward vs the backward), plus a few
 * hand-checkable outputs; (b) the device passes (float32) against the references on random
 * inputs for the shapes the networks use and odd ones; (c) a forced multi-chunk run
 * (CLMTT_CONV_CHUNK_FLOATS) against the one-chunk run and the reference. */
#include "fdcheck.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv2d.h"

static size_t n_in(const Conv2dShape *s) { return (size_t)s->N * s->Cin * s->H * s->W; }
static size_t n_out(const Conv2dShape *s) { return (size_t)s->Cout * s->N * conv2d_out_h(s) * conv2d_out_w(s); }
static size_t n_w(const Conv2dShape *s) { return (size_t)s->Cout * s->Cin * s->K * s->K; }

/* ---------- (a) references vs finite differences (float64) ---------- */

/* The reference layer seen through the shared finite-difference checks (fdcheck.h). */
FD_LAYER_CALLBACKS(conv2d)

static FdLayer fd_layer(const Conv2dShape *s) {
    return (FdLayer){s, n_in(s), n_out(s), n_w(s), (size_t)s->Cout, fd_fwd, fd_bwd, fd_tan, fd_rbwd};
}

/* Without din/db the backward's weight gradient is unchanged. */
static void check_backward_null_outputs(const Conv2dShape *s, uint64_t seed) {
    size_t ni = n_in(s), no = n_out(s), nw = n_w(s);
    double *in = tu_new_rand_d(ni, seed), *w = tu_new_rand_d(nw, seed + 1), *r = tu_new_rand_d(no, seed + 3);
    double *din = xmalloc(ni * 8), *dw = xmalloc(nw * 8), *db = xmalloc((size_t)s->Cout * 8), *dw2 = xmalloc(nw * 8);
    conv2d_backward_ref(s, din, dw, db, r, in, w);
    conv2d_backward_ref(s, NULL, dw2, NULL, r, in, w);
    tu_check_close_d("ref backward dw with NULL din", dw2, dw, nw, 0, 0);
    free(in); free(w); free(r); free(din); free(dw); free(db); free(dw2);
}

static const Conv2dShape fd_shapes[] = {
    /* N Cin H W Cout K pad nchw */
    {2, 2, 5, 4, 3, 3, 1, 0},
    {2, 2, 5, 4, 3, 3, 1, 1},
    {2, 1, 4, 3, 2, 3, 3, 1}, /* padding 3, as the 28x28 first layer */
    {3, 3, 3, 2, 2, 1, 0, 0}, /* 1x1 */
    {1, 2, 6, 5, 2, 3, 0, 1}, /* no padding */
};

START_TEST(ref_fd) {
    for (size_t k = 0; k < sizeof fd_shapes / sizeof fd_shapes[0]; k++) {
        const Conv2dShape *s = &fd_shapes[k];
        FdLayer l = fd_layer(s);
        fd_check_layer(&l, 100 + 10 * k);
        check_backward_null_outputs(s, 100 + 10 * k);
    }
}
END_TEST

/* Outputs that can be worked out by hand. */
START_TEST(ref_known_values) {
    /* A kernel that is 1 at the centre tap for co == ci copies the input (plus bias). */
    Conv2dShape s = {2, 2, 4, 3, 2, 3, 1, 0};
    size_t ni = n_in(&s);
    double *in = tu_new_rand_d(ni, 7), *w = xcalloc(n_w(&s), 8), b[2] = {0.5, -2.0};
    for (int c = 0; c < 2; c++) w[((c * 2 + c) * 3 + 1) * 3 + 1] = 1.0;
    double *out = xmalloc(n_out(&s) * 8);
    conv2d_forward_ref(&s, out, in, w, b);
    for (size_t i = 0; i < ni; i++) ck_assert_double_eq_tol(out[i], in[i] + b[i / (ni / 2)], 1e-15);
    /* The same input given as NCHW gives the same (CNHW) output. */
    Conv2dShape sn = s;
    sn.in_nchw = 1;
    double *in_nchw = xmalloc(ni * 8), *out2 = xmalloc(n_out(&s) * 8), *w2 = tu_new_rand_d(n_w(&s), 8);
    for (int c = 0; c < 2; c++)
        for (int n = 0; n < 2; n++)
            memcpy(in_nchw + (n * 2 + c) * 12, in + (c * 2 + n) * 12, 12 * sizeof(double));
    conv2d_forward_ref(&s, out, in, w2, b);
    conv2d_forward_ref(&sn, out2, in_nchw, w2, b);
    tu_check_close_d("ref NCHW vs CNHW input", out2, out, n_out(&s), 0, 1e-14);
    free(in); free(w); free(out); free(in_nchw); free(out2); free(w2);

    /* 28x28 ones, 3x3 ones kernel, padding 3: 32x32 output; the corner sees only padding,
     * (3,3) sees a full window, (2,2) a 2x2 corner of it. */
    Conv2dShape p = {1, 1, 28, 28, 1, 3, 3, 1};
    ck_assert_int_eq(conv2d_out_h(&p), 32);
    ck_assert_int_eq(conv2d_out_w(&p), 32);
    double *ones = xmalloc(784 * 8), w9[9], bias = 0.25, o[1024];
    for (int i = 0; i < 784; i++) ones[i] = 1.0;
    for (int i = 0; i < 9; i++) w9[i] = 1.0;
    conv2d_forward_ref(&p, o, ones, w9, &bias);
    ck_assert_double_eq(o[0], 0.25);
    ck_assert_double_eq(o[3 * 32 + 3], 9.25);
    ck_assert_double_eq(o[2 * 32 + 2], 4.25);
    ck_assert_double_eq(o[31 * 32 + 31], 0.25);
    free(ones);
}
END_TEST

/* ---------- (b) device vs reference ---------- */

typedef struct {
    Conv2dShape s;
    int bias, has_din, has_in_t;
    const char *name;
} DevCase;

/* Host inputs of one case (float32, as uploaded). */
typedef struct {
    float *in, *in_t, *w, *b, *w_t, *b_t, *dout, *rdout;
} HostData;

/* Downloaded device results; NULL where the pass had no such output. */
typedef struct {
    float *out, *din, *dw, *db, *out_t, *rdin, *rdw, *rdb;
} DevResult;

static HostData host_data(const Conv2dShape *s, uint64_t seed) {
    HostData h;
    h.in = tu_new_rand(n_in(s), seed);
    h.in_t = tu_new_rand(n_in(s), seed + 1);
    h.w = tu_new_rand(n_w(s), seed + 2);
    h.b = tu_new_rand(s->Cout, seed + 3);
    h.w_t = tu_new_rand(n_w(s), seed + 4);
    h.b_t = tu_new_rand(s->Cout, seed + 5);
    h.dout = tu_new_rand(n_out(s), seed + 6);
    h.rdout = tu_new_rand(n_out(s), seed + 7);
    return h;
}

static void host_data_free(HostData *h) {
    free(h->in); free(h->in_t); free(h->w); free(h->b); free(h->w_t); free(h->b_t); free(h->dout); free(h->rdout);
}

static void result_free(DevResult *r) {
    free(r->out); free(r->din); free(r->dw); free(r->db); free(r->out_t); free(r->rdin); free(r->rdw); free(r->rdb);
}

/* Runs the four passes on the device. Parameters sit at odd offsets of one flat buffer
 * and parameter gradients at odd offsets of a NaN-poisoned one, as in the flat vectors. */
static DevResult device_run(const DevCase *c, const HostData *h) {
    const Conv2dShape *s = &c->s;
    size_t ni = n_in(s), no = n_out(s), nw = n_w(s), nb = s->Cout;
    size_t ow = 7, ob = ow + nw + 3, otw = ob + nb + 5, otb = otw + nw + 2, np = otb + nb + 4;
    float *params = xmalloc(np * sizeof(float));
    for (size_t i = 0; i < np; i++) params[i] = 1e30f; /* a wrong offset shows up as a huge value */
    memcpy(params + ow, h->w, nw * 4);
    memcpy(params + ob, h->b, nb * 4);
    memcpy(params + otw, h->w_t, nw * 4);
    memcpy(params + otb, h->b_t, nb * 4);
    cl_mem P = tu_upload(params, np);
    DPtr w = dptr(P, ow), b = c->bias ? dptr(P, ob) : dptr(NULL, 0);
    DPtr w_t = dptr(P, otw), b_t = c->bias ? dptr(P, otb) : dptr(NULL, 0);
    cl_mem in = tu_upload(h->in, ni), in_t = c->has_in_t ? tu_upload(h->in_t, ni) : NULL;
    cl_mem dout = tu_upload(h->dout, no), rdout = tu_upload(h->rdout, no);
    size_t gw = 3, gb = gw + nw + 2, ng = gb + nb + 6;

    DevResult r = {0};
    cl_mem out = tu_poisoned(no);
    conv2d_forward(s, out, in, w, b);
    r.out = tu_download(out, 0, no);

    cl_mem din = c->has_din ? tu_poisoned(ni) : NULL, G = tu_poisoned(ng);
    conv2d_backward(s, din, dptr(G, gw), c->bias ? dptr(G, gb) : dptr(NULL, 0), dout, in, w);
    if (din) r.din = tu_download(din, 0, ni);
    r.dw = tu_download(G, gw, nw);
    if (c->bias) r.db = tu_download(G, gb, nb);
    tu_check_untouched("backward gradients", G, ng, gw, nw, gb, c->bias ? nb : 0);

    cl_mem out_t = tu_poisoned(no);
    conv2d_tangent(s, out_t, in, in_t, w, w_t, b_t);
    r.out_t = tu_download(out_t, 0, no);

    cl_mem rdin = c->has_din ? tu_poisoned(ni) : NULL, RG = tu_poisoned(ng);
    conv2d_rbackward(s, rdin, dptr(RG, gw), c->bias ? dptr(RG, gb) : dptr(NULL, 0), dout, rdout, in, in_t, w, w_t);
    if (rdin) r.rdin = tu_download(rdin, 0, ni);
    r.rdw = tu_download(RG, gw, nw);
    if (c->bias) r.rdb = tu_download(RG, gb, nb);
    tu_check_untouched("rbackward gradients", RG, ng, gw, nw, gb, c->bias ? nb : 0);

    dev_free(P); dev_free(in); dev_free(in_t); dev_free(dout); dev_free(rdout); dev_free(out);
    dev_free(din); dev_free(G); dev_free(out_t); dev_free(rdin); dev_free(RG);
    free(params);
    return r;
}

/* Device results vs the float64 references of the same (float32) inputs.
 * Tolerance: rtol 1e-4 plus 1e-5*sqrt(terms summed per element). */
static void compare_to_ref(const DevCase *c, const HostData *h, const DevResult *r) {
    const Conv2dShape *s = &c->s;
    size_t ni = n_in(s), no = n_out(s), nw = n_w(s), nb = s->Cout;
    double *in = tu_to_double(h->in, ni), *in_t = tu_to_double(h->in_t, ni), *w = tu_to_double(h->w, nw);
    double *b = tu_to_double(h->b, nb), *w_t = tu_to_double(h->w_t, nw), *b_t = tu_to_double(h->b_t, nb);
    double *dout = tu_to_double(h->dout, no), *rdout = tu_to_double(h->rdout, no);
    double *x_t = c->has_in_t ? in_t : NULL;
    double *out = xmalloc(no * 8), *din = xmalloc(ni * 8), *dw = xmalloc(nw * 8), *db = xmalloc(nb * 8);
    const double rtol = 1e-4;
    const double fan_fwd = s->Cin * s->K * s->K, fan_bwd = s->Cout * s->K * s->K;
    const double fan_w = (double)s->N * conv2d_out_h(s) * conv2d_out_w(s);
    char what[160];
#define CMP(label, got, want, n, fan) do { \
        snprintf(what, sizeof what, "%s: %s", c->name, label); \
        tu_check_close(what, got, want, n, rtol, 1e-5 * sqrt(fan)); } while (0)

    conv2d_forward_ref(s, out, in, w, c->bias ? b : NULL);
    CMP("forward out", r->out, out, no, fan_fwd + 1);

    conv2d_backward_ref(s, din, dw, db, dout, in, w);
    if (c->has_din) CMP("backward din", r->din, din, ni, fan_bwd);
    CMP("backward dw", r->dw, dw, nw, fan_w);
    if (c->bias) CMP("backward db", r->db, db, nb, fan_w);

    conv2d_tangent_ref(s, out, in, x_t, w, w_t, c->bias ? b_t : NULL);
    CMP("tangent out_t", r->out_t, out, no, 2 * fan_fwd + 1);

    conv2d_rbackward_ref(s, din, dw, db, dout, rdout, in, x_t, w, w_t);
    if (c->has_din) CMP("rbackward rdin", r->rdin, din, ni, 2 * fan_bwd);
    CMP("rbackward rdw", r->rdw, dw, nw, 2 * fan_w);
    if (c->bias) CMP("rbackward rdb", r->rdb, db, nb, fan_w);
#undef CMP
    free(in); free(in_t); free(w); free(b); free(w_t); free(b_t); free(dout); free(rdout);
    free(out); free(din); free(dw); free(db);
}

static const DevCase dev_cases[] = {
    /* N Cin H W Cout K pad nchw | bias din in_t */
    {{3, 1, 28, 28, 8, 3, 3, 1}, 1, 1, 1, "28x28 one channel, pad 3, NCHW"},
    {{2, 3, 8, 8, 6, 3, 1, 1}, 1, 1, 1, "3 channels 8x8 pad 1, NCHW"},
    {{2, 3, 8, 8, 6, 3, 1, 1}, 1, 0, 0, "3 channels 8x8, no din, no in_t"},
    {{3, 5, 7, 5, 4, 3, 1, 0}, 1, 1, 1, "odd 7x5, CNHW"},
    {{3, 5, 7, 5, 4, 3, 1, 0}, 0, 1, 0, "odd 7x5, CNHW, no bias, no in_t"},
    {{3, 5, 7, 5, 4, 3, 1, 1}, 0, 1, 1, "odd 7x5, NCHW, no bias"},
    {{2, 6, 3, 5, 5, 1, 0, 0}, 1, 1, 1, "1x1 CNHW (direct GEMM)"},
    {{2, 6, 3, 5, 5, 1, 0, 0}, 0, 0, 0, "1x1 CNHW, no bias, no din, no in_t"},
    {{2, 6, 3, 5, 5, 1, 0, 1}, 1, 1, 1, "1x1 NCHW"},
    {{2, 3, 5, 6, 4, 3, 0, 0}, 1, 1, 1, "3x3 without padding"},
    {{4, 16, 16, 16, 16, 3, 1, 0}, 1, 1, 1, "16 channels 16x16 CNHW"},
};

START_TEST(device_vs_ref) {
    tu_init();
    const DevCase *c = &dev_cases[_i];
    /* tu_small: the 28x28 and 16-channel layers are left out; the other cases take every
     * layout, padding, 1x1 and option. */
    if (tu_small() && (size_t)c->s.N * c->s.Cin * c->s.H * c->s.W * c->s.Cout > 10000) return;
    HostData h = host_data(&c->s, 1000 + 17 * _i);
    DevResult r = device_run(c, &h);
    compare_to_ref(c, &h, &r);
    result_free(&r);
    host_data_free(&h);
}
END_TEST

/* ---------- (c) several chunks ---------- */

static void compare_results(const char *label, const DevCase *c, const DevResult *got, const DevResult *want) {
    const Conv2dShape *s = &c->s;
    size_t ni = n_in(s), no = n_out(s), nw = n_w(s), nb = s->Cout;
    const float *g[] = {got->out, got->din, got->dw, got->db, got->out_t, got->rdin, got->rdw, got->rdb};
    const float *e[] = {want->out, want->din, want->dw, want->db, want->out_t, want->rdin, want->rdw, want->rdb};
    const size_t n[] = {no, ni, nw, nb, no, ni, nw, nb};
    const char *names[] = {"out", "din", "dw", "db", "out_t", "rdin", "rdw", "rdb"};
    const double fan_w = (double)s->N * conv2d_out_h(s) * conv2d_out_w(s);
    for (int k = 0; k < 8; k++) {
        ck_assert_msg((g[k] == NULL) == (e[k] == NULL), "%s: %s present in one run only", label, names[k]);
        if (!g[k]) continue;
        double *ed = tu_to_double(e[k], n[k]);
        char what[128];
        snprintf(what, sizeof what, "%s: %s", label, names[k]);
        tu_check_close(what, g[k], ed, n[k], 1e-5, 1e-6 * sqrt(2 * fan_w));
        free(ed);
    }
}

/* The im2col row stride: the smallest odd number of 64-byte lines that holds the row. */
START_TEST(col_stride) {
    for (size_t cols = 1; cols < 5000; cols++) {
        size_t ld = conv2d_col_ld(cols);
        ck_assert_msg(ld >= cols && ld % 16 == 0 && (ld / 16) % 2 == 1, "cols %zu: stride %zu", cols, ld);
        ck_assert_msg(ld < cols + 32 && (ld - 32 < cols || ld < 32), "cols %zu: stride %zu is not the smallest", cols, ld);
    }
    ck_assert_uint_eq(conv2d_col_ld(2560), 2576);
    ck_assert_uint_eq(conv2d_col_ld(14336), 14352);
    ck_assert_uint_eq(conv2d_col_ld(63), 80);
}
END_TEST

/* Must run first in the process: it checks that the scratch grows to exactly two samples'
 * worth of im2col, which shows the cap was obeyed. */
START_TEST(multi_chunk) {
    tu_init();
    for (int nchw = 0; nchw < 2; nchw++) {
        DevCase c = {{5, 3, 9, 7, 4, 3, 1, nchw}, 1, 1, 1, nchw ? "chunked NCHW" : "chunked CNHW"};
        const Conv2dShape *s = &c.s;
        /* A chunk of two samples: CKK rows of their columns, padded to conv2d_col_ld. */
        size_t two_samples = (size_t)s->Cin * s->K * s->K * conv2d_col_ld((size_t)2 * conv2d_out_h(s) * conv2d_out_w(s));
        HostData h = host_data(s, 77 + nchw);
        char cap[32];

        /* Two samples per chunk: chunks of 2, 2, 1. */
        snprintf(cap, sizeof cap, "%zu", two_samples + 1);
        setenv("CLMTT_CONV_CHUNK_FLOATS", cap, 1);
        if (nchw == 0) {
            cl_mem in = tu_upload(h.in, n_in(s)), w = tu_upload(h.w, n_w(s)), out = tu_poisoned(n_out(s));
            size_t before = dev_mem_current();
            conv2d_forward(s, out, in, dptr(w, 0), dptr(NULL, 0));
            ck_assert_uint_eq(dev_mem_current() - before, two_samples * sizeof(float));
            dev_free(in); dev_free(w); dev_free(out);
        }
        DevResult two = device_run(&c, &h);
        /* One sample per chunk (a cap below one sample still takes one). */
        setenv("CLMTT_CONV_CHUNK_FLOATS", "1", 1);
        DevResult one = device_run(&c, &h);
        unsetenv("CLMTT_CONV_CHUNK_FLOATS");
        DevResult all = device_run(&c, &h);

        compare_to_ref(&c, &h, &two);
        compare_to_ref(&c, &h, &one);
        compare_results("2 samples per chunk vs one chunk", &c, &two, &all);
        compare_results("1 sample per chunk vs one chunk", &c, &one, &all);
        result_free(&two); result_free(&one); result_free(&all);
        host_data_free(&h);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("conv2d");
    TCase *tc = tcase_create("conv2d");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, multi_chunk);
    tcase_add_test(tc, ref_fd);
    tcase_add_test(tc, col_stride);
    tcase_add_test(tc, ref_known_values);
    tcase_add_loop_test(tc, device_vs_ref, 0, (int)(sizeof dev_cases / sizeof dev_cases[0]));
    suite_add_tcase(s, tc);
    return tu_run(s);
}
