#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tu_init(void) { rt_init(-1); }

void tu_rand(float *x, size_t n, uint64_t seed, float lo, float hi) {
    Rng r;
    rng_init(&r, seed, 99);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniformf(&r);
}

void tu_rand_d(double *x, size_t n, uint64_t seed, double lo, double hi) {
    Rng r;
    rng_init(&r, seed, 98);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(&r);
}

cl_mem tu_upload(const float *x, size_t n) {
    cl_mem m = dev_alloc(n * sizeof(float), "test input");
    dev_write_f32(m, 0, n, x);
    return m;
}

cl_mem tu_poisoned(size_t n) {
    cl_mem m = dev_alloc(n * sizeof(float), "test output");
    dev_fill(m, 0, n, NAN);
    return m;
}

float *tu_download(cl_mem m, size_t off, size_t n) {
    float *x = xmalloc(n * sizeof(float));
    dev_read_f32(m, off, n, x);
    return x;
}

double *tu_to_double(const float *x, size_t n) {
    double *d = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

float *tu_to_float(const double *x, size_t n) {
    float *f = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

static void check_close(const char *what, int is_f, const void *got, const double *want, size_t n, double rtol, double atol) {
    size_t worst = 0;
    double worst_excess = -1;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = is_f ? ((const float *)got)[i] : ((const double *)got)[i];
        double tol = atol + rtol * fabs(want[i]);
        double e = fabs(g - want[i]);
        if (!(e <= tol)) {
            bad++;
            double ex = isfinite(e) ? e / (tol > 0 ? tol : 1) : INFINITY;
            if (ex > worst_excess || worst_excess < 0) { worst_excess = ex; worst = i; }
        }
    }
    if (bad) {
        double g = is_f ? ((const float *)got)[worst] : ((const double *)got)[worst];
        ck_abort_msg("%s: %d of %zu elements off; worst [%zu]: got %.9g want %.9g (rtol %g atol %g)", what, bad, n,
                     worst, g, want[worst], rtol, atol);
    }
}

void tu_check_close(const char *what, const float *got, const double *want, size_t n, double rtol, double atol) {
    check_close(what, 1, got, want, n, rtol, atol);
}
void tu_check_close_d(const char *what, const double *got, const double *want, size_t n, double rtol, double atol) {
    check_close(what, 0, got, want, n, rtol, atol);
}

double tu_rel_err(const double *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i]; }
    return sqrt(num) / (den > 1e-300 ? sqrt(den) : 1e-150);
}

int tu_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

char *tu_tempdir(const char *tag) {
    char *p = xmalloc(256);
    snprintf(p, 256, "/tmp/clmtt-test-%s-XXXXXX", tag);
    if (!mkdtemp(p)) die("cannot make a temporary folder");
    return p;
}

double tu_dot_d(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

double *tu_new_rand_d(size_t n, uint64_t seed) {
    double *x = xmalloc(n * sizeof(double));
    tu_rand_d(x, n, seed, -1, 1);
    return x;
}

double *tu_along(const double *x, const double *v, double t, size_t n) {
    double *y = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) y[i] = x[i] + (v ? t * v[i] : 0.0);
    return y;
}
