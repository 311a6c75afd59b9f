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
 * The distances, the argmin over k and the plain seed stay on the device (the iteration's
 * scalars, host/distill/scalars.h). The selection reads the matched step's P floats to the
 * host and selects with a quickselect over (error, index), a total order, so the kept set
 * is unique. */
#ifndef CLMTT_MATCH_H
#define CLMTT_MATCH_H

#include "core/runtime.h"
#include "distill/scalars.h"
#include "distill/step_vectors.h"

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

/* After the forward sweep over thetas (theta_0 .. theta_K on the device), with D in the scalars' slot D:
 * puts the loss's numerator into slot NUM (auto_match: the matched step into MATCHED, from
 * the distances on the device). Returns 1 when the adjoint's seed is left to the reverse
 * sweep (matcher_seed_at before each step that may be the matched one; mt->step is K, or 0
 * with auto_match until the iteration's read says); 0 when lam is written already (PAD:
 * the host selects the kept entries, which waits for the device; mt->step is the matched
 * step). target: the same P values on the device (target_dev) and on the host
 * (target_host). */
int matcher_seed(Matcher *mt, int K, const StepVectors *thetas, cl_mem target_dev, const float *target_host, IterScalars *sc,
                 cl_mem lam);
/* lam = 2/D (theta_step - target) when slot MATCHED is `step`; else nothing. */
void matcher_seed_at(const Matcher *mt, int step, DPtr theta_step, cl_mem target_dev, IterScalars *sc, cl_mem lam);

#endif
