/* The dataset catalog (docs/algorithm.md#dataset-catalog): shapes, sample counts, classes, per-channel mean/std,
 * class names and default data folders of the datasets clmtt reads. */
#include "data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/subset.h"
#include "core/util.h"

static const char *const mnist_names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

static const char *const cifar10_names[10] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

/* The fine label names, in label order (alphabetical, as the dataset's meta file lists them). */
static const char *const cifar100_names[100] = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};

static const DatasetInfo mnist = {
    .name = "MNIST", .channels = 1, .height = 28, .width = 28, .num_classes = 10,
    .train_count = 60000, .test_count = 10000,
    .mean = {0.1307f}, .std = {0.3081f},
    .class_names = mnist_names, .default_path = "data", .no_zca_suffix = 1};

/* The Debian package dataset-fashion-mnist installs the four .gz files here. */
static const DatasetInfo fashion_mnist = {
    .name = "FashionMNIST", .channels = 1, .height = 28, .width = 28, .num_classes = 10,
    .train_count = 60000, .test_count = 10000,
    .mean = {0.2861f}, .std = {0.3530f},
    .class_names = fashion_names, .default_path = "/usr/share/datasets/fashion-mnist", .no_zca_suffix = 1};

static const DatasetInfo cifar10 = {
    .name = "CIFAR10", .channels = 3, .height = 32, .width = 32, .num_classes = 10,
    .train_count = 50000, .test_count = 10000,
    .mean = {0.4914f, 0.4822f, 0.4465f}, .std = {0.2023f, 0.1994f, 0.2010f},
    .class_names = cifar10_names, .default_path = "data", .no_zca_suffix = 1};

/* CIFAR-100 uses CIFAR-10's statistics in the original. */
static const DatasetInfo cifar100 = {
    .name = "CIFAR100", .channels = 3, .height = 32, .width = 32, .num_classes = 100,
    .train_count = 50000, .test_count = 10000,
    .mean = {0.4914f, 0.4822f, 0.4465f}, .std = {0.2023f, 0.1994f, 0.2010f},
    .class_names = cifar100_names, .default_path = "data", .no_zca_suffix = 1};

/* Class names are the sorted wnids of train/, read when loading. No _NO_ZCA suffix (docs/formats.md#expert-folder-layout). */
static const DatasetInfo tiny = {
    .name = "Tiny", .channels = 3, .height = 64, .width = 64, .num_classes = 200,
    .train_count = 100000, .test_count = 10000,
    .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f},
    .class_names = NULL, .default_path = "data", .no_zca_suffix = 0};

/* Shape and classes come from --res and --subset (dataset_resolve); these are the
 * original's defaults (128 x 128, imagenette's 10 classes) for callers that only need a
 * shape. The counts are imagenette's, roughly. */
static const DatasetInfo imagenet = {
    .name = "ImageNet", .channels = 3, .height = 128, .width = 128, .num_classes = 10,
    .train_count = 13000, .test_count = 500,
    .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f},
    .class_names = NULL, .default_path = "data", .no_zca_suffix = 0, .counts_vary = 1};

const DatasetInfo *const dataset_catalog[] = {&mnist, &fashion_mnist, &cifar10, &cifar100, &tiny, &imagenet, NULL};

const DatasetInfo *dataset_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; dataset_catalog[i]; i++)
        if (strcmp(name, dataset_catalog[i]->name) == 0) return dataset_catalog[i];
    /* The original's CIFAR-100 branch accepts any id that starts with "CIFAR100". */
    if (strncmp(name, "CIFAR100", 8) == 0) return &cifar100;
    return NULL;
}

const DatasetInfo *dataset_require(const char *name) {
    const DatasetInfo *d = dataset_find(name);
    if (d) return d;
    char known[256] = "";
    for (int i = 0; dataset_catalog[i]; i++) {
        if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, dataset_catalog[i]->name, sizeof known - strlen(known) - 1);
    }
    die("--dataset: unknown dataset '%s' (known: %s)", name ? name : "(none)", known);
}

/* The network input side of ImageNet subsets: --res. */
#define CATALOG_MIN_RES 8
#define CATALOG_MAX_RES 1024

void dataset_resolve(const char *name, const char *subset, int res, DatasetInfo *out) {
    *out = *dataset_require(name);
    out->given_name = name;
    if (strcmp(out->name, "ImageNet") != 0) return;
    if (res < CATALOG_MIN_RES || res > CATALOG_MAX_RES)
        die("--res: must be between %d and %d pixels, got %d", CATALOG_MIN_RES, CATALOG_MAX_RES, res);
    /* Owned by out (out points into it) until dataset_info_free. */
    Subset *s = xcalloc(1, sizeof *s);
    char err[1024];
    int rc = subset_find(subset, s, err, sizeof err);
    if (rc < 0) die("--subset: %s", err);
    if (rc > 0) {
        char *known = subset_known();
        const char *env = getenv("CLMTT_DATA_DIR");
        die("--subset: unknown ImageNet subset '%s' (known: %s).\n"
            "To add one, write %s/subsets/%s.txt (or data/subsets/%s.txt in the source tree) with one class per "
            "line: '<wnid> [<ImageNet index>] [<name>]'",
            subset, known, env && *env ? env : "$CLMTT_DATA_DIR", subset, subset);
    }
    out->height = out->width = res;
    out->num_classes = s->num_classes;
    out->class_names = (const char *const *)s->names;
    out->wnids = (const char *const *)s->wnids;
    out->imagenet_index = s->index;
    out->subset = s->name;
    out->owned = s;
}

void dataset_info_free(DatasetInfo *info) {
    Subset *s = info->owned;
    if (s) {
        subset_free(s);
        free(s);
    }
    memset(info, 0, sizeof *info);
}
