/* Shared test helpers: device set-up, random data, poisoning, comparisons. */
#ifndef CLMTT_TESTUTIL_H
#define CLMTT_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "blas.h"
#include "rng.h"
#include "runtime.h"
#include "tensor.h"
#include "util.h"

/* Opens the default device once (PoCL's CPU device in CI). */
void tu_init(void);
/* Uniform random floats/doubles in [lo, hi) from a fixed seed. */
void tu_rand(float *x, size_t n, uint64_t seed, float lo, float hi);
void tu_rand_d(double *x, size_t n, uint64_t seed, double lo, double hi);
/* Device buffer holding x[0..n-1]. */
cl_mem tu_upload(const float *x, size_t n);
/* Device buffer of n floats filled with NaN, so unwritten outputs fail comparisons. */
cl_mem tu_poisoned(size_t n);
/* Host copy (malloc'd) of n floats at offset off. */
float *tu_download(cl_mem m, size_t off, size_t n);
double *tu_to_double(const float *x, size_t n);   /* malloc'd */
float *tu_to_float(const double *x, size_t n);    /* malloc'd */
/* Checks |got - want| <= atol + rtol*|want| element-wise (NaN fails), reporting the
 * worst element through Check. */
void tu_check_close(const char *what, const float *got, const double *want, size_t n, double rtol, double atol);
void tu_check_close_d(const char *what, const double *got, const double *want, size_t n, double rtol, double atol);
/* Float64 helpers for finite-difference checks: dot product, a fresh array of uniform
 * values in [-1, 1), and x + t*v (v NULL: x itself) into a fresh array (all malloc'd). */
double tu_dot_d(const double *a, const double *b, size_t n);
double *tu_new_rand_d(size_t n, uint64_t seed);
double *tu_along(const double *x, const double *v, double t, size_t n);
/* Relative error of vectors: ||a-b|| / max(||b||, tiny). */
double tu_rel_err(const double *a, const double *b, size_t n);
/* Runs the suite without forking (OpenCL state does not survive fork); returns the exit status. */
int tu_run(Suite *s);
/* A fresh empty folder under /tmp for the test's files (malloc'd path). */
char *tu_tempdir(const char *tag);

#endif
