/* Differentiable Siamese Augmentation: strategy parsing, draws, device forward/VJP vs the
 * float64 references, adjointness, finite differences, and hand-checkable cases. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment/dsa.h"

static const char *group_name(int g) {
    static const char *names[] = {"identity", "color", "crop", "cutout", "flip", "scale", "rotate"};
    return names[g + 1];
}

/* A draw of group g (-1 = identity) for N images of H x W from seed. */
static void draw_group(int g, int N, int H, int W, uint64_t seed, DsaDraw *d) {
    DsaStrategy st = {0};
    if (g >= 0) { st.ngroups = 1; st.groups[0] = (DsaGroup)g; }
    Rng r;
    rng_init(&r, seed, 7);
    dsa_draw(&st, &r, N, H, W, d);
    ck_assert_int_eq(d->group, g);
}

/* A draw of group g with the same parameters q[0..3] for all N samples. */
static void draw_fixed(int g, int N, const float q[4], DsaDraw *d) {
    d->group = g;
    d->N = N;
    d->p = xrealloc(d->p, (size_t)N * DSA_NPARAM * sizeof(float));
    for (int n = 0; n < N; n++) memcpy(d->p + n * DSA_NPARAM, q, DSA_NPARAM * sizeof(float));
}

/* Device forward of float x (N x C x H x W) into a poisoned buffer; returns the host copy. */
static float *dev_fwd(const DsaDraw *d, int C, int H, int W, const float *x) {
    size_t n = (size_t)d->N * C * H * W;
    cl_mem in = tu_upload(x, n), out = tu_poisoned(n);
    dsa_forward(d, C, H, W, out, in);
    float *y = tu_download(out, 0, n);
    dev_free(in);
    dev_free(out);
    return y;
}

static float *dev_bwd(const DsaDraw *d, int C, int H, int W, const float *g) {
    size_t n = (size_t)d->N * C * H * W;
    cl_mem dout = tu_upload(g, n), din = tu_poisoned(n);
    dsa_backward(d, C, H, W, din, dout);
    float *x = tu_download(din, 0, n);
    dev_free(dout);
    dev_free(din);
    return x;
}

/* Sum of |a_i b_i|: the scale against which an inner product's rounding is judged. */
static double dot_abs(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += fabs(a[i] * b[i]);
    return s;
}

static const int shapes[][4] = {{4, 3, 8, 8}, {3, 1, 28, 28}, {2, 3, 12, 20}, {2, 3, 32, 32}, {1, 1, 128, 128}};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };
/* tu_small: the square and the non-square colour shapes, one draw each. */
static int shape_skipped(int s) { return tu_small() && s != 0 && s != 2; }
static int draw_reps(void) { return tu_small() ? 1 : 3; }

/* (a) device forward and VJP vs the references, for every group and several draws. */
START_TEST(device_vs_reference) {
    tu_init();
    uint64_t seed = 100;
    for (int s = 0; s < NSHAPES; s++)
        for (int g = -1; g < DSA_NGROUPS && !shape_skipped(s); g++)
            for (int rep = 0; rep < draw_reps(); rep++) {
                int N = shapes[s][0], C = shapes[s][1], H = shapes[s][2], W = shapes[s][3];
                size_t n = (size_t)N * C * H * W;
                DsaDraw d = {0};
                draw_group(g, N, H, W, seed++, &d);
                float *x = xmalloc(n * sizeof(float)), *gy = xmalloc(n * sizeof(float));
                tu_rand(x, n, seed++, -1, 1);
                tu_rand(gy, n, seed++, -1, 1);
                double *xd = tu_to_double(x, n), *gd = tu_to_double(gy, n);
                double *want = xmalloc(n * sizeof(double));
                char what[128];
                /* Source coordinates of scale/rotate reach W in magnitude, so float rounds them by
                 * about W 2^-24 pixels; neighbouring pixels differ by up to 2. */
                const double atol = 1e-5 * fmax(1.0, (H > W ? H : W) / 32.0);

                float *y = dev_fwd(&d, C, H, W, x);
                dsa_forward_ref(&d, C, H, W, want, xd);
                snprintf(what, sizeof what, "forward %s %dx%dx%dx%d draw %d", group_name(g), N, C, H, W, rep);
                tu_check_close(what, y, want, n, 1e-5, atol);

                float *xg = dev_bwd(&d, C, H, W, gy);
                dsa_backward_ref(&d, C, H, W, want, gd);
                snprintf(what, sizeof what, "backward %s %dx%dx%dx%d draw %d", group_name(g), N, C, H, W, rep);
                tu_check_close(what, xg, want, n, 1e-5, atol);

                free(x); free(gy); free(xd); free(gd); free(want); free(y); free(xg);
                dsa_draw_free(&d);
            }
}
END_TEST

