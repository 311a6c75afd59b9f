/* ZCA whitening (docs/algorithm.md#zca-whitening): fit in float64 with OpenBLAS + LAPACK, apply with a float32
 * GEMM (device, or host BLAS on CPU devices), cache in a safetensors file. */
#include "data/zca.h"
#include "core/blas.h"
#include "io/safetensors.h"
#include "core/runtime.h"
#include "core/tensor.h"
#include "io/trajectory.h"
#include "core/util.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void zca_check_size(const char *dataset, int c, int h, int w) {
    double d = (double)c * h * w;
    if (d <= ZCA_MAX_D) return;
    die("--zca: %s images have D = C*H*W = %dx%dx%d = %.0f values; ZCA whitening needs two D x D float32 "
        "matrices (%.1f GB) and about %.1f GB of float64 work to fit them. clmtt supports --zca up to D = %d "
        "(Tiny ImageNet's 3x64x64 = 12288); run without --zca.",
        dataset ? dataset : "the", c, h, w, d, 2 * d * d * 4 / 1e9, 3 * d * d * 8 / 1e9, ZCA_MAX_D);
}

void zca_free(Zca *z) {
    free(z->mean);
    free(z->T);
    free(z->T_inv);
    memset(z, 0, sizeof *z);
}

/* ---- fitting (float64) ---- */

/* Rows per chunk of a pass over n rows of d values of elem_bytes each: `rows`, or when 0 as
 * many as stay near 64 MB (at least 16); never more than n. */
static size_t zca_chunk_rows(size_t n, int d, size_t elem_bytes, size_t rows) {
    if (rows == 0) {
        rows = ((size_t)64 << 20) / ((size_t)d * elem_bytes);
        if (rows < 16) rows = 16;
    }
    return rows < n ? rows : n;
}

/* mean[d] = column means of x[n][d], accumulated in double. */
static double *zca_fit_mean(const float *x, size_t n, int d) {
    double *m = xcalloc((size_t)d, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * d;
        for (int j = 0; j < d; j++) m[j] += r[j];
    }
    for (int j = 0; j < d; j++) m[j] /= (double)n;
    return m;
}

/* Upper triangle (row-major) of Sigma[d][d] = Xc^T Xc / (n - 1), Xc = x - mean: the rows
 * are centred into double chunks and accumulated with one dsyrk per chunk. */
static double *zca_fit_covariance(const float *x, size_t n, int d, const double *mean) {
    double *cov = xcalloc((size_t)d * d, sizeof(double));
    size_t rows = zca_chunk_rows(n, d, sizeof(double), 0);
    double *chunk = xmalloc(rows * d * sizeof(double));
    for (size_t i0 = 0; i0 < n; i0 += rows) {
        size_t r = n - i0 < rows ? n - i0 : rows;
        for (size_t i = 0; i < r; i++) {
            const float *src = x + (i0 + i) * d;
            double *dst = chunk + i * d;
            for (int j = 0; j < d; j++) dst[j] = (double)src[j] - mean[j];
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)r, 1.0, chunk, d, 1.0, cov, d);
    }
    free(chunk);
    double s = 1.0 / (double)(n - 1);
    for (size_t i = 0; i < (size_t)d; i++)
        for (size_t j = i; j < (size_t)d; j++) cov[i * d + j] *= s;
    return cov;
}

/* Symmetric U diag((S + eps)^power) U^T as float32 [d][d]. vecs holds eigenvector j at
 * vecs + j*d (LAPACK's column-major output); it is computed as W^T W with rows
 * W[j] = (S_j + eps)^(power/2) u_j, so the result is symmetric by construction. */
static float *zca_sym_power(const double *vecs, const double *evals, int d, double eps, double power) {
    double *w = xmalloc((size_t)d * d * sizeof(double));
    for (size_t j = 0; j < (size_t)d; j++) {
        double s = evals[j] > 0 ? evals[j] : 0;   /* rounding can leave tiny negative eigenvalues */
        double f = pow(s + eps, power / 2);
        for (size_t i = 0; i < (size_t)d; i++) w[j * d + i] = f * vecs[j * d + i];
    }
    double *r = xmalloc((size_t)d * d * sizeof(double));
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, d, 1.0, w, d, 0.0, r, d);
    free(w);
    float *out = xmalloc((size_t)d * d * sizeof(float));
    for (size_t i = 0; i < (size_t)d; i++)
        for (size_t j = i; j < (size_t)d; j++) out[i * d + j] = out[j * d + i] = (float)r[i * d + j];
    free(r);
    return out;
}

