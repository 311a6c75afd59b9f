#include "distill/distill.h"
#include "core/blas.h"
#include "augment/texture.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void distiller_init(Distiller *d, const Net *net, int nsyn, const int32_t *labels, int batch_syn, int syn_steps,
                    const DsaStrategy *dsa) {
    distiller_init_texture(d, net, nsyn, labels, batch_syn, syn_steps, dsa, 0, 1);
}

void distiller_init_texture(Distiller *d, const Net *net, int nsyn, const int32_t *labels, int batch_syn,
                            int syn_steps, const DsaStrategy *dsa, int canvas_size, int canvas_samples) {
    if (canvas_size < 0 || canvas_samples < 1 || (canvas_size == 0 && canvas_samples != 1))
        die("distill: bad texture settings canvas_size=%d canvas_samples=%d", canvas_size, canvas_samples);
    memset(d, 0, sizeof *d);
    d->net = net;
    d->nsyn = nsyn;
    d->batch_syn = batch_syn;
    d->syn_steps = syn_steps;
    d->canvas_size = canvas_size;
    d->canvas_samples = canvas_samples;
    if (dsa) d->dsa = *dsa;
    d->in_img = (size_t)net->channels * net->height * net->width;
    int cs = canvas_size > 0 ? canvas_size : 1;
    d->img = d->in_img * (size_t)cs * cs;
    size_t P = net->nparams, K = (size_t)syn_steps, rows = (size_t)batch_syn * canvas_samples;
    if (rows > 0x7fffffff / 2) die("distill: batch_syn %d x canvas_samples %d is too large", batch_syn, canvas_samples);
    exec_init(&d->exec, net, (int)rows, 1);
    d->X = dev_alloc((size_t)nsyn * d->img * 4, "synthetic images");
    d->dX = dev_alloc((size_t)nsyn * d->img * 4, "synthetic image gradients");
    d->vX = dev_alloc((size_t)nsyn * d->img * 4, "synthetic image momentum");
    d->labels = dev_alloc((size_t)nsyn * 4, "synthetic labels");
    dev_write(d->labels, 0, (size_t)nsyn * 4, labels);
    d->thetas = dev_alloc((K + 1) * P * 4, "student parameters of every step");
    d->target = dev_alloc(P * 4, "expert target parameters");
    d->lam = dev_alloc(P * 4, "adjoint");
    d->g = dev_alloc(P * 4, "student gradient");
    d->hvp = dev_alloc(P * 4, "Hessian-vector product");
    d->xb = dev_alloc(rows * d->in_img * 4, "student batch");
    d->xa = dev_alloc(rows * d->in_img * 4, "augmented student batch");
    d->ub = dev_alloc(rows * d->in_img * 4, "input second derivatives");
    d->ua = dev_alloc(rows * d->in_img * 4, "input second derivatives before augmentation");
    d->idx = dev_alloc(K * (size_t)batch_syn * 4, "minibatch indices");
    d->yb = dev_alloc(rows * 4, "minibatch labels");
    d->batch_idx = xcalloc(K * (size_t)batch_syn, sizeof(int));
    d->batch_n = xcalloc(K, sizeof(int));
    d->draws = xcalloc(K, sizeof(DsaDraw));
    if (canvas_size > 0) {
        /* Only the offsets are stored per step: two ints per crop. */
        d->offs = dev_alloc(K * rows * 2 * sizeof(int32_t), "texture crop offsets");
        d->crop_offs = xcalloc(K * rows * 2, sizeof(int32_t));
    }
}

void distiller_free(Distiller *d) {
    exec_free(&d->exec);
    cl_mem bufs[] = {d->X, d->dX, d->vX, d->labels, d->thetas, d->target, d->lam, d->g, d->hvp,
                     d->xb, d->xa, d->ub, d->ua, d->idx, d->yb, d->offs};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) dev_free(bufs[i]);
    for (int k = 0; k < d->syn_steps; k++) dsa_draw_free(&d->draws[k]);
    free(d->draws);
    free(d->batch_idx);
    free(d->batch_n);
    free(d->crop_offs);
    memset(d, 0, sizeof *d);
}

void distiller_set_images(Distiller *d, const float *images) { dev_write_f32(d->X, 0, (size_t)d->nsyn * d->img, images); }
void distiller_get_images(Distiller *d, float *images) { dev_read_f32(d->X, 0, (size_t)d->nsyn * d->img, images); }

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

/* The shape of step crops: network input from canvases. */
static TexShape crop_shape(const Distiller *d) {
    const Net *net = d->net;
    TexShape s = {net->channels, net->height, net->width, d->canvas_size * net->height, d->canvas_size * net->width};
    return s;
}

/* Where step k's crop offsets start in d->offs (two ints per crop, batch_syn x rounds crops per step). */
static int step_offs_start(const Distiller *d, int k) { return k * d->batch_syn * d->canvas_samples * 2; }

/* Rows of the network batch of step k: |B_k| times the crop rounds. */
static int step_rows(const Distiller *d, int k) { return d->batch_n[k] * d->canvas_samples; }

/* The augmented input of step k, recomputed from X and the recorded draws. */
static cl_mem step_input(Distiller *d, int k) {
    int n = d->batch_n[k], off = k * d->batch_syn;
    const Net *net = d->net;
    if (d->canvas_size > 0) {
        TexShape s = crop_shape(d);
        texture_crop_forward(&s, d->xb, d->X, d->idx, off, d->offs, step_offs_start(d, k), n, d->canvas_samples);
        texture_repeat_labels(d->yb, d->labels, d->idx, off, n, d->canvas_samples);
    } else {
        LAUNCH("distill_gather_rows", (size_t)n * d->img, KM(d->xb), KM(d->X), KM(d->idx), KI(off), KI(n), KI((int)d->img));
        LAUNCH("distill_gather_labels", (size_t)n, KM(d->yb), KM(d->labels), KM(d->idx), KI(off), KI(n));
    }
    if (d->draws[k].group < 0) return d->xb;
    dsa_forward(&d->draws[k], net->channels, net->height, net->width, d->xa, d->xb);
    return d->xa;
}

