/* The meta-gradient of trajectory matching (docs/algorithm.md#the-reverse-sweep), in memory
 * that does not grow with activations x steps. Forward sweep: syn_steps SGD steps of the
 * student from theta_0, storing only theta_k, the minibatch indices and the random draws of
 * each step (the parameterization's and the augmentation's). Loss:
 * ||theta_K - theta*||^2 / ||theta_0 - theta*||^2, or one of its options (host/distill/match.h:
 * the closest step k* instead of K, a masked numerator). Reverse sweep, from the matched step: re-render step k's batch
 * from the set, re-augment it, run one R-operator pass at theta_k (gradient, Hessian-vector
 * product and input meta-gradient u along the adjoint lambda), and accumulate
 *   dlr -= <lambda, g_k>;  dset += -lr * render_k^T A_k^T u_k;  lambda -= lr * H_k lambda.
 * The set (host/distill/learnset.h) renders the batches and takes the meta-gradient; one
 * student step is the step engine's (host/train/step.h).
 * Device memory: (K+1) parameter vectors + 4 more + one step's activations with tangents
 * (the set's own buffers apart). */
#ifndef CLMTT_DISTILL_H
#define CLMTT_DISTILL_H

#include "augment/dsa.h"
#include "distill/learnset.h"
#include "distill/match.h"
#include "train/step.h"

typedef struct {
    const Net *net;
    int nsyn;                 /* rows of the set */
    int batch_syn, syn_steps;
    int rounds;               /* network inputs per set row (texture: crops per canvas) */
    DsaStrategy dsa;          /* ngroups 0: no augmentation in the unroll */
    size_t in_img;            /* floats per network input */
    StepEngine step;
    cl_mem thetas;            /* (K+1) x P */
    cl_mem target, lam, g, hvp;
    /* One step's batch: rendered from the set, augmented, the input meta-gradient u at the
     * augmented rows and u_rendered at the rendered rows (A^T u); batch_syn x rounds inputs
     * each; its target rows. */
    cl_mem x, x_aug, u, u_rendered, targets;
    cl_mem idx;               /* batch indices of every step on the device */
    int *batch_idx;           /* K x batch_syn: the rows of each step */
    int *batch_n;             /* rows of each step */
    DsaDraw *draws;           /* K draws */
    Matcher match;            /* the loss's options; after a meta-gradient its matched step and kept entries */
} Distiller;

/* For sets of nsyn rows whose parameterization renders `rounds` inputs per row. */
void distiller_init(Distiller *d, const Net *net, int nsyn, int rounds, int batch_syn, int syn_steps,
                    const DsaStrategy *dsa);
void distiller_free(Distiller *d);
/* The matching loss's options (default: plain MTT). */
void distiller_set_match(Distiller *d, const MatchOptions *opt);

/* Meta-gradient at the set's current state, for one expert segment. Draws minibatches
 * (permutation chunks taken from the end), the parameterization's draws and augmentation
 * from rng, in that order for each step. Leaves the set's gradient (images and step size)
 * in set->grad and returns the loss; *dlr = dL/d(step size). d->match.step is the matched
 * step (syn_steps without auto_match). */
double distiller_meta_grad(Distiller *d, LearnSet *set, const float *theta0, const float *target, Rng *rng,
                           double *dlr);

/* The chunk order of the original for one step: fills rows (count returned) from the queue,
 * refilling it from a fresh permutation when empty. Exposed for tests. */
typedef struct { int *perm; int n, chunk, left; } ChunkQueue;
int chunk_queue_next(ChunkQueue *q, Rng *rng, int *rows);

#endif
