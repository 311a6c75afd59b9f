/* clmtt eval: judge a synthetic set file, or a random real subset, by the original's
 * evaluation protocol (docs/algorithm.md#evaluation-protocol): --num_eval fresh networks per model of the pool. */
#include "cli/cli.h"
#include "cli/commands.h"
#include "data/dataset.h"
#include "train/evaluate.h"
#include "core/dist.h"
#include "core/progress.h"
#include "cli/setup.h"
#include "io/synset.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The stream family of the evaluation networks (network i: rng_substream(EVAL_STREAM, i)). */
#define EVAL_STREAM 0x5eedULL

/* One network's line of the log: r = test accuracy, train accuracy, seconds. */
static void print_network(const char *model, int k, const double *r) {
    printf("%s #%d: test accuracy %.4f (train %.4f, %.1f s)\n", model, k, r[0], r[1], r[2]);
}

int cmd_eval(int argc, char **argv) {
    const char *dataset = "CIFAR10", *subset = "imagenette", *model = "ConvNet", *eval_mode = "S";
    const char *data_path = NULL, *syn = NULL, *dsa_strategy = "color_crop_cutout_flip_scale_rotate";
    int res = 128, random_real = -1, num_eval = 5, epoch_eval_train = 1000, batch_train = 256, dsa = 1, zca = 0;
    int seed = -1, device = -1, skip_bad_images = 0, json = 0;
    double lr = -1;
    const char *buffer_path = "./buffers";
    const char *cfg_path = NULL;   /* read by cli_parse */
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
        {"device", FLAG_DEVICE, &device, "OpenCL device index, or a list 0,1,... (one per rank on a node, see clmtt devices; None: CLMTT_DEVICE or the default)", 0},
        {"json", FLAG_BOOL, &json, "print one JSON object (settings, per-model accuracies, mean, std) on stdout; the log goes to stderr", 0},
        {"cfg", FLAG_STR, &cfg_path, "YAML file of flags (key: value, as DATM's configs); the command line overrides it", 0},
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
    uint64_t s = command_seed(seed);

    SynSet set = {0};
    if (syn) {
        synset_load(syn, &set);
        synset_check_fits(&set, syn, ds, zca);
        if (set.texture) cfg.canvas_samples = set.canvas_samples;
        cfg.lr = set.lr;
    }
    if (lr >= 0) cfg.lr = lr;
    /* --json: everything the run prints goes to stderr, and stdout gets only the object. */
    int json_fd = -1;
    if (json && dist_is_root()) {   /* other ranks print nothing on stdout anyway */
        fflush(stdout);
        json_fd = dup(STDOUT_FILENO);
        if (json_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) die("eval: cannot redirect the log to stderr");
    }
    cJSON *res_json = cJSON_CreateObject(), *settings = cJSON_AddObjectToObject(res_json, "settings");
    cJSON *models_json = cJSON_AddArrayToObject(res_json, "models");
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
    printf("Training set: %d images (%s)\n", syn ? set.set.n : ds->num_classes * random_real,
           syn ? syn : "random real; every network gets its own random subset");
    if (set.texture)
        printf("Texture set: %dx%d canvases (canvas_size %d); every batch is cropped %d time%s at random offsets\n",
               set.set.h, set.set.w, set.canvas_size, set.canvas_samples, set.canvas_samples == 1 ? "" : "s");

    cJSON_AddStringToObject(settings, "dataset", ds->name);
    if (ds->subset) {
        cJSON_AddStringToObject(settings, "subset", ds->subset);
        cJSON_AddNumberToObject(settings, "res", ds->height);
    }
    if (syn) cJSON_AddStringToObject(settings, "syn", syn);
    else cJSON_AddNumberToObject(settings, "random_real", random_real);
    cJSON_AddNumberToObject(settings, "images", syn ? set.set.n : ds->num_classes * random_real);
    cJSON_AddStringToObject(settings, "model", model);
    cJSON_AddStringToObject(settings, "eval_mode", eval_mode);
    cJSON_AddNumberToObject(settings, "num_eval", num_eval);
    cJSON_AddNumberToObject(settings, "epoch_eval_train", epoch_eval_train);
    cJSON_AddNumberToObject(settings, "batch_train", batch_train);
    cJSON_AddNumberToObject(settings, "lr", cfg.lr);
    cJSON_AddBoolToObject(settings, "dsa", dsa);
    if (dsa) cJSON_AddStringToObject(settings, "dsa_strategy", dsa_strategy);
    cJSON_AddBoolToObject(settings, "zca", zca);
    if (set.texture) cJSON_AddNumberToObject(settings, "canvas_samples", set.canvas_samples);
    cJSON_AddNumberToObject(settings, "seed", (double)s);
    cJSON_AddStringToObject(settings, "device", RT.dev.name);
    char pool[8][64];
    int np = eval_pool(eval_mode, model, pool, 8);
    /* Network i = m * num_eval + k (model m, run k) draws from its own stream, and rank
     * i % N trains it; the results are summed over ranks (each rank fills its own). */
    int nnet = np * num_eval, nranks = dist_size();
    double *results = xcalloc((size_t)nnet * 3, sizeof(double));   /* [nnet][test acc, train acc, seconds] */
    for (int i = 0; i < nnet; i++) {
        if (i % nranks != dist_rank()) continue;
        int m = i / num_eval, k = i % num_eval;
        Rng rng;
        rng_init(&rng, s, rng_substream(EVAL_STREAM, (uint64_t)i));
        /* Random real: a fresh subset per network, so the mean and std are over subsets
         * as well as initializations (one subset's luck moves its accuracy by points). */
        if (!syn) {
            imageset_free(&set.set);
            random_real_subset(&data.train, ds->num_classes, random_real, &rng, &set.set);
        }
        EvalResult r = evaluate_set(pool[m], &set.set, &data.test, ds->num_classes, &cfg, &rng);
        results[3 * i] = r.test_acc;
        results[3 * i + 1] = r.train_acc;
        results[3 * i + 2] = r.seconds;
        if (nranks == 1) print_network(pool[m], k, results + 3 * i);
    }
    dist_allreduce_sum_f64(results, (size_t)nnet * 3);
    for (int m = 0; m < np; m++) {
        double sum = 0, sq = 0, secs = 0;
        cJSON *mj = cJSON_CreateObject();
        cJSON_AddStringToObject(mj, "model", pool[m]);
        cJSON *accs = cJSON_AddArrayToObject(mj, "accuracies"), *taccs = cJSON_AddArrayToObject(mj, "train_accuracies");
        for (int k = 0; k < num_eval; k++) {
            const double *r = results + 3 * ((size_t)m * num_eval + k);
            if (nranks > 1) print_network(pool[m], k, r);
            sum += r[0];
            sq += r[0] * r[0];
            secs += r[2];
            cJSON_AddItemToArray(accs, cJSON_CreateNumber(r[0]));
            cJSON_AddItemToArray(taccs, cJSON_CreateNumber(r[1]));
        }
        double mean = sum / num_eval, var = sq / num_eval - mean * mean;
        printf("Evaluate %d random %s, mean = %.4f std = %.4f\n", num_eval, pool[m], mean, sqrt(var > 0 ? var : 0));
        cJSON_AddNumberToObject(mj, "mean", mean);
        cJSON_AddNumberToObject(mj, "std", sqrt(var > 0 ? var : 0));
        cJSON_AddNumberToObject(mj, "seconds", secs);
        cJSON_AddItemToArray(models_json, mj);
    }
    free(results);
    char pk[32];
    printf("Peak device memory: %s\n", human_bytes((double)dev_mem_peak(), pk, sizeof pk));
    cJSON_AddNumberToObject(res_json, "peak_device_bytes", (double)dev_mem_peak());
    if (json_fd >= 0) {
        fflush(stdout);
        if (dup2(json_fd, STDOUT_FILENO) < 0) die("eval: cannot restore stdout");
        close(json_fd);
        char *text = cJSON_Print(res_json);
        printf("%s\n", text);
        fflush(stdout);
        free(text);
    }
    cJSON_Delete(res_json);
    synset_free(&set);
    dataset_free(&data);
    dataset_info_free(&dsinfo);
    rt_shutdown();
    return 0;
}
