/* ZCA whitening (host/zca.c): the fitted matrices against identities checked in float64
 * here (no eigensolver in the test), the whitened covariance, the device and host
 * products against a float64 reference, the inverse, and the cache file (reuse, refusal
 * when the data changed, damaged files). */
#include "io/safetensors.h"
#include "testutil.h"
#include "data/zca.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- data ---- */

/* n images of c x h x w with correlated pixels: x = base + scale * (A z / sqrt(K) + noise * u),
 * z and u uniform in [-1, 1), A fixed [D][K] (K = 6 latent factors). With clamp, values are
 * clipped to [0, 1] like real pixels. */
static void make_images(ImageSet *s, int n, int c, int h, int w, uint64_t seed, double base, double scale,
                        double noise, int clamp) {
    enum { K = 6 };
    int d = c * h * w;
    memset(s, 0, sizeof *s);   /* callers' sets are uninitialized; imageset_free frees every pointer */
    s->n = n; s->c = c; s->h = h; s->w = w;
    s->images = xmalloc((size_t)n * d * sizeof(float));
    s->labels = xmalloc((size_t)n * sizeof(int32_t));
    double *A = xmalloc((size_t)d * K * sizeof(double));
    tu_rand_d(A, (size_t)d * K, 1000 + seed, -1, 1);   /* the same seed family gives the same A */
    double *z = xmalloc((size_t)n * K * sizeof(double)), *u = xmalloc((size_t)n * d * sizeof(double));
    tu_rand_d(z, (size_t)n * K, 2000 + seed, -1, 1);
    tu_rand_d(u, (size_t)n * d, 3000 + seed, -1, 1);
    for (int i = 0; i < n; i++) {
        s->labels[i] = i % 10;
        for (int j = 0; j < d; j++) {
            double v = 0;
            for (int k = 0; k < K; k++) v += A[(size_t)j * K + k] * z[(size_t)i * K + k];
            v = base + scale * (v / sqrt((double)K) + noise * u[(size_t)i * d + j]);
            if (clamp) v = v < 0 ? 0 : v > 1 ? 1 : v;
            s->images[(size_t)i * d + j] = (float)v;
        }
    }
    free(A); free(z); free(u);
}

static void copy_set(ImageSet *dst, const ImageSet *src) {
    size_t d = (size_t)src->c * src->h * src->w;
    *dst = *src;
    dst->images = xmalloc((size_t)src->n * d * sizeof(float));
    memcpy(dst->images, src->images, (size_t)src->n * d * sizeof(float));
    dst->labels = xmalloc((size_t)src->n * sizeof(int32_t));
    memcpy(dst->labels, src->labels, (size_t)src->n * sizeof(int32_t));
}

/* ---- float64 helpers of the test ---- */

/* Mean [d] and unbiased covariance [d][d] of x[n][d], plain loops. */
static void ref_stats(const float *x, int n, int d, double **mean_out, double **cov_out) {
    double *m = xcalloc((size_t)d, sizeof(double)), *c = xcalloc((size_t)d * d, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) m[j] += x[(size_t)i * d + j];
    for (int j = 0; j < d; j++) m[j] /= n;
    double *r = xmalloc((size_t)d * sizeof(double));
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) r[j] = x[(size_t)i * d + j] - m[j];
        for (int j = 0; j < d; j++)
            for (int k = 0; k < d; k++) c[(size_t)j * d + k] += r[j] * r[k];
    }
    for (size_t k = 0; k < (size_t)d * d; k++) c[k] /= (n - 1);
    free(r);
    *mean_out = m;
    *cov_out = c;
}

/* c = a b, all [d][d] double. */
static double *matmul(const double *a, const double *b, int d) {
    double *c = xcalloc((size_t)d * d, sizeof(double));
    for (int i = 0; i < d; i++)
        for (int k = 0; k < d; k++) {
            double v = a[(size_t)i * d + k];
            for (int j = 0; j < d; j++) c[(size_t)i * d + j] += v * b[(size_t)k * d + j];
        }
    return c;
}

