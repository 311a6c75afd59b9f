/* Training networks on a host image set: minibatches from a random permutation, DSA
 * augmentation on the device, softmax cross-entropy, SGD with PyTorch's semantics
 * (docs/algorithm.md#expert-training). Used by expert training (clmtt buffer) and by evaluation (clmtt eval). */
#ifndef CLMTT_TRAIN_H
#define CLMTT_TRAIN_H

#include "data/dataset.h"
#include "augment/dsa.h"
#include "net/exec.h"
#include "net/net.h"
#include "train/optim.h"
#include "train/step.h"

typedef struct {
    const Net *net;
    StepEngine step;     /* the student step (its executor runs test batches too) */
    int max_n;           /* rows of one batch */
    /* Rows of one forward/backward pass. A batch of more rows (deep networks at large
     * resolutions) runs in chunks whose gradients are averaged: the same step, in the
     * memory of one chunk. */
    int chunk;
    cl_mem xc, yc;       /* one chunk's input and target rows (chunk < max_n only) */
    cl_mem params, grad, vel;
    cl_mem x, x_aug, targets;   /* one batch on the device: images, target rows [max_n][classes] */
    float *host_x, *host_t;
    /* Texture sets (trainer_set_texture): rows of the set are canvases; each batch of them
     * is cropped tex_rounds times (random circular crops, docs/algorithm.md#evaluation-protocol) before augmentation. */
    int tex_rounds, tex_h, tex_w;     /* tex_rounds 0: ordinary images */
    cl_mem tex_canvas, tex_rows, tex_offs;
    float *host_canvas;
    int32_t *host_offs;
} Trainer;

/* Rows of one pass of `net` that fit: a quarter of the device memory for its activations,
 * and fewer than 2^31 elements per layer (the kernels index with int). At least 1. */
int net_rows_that_fit(const Net *net);
void trainer_init(Trainer *t, const Net *net, int max_n);
/* The same with passes of at most `chunk` rows (tests force small chunks with it). */
void trainer_init_chunked(Trainer *t, const Net *net, int max_n, int chunk);
void trainer_free(Trainer *t);
/* Trains on canvases of canvas_h x canvas_w (multiples of the network input): every batch
 * of b canvases becomes rounds x b random crops (b * rounds <= max_n). */
void trainer_set_texture(Trainer *t, int canvas_h, int canvas_w, int rounds);
/* Fresh PyTorch-default initialization from rng (and batch norm statistics reset). */
void trainer_init_params(Trainer *t, Rng *rng);

/* One epoch over all rows of `set`: a fresh permutation, batches of `batch` (last one
 * short; texture: batches of canvases, cropped first), DSA per batch when dsa has groups.
 * Returns mean loss and accuracy of the training batches (measured before each update).
 * on_batch (may be NULL) is called after every step with the number of images done. */
typedef void (*BatchCallback)(void *ctx, size_t images_done);
void train_epoch(Trainer *t, const ImageSet *set, int batch, const DsaStrategy *dsa, Rng *rng, Sgd *sgd,
                 double *loss, double *acc, BatchCallback on_batch, void *ctx);
/* Accuracy (fraction) on `set` in eval mode, no augmentation. */
double test_accuracy(Trainer *t, const ImageSet *set);

#endif
