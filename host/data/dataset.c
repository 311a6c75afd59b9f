/* Dataset loading (docs/formats.md#datasets-read): finds the files of a catalog dataset under the data
 * folder, reads both splits, standardizes per channel, builds the per-class index and
 * prints the start-up summary. */
#include "data/dataset.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/folder.h"
#include "core/util.h"

/* A growing text buffer for the list of places looked in. */
typedef struct { char *s; size_t len, cap; } DsText;

static void ds_text_add(DsText *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ds_text_add(DsText *t, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int k = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) die("formatting failed");
        if (t->s && (size_t)k < room) { t->len += (size_t)k; return; }
        t->cap = (t->cap + (size_t)k + 1) * 2;
        t->s = xrealloc(t->s, t->cap);
        if (t->len == 0) t->s[0] = 0;
    }
}

static char *ds_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The first of dirs[0..ndirs) holding `name` (or, with try_gz, `name`.gz); malloc'd path.
 * NULL when none does; every path tried is then appended to `looked`. */
static char *ds_find_file(char *const *dirs, int ndirs, const char *name, int try_gz, DsText *looked) {
    for (int d = 0; d < ndirs; d++)
        for (int gz = 0; gz <= try_gz; gz++) {
            char base[256];
            snprintf(base, sizeof base, "%s%s", name, gz ? ".gz" : "");
            char *p = ds_join(dirs[d], base);
            if (file_exists(p)) return p;
            ds_text_add(looked, "\n  %s", p);
            free(p);
        }
    return NULL;
}

static void ds_free_dirs(char **dirs, int n) {
    for (int i = 0; i < n; i++) free(dirs[i]);
}

/* Dies with the message of a reader, prefixed by the dataset name. */
static void ds_read_or_die(const DatasetInfo *info, int rc, const char *err) {
    if (rc != 0) die("%s: %s", info->name, err);
}

/* ---- MNIST / Fashion-MNIST (IDX) ---- */

