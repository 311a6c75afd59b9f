#include "distill/distill.h"
#include "core/blas.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void distiller_init(Distiller *d, const Net *net, int nsyn, int rounds, int batch_syn, int syn_steps,
                    const DsaStrategy *dsa) {
    if (rounds < 1 || batch_syn < 1 || batch_syn > nsyn || syn_steps < 1)
        die("internal: distiller of %d rows, batch %d, %d rounds, %d steps", nsyn, batch_syn, rounds, syn_steps);
    memset(d, 0, sizeof *d);
    d->net = net;
    d->nsyn = nsyn;
    d->batch_syn = batch_syn;
    d->syn_steps = syn_steps;
    d->rounds = rounds;
    if (dsa) d->dsa = *dsa;
    d->in_img = (size_t)net->channels * net->height * net->width;
    size_t P = net->nparams, K = (size_t)syn_steps, rows = (size_t)batch_syn * rounds;
    if (rows > 0x7fffffff / 2) die("distill: batch_syn %d x canvas_samples %d is too large", batch_syn, rounds);
    step_init(&d->step, net, (int)rows, 1, 0);
    d->thetas = dev_alloc((K + 1) * P * 4, "student parameters of every step");
    d->target = dev_alloc(P * 4, "expert target parameters");
    d->lam = dev_alloc(P * 4, "adjoint");
    d->g = dev_alloc(P * 4, "student gradient");
    d->hvp = dev_alloc(P * 4, "Hessian-vector product");
    d->x = dev_alloc(rows * d->in_img * 4, "student batch");
    d->x_aug = dev_alloc(rows * d->in_img * 4, "augmented student batch");
    d->u = dev_alloc(rows * d->in_img * 4, "input meta-gradient");
    d->u_rendered = dev_alloc(rows * d->in_img * 4, "input meta-gradient before augmentation");
    d->targets = dev_alloc(rows * net->num_classes * 4, "minibatch target rows");
    d->idx = dev_alloc(K * (size_t)batch_syn * 4, "minibatch indices");
    d->batch_idx = xcalloc(K * (size_t)batch_syn, sizeof(int));
    d->batch_n = xcalloc(K, sizeof(int));
    d->draws = xcalloc(K, sizeof(DsaDraw));
    MatchOptions plain = {0, 0.0};
    matcher_init(&d->match, &plain, P);
}

void distiller_set_match(Distiller *d, const MatchOptions *opt) {
    matcher_free(&d->match);
    matcher_init(&d->match, opt, d->net->nparams);
}

void distiller_free(Distiller *d) {
    step_free(&d->step);
    cl_mem bufs[] = {d->thetas, d->target, d->lam, d->g, d->hvp, d->x, d->x_aug, d->u, d->u_rendered, d->targets, d->idx};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) dev_free(bufs[i]);
    for (int k = 0; k < d->syn_steps; k++) dsa_draw_free(&d->draws[k]);
    free(d->draws);
    free(d->batch_idx);
    free(d->batch_n);
    matcher_free(&d->match);
    memset(d, 0, sizeof *d);
}

int chunk_queue_next(ChunkQueue *q, Rng *rng, int *rows) {
    if (q->left == 0) {
        rng_perm(rng, q->perm, q->n);
        q->left = q->n;
    }
    /* The permutation is split into chunks from the front; they are used from the back. */
    int start = (q->left - 1) / q->chunk * q->chunk;
    int count = q->left - start;
    memcpy(rows, q->perm + start, (size_t)count * sizeof(int));
    q->left = start;
    return count;
}

/* Rows of the network batch of step k: |B_k| times the rounds. */
static int step_rows(const Distiller *d, int k) { return d->batch_n[k] * d->rounds; }

/* The augmented input of step k, re-rendered from the set and the recorded draws. */
static cl_mem step_input(Distiller *d, LearnSet *set, int k) {
    learnset_render(set, k, d->idx, k * d->batch_syn, d->batch_n[k], d->x, d->targets);
    if (d->draws[k].group < 0) return d->x;
    const Net *net = d->net;
    dsa_forward(&d->draws[k], net->channels, net->height, net->width, d->x_aug, d->x);
    return d->x_aug;
}

