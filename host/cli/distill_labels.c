/* clmtt distill's expert snapshots for the set's start: which expert starts the soft
 * labels, and DATM's initialization from images the experts classify correctly
 * (docs/algorithm.md#initialization-of-the-synthetic-set). */
#include "cli/distill_parts.h"
#include "core/util.h"
#include "distill/correct_init.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int distill_pix_correct(const DistillArgs *a) { return strcmp(a->pix_init, "samples_predicted_correctly") == 0; }

void label_experts_open(LabelExperts *le, const DistillArgs *a, const char *edir, const Net *net, const char *dataset,
                        uint64_t seed) {
    memset(le, 0, sizeof *le);
    Rng rng_labels;
    rng_init(&rng_labels, seed, 5);
    experts_open(&le->src, edir, net, dataset, a->zca, a->max_files, a->max_experts, 0, &rng_labels);
    /* The file and the expert experts_next hands out are the first of the shuffled lists;
     * read them before the call, which may move the source on (the file stays mapped). */
    const TrajFile *file = &le->src.cur;
    int expert = le->src.order[0], ts = a->Label_Model_Timestamp;
    Expert first = experts_next(&le->src, &rng_labels);
    int nsnap = first.snapshots;
    if (ts >= nsnap)
        die("--Label_Model_Timestamp %d: the experts in %s have %d snapshots (0 .. %d)", ts, edir, nsnap, nsnap - 1);
    le->epoch = ts < 0 ? nsnap - 1 : ts;
    size_t P = net->nparams;
    le->pick = xmalloc(P * sizeof(float));
    expert_snapshot(&first, le->epoch, le->pick);
    /* The file's snapshots serve only the logits averaged over the experts that classify an
     * image correctly (distill_start_logits); copied out of the mapping only then. */
    le->nfile = distill_pix_correct(a) ? le->src.norder : 0;
    le->file = xmalloc((size_t)le->nfile * sizeof *le->file);
    le->snaps = xmalloc((size_t)le->nfile * P * sizeof(float));
    for (int e = 0; e < le->nfile; e++) {
        traj_read(file, e, le->epoch, le->snaps + (size_t)e * P);
        le->file[e] = le->snaps + (size_t)e * P;
    }
    snprintf(le->who, sizeof le->who, "expert %d of replay_buffer_%d at epoch %d", expert, le->src.cur_file,
             le->epoch);
}

void label_experts_close(LabelExperts *le) {
    free(le->file);
    free(le->snaps);
    free(le->pick);
    experts_close(&le->src);
    memset(le, 0, sizeof *le);
}

void distill_correct_images(const DistillArgs *a, const DatasetInfo *ds, const Dataset *data, const LabelExperts *le,
                            Rng *rng, ImageSet *out) {
    int K = ds->num_classes, ipc = a->images_per_class;
    int *examined = xcalloc((size_t)K, sizeof(int));
    char err[600];
    if (pick_correct_images(le->src.net, le->pick, le->who, &data->train, K, ipc, rng, out, examined, err, sizeof err))
        die("%s", err);
    printf("Initialization: %d real image%s per class that %s classifies correctly; candidates walked per class:", ipc,
           ipc == 1 ? "" : "s", le->who);
    for (int c = 0; c < K; c++) printf(" %d", examined[c]);
    printf("\n");
    free(examined);
}

void distill_start_logits(const DistillArgs *a, const LabelExperts *le, const Net *net, const ImageSet *images,
                          float *logits, char *from, size_t len) {
    if (!distill_pix_correct(a)) {
        distill_label_logits(net, le->pick, images, logits);
        snprintf(from, len, "the logits of %s", le->who);
        return;
    }
    int *counts = xmalloc((size_t)images->n * sizeof(int));
    char err[400];
    if (average_correct_logits(net, le->file, le->nfile, images, logits, counts, err, sizeof err))
        die("%s%s", err, a->init_syn ? " (--init_syn's images were not picked by an expert; --pix_init=real starts "
                                       "the labels from one expert's logits instead)" : "");
    int lo = counts[0], hi = counts[0];
    double mean = 0;
    for (int i = 0; i < images->n; i++) {
        if (counts[i] < lo) lo = counts[i];
        if (counts[i] > hi) hi = counts[i];
        mean += counts[i];
    }
    snprintf(from, len, "the mean logits of the experts that classify each image correctly, of %d expert%s of "
             "replay_buffer_%d at epoch %d (per image %d .. %d, mean %.2f)", le->nfile, le->nfile == 1 ? "" : "s",
             le->src.cur_file, le->epoch, lo, hi, mean / images->n);
    free(counts);
}
