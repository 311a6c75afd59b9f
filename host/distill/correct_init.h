/* Starting a synthetic set from what experts already classify correctly (DATM's
 * initialization, docs/algorithm.md#initialization-of-the-synthetic-set): real training images that
 * one expert snapshot predicts correctly, and label logits averaged over the snapshots that
 * predict each image correctly. Forward passes run on the device in batches, with the
 * executor's training-mode forward (batch statistics), the same pass that starts soft labels
 * from one snapshot; a prediction is the first index of the largest logit. */
#ifndef CLMTT_CORRECT_INIT_H
#define CLMTT_CORRECT_INIT_H

#include "core/rng.h"
#include "data/dataset.h"
#include "net/exec.h"

/* One snapshot's logits on host batches of at most max_n images. */
typedef struct {
    const Net *net;
    int max_n;
    Exec e;
    cl_mem params, x;
} SnapshotForward;

void snapfwd_init(SnapshotForward *f, const Net *net, int max_n);
/* params [nparams] (host): the snapshot the next snapfwd_logits calls use. */
void snapfwd_set_params(SnapshotForward *f, const float *params);
/* images [n][C][H][W] (host, n <= max_n) -> logits [n][K] (host). */
void snapfwd_logits(SnapshotForward *f, const float *images, int n, float *logits);
void snapfwd_free(SnapshotForward *f);

/* argmax of one logit row [K]: the first index of the largest value. */
int logits_argmax(const float *row, int K);

/* Per class c (in class order), a random permutation of c's training images is drawn from
 * rng (exactly the draws of random_real_subset, so a snapshot that gets every image right
 * picks what --pix_init=real picks) and walked in batches of up to 256; the first ipc
 * images that `params` classifies as c are kept, in the walk's order.
 * out: [num_classes*ipc][C][H][W] class-major, labels c (malloc'd); examined[c] (may be
 * NULL): the position in the walk of class c's last pick, plus one.
 * Returns 0; or -1 (out empty) with a message in err[errlen] naming the class and the counts
 * when a class has fewer than ipc images that `who` (the snapshot, in words) gets right. */
int pick_correct_images(const Net *net, const float *params, const char *who, const ImageSet *train, int num_classes,
                        int ipc, Rng *rng, ImageSet *out, int *examined, char *err, size_t errlen);

/* For every image i of `images` (labels[i] its class): logits[i] = the mean, over the
 * snapshots s < nsnaps (snaps[s] -> [nparams]) whose prediction on image i is labels[i], of
 * their logits on image i; counts[i] (may be NULL) = how many. logits [n][K]. Returns 0; or
 * -1 with a message in err[errlen] naming the first image that no snapshot classifies
 * correctly. */
int average_correct_logits(const Net *net, const float *const *snaps, int nsnaps, const ImageSet *images,
                           float *logits, int *counts, char *err, size_t errlen);

#endif
