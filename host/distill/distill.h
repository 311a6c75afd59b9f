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
 * (the set's own buffers apart); per step also its indices, its augmentation draw and one
 * 8-byte scalar slot.
 *
 * Nothing in the sweep waits for the device: the segment's ends, the batches' indices and
 * the augmentation draws go up in non-blocking writes; D, the numerator, the argmin of
 * auto_match, lambda's seed and dL/dlr are reductions and kernels writing the iteration's
 * scalars (host/distill/scalars.h). With auto_match the reverse sweep runs all K steps,
 * lambda zero past the matched step (which the host does not know before the read).
 *
 * Data parallel over MPI ranks (host/core/dist.h): every rank holds the whole set and makes
 * the same random draws; each renders and augments the step's whole batch (gathers and
 * pointwise passes, cheap), and runs the network passes on its contiguous slice of the
 * batch's rows only, as a chunk of the step engine (its share nc / n of the mean). The
 * gradient of every forward step and the gradient and Hessian-vector product of every
 * reverse step are summed over ranks (fixed order), so theta_k, lambda and dL/dlr are the
 * same bits on every rank. Each rank's input meta-gradient covers its rows (zeros
 * elsewhere); the set's gradient is summed over ranks once per iteration. One step's
 * activations then take 1/N of the memory. Batch norm couples the rows and is refused. */
#ifndef CLMTT_DISTILL_H
#define CLMTT_DISTILL_H

#include "augment/dsa.h"
#include "distill/learnset.h"
#include "distill/step_vectors.h"
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
    StepVectors thetas;       /* theta_0 .. theta_K, P floats each at an aligned stride, in one or more buffers */
    StepVectors grads;        /* the forward sweep's g_0 .. g_{K-1}, read back by the reverse sweep */
    cl_mem target, lam, hvp;
    /* One step's batch: rendered from the set, augmented, the input meta-gradient u at the
     * augmented rows and u_rendered at the rendered rows (A^T u); batch_syn x rounds inputs
     * each; its target rows. */
    cl_mem x, x_aug, u, u_rendered, targets;
    cl_mem idx;               /* batch indices of every step on the device */
    int *batch_idx;           /* K x batch_syn: the rows of each step */
    int *batch_n;             /* rows of each step */
    DsaDraw *draws;           /* K draws */
    /* Split over ranks (nranks > 1): this rank's slice of a step's rows, its targets and its
     * input meta-gradient; the logits' tangent at the whole batch's rows; host staging for
     * the sums over ranks (g or hvp, and the set's gradient). */
    int rank, nranks;
    cl_mem xs, ts, us, tan_full;
    float *host_vec, *host_set;
    size_t host_set_floats;
    Matcher match;            /* the loss's options; after a meta-gradient its matched step and kept entries */
    /* The iteration's scalars on the device (D, the numerator, dL/dlr, the matched step,
     * the update's decision), read once at the iteration's end. */
    IterScalars sc;
    /* Host staging of the iteration's uploads, which go without waiting: theta_0 | target
     * (2P), the augmentation draws of every step (K x dsa_stride, on the device in
     * dsa_params); batch_idx is staged as it is. upload_pending: uploaded, no read since. */
    float *up_ends, *up_dsa;
    size_t dsa_stride;
    cl_mem dsa_params;
    int upload_pending;
    int reverse_steps;        /* steps the last reverse sweep ran */
    /* The runtime's counts (enqueues, CLBlast calls, waits) of the last meta-gradient's
     * forward sweep (syn_steps steps) and reverse sweep (reverse_steps steps), for clmtt bench. */
    RtCounts counts_forward, counts_reverse;
} Distiller;

/* Dies, naming the model, when `net` cannot be split over the ranks of this run (batch
 * norm over more than one rank). */
void distiller_check_split(const Net *net);
/* For sets of nsyn rows whose parameterization renders `rounds` inputs per row. The rows of
 * every step are split over the ranks of the run (one rank: not at all). */
void distiller_init(Distiller *d, const Net *net, int nsyn, int rounds, int batch_syn, int syn_steps,
                    const DsaStrategy *dsa);
/* The same with split_rows 0: this rank computes whole meta-gradients alone (the caller
 * splits other work over the ranks, as whole expert segments). */
void distiller_init_split(Distiller *d, const Net *net, int nsyn, int rounds, int batch_syn, int syn_steps,
                          const DsaStrategy *dsa, int split_rows);
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
/* The same in two halves, so that the host waits once per iteration: _start enqueues the
 * whole meta-gradient (the set's gradient, dL/dlr in its slot, and the scalars D, NUM,
 * DLR, MATCHED in d->sc) without waiting for the device (except for PAD's selection and the
 * sums over ranks); after scalars_read, _finish returns the loss, sets *dlr and the matched
 * step, and dies when D is 0. distiller_meta_grad is _start, the read and _finish. */
void distiller_meta_grad_start(Distiller *d, LearnSet *set, const float *theta0, const float *target, Rng *rng);
double distiller_meta_grad_finish(Distiller *d, const IterValues *v, double *dlr);

/* The chunk order of the original for one step: fills rows (count returned) from the queue,
 * refilling it from a fresh permutation when empty. Exposed for tests. */
typedef struct { int *perm; int n, chunk, left; } ChunkQueue;
int chunk_queue_next(ChunkQueue *q, Rng *rng, int *rows);

#endif
