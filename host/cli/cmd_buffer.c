/* clmtt buffer: train expert networks on the real training set and record their
 * parameter trajectories (the original's buffer.py, docs/algorithm.md#expert-training). */
#include "cli/cli.h"
#include "cli/commands.h"
#include "data/dataset.h"
#include "augment/dsa.h"
#include "net/net.h"
#include "core/dist.h"
#include "core/progress.h"
#include "cli/setup.h"
#include "train/train.h"
#include "io/trajectory.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *dataset, *subset, *model, *dsa_strategy, *data_path, *buffer_path;
    int res, num_experts, batch_train, batch_real, dsa, train_epochs, zca, decay, save_interval, seed, device;
    double lr_teacher, mom, l2;
    int skip_bad_images;
} BufferArgs;

typedef struct { Progress *p; size_t base; } EpochProgress;

static void on_batch(void *ctx, size_t done) {
    EpochProgress *ep = ctx;
    progress_update(ep->p, (double)(ep->base + done));
}

/* What one epoch of an expert reports: loss, accuracy, test accuracy, seconds, and the
 * peak device memory of the rank that trained it. */
enum { EPOCH_STATS = 5 };

/* Rank 0's log of epoch t of expert e (trained here, or received from another rank). */
static void log_epoch(const BufferArgs *a, FILE *metrics, int ntrain, uint64_t seed, int e, int t, const double *st) {
    printf("Itr: %d\tEpoch: %d\tTrain Loss: %.4f\tTrain Acc: %.4f\tTest Acc: %.4f\t(%.1f s, %.0f img/s)\n", e, t, st[0],
           st[1], st[2], st[3], ntrain / st[3]);
    metrics_line(metrics,
                 "{\"expert\": %d, \"epoch\": %d, \"train_loss\": %.6f, \"train_acc\": %.6f, \"test_acc\": %.6f, "
                 "\"seconds\": %.3f, \"images_per_second\": %.1f, \"peak_device_bytes\": %.0f, \"seed\": %" PRIu64 "}",
                 e, t, st[0], st[1], st[2], st[3], ntrain / st[3], st[4], seed);
}

/* Trains expert e from its own stream (seed, e), so it is the same whichever rank trains
 * it. snaps gets its train_epochs + 1 snapshots [S][P], stats [train_epochs][EPOCH_STATS].
 * Rank 0 logs each epoch as it ends. */
static void train_expert(const BufferArgs *a, Trainer *tr, const Dataset *data, const DsaStrategy *dsa, uint64_t seed,
                         int e, float *snaps, double *stats, FILE *metrics) {
    size_t P = tr->net->nparams;
    Rng rng;
    rng_init(&rng, seed, (uint64_t)e);
    trainer_init_params(tr, &rng);
    dev_read_f32(tr->params, 0, P, snaps);
    Sgd sgd = {a->lr_teacher, a->mom, a->l2, 1};
    for (int t = 0; t < a->train_epochs; t++) {
        Progress p;
        char label[96];
        snprintf(label, sizeof label, "expert %d/%d epoch %d/%d", e + 1, a->num_experts, t + 1, a->train_epochs);
        progress_start(&p, label, data->train.n, "img");
        EpochProgress ep = {&p, 0};
        double *st = stats + (size_t)t * EPOCH_STATS;
        train_epoch(tr, &data->train, a->batch_train, dsa, &rng, &sgd, &st[0], &st[1], on_batch, &ep);
        st[3] = progress_elapsed(&p);
        st[2] = test_accuracy(tr, &data->test);
        st[4] = (double)dev_mem_peak();
        progress_clear(&p);
        if (dist_is_root()) log_epoch(a, metrics, data->train.n, seed, e, t, st);
        dev_read_f32(tr->params, 0, P, snaps + (size_t)(t + 1) * P);
        if (a->decay && t == a->train_epochs / 2 + 1) {
            sgd.lr *= 0.1;
            sgd_restart(&sgd);
        }
    }
}

