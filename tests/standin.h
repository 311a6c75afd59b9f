/* Stand-in datasets in the on-disk layouts users have (docs/formats.md#datasets-read), small and made from a
 * seed, so that the original's commands run unchanged against them in tests. Pictures are
 * class-dependent smooth patterns plus noise, so networks can learn something from them. */
#ifndef CLMTT_STANDIN_H
#define CLMTT_STANDIN_H

#include <stdint.h>

/* CIFAR-100 binary version: <dir>/train.bin and <dir>/test.bin (3074-byte records:
 * coarse label, fine label, 3072 pixel bytes), per_class records of each of the 100 classes. */
void standin_cifar100(const char *dir, int train_per_class, int test_per_class, uint64_t seed);

/* CIFAR-10 binary version: <dir>/data_batch_1.bin .. data_batch_5.bin, each with per_class
 * records (label, 3072 pixel bytes) of each of the 10 classes (5 x train_per_class per class
 * in all), and <dir>/test_batch.bin. */
void standin_cifar10(const char *dir, int train_per_class, int test_per_class, uint64_t seed);

/* ImageNet folders for the classes of an ImageNet subset list (data/subsets/<subset>.txt):
 * <root>/train/<wnid>/<wnid>_<k>.JPEG and <root>/val/<wnid>/val_<k>.JPEG, w x h RGB JPEGs
 * (any size: the loader resizes). */
void standin_imagenet(const char *root, const char *subset, int train_per_class, int val_per_class, int w, int h,
                      uint64_t seed);

/* One plain (not gzipped) IDX file <dir>/<name>: n pictures of side x side bytes (images 1,
 * magic 0x803) or n label bytes (images 0, magic 0x801), then the payload. */
void standin_idx(const char *dir, const char *name, int images, int n, int side, const unsigned char *payload);

/* MNIST's IDX files (uncompressed) in <dir>: n_train and n_test 28 x 28 pictures, class i % 10
 * (two bars at 2c+4 and 2c+5, across and down, on a dark ground, noise +-30) and their labels. */
void standin_mnist(const char *dir, int n_train, int n_test, uint64_t seed);

/* The bytes of standin_mnist's training pictures (n x 28 x 28) and labels for the same seed, for
 * tests that check results against the pictures themselves. */
void standin_mnist_train(unsigned char *img, unsigned char *lab, int n, uint64_t seed);

#endif
