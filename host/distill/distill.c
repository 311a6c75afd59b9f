#include "distill/distill.h"
#include "core/blas.h"
#include "core/dist.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void distiller_check_split(const Net *net) {
    if (dist_size() > 1 && net->nbatchnorm > 0)
        die("%s has batch norm, whose statistics couple the rows of a batch; split over %d ranks each rank would "
            "normalize its own rows only. Run one rank, or a model without batch norm (instance norm, the ConvNet "
            "default, is per row)", net->model, dist_size());
}

void distiller_init(Distiller *d, const Net *net, int nsyn, int rounds, int batch_syn, int syn_steps,
                    const DsaStrategy *dsa) {
    distiller_init_split(d, net, nsyn, rounds, batch_syn, syn_steps, dsa, 1);
}

void distiller_init_split(Distiller *d, const Net *net, int nsyn, int rounds, int batch_syn, int syn_steps,
                          const DsaStrategy *dsa, int split_rows) {
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
    d->rank = split_rows ? dist_rank() : 0;
    d->nranks = split_rows ? dist_size() : 1;
    if (split_rows) distiller_check_split(net);
    /* A rank's slice of a step: at most ceil(rows / N) rows. */
    size_t slice = (rows + (size_t)d->nranks - 1) / (size_t)d->nranks;
    step_init(&d->step, net, (int)slice, 1, 0);
    step_vectors_init(&d->thetas, (int)K + 1, P, 1, "student parameters");
    step_vectors_init(&d->grads, (int)K, P, 0, "student gradients");
    d->target = dev_alloc(P * 4, "expert target parameters");
    d->lam = dev_alloc(P * 4, "adjoint");
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
    if (d->nranks > 1) {
        d->xs = dev_alloc(slice * d->in_img * 4, "this rank's rows of the student batch");
        d->ts = dev_alloc(slice * net->num_classes * 4, "this rank's target rows");
        d->us = dev_alloc(slice * d->in_img * 4, "this rank's input meta-gradient");
        d->tan_full = dev_alloc(rows * net->num_classes * 4, "logits' tangent at the batch rows");
        d->host_vec = xmalloc(P * sizeof(float));
    }
    MatchOptions plain = {0, 0.0};
    matcher_init(&d->match, &plain, P);
    scalars_init(&d->sc, syn_steps);
    d->up_ends = xmalloc(2 * P * sizeof(float));
    if (d->dsa.ngroups > 0) {
        d->dsa_stride = rows * DSA_NPARAM;
        d->up_dsa = xcalloc(K * d->dsa_stride, sizeof(float));
        d->dsa_params = dev_alloc(K * d->dsa_stride * 4, "augmentation draws of every step");
    }
}

void distiller_set_match(Distiller *d, const MatchOptions *opt) {
    matcher_free(&d->match);
    matcher_init(&d->match, opt, d->net->nparams);
}

void distiller_free(Distiller *d) {
    if (d->upload_pending) rt_finish();   /* the staging below may still be read */
    step_free(&d->step);
    step_vectors_free(&d->thetas);
    step_vectors_free(&d->grads);
    cl_mem bufs[] = {d->target, d->lam, d->hvp, d->x,  d->x_aug,   d->u,
                     d->u_rendered, d->targets, d->idx, d->xs, d->ts, d->us, d->tan_full, d->dsa_params};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) dev_free(bufs[i]);
    for (int k = 0; k < d->syn_steps; k++) dsa_draw_free(&d->draws[k]);
    free(d->draws);
    free(d->batch_idx);
    free(d->batch_n);
    free(d->host_vec);
    free(d->host_set);
    matcher_free(&d->match);
    scalars_free(&d->sc);
    free(d->up_ends);
    free(d->up_dsa);
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

/* Step k's augmentation parameters on the device (uploaded with the iteration's draws). */
static DPtr step_draw(const Distiller *d, int k) { return dptr(d->dsa_params, (size_t)k * d->dsa_stride); }

/* The augmented input of step k, re-rendered from the set and the recorded draws. */
static cl_mem step_input(Distiller *d, LearnSet *set, int k) {
    learnset_render(set, k, d->idx, k * d->batch_syn, d->batch_n[k], d->x, d->targets);
    if (d->draws[k].group < 0) return d->x;
    const Net *net = d->net;
    dsa_forward_at(&d->draws[k], step_draw(d, k), net->channels, net->height, net->width, d->x_aug, d->x);
    return d->x_aug;
}

/* This rank's contiguous slice [*lo, *lo + nc) of a step's n rows (nc may be 0). */
static int rank_slice(const Distiller *d, int n, int *lo) {
    *lo = (int)((long long)n * d->rank / d->nranks);
    return (int)((long long)n * (d->rank + 1) / d->nranks) - *lo;
}

