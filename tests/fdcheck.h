/* Finite-difference checks of a float64 reference layer with weights and a bias,
 *   out = f(in, w, b),
 * shared by the layer tests: backward vs central differences of the forward (one
 * coordinate at a time), tangent vs the directional difference of the forward, rbackward
 * vs the directional difference of the backward. The callbacks receive `shape` as given. */
#ifndef CLMTT_FDCHECK_H
#define CLMTT_FDCHECK_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const void *shape;
    size_t n_in, n_out, n_w, n_b;
    void (*forward)(const void *shape, double *out, const double *in, const double *w, const double *b);
    void (*backward)(const void *shape, double *din, double *dw, double *db, const double *dout, const double *in,
                     const double *w);
    /* in_t may be NULL (a layer whose input is the network input). */
    void (*tangent)(const void *shape, double *out_t, const double *in, const double *in_t, const double *w,
                    const double *w_t, const double *b_t);
    void (*rbackward)(const void *shape, double *rdin, double *rdw, double *rdb, const double *dout,
                      const double *rdout, const double *in, const double *in_t, const double *w, const double *w_t);
} FdLayer;

/* Step of the central differences; tolerances are stated in fdcheck.c. */
#define FD_STEP 1e-6

void fd_check_backward(const FdLayer *l, uint64_t seed);
void fd_check_tangent(const FdLayer *l, int with_in_t, uint64_t seed);
void fd_check_rbackward(const FdLayer *l, int with_in_t, uint64_t seed);

#endif
