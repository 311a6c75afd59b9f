/* The matching loss and the adjoint's seed, with two options to plain MTT's
 * ||theta_K - theta*||^2 / D,  D = ||theta_0 - theta*||^2  (docs/algorithm.md#matching-options):
 *
 *   auto_match (ATT)   match at the step k* in 1..K closest to the target (the first minimum
 *                      of d_k = ||theta_k - theta*||^2): loss d_k* / D; steps k* .. K-1 do not
 *                      reach the loss, so the reverse sweep starts at step k* - 1.
 *   loss_ratio r (PAD) leave out of the numerator the floor(r P) entries of the matched step
 *                      with the smallest squared error (theta_i - theta*_i)^2, ties dropping the
 *                      lower index first; D stays whole. The adjoint's seed is masked alike:
 *                      lambda = 2/D keep (theta_k* - theta*).
 *
 * The selection reads the matched step's P floats to the host and selects with a quickselect
 * over (error, index), a total order, so the kept set is unique. */
#ifndef CLMTT_MATCH_H
#define CLMTT_MATCH_H

#include "core/runtime.h"
#include "distill/theta_steps.h"

#include <stddef.h>

typedef struct {
    int auto_match;      /* --auto_match */
    double loss_ratio;   /* --loss_ratio, in [0, 1) */
} MatchOptions;

typedef struct {
    MatchOptions opt;
    int step;               /* the matched step of the last seed (K without auto_match) */
    size_t P, dropped;      /* entries left out of the numerator by the last seed */
    unsigned char *keep;    /* P, host: 1 where the entry counts (loss_ratio > 0 only) */
    float *theta, *lam;      /* P, host scratch (loss_ratio > 0 only) */
    double *err;            /* P, host scratch: the squared errors */
    size_t *order;          /* P, host scratch: the selection's index array */
} Matcher;

void matcher_init(Matcher *mt, const MatchOptions *opt, size_t P);
void matcher_free(Matcher *mt);

/* floor(r P): how many entries loss_ratio r leaves out of P. */
size_t match_dropped_count(double r, size_t P);

/* keep[i] = 0 for the `drop` entries with the smallest (theta_i - target_i)^2 in the order
 * (error, index), 1 for the rest. err (P) and order (P) are scratch. */
void match_select(const float *theta, const float *target, size_t P, size_t drop, unsigned char *keep, double *err,
                  size_t *order);

/* After the forward sweep over thetas [(K+1) x P] (device): picks the matched step, writes the
 * adjoint's seed into lam (P, device) and returns the loss. target: the same P values on the
 * device (target_dev) and on the host (target_host); D = ||theta_0 - target||^2. */
double matcher_seed(Matcher *mt, int K, const ThetaSteps *thetas, cl_mem target_dev, const float *target_host,
                    double D, cl_mem lam);

#endif