void zca_fit(const ImageSet *s, double eps, Zca *out) {
    memset(out, 0, sizeof *out);
    zca_check_size(NULL, s->c, s->h, s->w);
    int d = s->c * s->h * s->w;
    size_t n = (size_t)s->n;
    if (n < 2) die("--zca: fitting ZCA whitening needs at least 2 training images, got %zu", n);
    if (!(eps > 0)) die("internal: ZCA eps must be positive, got %g", eps);
    double *mean = zca_fit_mean(s->images, n, d);
    double *cov = zca_fit_covariance(s->images, n, d, mean);
    double *evals = xmalloc((size_t)d * sizeof(double));
    /* The row-major upper triangle is the column-major lower one. */
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', d, cov, d, evals);
    if (info != 0) die("--zca: the eigendecomposition of the %dx%d covariance failed (LAPACK dsyevd info %d)", d, d, (int)info);
    out->d = d;
    out->eps = eps;
    out->mean = xmalloc((size_t)d * sizeof(float));
    for (int j = 0; j < d; j++) out->mean[j] = (float)mean[j];
    out->T = zca_sym_power(cov, evals, d, eps, -0.5);
    out->T_inv = zca_sym_power(cov, evals, d, eps, 0.5);
    out->loaded = 0;
    free(evals);
    free(cov);
    free(mean);
}

/* ---- applying ---- */

void zca_transform_ref(const float *M, const float *shift, double alpha, const float *x, double *out, size_t n,
                       int d) {
    double *row = xmalloc((size_t)d * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) row[j] = (double)x[i * d + j] + alpha * shift[j];
        double *o = out + i * d;
        for (int k = 0; k < d; k++) o[k] = 0;
        for (int j = 0; j < d; j++) {
            const float *m = M + (size_t)j * d;
            double v = row[j];
            for (int k = 0; k < d; k++) o[k] += v * m[k];
        }
    }
    free(row);
}

void zca_transform_host(const float *M, const float *shift, float alpha, const float *x, float *out, size_t n,
                        int d, size_t rows) {
    if (n == 0) return;
    rows = zca_chunk_rows(n, d, sizeof(float), rows);
    float *tmp = xmalloc(rows * d * sizeof(float));
    for (size_t i0 = 0; i0 < n; i0 += rows) {
        size_t r = n - i0 < rows ? n - i0 : rows;
        for (size_t i = 0; i < r; i++)
            for (int j = 0; j < d; j++) tmp[i * d + j] = x[(i0 + i) * d + j] + alpha * shift[j];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, d, d, 1.0f, tmp, d, M, d, 0.0f,
                    out + i0 * d, d);
    }
    free(tmp);
}

void zca_transform_device(const float *M, const float *shift, float alpha, const float *x, float *out, size_t n,
                          int d, size_t rows) {
    if (n == 0) return;
    rows = zca_chunk_rows(n, d, sizeof(float), rows);
    if (rows > dev_max_items((size_t)d * sizeof(float))) rows = dev_max_items((size_t)d * sizeof(float));
    cl_mem dm = dev_alloc((size_t)d * d * sizeof(float), "ZCA matrix");
    cl_mem dv = dev_alloc((size_t)d * sizeof(float), "ZCA shift");
    cl_mem dx = dev_alloc(rows * d * sizeof(float), "ZCA input rows");
    cl_mem dz = dev_alloc(rows * d * sizeof(float), "ZCA output rows");
    dev_write_f32(dm, 0, (size_t)d * d, M);
    dev_write_f32(dv, 0, (size_t)d, shift);
    for (size_t i0 = 0; i0 < n; i0 += rows) {
        size_t r = n - i0 < rows ? n - i0 : rows;
        dev_write_f32(dx, 0, r * d, x + i0 * d);
        LAUNCH("zca_add_row", r * d, KM(dx), KL(r), KI(d), KM(dv), KF(alpha));
        gemm(0, 0, r, (size_t)d, (size_t)d, 1.0f, dptr(dx, 0), (size_t)d, dptr(dm, 0), (size_t)d, 0.0f, dptr(dz, 0),
             (size_t)d);
        dev_read_f32(dz, 0, r * d, out + i0 * d);
    }
    dev_free(dz);
    dev_free(dx);
    dev_free(dv);
    dev_free(dm);
}

/* The host BLAS on CPU devices: PoCL runs CLBlast's GEMM on the same cores several times
 * slower than OpenBLAS (see README). */
static int zca_use_host(void) { return (RT.dev.type & CL_DEVICE_TYPE_CPU) != 0; }

static void zca_transform(const float *M, const float *shift, float alpha, const float *x, float *out, size_t n,
                          int d) {
    if (zca_use_host())
        zca_transform_host(M, shift, alpha, x, out, n, d, 0);
    else
        zca_transform_device(M, shift, alpha, x, out, n, d, 0);
}

void zca_apply(const Zca *z, ImageSet *s) {
    if (s->c * s->h * s->w != z->d)
        die("internal: ZCA of D = %d applied to images of %dx%dx%d", z->d, s->c, s->h, s->w);
    zca_transform(z->T, z->mean, -1.0f, s->images, s->images, (size_t)s->n, z->d);
}