/* max |a - (b + diag * I)| */
static double max_diff_diag(const double *a, const double *b, double diag, int d) {
    double worst = 0;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double want = (b ? b[(size_t)i * d + j] : 0) + (i == j ? diag : 0);
            double e = fabs(a[(size_t)i * d + j] - want);
            if (!(e <= worst)) worst = e;   /* NaN becomes the worst */
        }
    return worst;
}

/* 1 when the symmetric matrix passes a Cholesky factorization (positive definite). */
static int is_positive_definite(const double *a, int d) {
    double *l = xcalloc((size_t)d * d, sizeof(double));
    int ok = 1;
    for (int j = 0; j < d && ok; j++) {
        double s = a[(size_t)j * d + j];
        for (int k = 0; k < j; k++) s -= l[(size_t)j * d + k] * l[(size_t)j * d + k];
        if (!(s > 0)) { ok = 0; break; }
        l[(size_t)j * d + j] = sqrt(s);
        for (int i = j + 1; i < d; i++) {
            double t = a[(size_t)i * d + j];
            for (int k = 0; k < j; k++) t -= l[(size_t)i * d + k] * l[(size_t)j * d + k];
            l[(size_t)i * d + j] = t / l[(size_t)j * d + j];
        }
    }
    free(l);
    return ok;
}

/* Inverse of a [d][d] (well conditioned) by Gauss-Jordan with partial pivoting. */
static double *invert(const double *a, int d) {
    double *m = xmalloc((size_t)d * d * sizeof(double)), *inv = xcalloc((size_t)d * d, sizeof(double));
    memcpy(m, a, (size_t)d * d * sizeof(double));
    for (int i = 0; i < d; i++) inv[(size_t)i * d + i] = 1;
    for (int col = 0; col < d; col++) {
        int p = col;
        for (int r = col + 1; r < d; r++)
            if (fabs(m[(size_t)r * d + col]) > fabs(m[(size_t)p * d + col])) p = r;
        for (int j = 0; j < d; j++) {
            double t = m[(size_t)col * d + j]; m[(size_t)col * d + j] = m[(size_t)p * d + j]; m[(size_t)p * d + j] = t;
            t = inv[(size_t)col * d + j]; inv[(size_t)col * d + j] = inv[(size_t)p * d + j]; inv[(size_t)p * d + j] = t;
        }
        double piv = m[(size_t)col * d + col];
        ck_assert_msg(fabs(piv) > 1e-12, "singular matrix in the test's inverse");
        for (int j = 0; j < d; j++) { m[(size_t)col * d + j] /= piv; inv[(size_t)col * d + j] /= piv; }
        for (int r = 0; r < d; r++) {
            if (r == col) continue;
            double f = m[(size_t)r * d + col];
            if (f == 0) continue;
            for (int j = 0; j < d; j++) {
                m[(size_t)r * d + j] -= f * m[(size_t)col * d + j];
                inv[(size_t)r * d + j] -= f * inv[(size_t)col * d + j];
            }
        }
    }
    free(m);
    return inv;
}

static double *sigma_plus_eps(const double *cov, int d, double eps) {
    double *s = xmalloc((size_t)d * d * sizeof(double));
    memcpy(s, cov, (size_t)d * d * sizeof(double));
    for (int i = 0; i < d; i++) s[(size_t)i * d + i] += eps;
    return s;
}

static int exactly_symmetric(const float *a, int d) {
    for (int i = 0; i < d; i++)
        for (int j = 0; j < i; j++)
            if (a[(size_t)i * d + j] != a[(size_t)j * d + i]) return 0;
    return 1;
}

/* ---- tests ---- */

/* D = 3x8x8 = 192, N = 400, pixels in [0, 1]: mean against plain sums; T and T_inv
 * symmetric positive definite with T^2 (Sigma + eps I) = I, T T_inv = I and
 * T_inv^2 = Sigma + eps I. These determine T uniquely (the SPD inverse square root). */
