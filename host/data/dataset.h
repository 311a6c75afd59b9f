/* Datasets: the catalog (data/catalog.c: shapes, classes, mean/std, default paths)
 * and the readers (IDX for MNIST/Fashion-MNIST, gzipped or not; CIFAR-10/100 binary).
 * Loading follows SPEC 2.2: pixels p/255, then (unless raw) (x - mean_c) / std_c,
 * NCHW float32 in host memory. */
#ifndef CLMTT_DATASET_H
#define CLMTT_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;           /* --dataset spelling: MNIST, FashionMNIST, CIFAR10, CIFAR100 */
    int channels, height, width, num_classes;
    int train_count, test_count;
    float mean[3], std[3];
    const char *const *class_names;   /* num_classes names */
    const char *default_path;   /* used when --data_path is not given */
    int no_zca_suffix;          /* buffers folder gets "_NO_ZCA" without --zca (SPEC 6.4) */
} DatasetInfo;

/* NULL when unknown. */
const DatasetInfo *dataset_find(const char *name);
/* Dies with "--dataset: unknown dataset 'X' (known: ...)" when unknown. */
const DatasetInfo *dataset_require(const char *name);
/* The catalog, NULL-terminated. */
extern const DatasetInfo *const dataset_catalog[];

typedef struct {
    int n, c, h, w;
    float *images;     /* n*c*h*w floats, NCHW */
    int32_t *labels;   /* n labels in [0, num_classes) */
} ImageSet;

typedef struct {
    const DatasetInfo *info;
    ImageSet train, test;
} Dataset;

/* Loads both splits from data_path (NULL: the catalog's default). With normalize = 0
 * the pixels stay in [0, 1] (ZCA fits on those). Dies naming the file and what is wrong
 * (missing, truncated, bad magic number, label out of range, wrong image size). */
void dataset_load(const DatasetInfo *info, const char *data_path, int normalize, Dataset *out);
void dataset_free(Dataset *d);
void imageset_free(ImageSet *s);

/* Per-class training indices (SPEC 2.2 indices_class), in dataset order. */
typedef struct { int num_classes; int *count; int **idx; } ClassIndex;
void class_index_build(const ImageSet *s, int num_classes, ClassIndex *out);
void class_index_free(ClassIndex *ci);

/* Prints per-class counts and per-channel mean and unbiased std, as the original does at start-up. */
void dataset_print_summary(const Dataset *d);

/* Readers, exposed for tests. They return 0, or -1 with a message naming the file in err. */
int idx_read(const char *path, int expect_images, ImageSet *inout, char *err, size_t errlen);
int cifar_read(const char *path, int cifar100, ImageSet *append_to, char *err, size_t errlen);

#endif
