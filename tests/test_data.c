/* Datasets: the catalog, the IDX and CIFAR readers on small files written here (plain and
 * gzipped), every reader fault with its message, the folder search of dataset_load, the
 * standardization, the per-class index, the summary, the CIFAR pickle converter, and the
 * real Fashion-MNIST (Debian package dataset-fashion-mnist). No device is needed. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/dataset.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ---- file helpers ---- */

static void put_file(const char *dir, const char *name, const void *data, size_t len) {
    char *p = tu_path(dir, name);
    tu_write_file(p, data, len);
    free(p);
}

static void put_gz(const char *dir, const char *name, const void *data, size_t len) {
    char *p = tu_path(dir, name);
    gzFile f = gzopen(p, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", p);
    ck_assert_int_eq(gzwrite(f, data, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(f), Z_OK);
    free(p);
}

static char *make_subdir(const char *dir, const char *name) {
    char *p = tu_path(dir, name);
    mkdir_p(p);
    return p;
}

static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* Deterministic pixel byte k of image i of a file tagged `tag`; covers 0 and 255. */
static unsigned char pix(uint32_t tag, uint32_t i, uint32_t k) {
    uint32_t x = tag * 0x9E3779B9u ^ (i * 0x85EBCA6Bu + k * 0xC2B2AE35u + 1u);
    x ^= x >> 15; x *= 0x2C1B3C6Du; x ^= x >> 12;
    if (k == 0) return 0;
    if (k == 1) return 255;
    return (unsigned char)(x >> 8);
}

/* IDX image file: magic, count, rows, cols, then the pixels of pix(tag, i, k). */
static unsigned char *idx_images(uint32_t magic, int n, int rows, int cols, uint32_t tag, size_t *len) {
    *len = 16 + (size_t)n * rows * cols;
    unsigned char *b = xmalloc(*len);
    be32(b, magic); be32(b + 4, (uint32_t)n); be32(b + 8, (uint32_t)rows); be32(b + 12, (uint32_t)cols);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < rows * cols; k++) b[16 + (size_t)i * rows * cols + k] = pix(tag, (uint32_t)i, (uint32_t)k);
    return b;
}

/* IDX label file with labels (i * 3 + tag) % 10. */
static unsigned char *idx_labels(uint32_t magic, int n, uint32_t tag, size_t *len) {
    *len = 8 + (size_t)n;
    unsigned char *b = xmalloc(*len);
    be32(b, magic); be32(b + 4, (uint32_t)n);
    for (int i = 0; i < n; i++) b[8 + i] = (unsigned char)((i * 3 + tag) % 10);
    return b;
}

/* The four IDX files of a split pair into dir; train gzipped or not, test plain. */
static void write_idx_dataset(const char *dir, int ntrain, int ntest, int gz_train) {
    size_t len;
    unsigned char *b = idx_images(0x803, ntrain, 28, 28, 1, &len);
    if (gz_train) put_gz(dir, "train-images-idx3-ubyte.gz", b, len); else put_file(dir, "train-images-idx3-ubyte", b, len);
    free(b);
    b = idx_labels(0x801, ntrain, 1, &len);
    if (gz_train) put_gz(dir, "train-labels-idx1-ubyte.gz", b, len); else put_file(dir, "train-labels-idx1-ubyte", b, len);
    free(b);
    b = idx_images(0x803, ntest, 28, 28, 2, &len);
    put_file(dir, "t10k-images-idx3-ubyte", b, len);
    free(b);
    b = idx_labels(0x801, ntest, 2, &len);
    put_file(dir, "t10k-labels-idx1-ubyte", b, len);
    free(b);
}

/* CIFAR records: label byte(s) then 3072 pixels pix(tag, i, k); CIFAR-10 labels (i + tag) % 10,
 * CIFAR-100 fine (7 i + tag) % 100 and coarse (fine / 5). */
static unsigned char *cifar_records(int cifar100, int n, uint32_t tag, size_t *len) {
    size_t rec = 3072 + (cifar100 ? 2 : 1);
    *len = rec * (size_t)n;
    unsigned char *b = xmalloc(*len ? *len : 1);
    for (int i = 0; i < n; i++) {
        unsigned char *r = b + rec * (size_t)i;
        if (cifar100) {
            r[1] = (unsigned char)((7 * i + tag) % 100);
            r[0] = (unsigned char)(r[1] / 5);
        } else {
            r[0] = (unsigned char)((i + tag) % 10);
        }
        for (int k = 0; k < 3072; k++) r[rec - 3072 + k] = pix(tag, (uint32_t)i, (uint32_t)k);
    }
    return b;
}

static void put_cifar(const char *dir, const char *name, int cifar100, int n, uint32_t tag) {
    size_t len;
    unsigned char *b = cifar_records(cifar100, n, tag, &len);
    put_file(dir, name, b, len);
    free(b);
}

/* ---- checks ---- */

/* Every pixel of image i equals pix(tag, src_i, k)/255, standardized when info is given
 * (in float32, subtract then divide), and also matches the same formula in double. */
static void check_image(const ImageSet *s, int i, uint32_t tag, int src_i, const DatasetInfo *norm) {
    size_t sz = (size_t)s->c * s->h * s->w, plane = (size_t)s->h * s->w;
    for (size_t k = 0; k < sz; k++) {
        unsigned char p = pix(tag, (uint32_t)src_i, (uint32_t)k);
        float want = (float)p / 255.0f;
        double want_d = p / 255.0;
        if (norm) {
            int c = (int)(k / plane);
            want = (want - norm->mean[c]) / norm->std[c];
            want_d = (want_d - norm->mean[c]) / norm->std[c];
        }
        float got = s->images[(size_t)i * sz + k];
        ck_assert_msg(got == want, "image %d pixel %zu: got %.9g, want %.9g", i, k, got, want);
        ck_assert_msg(fabs(got - want_d) <= 1e-6 * (1 + fabs(want_d)), "image %d pixel %zu: %.9g vs double %.9g", i, k, got,
                      want_d);
    }
}

/* Children for tu_in_child: the paths that die(). */
typedef struct { const DatasetInfo *info; const char *path; } LoadArgs;

static void load_in_child(void *p) {
    LoadArgs *a = p;
    Dataset d;
    dataset_load(a->info, a->path, 1, &d);
}

static void require_in_child(void *p) { dataset_require((const char *)p); }

/* ---- catalog ---- */

START_TEST(catalog_entries) {
    const DatasetInfo *m = dataset_find("MNIST"), *f = dataset_find("FashionMNIST");
    const DatasetInfo *c10 = dataset_find("CIFAR10"), *c100 = dataset_find("CIFAR100");
    ck_assert_ptr_nonnull(m); ck_assert_ptr_nonnull(f); ck_assert_ptr_nonnull(c10); ck_assert_ptr_nonnull(c100);
    ck_assert_str_eq(c10->name, "CIFAR10");
    ck_assert_str_eq(c100->name, "CIFAR100");
    /* The original's CIFAR-100 branch matches any id starting with "CIFAR100". */
    ck_assert_ptr_eq(dataset_find("CIFAR100xyz"), c100);
    ck_assert_ptr_null(dataset_find("CIFAR1"));
    ck_assert_ptr_null(dataset_find("cifar10"));
    ck_assert_ptr_null(dataset_find("tiny"));
    ck_assert_ptr_null(dataset_find("Imagenet"));
    ck_assert_ptr_null(dataset_find(""));
    ck_assert_ptr_null(dataset_find(NULL));
    int n = 0;
    while (dataset_catalog[n]) n++;
    ck_assert_int_eq(n, 6);

    ck_assert_int_eq(m->channels, 1); ck_assert_int_eq(m->height, 28); ck_assert_int_eq(m->width, 28);
    ck_assert_int_eq(m->train_count, 60000); ck_assert_int_eq(m->test_count, 10000);
    ck_assert_float_eq(m->mean[0], 0.1307f); ck_assert_float_eq(m->std[0], 0.3081f);
    ck_assert_float_eq(f->mean[0], 0.2861f); ck_assert_float_eq(f->std[0], 0.3530f);
    ck_assert_str_eq(f->default_path, FASHION_DIR);
    ck_assert_str_eq(m->default_path, "data");
    const float cm[3] = {0.4914f, 0.4822f, 0.4465f}, cs[3] = {0.2023f, 0.1994f, 0.2010f};
    for (int c = 0; c < 3; c++) {
        ck_assert_float_eq(c10->mean[c], cm[c]); ck_assert_float_eq(c10->std[c], cs[c]);
        ck_assert_float_eq(c100->mean[c], cm[c]); ck_assert_float_eq(c100->std[c], cs[c]);
    }
    ck_assert_int_eq(c10->channels, 3); ck_assert_int_eq(c10->height, 32); ck_assert_int_eq(c10->train_count, 50000);
    ck_assert_int_eq(c100->num_classes, 100); ck_assert_int_eq(c100->test_count, 10000);
    /* The first four get "_NO_ZCA" without ZCA; Tiny and ImageNet do not (docs/formats.md#expert-folder-layout). Tiny's names
     * come from its folders, ImageNet's from the subset (dataset_resolve; tests/test_images.c). */
    for (int i = 0; dataset_catalog[i]; i++) {
        ck_assert_int_eq(dataset_catalog[i]->no_zca_suffix, i < 4);
        if (i < 4)
            for (int k = 0; k < dataset_catalog[i]->num_classes; k++) ck_assert_ptr_nonnull(dataset_catalog[i]->class_names[k]);
        else
            ck_assert_ptr_null(dataset_catalog[i]->class_names);
    }
    const DatasetInfo *tiny = dataset_find("Tiny"), *inet = dataset_find("ImageNet");
    ck_assert_ptr_nonnull(tiny); ck_assert_ptr_nonnull(inet);
    ck_assert_int_eq(tiny->channels, 3); ck_assert_int_eq(tiny->height, 64); ck_assert_int_eq(tiny->width, 64);
    ck_assert_int_eq(tiny->num_classes, 200);
    ck_assert_int_eq(tiny->train_count, 100000); ck_assert_int_eq(tiny->test_count, 10000);
    ck_assert_int_eq(inet->channels, 3); ck_assert_int_eq(inet->height, 128); ck_assert_int_eq(inet->num_classes, 10);
    const float im[3] = {0.485f, 0.456f, 0.406f}, is[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 3; c++) {
        ck_assert_float_eq(tiny->mean[c], im[c]); ck_assert_float_eq(tiny->std[c], is[c]);
        ck_assert_float_eq(inet->mean[c], im[c]); ck_assert_float_eq(inet->std[c], is[c]);
    }
    ck_assert_str_eq(m->class_names[7], "7");
    ck_assert_str_eq(f->class_names[0], "T-shirt/top");
    ck_assert_str_eq(f->class_names[9], "Ankle boot");
    ck_assert_str_eq(c10->class_names[0], "airplane");
    ck_assert_str_eq(c10->class_names[9], "truck");
    /* The fine names are listed alphabetically, so label order is byte order; no duplicates. */
    for (int k = 1; k < 100; k++)
        ck_assert_msg(strcmp(c100->class_names[k - 1], c100->class_names[k]) < 0, "CIFAR-100 names out of order at %d", k);
    ck_assert_str_eq(c100->class_names[0], "apple");
    ck_assert_str_eq(c100->class_names[15], "camel");
    ck_assert_str_eq(c100->class_names[99], "worm");
}
END_TEST

START_TEST(catalog_require_unknown) {
    ck_assert_ptr_eq(dataset_require("FashionMNIST"), dataset_find("FashionMNIST"));
    char msg[4096];
    ck_assert_int_eq(tu_in_child(require_in_child, "ImageNette", msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "--dataset: unknown dataset 'ImageNette' (known: MNIST, FashionMNIST, CIFAR10, CIFAR100, Tiny, ImageNet)");
}
END_TEST

/* ---- IDX ---- */

START_TEST(idx_plain_and_gzip) {
    char *dir = tu_tempdir("data-idx");
    for (int gz = 0; gz < 2; gz++) {
        size_t li, ll;
        unsigned char *img = idx_images(0x803, 7, 28, 28, 5, &li), *lab = idx_labels(0x801, 7, 5, &ll);
        if (gz) { put_gz(dir, "i.gz", img, li); put_gz(dir, "l.gz", lab, ll); }
        else { put_file(dir, "i", img, li); put_file(dir, "l", lab, ll); }
        char *pi = tu_path(dir, gz ? "i.gz" : "i"), *pl = tu_path(dir, gz ? "l.gz" : "l");
        ImageSet s = {0};
        char err[1024] = "";
        ck_assert_msg(idx_read(pi, 1, &s, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(idx_read(pl, 0, &s, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(s.n, 7); ck_assert_int_eq(s.c, 1); ck_assert_int_eq(s.h, 28); ck_assert_int_eq(s.w, 28);
        for (int i = 0; i < 7; i++) {
            check_image(&s, i, 5, i, NULL);
            ck_assert_int_eq(s.labels[i], (i * 3 + 5) % 10);
        }
        /* Extremes of the byte range map to exactly 0 and 1. */
        ck_assert_float_eq(s.images[0], 0.0f);
        ck_assert_float_eq(s.images[1], 1.0f);
        imageset_free(&s);
        ck_assert_ptr_null(s.images);
        free(img); free(lab); free(pi); free(pl);
    }
    tu_rm_tree(dir);
    free(dir);
}
END_TEST

/* Reads one crafted file and expects failure with every listed fragment in the message. */
static void expect_idx_error(const char *dir, const char *name, const void *data, size_t len, int gz, int images,
                             ImageSet *s, const char *const *parts) {
    if (gz) put_gz(dir, name, data, len); else put_file(dir, name, data, len);
    char *p = tu_path(dir, name);
    char err[1024] = "";
    ck_assert_int_eq(idx_read(p, images, s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, p);
    for (int i = 0; parts[i]; i++) TU_ASSERT_HAS(err, parts[i]);
    free(p);
}

START_TEST(idx_faults) {
    char *dir = tu_tempdir("data-idxbad");
    size_t len;
    ImageSet s = {0};
    /* An image file read as labels and the reverse. */
    unsigned char *b = idx_images(0x803, 7, 28, 28, 1, &len);
    expect_idx_error(dir, "as-labels", b, len, 0, 0, &s,
                     (const char *[]){"bad magic number 0x00000803", "expected 0x00000801", NULL});
    unsigned char *l = idx_labels(0x801, 7, 1, &len);
    expect_idx_error(dir, "as-images.gz", l, len, 1, 1, &s,
                     (const char *[]){"bad magic number 0x00000801", "label file", "expected 0x00000803", NULL});
    free(l);
    /* Truncated: 7 images announced, 6.5 present; plain and gzipped. */
    size_t cut = 16 + 6 * 784 + 392;
    expect_idx_error(dir, "trunc", b, cut, 0, 1, &s,
                     (const char *[]){"truncated", "expected 5504 bytes", "found 5112", NULL});
    expect_idx_error(dir, "trunc.gz", b, cut, 1, 1, &s, (const char *[]){"truncated", "found 5112", NULL});
    /* Extra bytes after the last image. */
    unsigned char *longer = xcalloc(len = 16 + 7 * 784 + 3, 1);
    memcpy(longer, b, 16 + 7 * 784);
    expect_idx_error(dir, "long", longer, len, 0, 1, &s, (const char *[]){"extra data", "found 5507", NULL});
    free(longer);
    free(b);
    /* A gzip stream cut in half. */
    b = idx_images(0x803, 7, 28, 28, 1, &len);
    put_gz(dir, "whole.gz", b, len);
    size_t glen;
    char *gp = tu_path(dir, "whole.gz");
    unsigned char *g = read_file(gp, &glen);
    ck_assert_ptr_nonnull(g);
    expect_idx_error(dir, "half.gz", g, glen / 2, 0, 1, &s, (const char *[]){"gzip stream ends early", NULL});
    /* A damaged deflate stream (block type 3 right after the 10-byte gzip header): zlib's
     * message, which once was read after gzclose had freed it (found by tests/fuzz/idx.c). */
    g[10] = 0xff;
    expect_idx_error(dir, "damaged.gz", g, glen, 0, 1, &s,
                     (const char *[]){"cannot decompress", "invalid block type", NULL});
    free(g); free(gp); free(b);
    /* Wrong image size. */
    b = idx_images(0x803, 3, 32, 32, 1, &len);
    expect_idx_error(dir, "big", b, len, 0, 1, &s, (const char *[]){"images are 32x32", "expected 28x28", NULL});
    free(b);
    /* Label out of range. */
    l = idx_labels(0x801, 7, 1, &len);
    l[8 + 3] = 10;
    expect_idx_error(dir, "lab10", l, len, 0, 0, &s, (const char *[]){"label 10 at index 3 is out of range 0..9", NULL});
    free(l);
    /* Too short for any header. */
    expect_idx_error(dir, "tiny", "\0\0", 2, 0, 1, &s, (const char *[]){"too short", NULL});
    /* Missing file. */
    char err[1024];
    char *missing = tu_path(dir, "nope");
    ck_assert_int_eq(idx_read(missing, 1, &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, missing);
    TU_ASSERT_HAS(err, "No such file");
    free(missing);
    /* Nothing was stored by the failures. */
    ck_assert_ptr_null(s.images); ck_assert_ptr_null(s.labels); ck_assert_int_eq(s.n, 0);
    /* Image and label counts must agree, whichever is read first. */
    b = idx_images(0x803, 7, 28, 28, 1, &len);
    put_file(dir, "img7", b, len);
    free(b);
    l = idx_labels(0x801, 6, 1, &len);
    char *pi = tu_path(dir, "img7");
    ck_assert_int_eq(idx_read(pi, 1, &s, err, sizeof err), 0);
    expect_idx_error(dir, "lab6", l, len, 0, 0, &s,
                     (const char *[]){"count mismatch", "6 labels", "image file holds 7", NULL});
    imageset_free(&s);
    char *pl = tu_path(dir, "lab6");
    ck_assert_int_eq(idx_read(pl, 0, &s, err, sizeof err), 0);
    ck_assert_int_eq(idx_read(pi, 1, &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "count mismatch");
    TU_ASSERT_HAS(err, "7 images but the label file holds 6");
    imageset_free(&s);
    free(l); free(pi); free(pl);
    tu_rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(idx_dataset_load_layouts) {
    /* torchvision's layout <root>/MNIST/raw with gzipped training files, raw pixels. */
    char *root = tu_tempdir("data-mnist");
    char *raw = make_subdir(root, "MNIST/raw");
    write_idx_dataset(raw, 7, 3, 1);
    const DatasetInfo *m = dataset_find("MNIST");
    Dataset d;
    dataset_load(m, root, 0, &d);
    ck_assert_ptr_eq(d.info, m);
    ck_assert_int_eq(d.train.n, 7); ck_assert_int_eq(d.test.n, 3);
    for (int i = 0; i < 7; i++) { check_image(&d.train, i, 1, i, NULL); ck_assert_int_eq(d.train.labels[i], (i * 3 + 1) % 10); }
    for (int i = 0; i < 3; i++) { check_image(&d.test, i, 2, i, NULL); ck_assert_int_eq(d.test.labels[i], (i * 3 + 2) % 10); }
    dataset_free(&d);
    ck_assert_ptr_null(d.train.images);
    /* Standardized with MNIST's mean/std. */
    dataset_load(m, root, 1, &d);
    for (int i = 0; i < 7; i++) check_image(&d.train, i, 1, i, m);
    for (int i = 0; i < 3; i++) check_image(&d.test, i, 2, i, m);
    dataset_free(&d);
    /* <root>/FashionMNIST without raw/, plain files. */
    char *root2 = tu_tempdir("data-fashion");
    char *sub = make_subdir(root2, "FashionMNIST");
    write_idx_dataset(sub, 5, 4, 0);
    const DatasetInfo *f = dataset_find("FashionMNIST");
    dataset_load(f, root2, 1, &d);
    ck_assert_int_eq(d.train.n, 5); ck_assert_int_eq(d.test.n, 4);
    for (int i = 0; i < 5; i++) check_image(&d.train, i, 1, i, f);
    dataset_free(&d);
    /* Files directly in the data folder. */
    char *root3 = tu_tempdir("data-flat");
    write_idx_dataset(root3, 2, 2, 1);
    dataset_load(m, root3, 0, &d);
    ck_assert_int_eq(d.train.n, 2);
    check_image(&d.train, 1, 1, 1, NULL);
    dataset_free(&d);
    tu_rm_tree(root); tu_rm_tree(root2); tu_rm_tree(root3);
    free(root); free(raw); free(root2); free(sub); free(root3);
}
END_TEST

START_TEST(idx_missing_lists_places) {
    char *root = tu_tempdir("data-missing");
    char msg[8192];
    LoadArgs a = {dataset_find("MNIST"), root};
    ck_assert_int_eq(tu_in_child(load_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "MNIST: cannot find train-images-idx3-ubyte[.gz]");
    const char *places[] = {"", "/MNIST/raw", "/MNIST"};
    for (int i = 0; i < 3; i++)
        for (int gz = 0; gz < 2; gz++) {
            char want[512];
            snprintf(want, sizeof want, "%s%s/train-images-idx3-ubyte%s\n", root, places[i], gz ? ".gz" : "");
            TU_ASSERT_HAS(msg, want);
        }
    TU_ASSERT_HAS(msg, "--data_path");
    /* Later files are searched too: with only the training files present, the test images are named. */
    size_t len;
    unsigned char *b = idx_images(0x803, 2, 28, 28, 1, &len);
    put_file(root, "train-images-idx3-ubyte", b, len);
    free(b);
    b = idx_labels(0x801, 2, 1, &len);
    put_file(root, "train-labels-idx1-ubyte", b, len);
    free(b);
    a.info = dataset_find("FashionMNIST");
    ck_assert_int_eq(tu_in_child(load_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "FashionMNIST: cannot find t10k-images-idx3-ubyte[.gz]");
    TU_ASSERT_HAS(msg, "/FashionMNIST/raw/t10k-images-idx3-ubyte.gz");
    TU_ASSERT_HAS(msg, "dataset-fashion-mnist");
    /* A reader fault through dataset_load names the dataset and the file. */
    put_file(root, "t10k-images-idx3-ubyte", "\0\0\x08\x01\0\0\0\0", 8);
    ck_assert_int_eq(tu_in_child(load_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "FashionMNIST: ");
    TU_ASSERT_HAS(msg, "t10k-images-idx3-ubyte: bad magic number 0x00000801");
    /* A data folder that does not exist is called out. */
    char *gone = tu_path(root, "absent");
    a.path = gone;
    ck_assert_int_eq(tu_in_child(load_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "the data folder does not exist");
    tu_rm_tree(root);
    free(gone); free(root);
}
END_TEST

/* ---- CIFAR ---- */

START_TEST(cifar10_records_and_load) {
    char *root = tu_tempdir("data-cifar10");
    char *bin = make_subdir(root, "cifar-10-batches-bin");
    /* Batch b (1..5) holds 3 records tagged 10+b; the test batch 2 records tagged 20. */
    for (int b = 1; b <= 5; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b);
        put_cifar(bin, name, 0, 3, 10 + (uint32_t)b);
    }
    put_cifar(bin, "test_batch.bin", 0, 2, 20);
    /* The reader appends. */
    ImageSet s = {0};
    char err[1024] = "";
    char *p1 = tu_path(bin, "data_batch_1.bin"), *p2 = tu_path(bin, "data_batch_2.bin");
    ck_assert_msg(cifar_read(p1, 0, &s, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(cifar_read(p2, 0, &s, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(s.n, 6); ck_assert_int_eq(s.c, 3); ck_assert_int_eq(s.h, 32); ck_assert_int_eq(s.w, 32);
    for (int i = 0; i < 6; i++) {
        check_image(&s, i, 11 + (uint32_t)(i / 3), i % 3, NULL);
        ck_assert_int_eq(s.labels[i], (i % 3 + 11 + i / 3) % 10);
    }
    imageset_free(&s);
    free(p1); free(p2);
    /* Through dataset_load from the data folder: batches concatenated in order, then standardized
     * per channel with CIFAR-10's mean/std. */
    const DatasetInfo *info = dataset_find("CIFAR10");
    Dataset d;
    dataset_load(info, root, 1, &d);
    ck_assert_int_eq(d.train.n, 15); ck_assert_int_eq(d.test.n, 2);
    for (int i = 0; i < 15; i++) {
        uint32_t tag = 11 + (uint32_t)(i / 3);
        check_image(&d.train, i, tag, i % 3, info);
        ck_assert_int_eq(d.train.labels[i], (int)((i % 3 + tag) % 10));
    }
    for (int i = 0; i < 2; i++) check_image(&d.test, i, 20, i, info);
    dataset_free(&d);
    tu_rm_tree(root);
    free(bin); free(root);
}
END_TEST

START_TEST(cifar100_fine_labels) {
    char *root = tu_tempdir("data-cifar100");
    put_cifar(root, "train.bin", 1, 4, 30);
    put_cifar(root, "test.bin", 1, 3, 31);
    const DatasetInfo *info = dataset_find("CIFAR100");
    Dataset d;
    dataset_load(info, root, 0, &d);
    ck_assert_int_eq(d.train.n, 4); ck_assert_int_eq(d.test.n, 3);
    for (int i = 0; i < 4; i++) {
        check_image(&d.train, i, 30, i, NULL);
        ck_assert_int_eq(d.train.labels[i], (7 * i + 30) % 100);
    }
    for (int i = 0; i < 3; i++) {
        check_image(&d.test, i, 31, i, NULL);
        ck_assert_int_eq(d.test.labels[i], (7 * i + 31) % 100);
    }
    dataset_free(&d);
    tu_rm_tree(root);
    free(root);
}
END_TEST

START_TEST(cifar_faults) {
    char *dir = tu_tempdir("data-cifarbad");
    char err[1024];
    ImageSet s = {0};
    /* A partial record. */
    size_t len;
    unsigned char *b = cifar_records(0, 3, 1, &len);
    put_file(dir, "partial.bin", b, 2 * 3073 + 100);
    char *p = tu_path(dir, "partial.bin");
    ck_assert_int_eq(cifar_read(p, 0, &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, p);
    TU_ASSERT_HAS(err, "file size 6246 is not a whole number of 3073-byte records");
    TU_ASSERT_HAS(err, "2 records and 100 bytes left over");
    free(p);
    /* A CIFAR-10 file read as CIFAR-100. */
    put_file(dir, "ten.bin", b, len);
    p = tu_path(dir, "ten.bin");
    ck_assert_int_eq(cifar_read(p, 1, &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "3074-byte records");
    free(p); free(b);
    /* Labels out of range: CIFAR-10 label 10, CIFAR-100 fine 100 and coarse 20. */
    b = cifar_records(0, 3, 1, &len);
    b[3073 * 2] = 10;
    put_file(dir, "lab.bin", b, len);
    free(b);
    p = tu_path(dir, "lab.bin");
    ck_assert_int_eq(cifar_read(p, 0, &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "record 2 has label 10, out of range 0..9");
    free(p);
    b = cifar_records(1, 2, 1, &len);
    b[3074 + 1] = 100;
    put_file(dir, "fine.bin", b, len);
    b[3074 + 1] = 5;
    b[0] = 20;
    put_file(dir, "coarse.bin", b, len);
    free(b);
    p = tu_path(dir, "fine.bin");
    ck_assert_int_eq(cifar_read(p, 1, &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "record 1 has fine label 100, out of range 0..99");
    free(p);
    p = tu_path(dir, "coarse.bin");
    ck_assert_int_eq(cifar_read(p, 1, &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "record 0 has coarse label 20, out of range 0..19");
    free(p);
    /* Empty and missing files. */
    put_file(dir, "empty.bin", "", 0);
    p = tu_path(dir, "empty.bin");
    ck_assert_int_eq(cifar_read(p, 0, &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "empty file");
    free(p);
    p = tu_path(dir, "none.bin");
    ck_assert_int_eq(cifar_read(p, 0, &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "cannot read");
    TU_ASSERT_HAS(err, p);
    free(p);
    ck_assert_int_eq(s.n, 0); ck_assert_ptr_null(s.images);
    tu_rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(cifar_missing_and_python_version) {
    char *root = tu_tempdir("data-cifarpy");
    char msg[8192], want[1024];
    LoadArgs a = {dataset_find("CIFAR10"), root};
    /* Nothing there: both places are listed. */
    ck_assert_int_eq(tu_in_child(load_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "CIFAR10: cannot find data_batch_1.bin");
    snprintf(want, sizeof want, "  %s/data_batch_1.bin\n", root);
    TU_ASSERT_HAS(msg, want);
    snprintf(want, sizeof want, "  %s/cifar-10-batches-bin/data_batch_1.bin\n", root);
    TU_ASSERT_HAS(msg, want);
    /* The Python version in its usual folder. */
    char *py = make_subdir(root, "cifar-10-batches-py");
    put_file(py, "data_batch_1", "x", 1);
    ck_assert_int_eq(tu_in_child(load_in_child, &a, msg, sizeof msg), 1);
    snprintf(want, sizeof want, "python3 tools/cifar_py_to_bin.py %s %s/cifar-10-batches-bin", py, root);
    TU_ASSERT_HAS(msg, want);
    TU_ASSERT_HAS(msg, "Python (pickled) version of CIFAR-10");
    /* The Python files directly in the data folder. */
    char *root2 = tu_tempdir("data-cifarpy2");
    put_file(root2, "data_batch_1", "x", 1);
    a.path = root2;
    ck_assert_int_eq(tu_in_child(load_in_child, &a, msg, sizeof msg), 1);
    snprintf(want, sizeof want, "python3 tools/cifar_py_to_bin.py %s %s/cifar-10-batches-bin", root2, root2);
    TU_ASSERT_HAS(msg, want);
    /* CIFAR-100's Python folder. */
    char *py100 = make_subdir(root, "cifar-100-python");
    a.info = dataset_find("CIFAR100");
    a.path = root;
    ck_assert_int_eq(tu_in_child(load_in_child, &a, msg, sizeof msg), 1);
    snprintf(want, sizeof want, "python3 tools/cifar_py_to_bin.py %s %s/cifar-100-binary", py100, root);
    TU_ASSERT_HAS(msg, want);
    /* A partial record through dataset_load. */
    char *root3 = tu_tempdir("data-cifarpart");
    put_cifar(root3, "train.bin", 1, 2, 1);
    put_file(root3, "test.bin", "abc", 3);
    a.path = root3;
    ck_assert_int_eq(tu_in_child(load_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "CIFAR100: ");
    TU_ASSERT_HAS(msg, "test.bin: file size 3 is not a whole number of 3074-byte records");
    tu_rm_tree(root); tu_rm_tree(root2); tu_rm_tree(root3);
    free(py); free(py100); free(root); free(root2); free(root3);
}
END_TEST

/* ---- the pickle converter ---- */

/* A python3 that has NumPy, or NULL. */
static const char *python_with_numpy(void) {
    static const char *const cands[] = {"python3", "/usr/bin/python3"};
    for (int i = 0; i < 2; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) return cands[i];
    }
    return NULL;
}

static char *source_dir(void) {
    const char *env = getenv("CLMTT_SOURCE_DIR");
    if (env && *env) return xstrdup(env);
    char *s = xstrdup(__FILE__);
    char *cut = strstr(s, "/tests/test_data.c");
    if (cut) *cut = 0;
    return s;
}

START_TEST(cifar_python_converter) {
    const char *py = python_with_numpy();
    if (!py) {
        printf("test_data: no python3 with NumPy; the converter is not exercised\n");
        return;
    }
    char *src = source_dir(), *root = tu_tempdir("data-convert");
    /* Fake pickled batches with the archives' keys; pixel k of image i in batch b is
     * (i*7 + k*13 + b*29) % 256, labels as written below. */
    const char *script =
        "import pickle, sys, os, numpy as np\n"
        "root = sys.argv[1]\n"
        "def px(n, b):\n"
        "    i = np.arange(n)[:, None]; k = np.arange(3072)[None, :]\n"
        "    return ((i * 7 + k * 13 + b * 29) % 256).astype(np.uint8)\n"
        "d10 = os.path.join(root, 'cifar-10-batches-py'); os.makedirs(d10)\n"
        "names = ['data_batch_%d' % i for i in range(1, 6)] + ['test_batch']\n"
        "for b, name in enumerate(names):\n"
        "    with open(os.path.join(d10, name), 'wb') as f:\n"
        "        pickle.dump({b'batch_label': b'x', b'labels': [(i + b) % 10 for i in range(2)], b'data': px(2, b)}, f, protocol=2)\n"
        "with open(os.path.join(d10, 'batches.meta'), 'wb') as f:\n"
        "    pickle.dump({b'label_names': [b'airplane', b'automobile']}, f, protocol=2)\n"
        "d100 = os.path.join(root, 'cifar-100-python'); os.makedirs(d100)\n"
        "for b, name in enumerate(['train', 'test']):\n"
        "    n = 3 - b\n"
        "    with open(os.path.join(d100, name), 'wb') as f:\n"
        "        pickle.dump({b'fine_labels': [(7 * i + 90 + b) % 100 for i in range(n)],\n"
        "                     b'coarse_labels': [i + b for i in range(n)], b'data': px(n, 10 + b)}, f, protocol=2)\n";
    char *script_path = tu_path(root, "make.py"), *logs = make_subdir(root, "logs");
    tu_write_file(script_path, script, strlen(script));
    TuRun r = tu_shell(logs, "%s %s %s", py, script_path, root);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    /* Convert both into the folders the default search looks in. */
    r = tu_shell(logs, "%s %s/tools/cifar_py_to_bin.py %s/cifar-10-batches-py %s/cifar-10-batches-bin", py, src, root,
                 root);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    /* Given the parent folder holding both versions, it asks which one. */
    r = tu_shell(logs, "%s %s/tools/cifar_py_to_bin.py %s %s/out", py, src, root, root);
    TU_EXPECT_FAIL_WITH(r, "holds both");
    tu_run_free(&r);
    r = tu_shell(logs, "%s %s/tools/cifar_py_to_bin.py %s/cifar-100-python %s/cifar-100-binary", py, src, root, root);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    Dataset d;
    dataset_load(dataset_find("CIFAR10"), root, 0, &d);
    ck_assert_int_eq(d.train.n, 10); ck_assert_int_eq(d.test.n, 2);
    for (int i = 0; i < 12; i++) {
        const ImageSet *s = i < 10 ? &d.train : &d.test;
        int j = i < 10 ? i : i - 10, b = i / 2, r = i % 2;
        ck_assert_int_eq(s->labels[j], (r + b) % 10);
        for (int k = 0; k < 3072; k++)
            ck_assert_float_eq(s->images[(size_t)j * 3072 + k], (float)((r * 7 + k * 13 + b * 29) % 256) / 255.0f);
    }
    dataset_free(&d);
    dataset_load(dataset_find("CIFAR100"), root, 0, &d);
    ck_assert_int_eq(d.train.n, 3); ck_assert_int_eq(d.test.n, 2);
    for (int b = 0; b < 2; b++) {
        const ImageSet *s = b ? &d.test : &d.train;
        for (int i = 0; i < s->n; i++) {
            ck_assert_int_eq(s->labels[i], (7 * i + 90 + b) % 100);
            for (int k = 0; k < 3072; k++)
                ck_assert_float_eq(s->images[(size_t)i * 3072 + k], (float)((i * 7 + k * 13 + (10 + b) * 29) % 256) / 255.0f);
        }
    }
    dataset_free(&d);
    /* The coarse label byte precedes the fine one. */
    char *tb = tu_path(root, "cifar-100-binary/train.bin");
    size_t len;
    unsigned char *raw = read_file(tb, &len);
    ck_assert_ptr_nonnull(raw);
    ck_assert_uint_eq(len, 3 * 3074);
    ck_assert_int_eq(raw[3074], 1);
    ck_assert_int_eq(raw[3074 + 1], 97);
    free(raw); free(tb);
    /* The class names come along; a folder without either version is refused with a message. */
    char *meta = tu_path(root, "cifar-10-batches-bin/batches.meta.txt");
    raw = read_file(meta, &len);
    ck_assert_ptr_nonnull(raw);
    ck_assert_str_eq((char *)raw, "airplane\nautomobile\n");
    free(raw); free(meta);
    r = tu_shell(logs, "%s %s/tools/cifar_py_to_bin.py %s/cifar-10-batches-bin %s/out", py, src, root, root);
    TU_EXPECT_FAIL_WITH(r, "holds neither cifar-10-batches-py");
    tu_run_free(&r);
    tu_rm_tree(root);
    free(script_path); free(logs); free(src); free(root);
}
END_TEST

/* ---- per-class index and summary ---- */

START_TEST(class_index_order) {
    int32_t labels[9] = {2, 0, 2, 1, 2, 0, 3, 3, 2};
    ImageSet s = {.n = 9, .c = 1, .h = 1, .w = 1, .images = NULL, .labels = labels};
    ClassIndex ci;
    class_index_build(&s, 5, &ci);
    ck_assert_int_eq(ci.num_classes, 5);
    const int want_count[5] = {2, 1, 4, 2, 0};
    const int want_idx[5][4] = {{1, 5}, {3}, {0, 2, 4, 8}, {6, 7}, {0}};
    for (int c = 0; c < 5; c++) {
        ck_assert_int_eq(ci.count[c], want_count[c]);
        for (int k = 0; k < want_count[c]; k++) ck_assert_int_eq(ci.idx[c][k], want_idx[c][k]);
    }
    class_index_free(&ci);
    ck_assert_ptr_null(ci.count);
}
END_TEST

/* For tu_stdout_of. */
static void print_summary(void *d) { dataset_print_summary(d); }

START_TEST(summary_counts_and_stats) {
    /* 5 CIFAR-10-shaped images with random values; channel statistics computed here in double. */
    const DatasetInfo *info = dataset_find("CIFAR10");
    Dataset d = {.info = info};
    d.train.n = 5; d.train.c = 3; d.train.h = 32; d.train.w = 32;
    d.train.images = xmalloc(5 * 3072 * sizeof(float));
    tu_rand(d.train.images, 5 * 3072, 77, -1.5f, 2.0f);
    int32_t labels[5] = {3, 9, 3, 0, 3};
    d.train.labels = labels;
    d.test.n = 2;
    char *text = tu_stdout_of(print_summary, &d);
    TU_ASSERT_HAS(text, "CIFAR10: 5 training and 2 test images of 3x32x32, 10 classes\n");
    TU_ASSERT_HAS(text, "class c = 0: 1 real images (airplane)\n");
    TU_ASSERT_HAS(text, "class c = 3: 3 real images (cat)\n");
    TU_ASSERT_HAS(text, "class c = 9: 1 real images (truck)\n");
    TU_ASSERT_HAS(text, "class c = 5: 0 real images (dog)\n");
    for (int c = 0; c < 3; c++) {
        double sum = 0, ss = 0;
        for (int i = 0; i < 5; i++)
            for (int k = 0; k < 1024; k++) sum += d.train.images[i * 3072 + c * 1024 + k];
        double m = sum / 5120;
        for (int i = 0; i < 5; i++)
            for (int k = 0; k < 1024; k++) {
                double v = d.train.images[i * 3072 + c * 1024 + k] - m;
                ss += v * v;
            }
        char want[128];
        snprintf(want, sizeof want, "real images channel %d, mean = %.4f, std = %.4f\n", c, m, sqrt(ss / 5119));
        TU_ASSERT_HAS(text, want);
    }
    free(text);
    free(d.train.images);
}
END_TEST

/* ---- the real Fashion-MNIST ---- */

START_TEST(real_fashion_mnist) {
    ck_assert_msg(file_exists(FASHION_DIR "/train-images-idx3-ubyte.gz"),
                  "Fashion-MNIST is missing from " FASHION_DIR ": install the Debian package dataset-fashion-mnist "
                  "(tools/install-deps.sh does it)");
    const DatasetInfo *info = dataset_find("FashionMNIST");
    Dataset d;
    dataset_load(info, NULL, 1, &d);   /* NULL: the catalog's default folder */
    ck_assert_int_eq(d.train.n, 60000);
    ck_assert_int_eq(d.test.n, 10000);
    /* The first training image is an ankle boot. */
    ck_assert_int_eq(d.train.labels[0], 9);
    ClassIndex ci;
    class_index_build(&d.train, 10, &ci);
    for (int c = 0; c < 10; c++) ck_assert_int_eq(ci.count[c], 6000);
    ck_assert_int_eq(ci.idx[9][0], 0);
    class_index_free(&ci);
    int test_count[10] = {0};
    for (int i = 0; i < d.test.n; i++) test_count[d.test.labels[i]]++;
    for (int c = 0; c < 10; c++) ck_assert_int_eq(test_count[c], 1000);
    /* Standardized with the catalog's statistics, the training set is near mean 0, std 1. */
    size_t n = (size_t)d.train.n * 784;
    double sum = 0, ss = 0;
    for (size_t i = 0; i < n; i++) sum += d.train.images[i];
    double m = sum / (double)n;
    for (size_t i = 0; i < n; i++) ss += (d.train.images[i] - m) * (d.train.images[i] - m);
    double sd = sqrt(ss / (double)(n - 1));
    ck_assert_msg(fabs(m) < 0.01, "normalized mean %g", m);
    ck_assert_msg(fabs(sd - 1) < 0.02, "normalized std %g", sd);
    /* Every value is a standardized byte: back to the byte grid within float rounding. */
    for (size_t i = 0; i < n; i += 997) {
        double p = ((double)d.train.images[i] * info->std[0] + info->mean[0]) * 255.0;
        ck_assert_msg(fabs(p - round(p)) < 1e-3 && p > -0.5 && p < 255.5, "value %zu maps to byte %g", i, p);
    }
    char *text = tu_stdout_of(print_summary, &d);
    TU_ASSERT_HAS(text, "class c = 9: 6000 real images (Ankle boot)\n");
    char want[128];
    snprintf(want, sizeof want, "real images channel 0, mean = %.4f, std = %.4f\n", m, sd);
    TU_ASSERT_HAS(text, want);
    free(text);
    dataset_free(&d);
}
END_TEST

int main(void) {
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, catalog_entries);
    tcase_add_test(tc, catalog_require_unknown);
    tcase_add_test(tc, idx_plain_and_gzip);
    tcase_add_test(tc, idx_faults);
    tcase_add_test(tc, idx_dataset_load_layouts);
    tcase_add_test(tc, idx_missing_lists_places);
    tcase_add_test(tc, cifar10_records_and_load);
    tcase_add_test(tc, cifar100_fine_labels);
    tcase_add_test(tc, cifar_faults);
    tcase_add_test(tc, cifar_missing_and_python_version);
    tcase_add_test(tc, cifar_python_converter);
    tcase_add_test(tc, class_index_order);
    tcase_add_test(tc, summary_counts_and_stats);
    tcase_add_test(tc, real_fashion_mnist);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