START_TEST(fit_identities) {
    ImageSet s = {0};
    make_images(&s, 400, 3, 8, 8, 1, 0.45, 0.2, 0.3, 1);
    int d = 192;
    Zca z;
    zca_fit(&s, ZCA_EPS, &z);
    ck_assert_int_eq(z.d, d);
    ck_assert(z.eps == ZCA_EPS);
    ck_assert_int_eq(z.loaded, 0);
    double *mean, *cov;
    ref_stats(s.images, s.n, d, &mean, &cov);
    tu_check_close("mean", z.mean, mean, (size_t)d, 1e-6, 1e-7);
    ck_assert_msg(exactly_symmetric(z.T, d), "T is not symmetric");
    ck_assert_msg(exactly_symmetric(z.T_inv, d), "T_inv is not symmetric");
    double *T = tu_to_double(z.T, (size_t)d * d), *Ti = tu_to_double(z.T_inv, (size_t)d * d);
    ck_assert_msg(is_positive_definite(T, d), "T is not positive definite");
    ck_assert_msg(is_positive_definite(Ti, d), "T_inv is not positive definite");
    double *se = sigma_plus_eps(cov, d, ZCA_EPS);
    double *TT = matmul(T, T, d), *TTS = matmul(TT, se, d);
    double e1 = max_diff_diag(TTS, NULL, 1, d);
    ck_assert_msg(e1 < 1e-6, "max |T^2 (Sigma + eps I) - I| = %g", e1);
    double *TTi = matmul(T, Ti, d);
    double e2 = max_diff_diag(TTi, NULL, 1, d);
    ck_assert_msg(e2 < 1e-6, "max |T T_inv - I| = %g", e2);
    double *TiTi = matmul(Ti, Ti, d);
    double e3 = max_diff_diag(TiTi, cov, ZCA_EPS, d);
    ck_assert_msg(e3 < 1e-6, "max |T_inv^2 - (Sigma + eps I)| = %g", e3);
    /* The data does have directions of variance far above and far below eps. */
    double tr = 0;
    for (int i = 0; i < d; i++) tr += cov[(size_t)i * d + i];
    ck_assert_msg(tr > 10 * ZCA_EPS, "test data too flat: trace %g", tr);
    free(mean); free(cov); free(T); free(Ti); free(se); free(TT); free(TTS); free(TTi); free(TiTi);
    zca_free(&z);
    imageset_free(&s);
}
END_TEST

/* D = 3x4x4 = 48, N = 20000, every direction of variance >= ~9 (noise of std ~3): the
 * whitened set has mean 0 and unbiased covariance T Sigma T = I - eps (Sigma + eps I)^-1,
 * within 2e-2 of the identity; checked for zca_apply and for the device product. */
START_TEST(whitened_covariance) {
    tu_init();
    ImageSet s = {0};
    make_images(&s, 20000, 3, 4, 4, 2, 0.5, 10, 0.55, 0);
    int d = 48;
    double *mean0, *cov0;
    ref_stats(s.images, s.n, d, &mean0, &cov0);
    double *se = sigma_plus_eps(cov0, d, ZCA_EPS), *sei = invert(se, d);
    double *want = xmalloc((size_t)d * d * sizeof(double));
    for (size_t k = 0; k < (size_t)d * d; k++) want[k] = -ZCA_EPS * sei[k];
    double min_var = 1e30;
    for (int i = 0; i < d; i++) if (cov0[(size_t)i * d + i] < min_var) min_var = cov0[(size_t)i * d + i];
    ck_assert_msg(min_var > 5, "test data variance too small: %g", min_var);
    Zca z;
    zca_fit(&s, ZCA_EPS, &z);
    for (int path = 0; path < 2; path++) {
        ImageSet w = {0};
        copy_set(&w, &s);
        if (path == 0)
            zca_apply(&z, &w);
        else
            zca_transform_device(z.T, z.mean, -1.0f, w.images, w.images, (size_t)w.n, d, 4096);
        double *m, *c;
        ref_stats(w.images, w.n, d, &m, &c);
        double em = 0;
        for (int j = 0; j < d; j++) em = fmax(em, fabs(m[j]));
        ck_assert_msg(em < 1e-5, "path %d: whitened mean up to %g", path, em);
        double eid = max_diff_diag(c, NULL, 1, d);
        ck_assert_msg(eid < 2e-2, "path %d: max |cov(Z) - I| = %g", path, eid);
        double ex = max_diff_diag(c, want, 1, d);
        ck_assert_msg(ex < 1e-5, "path %d: max |cov(Z) - (I - eps (Sigma + eps I)^-1)| = %g", path, ex);
        free(m); free(c);
        imageset_free(&w);
    }
    free(mean0); free(cov0); free(se); free(sei); free(want);
    zca_free(&z);
    imageset_free(&s);
}
END_TEST