double distiller_meta_grad(Distiller *d, LearnSet *set, const float *theta0, const float *target, Rng *rng,
                           double *dlr) {
    const Net *net = d->net;
    size_t P = net->nparams;
    int K = d->syn_steps;
    float alpha = set->lr;
    if (set->n != d->nsyn || set->img->rounds != d->rounds)
        die("internal: a set of %d rows x %d rounds for a distiller of %d x %d", set->n, set->img->rounds, d->nsyn,
            d->rounds);
    dev_write_f32(d->thetas, 0, P, theta0);
    dev_write_f32(d->target, 0, P, target);
    double D = dev_sqdist(P, dptr(d->thetas, 0), dptr(d->target, 0));
    if (!(D > 0)) die("the expert's start and target snapshots are identical: the loss is undefined (expert_epochs >= 1?)");

    /* Every random choice of the iteration is made up front and kept for the reverse sweep. */
    ChunkQueue q = {xmalloc((size_t)d->nsyn * sizeof(int)), d->nsyn, d->batch_syn, 0};
    for (int k = 0; k < K; k++) {
        d->batch_n[k] = chunk_queue_next(&q, rng, d->batch_idx + (size_t)k * d->batch_syn);
        set->img->ops->draw(set->img, k, d->batch_n[k], rng);
        dsa_draw_free(&d->draws[k]);
        if (d->dsa.ngroups > 0) dsa_draw(&d->dsa, rng, step_rows(d, k), net->height, net->width, &d->draws[k]);
        else d->draws[k].group = -1;
    }
    free(q.perm);
    dev_write(d->idx, 0, (size_t)K * d->batch_syn * sizeof(int), d->batch_idx);

    /* Forward sweep: each step is one chunk of the step engine. */
    for (int k = 0; k < K; k++) {
        cl_mem in = step_input(d, set, k);
        int n = step_rows(d, k);
        step_grad(&d->step, dptr(d->thetas, (size_t)k * P), in, d->targets, n, n, 0, dptr(d->g, 0));
        LAUNCH("distill_sgd_next", P, KM(d->thetas), KL((size_t)(k + 1) * P), KL((size_t)k * P), KM(d->g), KF(alpha), KL(P));
    }
    /* The loss and lambda at the matched step; later steps do not reach the loss. */
    double loss = matcher_seed(&d->match, K, d->thetas, d->target, target, D, d->lam);

    /* Reverse sweep. */
    learnset_zero_grad(set);
    double da = 0;
    for (int k = d->match.step - 1; k >= 0; k--) {
        cl_mem in = step_input(d, set, k);
        int n = step_rows(d, k);
        step_grad_hvp(&d->step, dptr(d->thetas, (size_t)k * P), dptr(d->lam, 0), in, d->targets, n, n, 0,
                      dptr(d->g, 0), dptr(d->hvp, 0), d->u);
        da -= dev_dot(P, dptr(d->lam, 0), dptr(d->g, 0));
        /* Learned labels: the targets enter the step linearly; their gradient comes from the
         * logits' tangent this pass computed (docs/algorithm.md#gradient-with-respect-to-labels). */
        learnset_label_grad(set, d->step.exec.tan[net->nlayers], d->targets, d->idx, k * d->batch_syn, d->batch_n[k],
                            alpha / (float)n);
        cl_mem u = d->u;
        if (d->draws[k].group >= 0) {
            dsa_backward(&d->draws[k], net->channels, net->height, net->width, d->u_rendered, d->u);
            u = d->u_rendered;
        }
        learnset_pullback(set, k, d->idx, k * d->batch_syn, d->batch_n[k], u, -alpha);
        axpy(P, -alpha, dptr(d->hvp, 0), dptr(d->lam, 0));
    }
    learnset_set_lr_grad(set, da);
    *dlr = da;
    return loss;
}
