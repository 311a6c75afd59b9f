/* The learnable synthetic set: every tensor the distillation learns, in one flat device
 * buffer, with the gradient and the optimizer state in buffers of the same layout:
 *
 *   [ stored images (the parameterization's form) | target rows [n][K] | step size ]
 *
 * The images come through an image parameterization (host/distill/imageparam.h); the
 * target rows are the labels as distributions (one-hot for hard labels); the step size is
 * the student's learned learning rate. Each tensor has its own SGD (host/train/optim.h).
 *
 *   learnset_render     images and target rows of one student step's batch
 *   learnset_pullback   the meta-gradient at a step's rendered images into the gradient
 *   learnset_update     one optimizer step on every learned tensor; when the result is not
 *                       finite it restores the state before the step and returns 0
 *                       (learnset_update_start/_finish: the same decided on the device)
 *   learnset_images     the set file's images (host)
 */
#ifndef CLMTT_LEARNSET_H
#define CLMTT_LEARNSET_H

#include "distill/imageparam.h"
#include "distill/scalars.h"
#include "train/optim.h"

typedef struct {
    ImageParam *img;            /* owned */
    int n, K;                   /* set rows, classes */
    size_t off_targets, off_lr, total;   /* the flat layout, in floats (images start at 0) */
    cl_mem theta, grad, vel;    /* parameters, their meta-gradient, momentum */
    cl_mem saved, saved_vel;    /* the state before the last update (rollback) */
    Sgd opt_images, opt_targets, opt_lr;
    int learn_targets;          /* 0: the target rows stay as they are */
    int soft;                   /* 1: the target region holds label logits y; a row's target is softmax(y) */
    cl_mem ybuf;                /* soft: one batch's gathered logits */
    cl_mem ema;                 /* NULL, or the exponential moving average of theta (same layout) */
    cl_mem saved_ema;           /* with ema: the average before the last update (rollback) */
    Sgd before[3];              /* the optimizers before the last learnset_update_start */
    double ema_decay;
    size_t ybuf_floats;
    float lr;                   /* host copy of the step size */
} LearnSet;

/* Takes ownership of img. targets: n x K host rows (NULL: one-hot rows of labels). The
 * images start as `images` (the set file's form, as imageparam save writes it). */
void learnset_init(LearnSet *s, ImageParam *img, int K, const float *images, const int32_t *labels,
                   const float *targets, float lr);
void learnset_free(LearnSet *s);
/* Optimizers: pixels (lr_img) and the step size (lr_lr), both with momentum 0.5. */
void learnset_set_optim(LearnSet *s, double lr_img, double lr_lr);

/* Learned soft labels: the target region becomes label logits [n][K] (initial values
 * `logits`), learned by SGD with lr_y and momentum mom_y; targets are softmax(logits). */
void learnset_set_soft(LearnSet *s, const float *logits, double lr_y, double mom_y);
/* Soft: the current label logits [n][K] (host). */
void learnset_logits(LearnSet *s, float *logits);
/* Soft: the rows evaluation trains on, softmax of the shown logits, into targets[n][K];
 * returns 0 and writes nothing when the labels are not learned (the one-hot rows apply). */
int learnset_targets(LearnSet *s, float *targets);

/* Step `step`'s batch: set rows idx[idx_off .. idx_off+n) on the device. x gets
 * img->rounds x n network inputs, targets the matching rows [rounds*n][K]. */
void learnset_render(LearnSet *s, int step, cl_mem idx, int idx_off, int n, cl_mem x, cl_mem targets);
/* grad(images) += scale x J^T u for the rows step `step` rendered. */
void learnset_pullback(LearnSet *s, int step, cl_mem idx, int idx_off, int n, cl_mem u, float scale);
/* Soft labels: the meta-gradient of the label logits from one step: the logits' tangent
 * along the adjoint (tangent) and the targets the step used, both [rounds*n][K];
 * scale = alpha / rows of the step (no-op when the targets are not learned). */
void learnset_label_grad(LearnSet *s, cl_mem tangent, cl_mem targets, cl_mem idx, int idx_off, int n, float scale);
void learnset_zero_grad(LearnSet *s);
void learnset_set_lr_grad(LearnSet *s, double dlr);
/* 1 when every gradient entry is finite. */
int learnset_grad_finite(LearnSet *s);
int learnset_update(LearnSet *s);
/* learnset_update without waiting, its decision on the device: the step (and the average)
 * is kept when the scalars' OUTCOME (set by the gate, cl/scalars.cl) is UPDATED and every
 * entry is finite, else theta, momentum and average are restored; OUTCOME becomes DIVERGED
 * for a non-finite step and LR the step size the set holds. After scalars_read,
 * learnset_update_finish updates the host's step size, or restores the optimizers' state
 * when the set did not move. */
void learnset_update_start(LearnSet *s, IterScalars *sc);
void learnset_update_finish(LearnSet *s, const IterValues *v);

/* --ema_decay d > 0: keep ema = d ema + (1 - d) theta after every update, starting at theta;
 * evaluation and the saved files then read the average (learnset_images, learnset_extras,
 * learnset_logits, learnset_shown_lr), while theta keeps training. */
void learnset_set_ema(LearnSet *s, double decay);
/* The step size evaluation and the files use: the average's with EMA, else lr. */
float learnset_shown_lr(LearnSet *s);

void learnset_images(LearnSet *s, float *images);
/* What the set file carries beside the images (the parameterization's extras); free with
 * synset_extras_free. */
void learnset_extras(LearnSet *s, SynExtras *out);

#endif
