/* Datasets: the catalog (data/catalog.c: shapes, classes, mean/std, default paths)
 * and the readers (IDX for MNIST/Fashion-MNIST, gzipped or not; CIFAR-10/100 binary;
 * JPEG/PNG folders for Tiny ImageNet and ImageNet subsets, host/data/folder.c).
 * Loading follows docs/algorithm.md#pixel-pipeline: pixels p/255 (ImageNet: resized, see folder.c), then
 * (unless raw) (x - mean_c) / std_c, NCHW float32 in host memory. */
#ifndef CLMTT_DATASET_H
#define CLMTT_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;           /* --dataset spelling: MNIST, FashionMNIST, CIFAR10, CIFAR100, Tiny, ImageNet */
    int channels, height, width, num_classes;
    int train_count, test_count;
    float mean[3], std[3];
    const char *const *class_names;   /* num_classes names; NULL for Tiny (the folder names, known once loaded) */
    const char *default_path;   /* used when --data_path is not given */
    int no_zca_suffix;          /* buffers folder gets "_NO_ZCA" without --zca (docs/formats.md#expert-folder-layout) */
    const char *given_name;     /* the --dataset spelling (dataset_resolve), e.g. CIFAR100xyz; NULL: name */
    int counts_vary;            /* 1: train_count/test_count are only typical (ImageNet subsets): no warning */
    /* ImageNet only, filled by dataset_resolve from the subset list (docs/algorithm.md#imagenet-subsets-and-resizing): */
    const char *subset;         /* the subset's name */
    const char *const *wnids;   /* num_classes class folder names; an entry is NULL when the list gave
                                   only an ImageNet index (resolved when loading) */
    const int *imagenet_index;  /* num_classes ImageNet-1k indices, -1 where the list gave none */
    /* Loader option (--skip_bad_images) for the picture datasets: an unreadable picture is
     * reported on stderr and left out instead of stopping the run. */
    int skip_bad_images;
    /* The subset list dataset_resolve read (ImageNet; NULL otherwise): the pointers above lead
     * into it, and dataset_info_free releases it. */
    void *owned;
} DatasetInfo;

/* NULL when unknown. */
const DatasetInfo *dataset_find(const char *name);
/* Dies with "--dataset: unknown dataset 'X' (known: ...)" when unknown. */
const DatasetInfo *dataset_require(const char *name);
/* The catalog, NULL-terminated. */
extern const DatasetInfo *const dataset_catalog[];
/* Copies the catalog entry of `name` (dies when unknown) into *out and, for ImageNet, makes
 * it res x res with the classes of the subset list `subset` (host/data/subset.h). Dies
 * naming the known subsets when there is none of that name, and for res outside 8..1024.
 * subset and res are ignored for the other datasets. The lists stay allocated for the
 * rest of the run (one resolution per command). */
void dataset_resolve(const char *name, const char *subset, int res, DatasetInfo *out);
/* Releases what dataset_resolve allocated for info (its subset list); info is then unusable. */
void dataset_info_free(DatasetInfo *info);

typedef struct {
    int n, c, h, w;
    float *images;     /* n*c*h*w floats, NCHW */
    int32_t *labels;   /* n labels in [0, num_classes) */
    /* NULL, or n target rows of k floats (soft labels, one distribution per image); training
     * on the set uses them in place of the one-hot rows of `labels`. */
    float *targets;
    int k;
} ImageSet;

typedef struct {
    const DatasetInfo *info;
    ImageSet train, test;
    /* Picture datasets: class names found while loading (Tiny: the sorted train/ folders,
     * NULL where a class has no folder), NULL otherwise; then info->class_names apply. */
    char **class_names;
    /* Picture datasets: pictures decoded in this load (0 when the decoded cache served
     * them), whether the cache served them, and pictures left out by skip_bad_images. */
    int decoded, from_cache, skipped;
} Dataset;

/* Loads both splits from data_path (NULL: the catalog's default). With normalize = 0
 * the pixels stay in [0, 1] (ZCA fits on those). Dies naming the file and what is wrong
 * (missing, truncated, bad magic number, label out of range, wrong image size). */
void dataset_load(const DatasetInfo *info, const char *data_path, int normalize, Dataset *out);
void dataset_free(Dataset *d);
/* A set of n images of c x h x w with room for n labels (contents unset, no targets). */
void imageset_alloc(ImageSet *s, int n, int c, int h, int w);
void imageset_free(ImageSet *s);

/* Per-class training indices (docs/algorithm.md#pixel-pipeline indices_class), in dataset order. */
typedef struct { int num_classes; int *count; int **idx; } ClassIndex;
void class_index_build(const ImageSet *s, int num_classes, ClassIndex *out);
void class_index_free(ClassIndex *ci);

/* Prints per-class counts and per-channel mean and unbiased std, as the original does at start-up. */
void dataset_print_summary(const Dataset *d);

/* Readers, exposed for tests. They return 0, or -1 with a message naming the file in err. */
int idx_read(const char *path, int expect_images, ImageSet *inout, char *err, size_t errlen);
int cifar_read(const char *path, int cifar100, ImageSet *append_to, char *err, size_t errlen);

#endif