/* Looks in <root>, <root>/<Name>/raw and <root>/<Name> (torchvision's layout). */
static void ds_load_idx(const DatasetInfo *info, const char *root, Dataset *out) {
    static const char *const files[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    char sub_raw[128], sub[128];
    snprintf(sub_raw, sizeof sub_raw, "%s/raw", info->name);
    snprintf(sub, sizeof sub, "%s", info->name);
    char *dirs[3] = {xstrdup(root), ds_join(root, sub_raw), ds_join(root, sub)};
    char err[1024];
    for (int f = 0; f < 4; f++) {
        DsText looked = {0};
        char *path = ds_find_file(dirs, 3, files[f], 1, &looked);
        if (!path) {
            const char *hint = strcmp(info->name, "FashionMNIST") == 0
                ? "Install the Debian package dataset-fashion-mnist or pass --data_path <folder>"
                : "Pass --data_path <folder holding the four IDX files>";
            die("%s: cannot find %s[.gz]%s; looked for:%s\n%s", info->name, files[f],
                dir_exists(root) ? "" : " (the data folder does not exist)", looked.s, hint);
        }
        ImageSet *s = f < 2 ? &out->train : &out->test;
        ds_read_or_die(info, idx_read(path, f % 2 == 0, s, err, sizeof err), err);
        free(path);
        free(looked.s);
    }
    ds_free_dirs(dirs, 3);
}

/* ---- CIFAR-10 / CIFAR-100 (binary version) ---- */

/* The folder holding the Python (pickled) version, when root or its usual sub-folder does. */
static char *ds_cifar_python_folder(const char *root, int cifar100) {
    char *sub = ds_join(root, cifar100 ? "cifar-100-python" : "cifar-10-batches-py");
    if (dir_exists(sub)) return sub;
    free(sub);
    /* CIFAR-10's pickles are data_batch_1..5 and test_batch; CIFAR-100's are train, test and meta. */
    char *a = ds_join(root, cifar100 ? "train" : "data_batch_1");
    char *b = ds_join(root, cifar100 ? "meta" : "test_batch");
    int found = cifar100 ? file_exists(a) && file_exists(b) : file_exists(a) || file_exists(b);
    free(a);
    free(b);
    return found ? xstrdup(root) : NULL;
}

static void ds_load_cifar(const DatasetInfo *info, const char *root, Dataset *out) {
    int c100 = info->num_classes == 100;
    const char *bin_sub = c100 ? "cifar-100-binary" : "cifar-10-batches-bin";
    static const char *const train10[5] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                           "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const train100[1] = {"train.bin"};
    const char *const *train = c100 ? train100 : train10;
    int ntrain = c100 ? 1 : 5;
    char *dirs[2] = {xstrdup(root), ds_join(root, bin_sub)};
    char err[1024];
    for (int f = 0; f <= ntrain; f++) {
        const char *name = f < ntrain ? train[f] : (c100 ? "test.bin" : "test_batch.bin");
        DsText looked = {0};
        char *path = ds_find_file(dirs, 2, name, 0, &looked);
        if (!path) {
            char *py = ds_cifar_python_folder(root, c100);
            if (py) {
                char *outdir = ds_join(root, bin_sub);
                die("%s: %s holds the Python (pickled) version of %s, but clmtt reads the binary version.\n"
                    "Convert it with:\n  python3 tools/cifar_py_to_bin.py %s %s\n"
                    "(the default search finds <data_path>/%s; otherwise pass --data_path to the output folder)",
                    info->name, py, c100 ? "CIFAR-100" : "CIFAR-10", py, outdir, bin_sub);
            }
            die("%s: cannot find %s; looked for:%s\n"
                "Download the binary version (%s) and unpack it there, or pass --data_path <folder>",
                info->name, name, looked.s, c100 ? "cifar-100-binary.tar.gz" : "cifar-10-binary.tar.gz");
        }
        ImageSet *s = f < ntrain ? &out->train : &out->test;
        ds_read_or_die(info, cifar_read(path, c100, s, err, sizeof err), err);
        free(path);
        free(looked.s);
    }
    ds_free_dirs(dirs, 2);
}

/* ---- loading ---- */

/* x <- (x - mean_c) / std_c in float32, subtract then divide (docs/algorithm.md#pixel-pipeline). */
static void ds_standardize(ImageSet *s, const DatasetInfo *info) {
    size_t plane = (size_t)s->h * s->w;
    for (size_t i = 0; i < (size_t)s->n; i++)
        for (int c = 0; c < s->c; c++) {
            float m = info->mean[c], sd = info->std[c];
            float *x = s->images + (i * s->c + c) * plane;
            for (size_t k = 0; k < plane; k++) x[k] = (x[k] - m) / sd;
        }
}

/* Shapes and labels must match the catalog; counts other than the catalog's only warn,
 * so that reduced copies of a dataset still load. */
static void ds_check_split(const DatasetInfo *info, const ImageSet *s, const char *split, int want_n) {
    if (s->n == 0) die("%s: the %s split holds no images", info->name, split);
    if (s->c != info->channels || s->h != info->height || s->w != info->width)
        die("%s: %s images are %dx%dx%d, expected %dx%dx%d", info->name, split, s->c, s->h, s->w, info->channels,
            info->height, info->width);
    for (int i = 0; i < s->n; i++)
        if (s->labels[i] < 0 || s->labels[i] >= info->num_classes)
            die("%s: %s label %d at index %d is out of range 0..%d", info->name, split, s->labels[i], i,
                info->num_classes - 1);
    if (!info->counts_vary && s->n != want_n) warn("%s: the %s split has %d images (the full dataset has %d)", info->name, split, s->n, want_n);
}

void dataset_load(const DatasetInfo *info, const char *data_path, int normalize, Dataset *out) {
    memset(out, 0, sizeof *out);
    out->info = info;
    const char *root = data_path && *data_path ? data_path : info->default_path;
    if (strcmp(info->name, "MNIST") == 0 || strcmp(info->name, "FashionMNIST") == 0)
        ds_load_idx(info, root, out);
    else if (strcmp(info->name, "CIFAR10") == 0 || strcmp(info->name, "CIFAR100") == 0)
        ds_load_cifar(info, root, out);
    else if (strcmp(info->name, "Tiny") == 0)
        folder_load_tiny(info, root, out);
    else if (strcmp(info->name, "ImageNet") == 0)
        folder_load_imagenet(info, root, out);
    else
        die("%s: no reader for this dataset", info->name);
    ds_check_split(info, &out->train, "training", info->train_count);
    ds_check_split(info, &out->test, "test", info->test_count);
    if (normalize) {
        ds_standardize(&out->train, info);
        ds_standardize(&out->test, info);
    }
}

void imageset_alloc(ImageSet *s, int n, int c, int h, int w) {
    memset(s, 0, sizeof *s);
    s->n = n; s->c = c; s->h = h; s->w = w;
    s->images = xmalloc((size_t)n * c * h * w * sizeof(float));
    s->labels = xmalloc((size_t)n * sizeof(int32_t));
}

void imageset_free(ImageSet *s) {
    free(s->images);
    free(s->labels);
    free(s->targets);
    memset(s, 0, sizeof *s);
}

void dataset_free(Dataset *d) {
    imageset_free(&d->train);
    imageset_free(&d->test);
    if (d->class_names && d->info)
        for (int c = 0; c < d->info->num_classes; c++) free(d->class_names[c]);
    free(d->class_names);
    d->class_names = NULL;
    d->info = NULL;
}

/* ---- per-class index ---- */

void class_index_build(const ImageSet *s, int num_classes, ClassIndex *out) {
    out->num_classes = num_classes;
    out->count = xcalloc((size_t)num_classes, sizeof(int));
    out->idx = xcalloc((size_t)num_classes, sizeof(int *));
    for (int i = 0; i < s->n; i++) {
        int y = s->labels[i];
        if (y < 0 || y >= num_classes) die("class index: label %d at index %d is out of range 0..%d", y, i, num_classes - 1);
        out->count[y]++;
    }
    int *fill = xcalloc((size_t)num_classes, sizeof(int));
    for (int c = 0; c < num_classes; c++) out->idx[c] = xmalloc((size_t)(out->count[c] ? out->count[c] : 1) * sizeof(int));
    for (int i = 0; i < s->n; i++) {
        int y = s->labels[i];
        out->idx[y][fill[y]++] = i;
    }
    free(fill);
}

void class_index_free(ClassIndex *ci) {
    for (int c = 0; c < ci->num_classes; c++) free(ci->idx ? ci->idx[c] : NULL);
    free(ci->idx);
    free(ci->count);
    memset(ci, 0, sizeof *ci);
}

/* ---- start-up summary ---- */

/* Mean and unbiased std of channel c over all images, two passes in double. */
static void ds_channel_stats(const ImageSet *s, int c, double *mean, double *sd) {
    size_t plane = (size_t)s->h * s->w, cnt = (size_t)s->n * plane;
    double sum = 0;
    for (size_t i = 0; i < (size_t)s->n; i++) {
        const float *x = s->images + (i * s->c + c) * plane;
        for (size_t k = 0; k < plane; k++) sum += x[k];
    }
    double m = cnt ? sum / (double)cnt : NAN, ss = 0;
    for (size_t i = 0; i < (size_t)s->n; i++) {
        const float *x = s->images + (i * s->c + c) * plane;
        for (size_t k = 0; k < plane; k++) ss += (x[k] - m) * (x[k] - m);
    }
    *mean = m;
    *sd = cnt > 1 ? sqrt(ss / (double)(cnt - 1)) : NAN;
}

void dataset_print_summary(const Dataset *d) {
    const DatasetInfo *info = d->info;
    const ImageSet *s = &d->train;
    printf("%s: %d training and %d test images of %dx%dx%d, %d classes\n", info->name, s->n, d->test.n, s->c, s->h,
           s->w, info->num_classes);
    int *count = xcalloc((size_t)info->num_classes, sizeof(int));
    for (int i = 0; i < s->n; i++)
        if (s->labels[i] >= 0 && s->labels[i] < info->num_classes) count[s->labels[i]]++;
    const char *const *names = d->class_names ? (const char *const *)d->class_names : info->class_names;
    for (int c = 0; c < info->num_classes; c++)
        printf("class c = %d: %d real images (%s)\n", c, count[c], names && names[c] ? names[c] : "no folder");
    free(count);
    for (int c = 0; c < s->c; c++) {
        double m, sd;
        ds_channel_stats(s, c, &m, &sd);
        printf("real images channel %d, mean = %.4f, std = %.4f\n", c, m, sd);
    }
    fflush(stdout);
}