void zca_inverse(const Zca *z, const float *in, float *out, int n) {
    int d = z->d;
    /* T mu in double: the shift of docs/algorithm.md#applying-and-inverting. */
    float *tmu = xmalloc((size_t)d * sizeof(float));
    for (int k = 0; k < d; k++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)z->T[(size_t)k * d + j] * z->mean[j];
        tmu[k] = (float)s;
    }
    zca_transform(z->T_inv, tmu, 1.0f, in, out, (size_t)n, d);
    free(tmu);
}

/* ---- cache ---- */

static uint32_t zca_crc(uint32_t crc, const void *p, size_t bytes) {
    return (uint32_t)crc32_z(crc, (const Bytef *)p, bytes);
}

void zca_key_of(const Dataset *data, double eps, ZcaKey *key) {
    memset(key, 0, sizeof *key);
    snprintf(key->dataset, sizeof key->dataset, "%s", data->info ? data->info->name : "");
    key->c = data->train.c;
    key->h = data->train.h;
    key->w = data->train.w;
    key->num_train = data->train.n;
    key->num_test = data->test.n;
    key->eps = eps;
    size_t bytes = (size_t)data->train.n * data->train.c * data->train.h * data->train.w * sizeof(float);
    key->train_crc32 = zca_crc((uint32_t)crc32(0L, Z_NULL, 0), data->train.images, bytes);
}

static uint32_t zca_data_crc(const float *mean, const float *T, const float *T_inv, int d) {
    size_t dd = (size_t)d * d * sizeof(float);
    uint32_t c = (uint32_t)crc32(0L, Z_NULL, 0);
    c = zca_crc(c, mean, (size_t)d * sizeof(float));
    c = zca_crc(c, T, dd);
    return zca_crc(c, T_inv, dd);
}

/* The metadata that ties a cache to the data it was fitted on: the names, and a key's
 * values as the file holds them. */
#define ZCA_KEY_FIELDS 8
static const char *const zca_key_names[ZCA_KEY_FIELDS] = {"dataset", "channel", "height", "width",
                                                          "eps", "num_train", "num_test", "train_crc32"};

static void zca_key_values(const ZcaKey *key, char v[ZCA_KEY_FIELDS][64]) {
    snprintf(v[0], 64, "%s", key->dataset);
    snprintf(v[1], 64, "%d", key->c);
    snprintf(v[2], 64, "%d", key->h);
    snprintf(v[3], 64, "%d", key->w);
    snprintf(v[4], 64, "%.17g", key->eps);
    snprintf(v[5], 64, "%d", key->num_train);
    snprintf(v[6], 64, "%d", key->num_test);
    snprintf(v[7], 64, "%08x", key->train_crc32);
}

void zca_save(const char *path, const Zca *z, const ZcaKey *key) {
    if (z->eps != key->eps) die("internal: ZCA fitted with eps %g saved under a key with eps %g", z->eps, key->eps);
    int64_t d = z->d;
    StWriter *w = st_writer_new();
    st_writer_add(w, "mean", DT_F32, 1, (int64_t[]){d}, z->mean);
    st_writer_add(w, "T", DT_F32, 2, (int64_t[]){d, d}, z->T);
    st_writer_add(w, "T_inv", DT_F32, 2, (int64_t[]){d, d}, z->T_inv);
    char v[ZCA_KEY_FIELDS][64], crc[16];
    zca_key_values(key, v);
    st_writer_meta(w, "format", ZCA_FORMAT);
    for (int i = 0; i < ZCA_KEY_FIELDS; i++) st_writer_meta(w, zca_key_names[i], v[i]);
    snprintf(crc, sizeof crc, "%08x", zca_data_crc(z->mean, z->T, z->T_inv, z->d));
    st_writer_meta(w, "data_crc32", crc);
    st_writer_meta(w, "generator", "clmtt " CLMTT_VERSION);
    st_writer_save(w, path);
    st_writer_free(w);
}

/* Copies an F32 tensor of numel floats (data may be unaligned in the mapping). */
static float *zca_copy_tensor(const StTensor *t) {
    float *p = xmalloc(t->nbytes);
    memcpy(p, t->data, t->nbytes);
    return p;
}

static int zca_shape_is(const StTensor *t, int ndim, int64_t d) {
    if (!t || t->dtype != DT_F32 || t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != d) return 0;
    return 1;
}

/* Compares one metadata entry with this data's value; fills err on a difference. */
static int zca_meta_differs(const StFile *f, const char *key, const char *want, char *err, size_t errlen) {
    const char *got = st_meta(f, key);
    if (got && strcmp(got, want) == 0) return 0;
    snprintf(err, errlen,
             "%s was fitted on different training data (%s is %s there, %s here); delete it or point --buffer_path "
             "elsewhere",
             f->path, key, got ? got : "missing", want);
    return 1;
}