/* Copies this rank's rows of the step's input and targets into xs, ts. */
static void take_slice(Distiller *d, cl_mem in, int lo, int nc) {
    size_t K = (size_t)d->net->num_classes;
    dev_copy(d->xs, 0, in, (size_t)lo * d->in_img, (size_t)nc * d->in_img);
    dev_copy(d->ts, 0, d->targets, (size_t)lo * K, (size_t)nc * K);
}

/* Sums the n floats at v over ranks, through the host. */
static void sum_over_ranks(Distiller *d, DPtr v, size_t n) {
    dev_read_f32(v.mem, v.off, n, d->host_vec);
    dist_allreduce_sum_f32(d->host_vec, n);
    dev_write_f32(v.mem, v.off, n, d->host_vec);
}

/* Forward step k's gradient g at theta_k: the whole batch on one rank, else this rank's
 * slice as a chunk, summed over ranks. */
static void forward_grad(Distiller *d, DPtr theta, cl_mem in, int n, DPtr g) {
    size_t P = d->net->nparams;
    if (d->nranks == 1) {
        step_grad(&d->step, theta, in, d->targets, n, n, 0, g);
        return;
    }
    int lo, nc = rank_slice(d, n, &lo);
    if (nc > 0) {
        take_slice(d, in, lo, nc);
        step_grad(&d->step, theta, d->xs, d->ts, nc, n, 0, g);
    } else {
        dev_fill(g.mem, g.off, P, 0.0f);
    }
    sum_over_ranks(d, g, P);
}

/* Reverse step k's pass at theta_k along lambda: hvp summed over ranks (the gradient g_k is
 * the forward sweep's, kept); u gets the input meta-gradient at this rank's rows (zeros at
 * the others'). Returns the logits' tangent [n][K] at the batch rows (zeros at the other
 * ranks' rows). */
static cl_mem reverse_pass(Distiller *d, DPtr theta, cl_mem in, int n) {
    const Net *net = d->net;
    size_t P = net->nparams, K = (size_t)net->num_classes;
    const DPtr no_grad = dptr(NULL, 0);
    if (d->nranks == 1) {
        step_grad_hvp(&d->step, theta, dptr(d->lam, 0), in, d->targets, n, n, 0, no_grad, dptr(d->hvp, 0), d->u);
        return d->step.exec.tan[net->nlayers];
    }
    int lo, nc = rank_slice(d, n, &lo);
    dev_fill(d->u, 0, (size_t)n * d->in_img, 0.0f);
    dev_fill(d->tan_full, 0, (size_t)n * K, 0.0f);
    if (nc > 0) {
        take_slice(d, in, lo, nc);
        step_grad_hvp(&d->step, theta, dptr(d->lam, 0), d->xs, d->ts, nc, n, 0, no_grad, dptr(d->hvp, 0), d->us);
        dev_copy(d->u, (size_t)lo * d->in_img, d->us, 0, (size_t)nc * d->in_img);
        dev_copy(d->tan_full, (size_t)lo * K, d->step.exec.tan[net->nlayers], 0, (size_t)nc * K);
    } else {
        dev_fill(d->hvp, 0, P, 0.0f);
    }
    sum_over_ranks(d, dptr(d->hvp, 0), P);
    return d->tan_full;
}

/* The set's gradient (images and targets; the step size's slot is still 0) summed over ranks. */
static void sum_set_grad(Distiller *d, LearnSet *set) {
    if (d->nranks == 1) return;
    if (d->host_set_floats < set->total) {
        free(d->host_set);
        d->host_set = xmalloc(set->total * sizeof(float));
        d->host_set_floats = set->total;
    }
    dev_read_f32(set->grad, 0, set->total, d->host_set);
    dist_allreduce_sum_f32(d->host_set, set->total);
    dev_write_f32(set->grad, 0, set->total, d->host_set);
}

/* Uploads the segment's ends, the batches' indices and the augmentation draws without
 * waiting: they go through host staging owned by the distiller, which stays untouched until
 * the iteration's read (or the rt_finish below, when a second meta-gradient starts before
 * any read). */
static void upload_iteration(Distiller *d, const float *theta0, const float *target) {
    size_t P = d->net->nparams;
    int K = d->syn_steps;
    memcpy(d->up_ends, theta0, P * sizeof(float));
    memcpy(d->up_ends + P, target, P * sizeof(float));
    DPtr theta_0 = step_vectors_at(&d->thetas, 0);
    dev_write_async(theta_0.mem, theta_0.off * 4, P * 4, d->up_ends);
    dev_write_async(d->target, 0, P * 4, d->up_ends + P);
    dev_write_async(d->idx, 0, (size_t)K * d->batch_syn * sizeof(int), d->batch_idx);
    if (d->dsa.ngroups > 0) {
        for (int k = 0; k < K; k++)
            if (d->draws[k].group >= 0)
                memcpy(d->up_dsa + (size_t)k * d->dsa_stride, d->draws[k].p,
                       (size_t)d->draws[k].N * DSA_NPARAM * sizeof(float));
        dev_write_async(d->dsa_params, 0, (size_t)K * d->dsa_stride * 4, d->up_dsa);
    }
    d->upload_pending = 1;
}