int cmd_buffer(int argc, char **argv) {
    BufferArgs a = {"CIFAR10", "imagenette", "ConvNet", "color_crop_cutout_flip_scale_rotate", NULL, "./buffers",
                    128, 100, 256, 256, 1, 50, 0, 0, 10, -1, -1, 0.01, 0, 0, 0};
    const char *cfg_path = NULL;   /* read by cli_parse */
    Flag flags[] = {
        {"dataset", FLAG_STR, &a.dataset, "dataset: MNIST, FashionMNIST, CIFAR10, CIFAR100, Tiny, ImageNet", 0},
        {"subset", FLAG_STR, &a.subset, "ImageNet subset (with --dataset ImageNet)", 0},
        {"model", FLAG_STR, &a.model, "network architecture", 0},
        {"res", FLAG_INT, &a.res, "ImageNet resolution", 0},
        {"num_experts", FLAG_INT, &a.num_experts, "number of experts to train", 0},
        {"lr_teacher", FLAG_FLOAT, &a.lr_teacher, "expert SGD learning rate", 0},
        {"batch_train", FLAG_INT, &a.batch_train, "expert batch size", 0},
        {"batch_real", FLAG_INT, &a.batch_real, "accepted for compatibility; unused (as in the original)", 0},
        {"dsa", FLAG_BOOL, &a.dsa, "differentiable siamese augmentation on every batch (True/False)", 0},
        {"dsa_strategy", FLAG_STR, &a.dsa_strategy, "augmentation groups, joined by _", 0},
        {"data_path", FLAG_STR, &a.data_path, "dataset folder (default: the dataset's usual place, or 'data')", 0},
        {"skip_bad_images", FLAG_BOOL, &a.skip_bad_images, "report unreadable JPEG/PNG pictures on stderr and leave them out", 0},
        {"buffer_path", FLAG_STR, &a.buffer_path, "where expert trajectories are written", 0},
        {"train_epochs", FLAG_INT, &a.train_epochs, "epochs per expert", 0},
        {"zca", FLAG_BOOL, &a.zca, "ZCA whitening", 0},
        {"decay", FLAG_BOOL, &a.decay, "one x0.1 learning-rate decay after epoch train_epochs/2+1", 0},
        {"mom", FLAG_FLOAT, &a.mom, "SGD momentum", 0},
        {"l2", FLAG_FLOAT, &a.l2, "SGD weight decay", 0},
        {"save_interval", FLAG_INT, &a.save_interval, "experts per file", 0},
        {"seed", FLAG_OPT_INT, &a.seed, "random seed (None: a fresh one, printed)", 0},
        {"device", FLAG_DEVICE, &a.device, "OpenCL device index, or a list 0,1,... (one per rank on a node, see clmtt devices; None: CLMTT_DEVICE or the default)", 0},
        {"cfg", FLAG_STR, &cfg_path, "YAML file of flags (key: value, as DATM's configs); the command line overrides it", 0},
    };
    FlagSet fs = {"buffer", "Train expert networks on real data and save their parameter trajectories.", flags,
                  (int)(sizeof flags / sizeof flags[0])};
    cli_parse(&fs, argc, argv);
    cli_require(a.num_experts >= 1, "num_experts", "must be at least 1, got %d", a.num_experts);
    cli_require(a.train_epochs >= 1, "train_epochs", "must be at least 1, got %d", a.train_epochs);
    cli_require(a.batch_train >= 1, "batch_train", "must be at least 1, got %d", a.batch_train);
    cli_require(a.save_interval >= 1, "save_interval", "must be at least 1, got %d", a.save_interval);
    cli_require(a.lr_teacher > 0, "lr_teacher", "must be positive, got %g", a.lr_teacher);
    cli_require(a.mom >= 0 && a.mom < 1, "mom", "must be in [0, 1), got %g", a.mom);
    cli_require(a.l2 >= 0, "l2", "must be non-negative, got %g", a.l2);
    DatasetInfo dsinfo;
    dataset_resolve(a.dataset, a.subset, a.res, &dsinfo);
    dsinfo.skip_bad_images = a.skip_bad_images;
    const DatasetInfo *ds = &dsinfo;
    if (a.zca) zca_check_size(ds->name, ds->channels, ds->height, ds->width);
    DsaStrategy dsa = {0};
    if (a.dsa) dsa_strategy_parse(a.dsa_strategy, &dsa);
    uint64_t seed = command_seed(a.seed);

    rt_init(a.device);
    printf("Hyper-parameters: dataset=%s model=%s num_experts=%d train_epochs=%d lr_teacher=%g batch_train=%d "
           "dsa=%s dsa_strategy=%s mom=%g l2=%g decay=%s zca=%s save_interval=%d seed=%" PRIu64 "\n",
           a.dataset, a.model, a.num_experts, a.train_epochs, a.lr_teacher, a.batch_train, a.dsa ? "True" : "False",
           a.dsa_strategy, a.mom, a.l2, a.decay ? "True" : "False", a.zca ? "True" : "False", a.save_interval, seed);
    Dataset data;
    Net net;
    /* The transform is shared by every model trained on this data: <buffer_path>/<dataset>. */
    char zdir[4096];
    zca_cache_dir(zdir, sizeof zdir, a.buffer_path, ds, a.subset, a.res);
    ZcaSetup zs = {a.zca, zdir, dist_is_root(), NULL};
    command_prepare(ds, a.data_path, a.model, &zs, &data, &net);

    char dir[4096];
    expert_dir(dir, sizeof dir, a.buffer_path, ds, a.subset, a.res, a.zca, a.model);
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", dir);
    FILE *metrics = NULL;   /* rank 0 writes every file */
    if (dist_is_root()) {
        mkdir_p(dir);
        int stale = remove_stale_temps(dir);
        if (stale)
            printf("Removed %d unfinished temporary file%s of an interrupted run from %s\n", stale, stale == 1 ? "" : "s",
                   dir);
        metrics = metrics_open(mpath);
    }

    /* Rows of one pass: a training batch, or up to 256 test images. */
    int train_rows = a.batch_train < data.train.n ? a.batch_train : data.train.n;
    int test_rows = data.test.n < 256 ? data.test.n : 256;
    int max_n = train_rows > test_rows ? train_rows : test_rows;
    Trainer tr;
    trainer_init(&tr, &net, max_n);
    int S = a.train_epochs + 1;
    size_t P = net.nparams;
    float *snaps = xmalloc((size_t)S * P * sizeof(float));
    char *layout = net_param_layout_json(&net);
    TrajWriter w = {0};
    int open_group = 0;
    double t_start = now_seconds();

    /* Expert e is trained by rank e % N; rank 0 writes them all, in order, into the same
     * files as one process would. */
    int nranks = dist_size(), me = dist_rank();
    double *stats = xmalloc((size_t)a.train_epochs * EPOCH_STATS * sizeof(double));
    for (int e = 0; e < a.num_experts; e++) {
        int owner = e % nranks;
        /* The file's name is claimed before its first expert trains, so concurrent runs into
         * the same folder never pick the same index (readers skip a claimed, empty file). */
        if (me == 0 && !open_group) {
            int left = a.num_experts - e;
            traj_writer_begin(&w, dir, S, &net, left < a.save_interval ? left : a.save_interval);
            char v[64];
            traj_writer_meta(&w, "format", TRAJ_FORMAT);
            traj_writer_meta(&w, "model", a.model);
            traj_writer_meta(&w, "dataset", ds->name);
            snprintf(v, sizeof v, "%d", ds->channels); traj_writer_meta(&w, "channel", v);
            snprintf(v, sizeof v, "%d", ds->height); traj_writer_meta(&w, "height", v);
            snprintf(v, sizeof v, "%d", ds->width); traj_writer_meta(&w, "width", v);
            snprintf(v, sizeof v, "%d", ds->num_classes); traj_writer_meta(&w, "num_classes", v);
            traj_writer_meta(&w, "zca", a.zca ? "true" : "false");
            snprintf(v, sizeof v, "%.17g", a.lr_teacher); traj_writer_meta(&w, "lr_teacher", v);
            snprintf(v, sizeof v, "%d", a.train_epochs); traj_writer_meta(&w, "train_epochs", v);
            traj_writer_meta(&w, "param_layout", layout);
            snprintf(v, sizeof v, "%zu", net.ndense); traj_writer_meta(&w, "num_params", v);
            snprintf(v, sizeof v, "%d", a.batch_train); traj_writer_meta(&w, "batch_train", v);
            traj_writer_meta(&w, "dsa", a.dsa ? "true" : "false");
            traj_writer_meta(&w, "dsa_strategy", a.dsa_strategy);
            snprintf(v, sizeof v, "%.17g", a.mom); traj_writer_meta(&w, "mom", v);
            snprintf(v, sizeof v, "%.17g", a.l2); traj_writer_meta(&w, "l2", v);
            traj_writer_meta(&w, "decay", a.decay ? "true" : "false");
            snprintf(v, sizeof v, "%" PRIu64, seed); traj_writer_meta(&w, "seed", v);
            traj_writer_meta(&w, "generator", "clmtt " CLMTT_VERSION);
            open_group = 1;
        }
        if (owner == me) train_expert(&a, &tr, &data, &dsa, seed, e, snaps, stats, metrics);
        if (me != 0) {
            if (owner == me) {
                dist_send(stats, (size_t)a.train_epochs * EPOCH_STATS * sizeof(double), 0, 1);
                dist_send(snaps, (size_t)S * P * sizeof(float), 0, 2);
            }
            continue;
        }
        if (owner != 0) {
            dist_recv(stats, (size_t)a.train_epochs * EPOCH_STATS * sizeof(double), owner, 1);
            dist_recv(snaps, (size_t)S * P * sizeof(float), owner, 2);
            for (int t = 0; t < a.train_epochs; t++)
                log_epoch(&a, metrics, data.train.n, seed, e, t, stats + (size_t)t * EPOCH_STATS);
        }
        traj_writer_add(&w, snaps);
        printf("Saving %s (%d expert%s)\n", w.path, w.experts, w.experts == 1 ? "" : "s");
        if (w.experts == w.capacity) {
            traj_writer_end(&w);
            open_group = 0;
        }
    }
    free(stats);
    if (open_group) traj_writer_end(&w);
    char pk[32], el[32];
    printf("Done: %d experts in %s; peak device memory %s\n", a.num_experts,
           format_duration(now_seconds() - t_start, el, sizeof el), human_bytes((double)dev_mem_peak(), pk, sizeof pk));
    if (metrics) fclose(metrics);
    free(layout);
    free(snaps);
    trainer_free(&tr);
    dataset_free(&data);
    dataset_info_free(&dsinfo);
    rt_shutdown();
    return 0;
}