/* (b) <A x - A 0, y> == <x, A^T y> for the references (float64) and the device (float32). */
START_TEST(adjointness) {
    tu_init();
    uint64_t seed = 500;
    for (int s = 0; s < NSHAPES; s++)
        for (int g = -1; g < DSA_NGROUPS && !shape_skipped(s); g++)
            for (int rep = 0; rep < draw_reps(); rep++) {
                int N = shapes[s][0], C = shapes[s][1], H = shapes[s][2], W = shapes[s][3];
                size_t n = (size_t)N * C * H * W;
                DsaDraw d = {0};
                draw_group(g, N, H, W, seed++, &d);
                double *x = xmalloc(n * 8), *y = xmalloc(n * 8), *zero = xcalloc(n, 8);
                double *ax = xmalloc(n * 8), *a0 = xmalloc(n * 8), *aty = xmalloc(n * 8);
                tu_rand_d(x, n, seed++, -1, 1);
                tu_rand_d(y, n, seed++, -1, 1);
                dsa_forward_ref(&d, C, H, W, ax, x);
                dsa_forward_ref(&d, C, H, W, a0, zero);
                for (size_t i = 0; i < n; i++) ax[i] -= a0[i];
                dsa_backward_ref(&d, C, H, W, aty, y);
                double lhs = tu_dot_d(ax, y, n), rhs = tu_dot_d(x, aty, n);
                double scale = dot_abs(ax, y, n) + dot_abs(x, aty, n);
                ck_assert_msg(fabs(lhs - rhs) <= 1e-10 * scale, "reference adjointness %s %dx%dx%dx%d: %.17g vs %.17g",
                              group_name(g), N, C, H, W, lhs, rhs);

                float *xf = tu_to_float(x, n), *yf = tu_to_float(y, n), *zf = xcalloc(n, 4);
                float *axf = dev_fwd(&d, C, H, W, xf), *a0f = dev_fwd(&d, C, H, W, zf);
                float *atyf = dev_bwd(&d, C, H, W, yf);
                double *axd = xmalloc(n * 8), *atyd = tu_to_double(atyf, n), *xfd = tu_to_double(xf, n),
                       *yfd = tu_to_double(yf, n);
                for (size_t i = 0; i < n; i++) axd[i] = (double)axf[i] - a0f[i];
                lhs = tu_dot_d(axd, yfd, n);
                rhs = tu_dot_d(xfd, atyd, n);
                scale = dot_abs(axd, yfd, n) + dot_abs(xfd, atyd, n);
                ck_assert_msg(fabs(lhs - rhs) <= 1e-4 * scale, "device adjointness %s %dx%dx%dx%d: %.9g vs %.9g",
                              group_name(g), N, C, H, W, lhs, rhs);

                free(x); free(y); free(zero); free(ax); free(a0); free(aty);
                free(xf); free(yf); free(zf); free(axf); free(a0f); free(atyf); free(axd); free(atyd); free(xfd); free(yfd);
                dsa_draw_free(&d);
            }
}
END_TEST

/* The reference VJP vs central differences of L(x) = <r, A x> (float64 forward). */
START_TEST(reference_finite_differences) {
    const int N = 2, C = 3, H = 6, W = 7;
    const size_t n = (size_t)N * C * H * W;
    uint64_t seed = 900;
    for (int g = -1; g < DSA_NGROUPS; g++) {
        DsaDraw d = {0};
        draw_group(g, N, H, W, seed++, &d);
        double *x = xmalloc(n * 8), *r = xmalloc(n * 8), *y = xmalloc(n * 8), *grad = xmalloc(n * 8),
               *fd = xmalloc(n * 8);
        tu_rand_d(x, n, seed++, -1, 1);
        tu_rand_d(r, n, seed++, -1, 1);
        dsa_backward_ref(&d, C, H, W, grad, r);
        const double h = 1e-6;
        for (size_t k = 0; k < n; k++) {
            double keep = x[k];
            x[k] = keep + h;
            dsa_forward_ref(&d, C, H, W, y, x);
            double lp = tu_dot_d(r, y, n);
            x[k] = keep - h;
            dsa_forward_ref(&d, C, H, W, y, x);
            double lm = tu_dot_d(r, y, n);
            x[k] = keep;
            fd[k] = (lp - lm) / (2 * h);
        }
        double e = tu_rel_err(grad, fd, n);
        ck_assert_msg(e < 1e-6, "finite differences %s: relative error %g", group_name(g), e);
        free(x); free(r); free(y); free(grad); free(fd);
        dsa_draw_free(&d);
    }
}
END_TEST

