#include "standin.h"
#include "testutil.h"
#include "data/subset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

/* One RGB picture of class c (w x h, interleaved): a class-specific colour wave plus
 * noise from rng. */
static void standin_picture(uint8_t *rgb, int w, int h, int c, Rng *rng) {
    double fx = 1 + c % 5, fy = 1 + (c / 5) % 5, phase = 0.7 * c;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++) {
                double v = 128 + 70 * sin(2 * M_PI * (fx * x / w + fy * y / h) + phase + 2.1 * k) +
                           40 * (rng_uniform(rng) - 0.5);
                rgb[((size_t)y * w + x) * 3 + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

/* n records of the binary CIFAR layout for class i % nclass of record i: CIFAR-10's
 * (label, 3072 pixel bytes) or CIFAR-100's (coarse label, fine label, 3072 pixel bytes). */
static void standin_cifar_file(const char *path, size_t n, int nclass, int cifar100, Rng *rng) {
    enum { PIX = 1024 };
    size_t rec = 3072 + (cifar100 ? 2 : 1);
    uint8_t *buf = xmalloc(n * rec), rgb[PIX * 3];
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % nclass);
        uint8_t *r = buf + i * rec;
        if (cifar100) *r++ = (uint8_t)(c / 5);
        *r++ = (uint8_t)c;
        standin_picture(rgb, 32, 32, c, rng);
        /* The binary version stores planes: 1024 red, 1024 green, 1024 blue. */
        for (int p = 0; p < PIX; p++)
            for (int k = 0; k < 3; k++) r[k * PIX + p] = rgb[p * 3 + k];
    }
    tu_write_file(path, buf, n * rec);
    free(buf);
}

void standin_cifar100(const char *dir, int train_per_class, int test_per_class, uint64_t seed) {
    Rng rng;
    rng_init(&rng, seed, 0xc1fa);
    char path[4096];
    snprintf(path, sizeof path, "%s/train.bin", dir);
    standin_cifar_file(path, (size_t)100 * train_per_class, 100, 1, &rng);
    snprintf(path, sizeof path, "%s/test.bin", dir);
    standin_cifar_file(path, (size_t)100 * test_per_class, 100, 1, &rng);
}

void standin_cifar10(const char *dir, int train_per_class, int test_per_class, uint64_t seed) {
    Rng rng;
    rng_init(&rng, seed, 0xc1f0);
    char path[4096];
    for (int b = 1; b <= 5; b++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b);
        standin_cifar_file(path, (size_t)10 * train_per_class, 10, 0, &rng);
    }
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    standin_cifar_file(path, (size_t)10 * test_per_class, 10, 0, &rng);
}

void standin_imagenet(const char *root, const char *subset, int train_per_class, int val_per_class, int w, int h,
                      uint64_t seed) {
    Subset s;
    char err[512];
    if (subset_find(subset, &s, err, sizeof err) != 0) die("subset %s: %s", subset, err);
    Rng rng;
    rng_init(&rng, seed, 0x1a9e);
    uint8_t *rgb = xmalloc((size_t)w * h * 3);
    char path[4096];
    for (int c = 0; c < s.num_classes; c++) {
        if (!s.wnids[c]) die("subset %s: class %d has no wnid", subset, c);
        for (int k = 0; k < train_per_class + val_per_class; k++) {
            int train = k < train_per_class;
            if (train) snprintf(path, sizeof path, "%s/train/%s/%s_%d.JPEG", root, s.wnids[c], s.wnids[c], k);
            else snprintf(path, sizeof path, "%s/val/%s/val_%d_%d.JPEG", root, s.wnids[c], c, k);
            standin_picture(rgb, w, h, c, &rng);
            tu_write_jpeg(path, rgb, w, h, TJPF_RGB, 90);
        }
    }
    free(rgb);
    subset_free(&s);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

void standin_idx(const char *dir, const char *name, int images, int n, int side, const unsigned char *payload) {
    size_t head = images ? 16 : 8, body = (size_t)n * (images ? (size_t)side * side : 1);
    unsigned char *b = xmalloc(head + body);
    put_be32(b, images ? 0x803 : 0x801);
    put_be32(b + 4, (uint32_t)n);
    if (images) { put_be32(b + 8, (uint32_t)side); put_be32(b + 12, (uint32_t)side); }
    memcpy(b + head, payload, body);
    char path[900];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tu_write_file(path, b, head + body);
    free(b);
}

/* n pictures of 28 x 28 bytes and their labels, drawn from r (see standin_mnist). */
static void mnist_draw(unsigned char *img, unsigned char *lab, int n, Rng *r) {
    enum { SIDE = 28, PIX = SIDE * SIDE };
    for (int i = 0; i < n; i++) {
        int c = i % 10;
        lab[i] = (unsigned char)c;
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int v = (x / 2 == c + 2 || y / 2 == c + 2 ? 210 : 25) + rng_int(r, -30, 30);
                img[(size_t)i * PIX + y * SIDE + x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    }
}

void standin_mnist_train(unsigned char *img, unsigned char *lab, int n, uint64_t seed) {
    Rng r;
    rng_init(&r, seed, 17);
    mnist_draw(img, lab, n, &r);
}

static void standin_mnist_split(const char *dir, const char *prefix, int n, Rng *r) {
    unsigned char *img = xmalloc((size_t)n * 28 * 28), *lab = xmalloc((size_t)n);
    mnist_draw(img, lab, n, r);
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    standin_idx(dir, name, 1, n, 28, img);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    standin_idx(dir, name, 0, n, 28, lab);
    free(img);
    free(lab);
}

void standin_mnist(const char *dir, int n_train, int n_test, uint64_t seed) {
    Rng r;
    rng_init(&r, seed, 17);
    standin_mnist_split(dir, "train", n_train, &r);
    rng_init(&r, seed + 1, 17);
    standin_mnist_split(dir, "t10k", n_test, &r);
}