/* zca_transform_ref against a per-image formula written here (z = T (x - mu), rows of T);
 * then the device (chunks of 64 rows, 300 = 4 x 64 + 44) and host products against it,
 * outputs filled with NaN first so an unwritten element fails; forward and inverse shift. */
START_TEST(device_and_host_products) {
    tu_init();
    ImageSet s = {0};
    make_images(&s, 300, 3, 8, 8, 3, 0.45, 0.2, 0.3, 1);
    int d = 192;
    size_t n = (size_t)s.n, nd = n * d;
    Zca z;
    zca_fit(&s, ZCA_EPS, &z);
    double *ref = xmalloc(nd * sizeof(double)), *mine = xmalloc(nd * sizeof(double));
    zca_transform_ref(z.T, z.mean, -1.0, s.images, ref, n, d);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < d; k++) {
            double v = 0;
            for (int j = 0; j < d; j++) v += (double)z.T[(size_t)k * d + j] * ((double)s.images[i * d + j] - z.mean[j]);
            mine[i * d + k] = v;
        }
    tu_check_close_d("reference vs per-image formula", ref, mine, nd, 1e-12, 1e-12);
    float *out = xmalloc(nd * sizeof(float));
    for (int path = 0; path < 2; path++)
        for (int shift_sign = -1; shift_sign <= 1; shift_sign += 2) {
            const float *M = shift_sign < 0 ? z.T : z.T_inv;
            zca_transform_ref(M, z.mean, shift_sign, s.images, ref, n, d);
            for (size_t i = 0; i < nd; i++) out[i] = NAN;
            if (path == 0)
                zca_transform_device(M, z.mean, (float)shift_sign, s.images, out, n, d, 64);
            else
                zca_transform_host(M, z.mean, (float)shift_sign, s.images, out, n, d, 64);
            char what[96];
            snprintf(what, sizeof what, "%s product, shift sign %d", path ? "host" : "device", shift_sign);
            tu_check_close(what, out, ref, nd, 1e-4, 2e-5);
        }
    /* In place (out == x), one chunk for all rows. */
    zca_transform_ref(z.T, z.mean, -1.0, s.images, ref, n, d);
    ImageSet w = {0};
    copy_set(&w, &s);
    zca_transform_device(z.T, z.mean, -1.0f, w.images, w.images, n, d, 0);
    tu_check_close("device product in place", w.images, ref, nd, 1e-4, 2e-5);
    imageset_free(&w);
    copy_set(&w, &s);
    zca_apply(&z, &w);
    tu_check_close("zca_apply", w.images, ref, nd, 1e-4, 2e-5);
    imageset_free(&w);
    free(ref); free(mine); free(out);
    zca_free(&z);
    imageset_free(&s);
}
END_TEST

/* inverse(apply(x)) = x (docs/algorithm.md#applying-and-inverting: x = T_inv (z + T mu)), through zca_inverse and
 * through the device product with the shift T mu computed here. */