/* x(c, i, j) = 100 c + 10 i + j: every pixel names its own position. */
static float *coded_image(int N, int C, int H, int W) {
    float *x = xmalloc((size_t)N * C * H * W * sizeof(float));
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) x[((n * C + c) * H + i) * W + j] = 100.0f * c + 10.0f * i + j;
    return x;
}

/* Runs the device forward and the reference on x and checks both against `want`. */
static void check_both(const char *what, const DsaDraw *d, int C, int H, int W, const float *x, const double *want,
                       double atol) {
    size_t n = (size_t)d->N * C * H * W;
    float *y = dev_fwd(d, C, H, W, x);
    double *xd = tu_to_double(x, n), *yr = xmalloc(n * 8);
    dsa_forward_ref(d, C, H, W, yr, xd);
    char buf[128];
    snprintf(buf, sizeof buf, "%s (device)", what);
    tu_check_close(buf, y, want, n, 0, atol);
    snprintf(buf, sizeof buf, "%s (reference)", what);
    tu_check_close_d(buf, yr, want, n, 0, atol * 1e-3);
    free(y); free(xd); free(yr);
}

/* (c) crop, flip, cutout and the affine maps on coded images. */
START_TEST(hand_checked_geometry) {
    tu_init();
    const int N = 2, C = 2, H = 5, W = 6;
    const size_t n = (size_t)N * C * H * W;
    float *x = coded_image(N, C, H, W);
    double *want = xmalloc(n * 8);
    DsaDraw d = {0};

    /* crop tx = 1, ty = -2: y(c,i,j) = x(c,i+1,j-2), so valid pixels gain 10 - 2 = 8;
     * the last row and the first two columns are zero fill */
    draw_fixed(DSA_CROP, N, (float[4]){1, -2, 0, 0}, &d);
    for (size_t k = 0; k < n; k++) {
        int j = (int)(k % W), i = (int)(k / W % H);
        want[k] = (i == H - 1 || j < 2) ? 0.0 : x[k] + 8.0;
    }
    check_both("crop (1,-2)", &d, C, H, W, x, want, 0);

    /* flip: column j shows column W-1-j */
    draw_fixed(DSA_FLIP, N, (float[4]){1, 0, 0, 0}, &d);
    for (size_t k = 0; k < n; k++) {
        int j = (int)(k % W);
        want[k] = x[k] - j + (W - 1 - j);
    }
    check_both("flip", &d, C, H, W, x, want, 0);
    draw_fixed(DSA_FLIP, N, (float[4]){0, 0, 0, 0}, &d);
    for (size_t k = 0; k < n; k++) want[k] = x[k];
    check_both("no flip", &d, C, H, W, x, want, 0);

    /* cutout rows 1..3, columns 2..4 */
    draw_fixed(DSA_CUTOUT, N, (float[4]){1, 3, 2, 4}, &d);
    for (size_t k = 0; k < n; k++) {
        int j = (int)(k % W), i = (int)(k / W % H);
        want[k] = (i >= 1 && i <= 3 && j >= 2 && j <= 4) ? 0.0 : x[k];
    }
    check_both("cutout", &d, C, H, W, x, want, 0);

    /* identity matrix for scale and rotate (angle 0) */
    for (size_t k = 0; k < n; k++) want[k] = x[k];
    draw_fixed(DSA_SCALE, N, (float[4]){1, 0, 0, 1}, &d);
    check_both("scale by 1", &d, C, H, W, x, want, 1e-3);
    draw_fixed(DSA_ROTATE, N, (float[4]){1, -0.0f, 0, 1}, &d);
    check_both("rotate by 0", &d, C, H, W, x, want, 1e-3);

    /* sx = 2 on W = 5: source columns -2, 0, 2, 4, 6, so columns 0 and 4 fall outside */
    const int W5 = 5;
    float *x5 = coded_image(N, C, H, W5);
    double *want5 = xmalloc((size_t)N * C * H * W5 * 8);
    draw_fixed(DSA_SCALE, N, (float[4]){2, 0, 0, 1}, &d);
    for (size_t k = 0; k < (size_t)N * C * H * W5; k++) {
        int j = (int)(k % W5);
        want5[k] = (j == 0 || j == 4) ? 0.0 : x5[k] - j + (2 * j - 2);
    }
    check_both("scale sx=2", &d, C, H, W5, x5, want5, 1e-3);

    /* a quarter turn on a square image: y(c,i,j) = x(c, j, W-1-i) */
    const int S = 6;
    float *xs = coded_image(N, C, S, S);
    double *wants = xmalloc((size_t)N * C * S * S * 8);
    draw_fixed(DSA_ROTATE, N, (float[4]){0, -1, 1, 0}, &d);
    for (size_t k = 0; k < (size_t)N * C * S * S; k++) {
        int j = (int)(k % S), i = (int)(k / S % S);
        wants[k] = (xs[k] - 10 * i - j) + 10 * j + (S - 1 - i);
    }
    check_both("rotate 90", &d, C, S, S, xs, wants, 1e-3);

    free(x); free(want); free(x5); free(want5); free(xs); free(wants);
    dsa_draw_free(&d);
}
END_TEST

