/* ZCA whitening (docs/algorithm.md#zca-whitening): fitted on the training pixels in [0, 1] (float64 mean, unbiased
 * covariance, symmetric eigendecomposition through LAPACK), applied to the training and
 * test sets as Z = (X - mu) T, inverted for pictures as x = T_inv (z + T mu).
 *
 * The transform of a dataset is cached in <cache_dir>/zca.safetensors (format mtt-zca/1):
 * tensors mean F32 [D], T F32 [D, D], T_inv F32 [D, D]; metadata format, dataset, channel,
 * height, width, eps, num_train, num_test, train_crc32 (zlib crc32 of the raw float32
 * training array) and data_crc32 (crc32 of the three tensors, so damage is caught). */
#ifndef CLMTT_ZCA_H
#define CLMTT_ZCA_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

#define ZCA_FORMAT "mtt-zca/1"
#define ZCA_EPS 0.1
#define ZCA_FILE "zca.safetensors"
/* Largest image size (C*H*W) accepted: D = 16384 already needs ~2 GB of float32
 * matrices and ~6 GB of float64 work while fitting. */
#define ZCA_MAX_D 16384

typedef struct {
    int d;           /* C*H*W */
    double eps;
    float *mean;     /* [d] */
    float *T;        /* [d*d] whitening matrix, symmetric */
    float *T_inv;    /* [d*d] its inverse, symmetric */
    int loaded;      /* 1: read from the cache file; 0: fitted in this process */
} Zca;

/* What a transform was fitted on; a cache is reused only when all of it matches. */
typedef struct {
    char dataset[64];
    int c, h, w;
    int num_train, num_test;
    uint32_t train_crc32;   /* zlib crc32 of the raw float32 training pixels */
    double eps;
} ZcaKey;

/* Dies naming --zca, the dataset and the matrix sizes when C*H*W > ZCA_MAX_D. */
void zca_check_size(const char *dataset, int c, int h, int w);

/* Fits on s->n rows of D = c*h*w floats (n >= 2), docs/algorithm.md#fitting-the-transform, in float64;
 * eigenvalues below 0 (rounding) count as 0. */
void zca_fit(const ImageSet *s, double eps, Zca *out);
void zca_free(Zca *z);

/* out[n][d] = (x[n][d] + alpha * shift[d]) M, M symmetric [d][d] (forward: shift = mean,
 * alpha = -1, M = T; inverse: shift = T mu, alpha = +1, M = T_inv). `out` may equal `x`.
 * The device version works in chunks of `rows` rows (0: about 64 MB per chunk): upload,
 * zca_add_row kernel, one GEMM, download. The host version uses OpenBLAS sgemm. */
void zca_transform_device(const float *M, const float *shift, float alpha, const float *x, float *out, size_t n,
                          int d, size_t rows);
void zca_transform_host(const float *M, const float *shift, float alpha, const float *x, float *out, size_t n,
                        int d, size_t rows);
/* Float64 reference of the same: out[n][d] = (x + alpha * shift) M. */
void zca_transform_ref(const float *M, const float *shift, double alpha, const float *x, double *out, size_t n,
                       int d);

/* Whitens s in place: Z = (X - mu) T. On a CPU OpenCL device the host BLAS does the
 * product (it shares the same cores and is several times faster than the device GEMM
 * there); on other devices the device GEMM does. */
void zca_apply(const Zca *z, ImageSet *s);
/* out[n][d] = T_inv (z + T mu) for n images (docs/algorithm.md#applying-and-inverting); out may equal in. */
void zca_inverse(const Zca *z, const float *in, float *out, int n);

/* The key of raw [0, 1] data (crc32 over the whole training array). */
void zca_key_of(const Dataset *data, double eps, ZcaKey *key);
/* Writes the cache file atomically; dies naming the path on failure. */
void zca_save(const char *path, const Zca *z, const ZcaKey *key);
/* Reads the cache file at `path`. Returns 1 when it does not exist, 0 when it was read
 * and matches `key` (out filled, out->loaded = 1), -1 with a message naming the file in
 * err when it is unreadable, damaged or fitted on other data. */
int zca_load(const char *path, const ZcaKey *key, Zca *out, char *err, size_t errlen);

/* <buffer_path>/<dataset> (ImageNet: <buffer_path>/ImageNet/<subset>/<res>): the expert
 * folder of --zca runs without its /<model>, shared by all models of that data. */
void zca_cache_dir(char *out, size_t n, const char *buffer_path, const DatasetInfo *ds, const char *subset, int res);

/* Given raw [0, 1] data: reuses <cache_dir>/zca.safetensors when present (dying when it
 * does not match this data or is damaged), else fits and, with write_cache, writes it;
 * then whitens data->train and data->test in place. cache_dir NULL: no cache. keep
 * receives the transform (NULL: freed). Prints what it did and how long it took. */
void zca_prepare(const char *cache_dir, int write_cache, Dataset *data, Zca *keep);

#endif
