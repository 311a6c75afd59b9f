/* The meta-gradient of trajectory matching (SPEC 7.4-7.8), in memory that does not grow
 * with activations x steps. Forward sweep: syn_steps SGD steps of the student from
 * theta_0, storing only theta_k, the minibatch indices and the augmentation draws of each
 * step. Loss: ||theta_K - theta*||^2 / ||theta_0 - theta*||^2. Reverse sweep: recompute
 * step k's augmented batch, run one R-operator pass at theta_k (gradient, Hessian-vector
 * product and mixed input derivative along the adjoint lambda), and accumulate
 *   dlr -= <lambda, g_k>;  dX[B_k] -= lr * A_k^T u_k;  lambda -= lr * H_k lambda.
 * Device memory: (K+1) parameter vectors + 4 more + the images, their gradient and one
 * step's activations with tangents.
 * Texture mode (SPEC 7.4 step 6.3): the rows of X are canvases of canvas_size x the network
 * input; step k's batch is canvas_samples rounds of random circular crops of the canvases
 * B_k (|B_k| * canvas_samples rows, labels repeated), and the crop offsets are kept with
 * the step's other draws; dX flows back through DSA's VJP, then the crop transpose. */
#ifndef CLMTT_DISTILL_H
#define CLMTT_DISTILL_H

#include "augment/dsa.h"
#include "net/exec.h"
#include "net/net.h"

typedef struct {
    const Net *net;
    int nsyn;                 /* synthetic images */
    int batch_syn, syn_steps;
    DsaStrategy dsa;          /* ngroups 0: no augmentation in the unroll */
    size_t img;               /* floats per synthetic row (a canvas in texture mode) */
    size_t in_img;            /* floats per network input (a crop in texture mode) */
    int canvas_size;          /* 0: ordinary images; >= 1: texture canvases */
    int canvas_samples;       /* crop rounds per step (1 without texture) */
    Exec exec;
    cl_mem X, dX, vX;         /* images, their meta-gradient, momentum */
    cl_mem labels;            /* int32 [nsyn] */
    cl_mem thetas;            /* (K+1) x P */
    cl_mem target, lam, g, hvp;
    cl_mem xb, xa, ub, ua;    /* one batch: gathered (or cropped), augmented, gradient at the augmented input,
                                 gradient before augmentation; batch_syn * canvas_samples network inputs each */
    cl_mem idx, yb;           /* batch indices and labels on the device */
    cl_mem offs;              /* texture: K x batch_syn x canvas_samples crop offsets (dh, dw) */
    int *batch_idx;           /* K x batch_syn: the rows of each step */
    int *batch_n;             /* rows of each step */
    DsaDraw *draws;           /* K draws */
    int32_t *crop_offs;       /* texture: the offsets of every step (host copy) */
    int has_momentum;         /* the image optimizer has taken a step */
    double vlr;               /* momentum of the learning rate */
} Distiller;

void distiller_init(Distiller *d, const Net *net, int nsyn, const int32_t *labels, int batch_syn, int syn_steps,
                    const DsaStrategy *dsa);
/* Texture mode: rows of X are canvases of C x canvas_size*H x canvas_size*W (H x W = the
 * network input), canvas_samples >= 1 crop rounds per step. canvas_size 0: as distiller_init. */
void distiller_init_texture(Distiller *d, const Net *net, int nsyn, const int32_t *labels, int batch_syn,
                            int syn_steps, const DsaStrategy *dsa, int canvas_size, int canvas_samples);
void distiller_free(Distiller *d);
void distiller_set_images(Distiller *d, const float *images);
void distiller_get_images(Distiller *d, float *images);

/* Meta-gradient at the current images and step size alpha, for one expert segment.
 * Draws minibatches (SPEC 7.4: permutation chunks taken from the end), crop offsets
 * (texture) and augmentation from rng, in that order for each step. Leaves dL/dX in
 * d->dX and returns the loss; *dalpha = dL/dalpha. */
double distiller_meta_grad(Distiller *d, const float *theta0, const float *target, float alpha, Rng *rng,
                           double *dalpha);
/* One SGD step with momentum 0.5 on the images (lr_img) and on alpha (lr_lr). */
void distiller_update(Distiller *d, float *alpha, double dalpha, double lr_img, double lr_lr);

/* The chunk order of SPEC 7.4 for one step: fills rows (count returned) from the queue,
 * refilling it from a fresh permutation when empty. Exposed for tests. */
typedef struct { int *perm; int n, chunk, left; } ChunkQueue;
int chunk_queue_next(ChunkQueue *q, Rng *rng, int *rows);

#endif