/* Per-sample mean of a float image. */
static double sample_mean(const float *x, size_t len) {
    double s = 0;
    for (size_t i = 0; i < len; i++) s += x[i];
    return s / (double)len;
}

/* (c) brightness, saturation and contrast one at a time. */
START_TEST(hand_checked_color) {
    tu_init();
    const int N = 2, C = 3, H = 4, W = 5;
    const size_t n = (size_t)N * C * H * W, img = (size_t)C * H * W, hw = (size_t)H * W;
    float *x = xmalloc(n * 4);
    tu_rand(x, n, 77, -1, 1);
    double *want = xmalloc(n * 8);
    DsaDraw d = {0};

    /* brightness alone (saturation 1, contrast 1) adds the shift */
    draw_fixed(DSA_COLOR, N, (float[4]){0.3f, 1, 1, 0}, &d);
    for (size_t k = 0; k < n; k++) want[k] = (double)x[k] + (double)0.3f;
    check_both("brightness", &d, C, H, W, x, want, 1e-5);

    /* saturation 0 turns each pixel grey: every channel equals the channel mean */
    draw_fixed(DSA_COLOR, N, (float[4]){0, 0, 1, 0}, &d);
    for (size_t k = 0; k < n; k++) {
        size_t s0 = k / img * img, p = k % hw;
        want[k] = ((double)x[s0 + p] + x[s0 + hw + p] + x[s0 + 2 * hw + p]) / 3.0;
    }
    check_both("saturation 0", &d, C, H, W, x, want, 1e-5);

    /* with one channel saturation is the identity */
    float *x1 = xmalloc((size_t)N * H * W * 4);
    tu_rand(x1, (size_t)N * H * W, 78, -1, 1);
    draw_fixed(DSA_COLOR, N, (float[4]){0, 1.7f, 1, 0}, &d);
    for (size_t k = 0; k < (size_t)N * H * W; k++) want[k] = x1[k];
    check_both("saturation C=1", &d, 1, H, W, x1, want, 1e-5);

    /* contrast keeps each sample's mean and scales the deviations */
    draw_fixed(DSA_COLOR, N, (float[4]){0, 1, 0.7f, 0}, &d);
    for (int s = 0; s < N; s++) {
        double m = sample_mean(x + s * img, img);
        for (size_t k = 0; k < img; k++) want[s * img + k] = m + (double)0.7f * (x[s * img + k] - m);
    }
    check_both("contrast", &d, C, H, W, x, want, 1e-5);
    float *y = dev_fwd(&d, C, H, W, x);
    for (int s = 0; s < N; s++)
        ck_assert_double_eq_tol(sample_mean(y + s * img, img), sample_mean(x + s * img, img), 1e-6);

    free(x); free(x1); free(want); free(y);
    dsa_draw_free(&d);
}
END_TEST

