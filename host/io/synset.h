/* Synthetic set files (mtt-synset/1): tensors images F32 [N, C, H, W] in the normalized
 * (or whitened) space the networks see, labels I64 [N] (or, for learned soft labels, the
 * label logits F32 [N, num_classes] with metadata labels = soft), lr F32 [1] (the learned step size);
 * metadata format, dataset, model, ipc, zca, plus clmtt's own keys.
 * Texture sets hold canvases (H, W = canvas_size x the network input) and the metadata
 * texture = "true", canvas_size and canvas_samples (crop rounds per batch). */
#ifndef CLMTT_SYNSET_H
#define CLMTT_SYNSET_H

#include "core/tensor.h"
#include "data/dataset.h"

#define SYNSET_FORMAT "mtt-synset/1"

/* Tensors and metadata a set file carries beside images, labels and lr (an image
 * parameterization's stored form, e.g. freq_coeffs and freq_index). Data are malloc'd. */
typedef struct { char name[32]; DType dtype; int ndim; int64_t shape[4]; void *data; } SynTensor;
typedef struct {
    int ntensors, nmeta;
    SynTensor t[4];
    char meta[8][2][64];
    float *label_logits;   /* learned soft labels [N][k] (malloc'd): saved as `labels` F32 [N, k] */
    int k;
} SynExtras;
void synset_extras_free(SynExtras *x);

typedef struct {
    ImageSet set;
    double lr;
    char dataset[64], model[64];
    char subset[64];    /* ImageNet: the subset the set was distilled from ("" when not recorded) */
    int ipc, zca;
    int texture, canvas_size, canvas_samples;   /* texture 0: ordinary images */
    /* Frequency sets (metadata param = freq): K coefficients per channel at freq_index [C][K]
     * (flat h*W + w), from a storage budget of budget_ipc; freq_dims 0 for pixel sets. */
    int freq_dims, budget_ipc;
    int64_t *freq_index;
    /* Soft-label sets (metadata labels = soft): the label logits [N][K]; set.labels holds each
     * row's argmax and set.targets the softmax rows (what evaluation trains on). */
    float *label_logits;
} SynSet;

/* Extra metadata: NULL-terminated key, value pairs (may be NULL). images_zca (ZCA runs,
 * else NULL): the images mapped back from whitened space, saved as tensor `images_zca`
 * (the original's images_zca_<it>.pt). more: further tensors and metadata (may be NULL).
 * Written atomically. */
void synset_save(const char *path, const ImageSet *s, double lr, const char *dataset, const char *model, int ipc,
                 int zca, const float *images_zca, const char *const *extra, const SynExtras *more);
/* Loads and validates (format, dtypes, shapes, labels, texture metadata). */
void synset_load(const char *path, SynSet *out);
/* Dies (naming path) unless the set fits the run: same dataset and ImageNet subset,
 * images of the dataset's shape (texture sets: canvases canvas_size times it), labels that
 * are classes of it, and the same ZCA choice. */
void synset_check_fits(const SynSet *s, const char *path, const DatasetInfo *ds, int zca);
void synset_free(SynSet *s);

#endif