START_TEST(inverse_round_trip) {
    tu_init();
    ImageSet s, w;
    make_images(&s, 60, 3, 8, 8, 4, 0.45, 0.2, 0.3, 1);
    int d = 192;
    size_t nd = (size_t)s.n * d;
    Zca z;
    zca_fit(&s, ZCA_EPS, &z);
    copy_set(&w, &s);
    zca_apply(&z, &w);
    double *want = tu_to_double(s.images, nd);
    float *back = xmalloc(nd * sizeof(float));
    for (size_t i = 0; i < nd; i++) back[i] = NAN;
    zca_inverse(&z, w.images, back, w.n);
    tu_check_close("zca_inverse(zca_apply(x))", back, want, nd, 0, 1e-5);
    float *tmu = xmalloc((size_t)d * sizeof(float));
    for (int k = 0; k < d; k++) {
        double v = 0;
        for (int j = 0; j < d; j++) v += (double)z.T[(size_t)k * d + j] * z.mean[j];
        tmu[k] = (float)v;
    }
    for (size_t i = 0; i < nd; i++) back[i] = NAN;
    zca_transform_device(z.T_inv, tmu, 1.0f, w.images, back, (size_t)w.n, d, 7);
    tu_check_close("device inverse product", back, want, nd, 0, 1e-5);
    /* In place as well. */
    zca_inverse(&z, w.images, w.images, w.n);
    tu_check_close("zca_inverse in place", w.images, want, nd, 0, 1e-5);
    free(want); free(back); free(tmu);
    zca_free(&z);
    imageset_free(&s);
    imageset_free(&w);
}
END_TEST

/* ---- the cache ---- */

/* Temporary folders of the cache tests, removed at the end when every test passed. */
static char *g_dirs[4];
static int g_ndirs;
static char *cache_tempdir(const char *tag) {
    char *d = tu_tempdir(tag);
    if (g_ndirs < 4) g_dirs[g_ndirs++] = xstrdup(d);
    return d;
}

static void make_dataset(Dataset *data, uint64_t seed) {
    memset(data, 0, sizeof *data);
    data->info = dataset_find("CIFAR10");
    make_images(&data->train, 200, 3, 8, 8, seed, 0.45, 0.2, 0.3, 1);
    make_images(&data->test, 30, 3, 8, 8, seed + 50, 0.45, 0.2, 0.3, 1);
}

static void copy_dataset(Dataset *dst, const Dataset *src) {
    memset(dst, 0, sizeof *dst);
    dst->info = src->info;
    copy_set(&dst->train, &src->train);
    copy_set(&dst->test, &src->test);
}

static void copy_file(const char *from, const char *to) {
    size_t len;
    unsigned char *b = read_file(from, &len);
    ck_assert_msg(b != NULL, "cannot read %s", from);
    write_file_atomic(to, b, len);
    free(b);
}

/* Fit + write, then reuse without refitting (same matrices, same whitened data); no
 * write without write_cache; the cache folder of --zca runs. */