/* (d) the default strategy draws every group, and every parameter stays in its documented range (docs/algorithm.md#dsa-augmentation-and-its-adjoint). */
START_TEST(draw_statistics) {
    DsaStrategy st;
    dsa_strategy_parse("color_crop_cutout_flip_scale_rotate", &st);
    Rng r;
    rng_init(&r, 4242, 1);
    const int N = 8, H = 32, W = 28, draws = 6000;
    int count[DSA_NGROUPS] = {0}, ox_seen[33] = {0}, oy_seen[29] = {0}, flips = 0, flip_samples = 0;
    int tx_seen[9] = {0}, ty_seen[9] = {0};
    double ang_min = 1, ang_max = -1, sc_min = 10, sc_max = 0;
    DsaDraw d = {0};
    for (int k = 0; k < draws; k++) {
        dsa_draw(&st, &r, N, H, W, &d);
        ck_assert_int_ge(d.group, 0);
        ck_assert_int_lt(d.group, DSA_NGROUPS);
        ck_assert_int_eq(d.N, N);
        count[d.group]++;
        for (int n = 0; n < N; n++) {
            const float *q = d.p + n * DSA_NPARAM;
            switch (d.group) {
            case DSA_COLOR:
                ck_assert(q[0] >= -0.5f && q[0] < 0.5f);
                ck_assert(q[1] >= 0.0f && q[1] < 2.0f);
                ck_assert(q[2] >= 0.5f && q[2] < 1.5f);
                break;
            case DSA_CROP:
                /* sh = floor(32 * 0.125 + 0.5) = 4, sw = floor(28 * 0.125 + 0.5) = 4 */
                ck_assert(q[0] == floorf(q[0]) && fabsf(q[0]) <= 4);
                ck_assert(q[1] == floorf(q[1]) && fabsf(q[1]) <= 4);
                tx_seen[(int)q[0] + 4]++;
                ty_seen[(int)q[1] + 4]++;
                break;
            case DSA_CUTOUT: {
                /* ch = 16: rows max(0, ox-8) .. min(31, ox+7), ox in 0..32;
                 * cw = 14: columns max(0, oy-7) .. min(27, oy+6), oy in 0..28 */
                int r0 = (int)q[0], r1 = (int)q[1], c0 = (int)q[2], c1 = (int)q[3];
                int ox = r0 > 0 ? r0 + 8 : r1 - 7, oy = c0 > 0 ? c0 + 7 : c1 - 6;
                ck_assert_msg(ox >= 0 && ox <= 32 && r0 == (ox - 8 > 0 ? ox - 8 : 0) && r1 == (ox + 7 < 31 ? ox + 7 : 31),
                              "cutout rows %d..%d", r0, r1);
                ck_assert_msg(oy >= 0 && oy <= 28 && c0 == (oy - 7 > 0 ? oy - 7 : 0) && c1 == (oy + 6 < 27 ? oy + 6 : 27),
                              "cutout columns %d..%d", c0, c1);
                ox_seen[ox]++;
                oy_seen[oy]++;
                break;
            }
            case DSA_FLIP:
                ck_assert(q[0] == 0.0f || q[0] == 1.0f);
                flips += q[0] == 1.0f;
                flip_samples++;
                break;
            case DSA_SCALE:
                ck_assert(q[1] == 0.0f && q[2] == 0.0f);
                for (int a = 0; a < 4; a += 3) {
                    ck_assert_msg((double)q[a] >= 1 / 1.2 && (double)q[a] < 1.2, "scale %.9g", q[a]);
                    if (q[a] < sc_min) sc_min = q[a];
                    if (q[a] > sc_max) sc_max = q[a];
                }
                break;
            case DSA_ROTATE: {
                ck_assert(q[0] == q[3] && q[1] == -q[2]);
                ck_assert_double_eq_tol((double)q[0] * q[0] + (double)q[2] * q[2], 1.0, 1e-6);
                double ang = atan2(q[2], q[0]) * 180 / M_PI;
                ck_assert_msg(ang >= -15 - 1e-5 && ang <= 15 + 1e-5, "angle %g", ang);
                if (ang < ang_min) ang_min = ang;
                if (ang > ang_max) ang_max = ang;
                break;
            }
            }
        }
    }
    /* Each group's count is Binomial(6000, 1/6): mean 1000, sd 29. */
    for (int g = 0; g < DSA_NGROUPS; g++) ck_assert_msg(count[g] > 850 && count[g] < 1150, "group %d drawn %d times", g, count[g]);
    for (int v = 0; v < 9; v++) ck_assert_msg(tx_seen[v] > 0 && ty_seen[v] > 0, "crop shift %d never drawn", v - 4);
    for (int v = 0; v <= 32; v++) ck_assert_msg(ox_seen[v] > 0, "cutout centre row %d never drawn", v);
    for (int v = 0; v <= 28; v++) ck_assert_msg(oy_seen[v] > 0, "cutout centre column %d never drawn", v);
    ck_assert_msg(fabs((double)flips / flip_samples - 0.5) < 0.03, "flip rate %g", (double)flips / flip_samples);
    ck_assert_msg(sc_min < 0.84 && sc_max > 1.19, "scale range %g..%g", sc_min, sc_max);
    ck_assert_msg(ang_min < -14.5 && ang_max > 14.5, "angle range %g..%g", ang_min, ang_max);

    /* Same seed, same draw; a copy replays it. */
    Rng r1, r2;
    rng_init(&r1, 5, 5);
    rng_init(&r2, 5, 5);
    DsaDraw a = {0}, b = {0}, c = {0};
    for (int k = 0; k < 20; k++) {
        dsa_draw(&st, &r1, N, H, W, &a);
        dsa_draw(&st, &r2, N, H, W, &b);
        dsa_draw_copy(&c, &a);
        ck_assert_int_eq(a.group, b.group);
        ck_assert_int_eq(c.group, a.group);
        ck_assert_int_eq(c.N, a.N);
        ck_assert(!memcmp(a.p, b.p, N * DSA_NPARAM * sizeof(float)));
        ck_assert(!memcmp(c.p, a.p, N * DSA_NPARAM * sizeof(float)));
    }
    /* The empty strategy is the identity. */
    DsaStrategy none;
    dsa_strategy_parse("none", &none);
    dsa_draw(&none, &r1, N, H, W, &a);
    ck_assert_int_eq(a.group, -1);
    dsa_draw_free(&a); dsa_draw_free(&b); dsa_draw_free(&c); dsa_draw_free(&d);
    ck_assert_ptr_null(a.p);
}
END_TEST

