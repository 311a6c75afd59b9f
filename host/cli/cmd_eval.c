/* clmtt eval: judge a synthetic set file, or a random real subset, by the original's
 * evaluation protocol (docs/algorithm.md#evaluation-protocol): --num_eval fresh networks per model of the pool. */
#include "cli/cli.h"
#include "cli/commands.h"
#include "data/dataset.h"
#include "train/evaluate.h"
#include "core/progress.h"
#include "cli/setup.h"
#include "io/synset.h"
#include "core/util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int cmd_eval(int argc, char **argv) {
    const char *dataset = "CIFAR10", *subset = "imagenette", *model = "ConvNet", *eval_mode = "S";
    const char *data_path = NULL, *syn = NULL, *dsa_strategy = "color_crop_cutout_flip_scale_rotate";
    int res = 128, random_real = -1, num_eval = 5, epoch_eval_train = 1000, batch_train = 256, dsa = 1, zca = 0;
    int seed = -1, device = -1, skip_bad_images = 0;
    double lr = -1;
    const char *buffer_path = "./buffers";
    Flag flags[] = {
        {"dataset", FLAG_STR, &dataset, "dataset of the test set: MNIST, FashionMNIST, CIFAR10, CIFAR100, Tiny, ImageNet", 0},
        {"subset", FLAG_STR, &subset, "ImageNet subset", 0},
        {"model", FLAG_STR, &model, "network architecture (the pool's base with --eval_mode)", 0},
        {"res", FLAG_INT, &res, "ImageNet resolution", 0},
        {"data_path", FLAG_STR, &data_path, "dataset folder (default: the dataset's usual place, or 'data')", 0},
        {"skip_bad_images", FLAG_BOOL, &skip_bad_images, "report unreadable JPEG/PNG pictures on stderr and leave them out", 0},
        {"syn", FLAG_STR, &syn, "synthetic set file (safetensors, format mtt-synset/1)", 0},
        {"random_real", FLAG_OPT_INT, &random_real, "instead of --syn: this many random real images per class", 0},
        {"num_eval", FLAG_INT, &num_eval, "networks trained per model", 0},
        {"epoch_eval_train", FLAG_INT, &epoch_eval_train, "training epochs (epochs+1 are run, as the original)", 0},
        {"eval_mode", FLAG_STR, &eval_mode, "model pool: S, M, W, D, A, P, N, C", 0},
        {"batch_train", FLAG_INT, &batch_train, "training batch size", 0},
        {"lr", FLAG_FLOAT, &lr, "learning rate (default: the file's learned lr; 0.01 for --random_real)", 0},
        {"dsa", FLAG_BOOL, &dsa, "augmentation while training (True/False)", 0},
        {"dsa_strategy", FLAG_STR, &dsa_strategy, "augmentation groups, joined by _", 0},
        {"zca", FLAG_BOOL, &zca, "ZCA whitening (must match the set)", 0},
        {"buffer_path", FLAG_STR, &buffer_path, "with --zca: where clmtt buffer cached the transform (<buffer_path>/<dataset>/zca.safetensors)", 0},
        {"seed", FLAG_OPT_INT, &seed, "random seed (None: a fresh one, printed)", 0},
        {"device", FLAG_OPT_INT, &device, "OpenCL device index (None: default)", 0},
    };
    FlagSet fs = {"eval", "Train fresh networks on a synthetic (or random real) set and report test accuracy.", flags,
                  (int)(sizeof flags / sizeof flags[0])};
    cli_parse(&fs, argc, argv);
    cli_require((syn != NULL) != (random_real >= 0), "syn", "give exactly one of --syn FILE and --random_real IPC");
    cli_require(random_real != 0, "random_real", "must be at least 1");
    cli_require(num_eval >= 1, "num_eval", "must be at least 1, got %d", num_eval);
    cli_require(epoch_eval_train >= 0, "epoch_eval_train", "must be non-negative, got %d", epoch_eval_train);
    cli_require(batch_train >= 1, "batch_train", "must be at least 1, got %d", batch_train);
    DatasetInfo dsinfo;
    dataset_resolve(dataset, subset, res, &dsinfo);
    dsinfo.skip_bad_images = skip_bad_images;
    const DatasetInfo *ds = &dsinfo;
    if (zca) zca_check_size(ds->name, ds->channels, ds->height, ds->width);
    EvalConfig cfg = {epoch_eval_train, batch_train, 0.01, {0}, 0};
    if (dsa) dsa_strategy_parse(dsa_strategy, &cfg.dsa);
    uint64_t s = seed >= 0 ? (uint64_t)seed : rng_fresh_seed();
    Rng rng;
    rng_init(&rng, s, 0x5eedULL);

    SynSet set = {0};
    if (syn) {
        synset_load(syn, &set);
        synset_check_fits(&set, syn, ds, zca);
        if (set.texture) cfg.canvas_samples = set.canvas_samples;
        cfg.lr = set.lr;
    }
    if (lr >= 0) cfg.lr = lr;
    rt_init(device);
    printf("Evaluation: dataset=%s eval_mode=%s num_eval=%d epoch_eval_train=%d batch_train=%d lr=%g dsa=%s seed=%" PRIu64 "\n",
           ds->name, eval_mode, num_eval, epoch_eval_train, batch_train, cfg.lr, dsa ? "True" : "False", s);
    printf("Device: %s (%s)\n", RT.dev.name, RT.dev.platform_name);
    Dataset data;
    /* --zca: the buffer command's cached transform when present, else fitted anew (not written). */
    char zdir[4096];
    zca_cache_dir(zdir, sizeof zdir, buffer_path, ds, subset, res);
    ZcaSetup zs = {zca, zdir, 0, NULL};
    command_load_data(ds, data_path, &zs, &data);
    if (!syn) random_real_subset(&data.train, ds->num_classes, random_real, &rng, &set.set);
    printf("Training set: %d images (%s)\n", set.set.n,
           syn ? syn : "random real; every network gets its own random subset");
    if (set.texture)
        printf("Texture set: %dx%d canvases (canvas_size %d); every batch is cropped %d time%s at random offsets\n",
               set.set.h, set.set.w, set.canvas_size, set.canvas_samples, set.canvas_samples == 1 ? "" : "s");

    char pool[8][64];
    int np = eval_pool(eval_mode, model, pool, 8);
    for (int m = 0; m < np; m++) {
        double sum = 0, sq = 0;
        for (int k = 0; k < num_eval; k++) {
            /* Random real: a fresh subset per network, so the mean and std are over subsets
             * as well as initializations (one subset's luck moves its accuracy by points). */
            if (!syn && (m > 0 || k > 0)) {
                imageset_free(&set.set);
                random_real_subset(&data.train, ds->num_classes, random_real, &rng, &set.set);
            }
            EvalResult r = evaluate_set(pool[m], &set.set, &data.test, ds->num_classes, &cfg, &rng);
            printf("%s #%d: test accuracy %.4f (train %.4f, %.1f s)\n", pool[m], k, r.test_acc, r.train_acc, r.seconds);
            sum += r.test_acc;
            sq += r.test_acc * r.test_acc;
        }
        double mean = sum / num_eval, var = sq / num_eval - mean * mean;
        printf("Evaluate %d random %s, mean = %.4f std = %.4f\n", num_eval, pool[m], mean, sqrt(var > 0 ? var : 0));
    }
    char pk[32];
    printf("Peak device memory: %s\n", human_bytes((double)dev_mem_peak(), pk, sizeof pk));
    synset_free(&set);
    dataset_free(&data);
    rt_shutdown();
    return 0;
}