/* dX[B_k] += scale * G_k^T u, u the gradient at the gathered (or cropped) batch of step k. */
static void step_scatter(Distiller *d, int k, cl_mem u, float scale) {
    int n = d->batch_n[k], off = k * d->batch_syn;
    if (d->canvas_size > 0) {
        TexShape s = crop_shape(d);
        texture_crop_transpose_add(&s, d->dX, u, 0, d->idx, off, d->offs, step_offs_start(d, k), n,
                                   d->canvas_samples, scale);
    } else {
        LAUNCH("distill_scatter_add_rows", (size_t)n * d->img, KM(d->dX), KM(u), KM(d->idx), KI(off), KI(n),
               KI((int)d->img), KF(scale));
    }
}

double distiller_meta_grad(Distiller *d, const float *theta0, const float *target, float alpha, Rng *rng,
                           double *dalpha) {
    const Net *net = d->net;
    size_t P = net->nparams;
    int K = d->syn_steps;
    dev_write_f32(d->thetas, 0, P, theta0);
    dev_write_f32(d->target, 0, P, target);
    double D = dev_sqdist(P, dptr(d->thetas, 0), dptr(d->target, 0));
    if (!(D > 0)) die("the expert's start and target snapshots are identical: the loss is undefined (expert_epochs >= 1?)");

    /* Every random choice of the iteration is made up front and kept for the reverse sweep. */
    ChunkQueue q = {xmalloc((size_t)d->nsyn * sizeof(int)), d->nsyn, d->batch_syn, 0};
    for (int k = 0; k < K; k++) {
        d->batch_n[k] = chunk_queue_next(&q, rng, d->batch_idx + (size_t)k * d->batch_syn);
        if (d->canvas_size > 0)
            texture_draw_offsets(rng, d->batch_n[k], d->canvas_samples, d->canvas_size * net->height,
                                 d->canvas_size * net->width, d->crop_offs + step_offs_start(d, k));
        dsa_draw_free(&d->draws[k]);
        if (d->dsa.ngroups > 0) dsa_draw(&d->dsa, rng, step_rows(d, k), net->height, net->width, &d->draws[k]);
        else d->draws[k].group = -1;
    }
    free(q.perm);
    dev_write(d->idx, 0, (size_t)K * d->batch_syn * sizeof(int), d->batch_idx);
    if (d->canvas_size > 0) dev_write(d->offs, 0, (size_t)step_offs_start(d, K) * sizeof(int32_t), d->crop_offs);

    for (int k = 0; k < K; k++) {
        cl_mem in = step_input(d, k);
        int n = step_rows(d, k);
        exec_forward(&d->exec, dptr(d->thetas, (size_t)k * P), in, n, 1);
        exec_softmax(&d->exec, d->yb, n);
        exec_backward(&d->exec, dptr(d->thetas, (size_t)k * P), dptr(d->g, 0), in, n, d->yb, NULL);
        LAUNCH("distill_sgd_next", P, KM(d->thetas), KL((size_t)(k + 1) * P), KL((size_t)k * P), KM(d->g), KF(alpha), KL(P));
    }
    double loss = dev_sqdist(P, dptr(d->thetas, (size_t)K * P), dptr(d->target, 0)) / D;

    LAUNCH("distill_lambda_init", P, KM(d->lam), KM(d->thetas), KL((size_t)K * P), KM(d->target), KF(2.0 / D), KL(P));
    dev_fill(d->dX, 0, (size_t)d->nsyn * d->img, 0.0f);
    double da = 0;
    for (int k = K - 1; k >= 0; k--) {
        cl_mem in = step_input(d, k);
        int n = step_rows(d, k);
        exec_grad_hvp(&d->exec, dptr(d->thetas, (size_t)k * P), dptr(d->lam, 0), in, n, d->yb, dptr(d->g, 0),
                      dptr(d->hvp, 0), d->ub);
        da -= dev_dot(P, dptr(d->lam, 0), dptr(d->g, 0));
        cl_mem u = d->ub;
        if (d->draws[k].group >= 0) {
            dsa_backward(&d->draws[k], net->channels, net->height, net->width, d->ua, d->ub);
            u = d->ua;
        }
        step_scatter(d, k, u, -alpha);
        axpy(P, -alpha, dptr(d->hvp, 0), dptr(d->lam, 0));
    }
    *dalpha = da;
    return loss;
}

void distiller_update(Distiller *d, float *alpha, double dalpha, double lr_img, double lr_lr) {
    size_t n = (size_t)d->nsyn * d->img;
    int first = !d->has_momentum;
    LAUNCH("train_sgd_step", n, KM(d->X), KL(0), KM(d->dX), KL(0), KM(d->vX), KL(n), KF(lr_img), KF(0.5f), KF(0.0f),
           KI(first));
    /* The step size is one float32 scalar, updated as the original's SGD does. */
    float g = (float)dalpha;
    float v = first ? g : 0.5f * (float)d->vlr + g;
    d->vlr = v;
    *alpha = *alpha - (float)lr_lr * v;
    d->has_momentum = 1;
}