START_TEST(cache_reuse) {
    tu_init();
    char *dir = cache_tempdir("zca-cache");
    char sub[512], path[600];
    snprintf(sub, sizeof sub, "%s/buffers/CIFAR10", dir);
    snprintf(path, sizeof path, "%s/%s", sub, ZCA_FILE);
    Dataset raw, a, b;
    make_dataset(&raw, 5);
    copy_dataset(&a, &raw);
    copy_dataset(&b, &raw);
    Zca za, zb;
    zca_prepare(sub, 1, &a, &za);   /* makes the folder */
    ck_assert_int_eq(za.loaded, 0);
    ck_assert_msg(file_exists(path), "%s was not written", path);
    zca_prepare(sub, 1, &b, &zb);
    ck_assert_msg(zb.loaded == 1, "the cached transform was not reused (refitted)");
    ck_assert_int_eq(zb.d, za.d);
    size_t dd = (size_t)za.d * za.d;
    ck_assert(memcmp(za.mean, zb.mean, (size_t)za.d * sizeof(float)) == 0);
    ck_assert(memcmp(za.T, zb.T, dd * sizeof(float)) == 0);
    ck_assert(memcmp(za.T_inv, zb.T_inv, dd * sizeof(float)) == 0);
    size_t ntr = (size_t)a.train.n * za.d, nte = (size_t)a.test.n * za.d;
    ck_assert(memcmp(a.train.images, b.train.images, ntr * sizeof(float)) == 0);
    ck_assert(memcmp(a.test.images, b.test.images, nte * sizeof(float)) == 0);
    /* The test split was whitened with the same transform as the training split. */
    double *want = xmalloc(nte * sizeof(double));
    zca_transform_ref(za.T, za.mean, -1.0, raw.test.images, want, (size_t)raw.test.n, za.d);
    tu_check_close("whitened test split", a.test.images, want, nte, 1e-4, 2e-5);
    free(want);
    /* The metadata says what the transform was fitted on. */
    StFile f;
    st_open_or_die(path, &f);
    ck_assert_str_eq(st_meta(&f, "format"), ZCA_FORMAT);
    ck_assert_str_eq(st_meta(&f, "dataset"), "CIFAR10");
    ck_assert_str_eq(st_meta(&f, "channel"), "3");
    ck_assert_str_eq(st_meta(&f, "height"), "8");
    ck_assert_str_eq(st_meta(&f, "width"), "8");
    ck_assert_str_eq(st_meta(&f, "num_train"), "200");
    ck_assert_str_eq(st_meta(&f, "num_test"), "30");
    ck_assert(atof(st_meta(&f, "eps")) == ZCA_EPS);
    ck_assert(st_find(&f, "T")->shape[0] == 192 && st_find(&f, "T")->shape[1] == 192);
    st_close(&f);
    /* write_cache = 0: fitted, nothing written. */
    char sub2[512], path2[600];
    snprintf(sub2, sizeof sub2, "%s/other", dir);
    snprintf(path2, sizeof path2, "%s/%s", sub2, ZCA_FILE);
    Dataset c;
    copy_dataset(&c, &raw);
    zca_prepare(sub2, 0, &c, NULL);
    ck_assert_msg(!file_exists(path2), "%s was written without write_cache", path2);
    ck_assert(memcmp(c.train.images, a.train.images, ntr * sizeof(float)) == 0);
    /* The cache folder: the --zca expert folder without the model. */
    char cd[512];
    zca_cache_dir(cd, sizeof cd, "/b", dataset_find("CIFAR10"), "imagenette", 128);
    ck_assert_str_eq(cd, "/b/CIFAR10");
    zca_cache_dir(cd, sizeof cd, "/b/", dataset_find("MNIST"), "imagenette", 128);
    ck_assert_msg(!tu_has(cd, "NO_ZCA") && tu_has(cd, "MNIST"), "cache folder %s", cd);
    zca_free(&za); zca_free(&zb);
    dataset_free(&raw); dataset_free(&a); dataset_free(&b); dataset_free(&c);
    free(dir);
}
END_TEST

/* Refusals: other training pixels, another test count, another dataset name; damaged,
 * truncated and foreign files. Each message names the file. */