/* (e) valid strategy strings. */
START_TEST(strategy_parse_valid) {
    DsaStrategy st;
    dsa_strategy_parse("color_crop_cutout_flip_scale_rotate", &st);
    ck_assert_int_eq(st.ngroups, 6);
    for (int g = 0; g < 6; g++) ck_assert_int_eq(st.groups[g], g);
    const char *empty[] = {"none", "None", ""};
    for (int k = 0; k < 3; k++) {
        dsa_strategy_parse(empty[k], &st);
        ck_assert_int_eq(st.ngroups, 0);
    }
    dsa_strategy_parse("flip_crop", &st);
    ck_assert_int_eq(st.ngroups, 2);
    ck_assert_int_eq(st.groups[0], DSA_FLIP);
    ck_assert_int_eq(st.groups[1], DSA_CROP);
    dsa_strategy_parse("rotate", &st);
    ck_assert_int_eq(st.ngroups, 1);
    ck_assert_int_eq(st.groups[0], DSA_ROTATE);
}
END_TEST

/* For tu_in_child: parses the strategy text. */
static void parse_strategy(void *text) {
    DsaStrategy st;
    dsa_strategy_parse(text, &st);
}

/* (e) unknown names are fatal and named; this runs before any OpenCL set-up so the
 * child holds no device state. */
START_TEST(strategy_parse_invalid) {
    char msg[512];
    const char *bad[][2] = {{"bogus", "unknown augmentation 'bogus'"},
                            {"noise", "unknown augmentation 'noise'"},
                            {"color_bogus_flip", "unknown augmentation 'bogus'"},
                            {"color__crop", "empty augmentation name"},
                            {"NONE", "unknown augmentation 'NONE'"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int rc = tu_in_child(parse_strategy, (void *)bad[k][0], msg, sizeof msg);
        ck_assert_msg(rc != 0, "'%s' was accepted", bad[k][0]);
        ck_assert_msg(strstr(msg, bad[k][1]) != NULL, "'%s': message '%s'", bad[k][0], msg);
    }
    ck_assert_int_eq(tu_in_child(parse_strategy, "color_flip", msg, sizeof msg), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dsa");
    TCase *host = tcase_create("host");
    tcase_set_timeout(host, 900);
    tcase_add_test(host, strategy_parse_invalid);
    tcase_add_test(host, strategy_parse_valid);
    tcase_add_test(host, draw_statistics);
    tcase_add_test(host, reference_finite_differences);
    suite_add_tcase(s, host);
    TCase *dev = tcase_create("device");
    tcase_set_timeout(dev, 900);
    tcase_add_test(dev, hand_checked_geometry);
    tcase_add_test(dev, hand_checked_color);
    tcase_add_test(dev, device_vs_reference);
    tcase_add_test(dev, adjointness);
    suite_add_tcase(s, dev);
    return tu_run(s);
}
