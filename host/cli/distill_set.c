/* clmtt distill's synthetic set at the start: images and labels from a file, real training
 * images or noise, and the learnable set over them with the parameterization the flags pick
 * (docs/algorithm.md#the-synthetic-set). */
#include "cli/distill_parts.h"
#include "augment/texture.h"
#include "core/util.h"
#include "distill/correct_init.h"

#include <string.h>

void distill_initial_images(const DistillArgs *a, const DatasetInfo *ds, const Dataset *data, SynSet *init, Rng *rng,
                            ImageSet *out) {
    int ipc = a->images_per_class, nsyn = ipc * ds->num_classes, side = a->texture ? a->canvas_size : 1;
    memset(out, 0, sizeof *out);
    if (a->init_syn) {
        *out = init->set;                     /* taken over from the file */
        memset(&init->set, 0, sizeof init->set);
    } else if (strcmp(a->pix_init, "real") == 0 && a->texture) {
        texture_init_real(&data->train, ds->num_classes, ipc, a->canvas_size, rng, out);
    } else if (strcmp(a->pix_init, "real") == 0) {
        /* freq: as many real images per class as the budget holds, encoded (truncated to the
         * kept coefficients) when the set is made. */
        random_real_subset(&data->train, ds->num_classes, ipc, rng, out);
    } else {
        out->n = nsyn; out->c = ds->channels; out->h = side * ds->height; out->w = side * ds->width;
        size_t n = (size_t)nsyn * ds->channels * out->h * out->w;
        out->images = xmalloc(n * sizeof(float));
        out->labels = xmalloc((size_t)nsyn * sizeof(int32_t));
        for (size_t i = 0; i < n; i++) out->images[i] = (float)rng_normal(rng);
        for (int i = 0; i < nsyn; i++) out->labels[i] = i / ipc;
    }
}

void distill_learnset(const DistillArgs *a, const DatasetInfo *ds, const ImageSet *images, int batch_syn,
                      const FreqRank *rank, LearnSet *out) {
    ImageParam *p;
    if (a->texture)
        p = imageparam_texture(images->n, ds->channels, ds->height, ds->width, a->canvas_size, a->canvas_samples,
                               a->syn_steps, batch_syn);
    else if (rank)
        p = imageparam_freq(images->n, ds->channels, ds->height, ds->width, a->freq_dims, rank->order, batch_syn);
    else
        p = imageparam_pixels(images->n, ds->channels, ds->height, ds->width);
    if (images->c != ds->channels || images->h != p->fh || images->w != p->fw)
        die("internal: %d images of %dx%dx%d for a %s set of %dx%dx%d rows", images->n, images->c, images->h,
            images->w, p->ops->name, p->C, p->fh, p->fw);
    learnset_init(out, p, ds->num_classes, images->images, images->labels, images->targets, (float)a->lr_teacher);
    learnset_set_optim(out, a->lr_img, a->lr_lr);
}

void distill_label_logits(const Net *net, const float *params, const ImageSet *images, float *logits) {
    int chunk = images->n < 256 ? images->n : 256, K = net->num_classes;
    size_t img = (size_t)images->c * images->h * images->w;
    SnapshotForward f;
    snapfwd_init(&f, net, chunk);
    snapfwd_set_params(&f, params);
    for (int r0 = 0; r0 < images->n; r0 += chunk) {
        int n = images->n - r0 < chunk ? images->n - r0 : chunk;
        snapfwd_logits(&f, images->images + (size_t)r0 * img, n, logits + (size_t)r0 * K);
    }
    snapfwd_free(&f);
}