int zca_load(const char *path, const ZcaKey *key, Zca *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!file_exists(path)) return 1;
    StFile f;
    char e[1024];
    if (st_open(path, &f, e, sizeof e) != 0) {
        snprintf(err, errlen, "the ZCA cache %s is unreadable (%s); delete it to fit the transform again", path, e);
        return -1;
    }
    const char *fmt = st_meta(&f, "format");
    if (!fmt || strcmp(fmt, ZCA_FORMAT) != 0) {
        snprintf(err, errlen, "%s is not a ZCA cache (metadata format is '%s', expected '%s'); delete it or point "
                 "--buffer_path elsewhere", path, fmt ? fmt : "missing", ZCA_FORMAT);
        st_close(&f);
        return -1;
    }
    char want[ZCA_KEY_FIELDS][64];
    zca_key_values(key, want);
    int bad = 0;
    for (int i = 0; i < ZCA_KEY_FIELDS && !bad; i++) bad = zca_meta_differs(&f, zca_key_names[i], want[i], err, errlen);
    if (bad) {
        st_close(&f);
        return -1;
    }
    int64_t d = (int64_t)key->c * key->h * key->w;
    const StTensor *m = st_find(&f, "mean"), *t = st_find(&f, "T"), *ti = st_find(&f, "T_inv");
    const char *crc_meta = st_meta(&f, "data_crc32");
    if (!zca_shape_is(m, 1, d) || !zca_shape_is(t, 2, d) || !zca_shape_is(ti, 2, d) || !crc_meta) {
        snprintf(err, errlen, "the ZCA cache %s is damaged (it needs F32 tensors mean [%lld], T and T_inv [%lld, %lld] "
                 "and metadata data_crc32); delete it to fit the transform again", path, (long long)d, (long long)d,
                 (long long)d);
        st_close(&f);
        return -1;
    }
    out->d = (int)d;
    out->eps = key->eps;
    out->mean = zca_copy_tensor(m);
    out->T = zca_copy_tensor(t);
    out->T_inv = zca_copy_tensor(ti);
    out->loaded = 1;
    char crc[64];
    snprintf(crc, sizeof crc, "%s", crc_meta);
    st_close(&f);
    char got[16];
    snprintf(got, sizeof got, "%08x", zca_data_crc(out->mean, out->T, out->T_inv, out->d));
    if (strcmp(got, crc) != 0) {
        snprintf(err, errlen, "the ZCA cache %s is damaged (its data checksum is %s, the file says %s); delete it to "
                 "fit the transform again", path, got, crc);
        zca_free(out);
        return -1;
    }
    return 0;
}

void zca_cache_dir(char *out, size_t n, const char *buffer_path, const DatasetInfo *ds, const char *subset, int res) {
    expert_dir(out, n, buffer_path, ds, subset, res, 1, "");
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/') out[--len] = 0;
}

void zca_prepare(const char *cache_dir, int write_cache, Dataset *data, Zca *keep) {
    const ImageSet *tr = &data->train;
    zca_check_size(data->info ? data->info->name : NULL, tr->c, tr->h, tr->w);
    ZcaKey key;
    zca_key_of(data, ZCA_EPS, &key);
    Zca z;
    char path[4200] = "";
    int have = 0;
    if (cache_dir) {
        snprintf(path, sizeof path, "%s/%s", cache_dir, ZCA_FILE);
        char err[2048];
        int rc = zca_load(path, &key, &z, err, sizeof err);
        if (rc < 0) die("%s", err);
        have = rc == 0;
    }
    if (have) {
        printf("ZCA: using %s (fitted on these %d training images)\n", path, key.num_train);
    } else {
        double t0 = now_seconds();
        zca_fit(tr, ZCA_EPS, &z);
        printf("ZCA: fitted on %d training images (D = %d, eps = %g) in %.1f s\n", tr->n, z.d, z.eps,
               now_seconds() - t0);
        if (cache_dir && write_cache) {
            mkdir_p(cache_dir);
            zca_save(path, &z, &key);
            printf("ZCA: saved %s\n", path);
        } else if (cache_dir) {
            printf("ZCA: no cached transform at %s, so it was fitted anew (only clmtt buffer writes the cache)\n", path);
        }
    }
    double t1 = now_seconds();
    zca_apply(&z, &data->train);
    zca_apply(&z, &data->test);
    printf("ZCA: whitened %d training and %d test images in %.1f s (%s)\n", data->train.n, data->test.n,
           now_seconds() - t1, zca_use_host() ? "host BLAS" : "device GEMM");
    if (keep) *keep = z;
    else zca_free(&z);
}
