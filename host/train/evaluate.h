/* Judging an image set the way the original does (docs/algorithm.md#evaluation-protocol): train a fresh network on
 * the set alone for epochs+1 epochs (SGD momentum 0.9, weight decay 5e-4, lr x0.1 after
 * epoch epochs/2+1 with a fresh momentum buffer, DSA on every batch), then measure
 * accuracy on the full test set. Also the evaluation model pools (--eval_mode). */
#ifndef CLMTT_EVALUATE_H
#define CLMTT_EVALUATE_H

#include "data/dataset.h"
#include "augment/dsa.h"
#include "core/rng.h"

typedef struct {
    int epochs;          /* --epoch_eval_train */
    int batch;           /* --batch_train */
    double lr;           /* the learned syn_lr (or a given lr) */
    DsaStrategy dsa;     /* ngroups 0: no augmentation */
    int canvas_samples;  /* texture sets: crop rounds per batch of canvases; 0: ordinary images */
} EvalConfig;

typedef struct {
    double test_acc, train_acc, seconds;
} EvalResult;

/* One network of `model`; dies with a clear message for a negative or NaN lr. With
 * cfg->canvas_samples > 0 the training rows are texture canvases (whole multiples of the
 * test images' size): the network takes the test images' size and every training batch
 * is cropped (docs/algorithm.md#evaluation-protocol). */
EvalResult evaluate_set(const char *model, const ImageSet *train, const ImageSet *test, int num_classes,
                        const EvalConfig *cfg, Rng *rng);

/* The models of an --eval_mode pool (docs/algorithm.md#evaluation-pools) for training model `model`. Returns the count. */
int eval_pool(const char *mode, const char *model, char names[][64], int max);

/* ipc distinct random training images per class (docs/algorithm.md#initialization-of-the-synthetic-set), class-major. */
void random_real_subset(const ImageSet *train, int num_classes, int ipc, Rng *rng, ImageSet *out);

#endif