START_TEST(cache_refusals) {
    tu_init();
    char *dir = cache_tempdir("zca-refuse");
    char path[600], bad[600], err[2048];
    snprintf(path, sizeof path, "%s/%s", dir, ZCA_FILE);
    Dataset raw;
    make_dataset(&raw, 6);
    ZcaKey key;
    zca_key_of(&raw, ZCA_EPS, &key);
    Zca z, got;
    ck_assert_int_eq(zca_load(path, &key, &got, err, sizeof err), 1);   /* absent */
    zca_fit(&raw.train, ZCA_EPS, &z);
    zca_save(path, &z, &key);
    ck_assert_msg(zca_load(path, &key, &got, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(got.loaded, 1);
    zca_free(&got);
    /* One training pixel changed by one level. */
    Dataset other;
    copy_dataset(&other, &raw);
    other.train.images[1234] += 1.0f / 255;
    ZcaKey k2;
    zca_key_of(&other, ZCA_EPS, &k2);
    ck_assert(k2.train_crc32 != key.train_crc32);
    ck_assert_int_eq(zca_load(path, &k2, &got, err, sizeof err), -1);
    ck_assert_msg(tu_has(err, path) && tu_has(err, "was fitted on different training data") && tu_has(err, "train_crc32") &&
                  tu_has(err, "delete it or point --buffer_path elsewhere"), "message: %s", err);
    /* Another test count, another dataset. */
    k2 = key;
    k2.num_test = 31;
    ck_assert_int_eq(zca_load(path, &k2, &got, err, sizeof err), -1);
    ck_assert_msg(tu_has(err, path) && tu_has(err, "num_test"), "message: %s", err);
    k2 = key;
    snprintf(k2.dataset, sizeof k2.dataset, "CIFAR100");
    ck_assert_int_eq(zca_load(path, &k2, &got, err, sizeof err), -1);
    ck_assert_msg(tu_has(err, path) && tu_has(err, "dataset"), "message: %s", err);
    /* One byte of T flipped: the data checksum catches it. */
    size_t len;
    unsigned char *bytes = read_file(path, &len);
    snprintf(bad, sizeof bad, "%s/flipped.safetensors", dir);
    bytes[len - 4 * 192 * 192 - 100] ^= 0x40;   /* inside T (T_inv is the last tensor) */
    write_file_atomic(bad, bytes, len);
    ck_assert_int_eq(zca_load(bad, &key, &got, err, sizeof err), -1);
    ck_assert_msg(tu_has(err, bad) && tu_has(err, "damaged"), "message: %s", err);
    /* Truncated. */
    snprintf(bad, sizeof bad, "%s/truncated.safetensors", dir);
    write_file_atomic(bad, bytes, len / 2);
    ck_assert_int_eq(zca_load(bad, &key, &got, err, sizeof err), -1);
    ck_assert_msg(tu_has(err, bad) && tu_has(err, "unreadable"), "message: %s", err);
    /* Garbage. */
    snprintf(bad, sizeof bad, "%s/garbage.safetensors", dir);
    write_file_atomic(bad, "not a safetensors file at all", 29);
    ck_assert_int_eq(zca_load(bad, &key, &got, err, sizeof err), -1);
    ck_assert_msg(tu_has(err, bad), "message: %s", err);
    /* A safetensors file of another kind. */
    snprintf(bad, sizeof bad, "%s/foreign.safetensors", dir);
    StWriter *w = st_writer_new();
    float one = 1;
    st_writer_add(w, "x", DT_F32, 1, (int64_t[]){1}, &one);
    st_writer_meta(w, "format", "mtt-synset/1");
    st_writer_save(w, bad);
    st_writer_free(w);
    ck_assert_int_eq(zca_load(bad, &key, &got, err, sizeof err), -1);
    ck_assert_msg(tu_has(err, bad) && tu_has(err, ZCA_FORMAT), "message: %s", err);
    /* The original file is still good. */
    copy_file(path, bad);
    ck_assert_msg(zca_load(bad, &key, &got, err, sizeof err) == 0, "%s", err);
    zca_free(&got);
    free(bytes);
    zca_free(&z);
    dataset_free(&raw);
    dataset_free(&other);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("zca");
    TCase *tc = tcase_create("zca");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fit_identities);
    tcase_add_test(tc, whitened_covariance);
    tcase_add_test(tc, device_and_host_products);
    tcase_add_test(tc, inverse_round_trip);
    tcase_add_test(tc, cache_reuse);
    tcase_add_test(tc, cache_refusals);
    suite_add_tcase(s, tc);
    int rc = tu_run(s);
    for (int i = 0; i < g_ndirs; i++) {
        if (rc == 0) tu_rm_tree(g_dirs[i]);
        free(g_dirs[i]);
    }
    return rc;
}