void distiller_meta_grad_start(Distiller *d, LearnSet *set, const float *theta0, const float *target, Rng *rng) {
    const Net *net = d->net;
    size_t P = net->nparams;
    int K = d->syn_steps;
    float alpha = set->lr;
    if (set->n != d->nsyn || set->img->rounds != d->rounds)
        die("internal: a set of %d rows x %d rounds for a distiller of %d x %d", set->n, set->img->rounds, d->nsyn,
            d->rounds);
    /* The staging of an earlier start that no read followed may still be in flight. */
    if (d->upload_pending) rt_finish();

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
    upload_iteration(d, theta0, target);
    scalars_reset(&d->sc);
    scalars_reduce(&d->sc, SC_D, 0, RED_SQDIST, P, step_vectors_at(&d->thetas, 0), dptr(d->target, 0));

    /* Forward sweep: each step is one chunk of the step engine. */
    RtCounts c0 = rt_counts();
    for (int k = 0; k < K; k++) {
        cl_mem in = step_input(d, set, k);
        DPtr g = step_vectors_at(&d->grads, k);
        forward_grad(d, step_vectors_at(&d->thetas, k), in, step_rows(d, k), g);
        DPtr cur = step_vectors_at(&d->thetas, k), next = step_vectors_next_of(&d->thetas, k);   /* one buffer */
        LAUNCH("distill_sgd_next", P, KM(cur.mem), KL(next.off), KL(cur.off), KM(g.mem), KL(g.off), KF(alpha), KL(P));
        step_vectors_written(&d->thetas, k + 1);
    }
    d->counts_forward = rt_counts_sub(rt_counts(), c0);
    /* The loss's numerator and lambda's seed at the matched step; later steps do not reach
     * the loss. Seeded on the device, the sweep starts at the last step that may be the
     * matched one; under auto_match lambda is zero until the matched step, so the steps
     * past it add exact zeros. */
    int on_device = matcher_seed(&d->match, K, &d->thetas, d->target, target, &d->sc, d->lam);
    int first = on_device ? K - 1 : d->match.step - 1;
    if (on_device && d->match.opt.auto_match) dev_fill(d->lam, 0, P, 0.0f);

    /* Reverse sweep. */
    learnset_zero_grad(set);
    c0 = rt_counts();
    for (int k = first; k >= 0; k--) {
        if (on_device && (k == K - 1 || d->match.opt.auto_match))
            matcher_seed_at(&d->match, k + 1, step_vectors_at(&d->thetas, k + 1), d->target, &d->sc, d->lam);
        cl_mem in = step_input(d, set, k);
        int n = step_rows(d, k);
        cl_mem tangent = reverse_pass(d, step_vectors_at(&d->thetas, k), in, n);
        /* dlr -= <lambda, g_k>, and lambda -= alpha H_k lambda for the step below, in one pass. */
        scalars_dot_update(&d->sc, SC_DLR, 1, P, dptr(d->lam, 0), step_vectors_at(&d->grads, k), -alpha, dptr(d->hvp, 0));
        /* Learned labels: the targets enter the step linearly; their gradient comes from the
         * logits' tangent this pass computed (docs/algorithm.md#gradient-with-respect-to-labels). */
        learnset_label_grad(set, tangent, d->targets, d->idx, k * d->batch_syn, d->batch_n[k], alpha / (float)n);
        cl_mem u = d->u;
        if (d->draws[k].group >= 0) {
            dsa_backward_at(&d->draws[k], step_draw(d, k), net->channels, net->height, net->width, d->u_rendered,
                            d->u);
            u = d->u_rendered;
        }
        learnset_pullback(set, k, d->idx, k * d->batch_syn, d->batch_n[k], u, -alpha);
    }
    d->counts_reverse = rt_counts_sub(rt_counts(), c0);
    d->reverse_steps = first + 1;
    sum_set_grad(d, set);
    scalars_put_float(&d->sc, SC_DLR, dptr(set->grad, set->off_lr));
}

double distiller_meta_grad_finish(Distiller *d, const IterValues *v, double *dlr) {
    d->upload_pending = 0;
    if (!(v->D > 0)) die("the expert's start and target snapshots are identical: the loss is undefined (expert_epochs >= 1?)");
    d->match.step = v->matched;
    *dlr = v->dlr;
    return v->num / v->D;
}

double distiller_meta_grad(Distiller *d, LearnSet *set, const float *theta0, const float *target, Rng *rng,
                           double *dlr) {
    distiller_meta_grad_start(d, set, theta0, target, rng);
    IterValues v;
    scalars_read(&d->sc, &v);
    return distiller_meta_grad_finish(d, &v, dlr);
}
