/* clmtt distill: learn a small synthetic set whose student trajectories match the
 * experts' (the original's distill.py, docs/algorithm.md#the-distillation-loop). --Iteration N performs exactly N
 * meta-updates; evaluations run at 0, eval_it, 2 eval_it, ... and at N. */
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/distill_parts.h"
#include "cli/setup.h"
#include "core/blas.h"
#include "core/dist.h"
#include "core/util.h"
#include "distill/distill.h"
#include "distill/threshold.h"
#include "io/report.h"
#include "train/experts.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --freq_dims default: 128 measured as good as 64 at Fashion-MNIST ipc 1 and twice as fast (README). */
#define FREQ_DIMS_DEFAULT 128

/* Images per class a freq set of the flags' budget holds: floor(ipc x H x W / freq_dims). */
static int freq_images_per_class(const DistillArgs *a, const DatasetInfo *ds) {
    return (int)((long long)a->ipc * ds->height * ds->width / a->freq_dims);
}

/* images_last.safetensors is rewritten at every evaluation and at least this often, so a
 * run killed without warning continues from it (--init_syn) losing minutes at most. */
#define CHECKPOINT_SECONDS 300.0

static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }
/* Under MPI the signal may reach the ranks at different iterations: they stop together, at
 * the first iteration where any of them saw it. */
static int any_rank_interrupted(void) {
    double flag = interrupted;
    dist_allreduce_sum_f64(&flag, 1);
    if (flag > 0) interrupted = 1;
    return flag > 0;
}

static int finite_set(const ImageSet *s) {
    size_t n = (size_t)s->n * s->c * s->h * s->w;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(s->images[i])) return 0;
    return 1;
}

int cmd_distill(int argc, char **argv) {
    /* Fields after the positional part start zero; their defaults are assigned below. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
    DistillArgs a = {"CIFAR10", "imagenette", "ConvNet", "S", "real", "color_crop_cutout_flip_scale_rotate", NULL,
                     "./buffers", NULL, NULL,
                     128, 1, 5, 100, 1000, 5000, 256, -1, 256, 1,
                     3, 20, 25, 0, 0, 0, 0, 2, 1,
                     -1, -1, 0, -1, -1,
                     1000, 1e-05, 0.01, 0.01, 0, "pixel", FREQ_DIMS_DEFAULT, 0, 0, 2.0, 0.9, -1, 0.0};
#pragma GCC diagnostic pop
    /* The matching options: DATM's parser defaults (utils/cfg.py) where they keep MTT's runs
     * unchanged: Sequential_Generation True and expansion_end_epoch 3000, but the upper bound
     * starts at max_start_epoch unless --current_max_start_epoch is given, and the threshold
     * is off (DATM's default 1.0 would skip MTT's iterations of loss above 1). */
    a.min_start_epoch = 0;
    a.current_max_start_epoch = -1;
    a.expansion_end_epoch = 3000;
    a.Sequential_Generation = 1;
    a.threshold = INFINITY;
    a.auto_match = 0;
    a.loss_ratio = 0.0;
    a.num_trajectories = 1;
    const char *cfg_path = NULL;   /* read by cli_parse */
    Flag flags[] = {
        {"dataset", FLAG_STR, &a.dataset, "dataset: MNIST, FashionMNIST, CIFAR10, CIFAR100, Tiny, ImageNet", 0},
        {"subset", FLAG_STR, &a.subset, "ImageNet subset", 0},
        {"model", FLAG_STR, &a.model, "student (and expert) architecture", 0},
        {"res", FLAG_INT, &a.res, "ImageNet resolution", 0},
        {"ipc", FLAG_INT, &a.ipc, "synthetic images per class", 0},
        {"eval_mode", FLAG_STR, &a.eval_mode, "evaluation model pool: S, M, W, D, A, P, N, C", 0},
        {"num_eval", FLAG_INT, &a.num_eval, "networks trained per evaluation (0: no evaluation)", 0},
        {"eval_it", FLAG_INT, &a.eval_it, "evaluate every this many iterations", 0},
        {"epoch_eval_train", FLAG_INT, &a.epoch_eval_train, "epochs of evaluation training", 0},
        {"Iteration", FLAG_INT, &a.Iteration, "number of meta-updates", 0},
        {"lr_img", FLAG_FLOAT, &a.lr_img, "learning rate of the synthetic pixels", 0},
        {"lr_lr", FLAG_FLOAT, &a.lr_lr, "learning rate of the learned step size", 0},
        {"lr_teacher", FLAG_FLOAT, &a.lr_teacher, "initial learned step size (syn_lr)", 0},
        {"lr_init", FLAG_FLOAT, &a.lr_init, "accepted for compatibility; unused (as in the original)", 0},
        {"batch_real", FLAG_INT, &a.batch_real, "accepted for compatibility; unused (as in the original)", 0},
        {"batch_syn", FLAG_OPT_INT, &a.batch_syn, "student minibatch size (None: the whole set)", 0},
        {"batch_train", FLAG_INT, &a.batch_train, "evaluation training batch size", 0},
        {"pix_init", FLAG_STR, &a.pix_init, "initial pixels: real, noise, or samples_predicted_correctly (real images an expert classifies correctly)", 0},
        {"dsa", FLAG_BOOL, &a.dsa, "differentiable siamese augmentation (True/False)", 0},
        {"dsa_strategy", FLAG_STR, &a.dsa_strategy, "augmentation groups, joined by _", 0},
        {"data_path", FLAG_STR, &a.data_path, "dataset folder (default: the dataset's usual place, or 'data')", 0},
        {"skip_bad_images", FLAG_BOOL, &a.skip_bad_images, "report unreadable JPEG/PNG pictures on stderr and leave them out", 0},
        {"buffer_path", FLAG_STR, &a.buffer_path, "where the expert trajectories are", 0},
        {"expert_epochs", FLAG_INT, &a.expert_epochs, "target = start + expert_epochs", 0},
        {"syn_steps", FLAG_INT, &a.syn_steps, "student steps per iteration", 0},
        {"max_start_epoch", FLAG_INT, &a.max_start_epoch, "largest start epoch + 1 (the upper bound the window grows to)", 0},
        {"min_start_epoch", FLAG_INT, &a.min_start_epoch, "smallest start epoch", 0},
        {"current_max_start_epoch", FLAG_INT, &a.current_max_start_epoch,
         "upper bound of the start epoch at iteration 0 (default: max_start_epoch)", 0},
        {"expansion_end_epoch", FLAG_INT, &a.expansion_end_epoch,
         "iterations over which the upper bound grows to max_start_epoch", 0},
        {"Sequential_Generation", FLAG_BOOL, &a.Sequential_Generation,
         "grow the start epoch's upper bound from current_max_start_epoch (False: max_start_epoch throughout)", 0},
        {"threshold", FLAG_FLOAT, &a.threshold, "update the set only at iterations whose loss is <= this (inf: always)", 0},
        {"auto_match", FLAG_BOOL, &a.auto_match, "match at the student step closest to the target", 0},
        {"loss_ratio", FLAG_FLOAT, &a.loss_ratio,
         "fraction of parameters with the smallest squared error left out of the loss, in [0, 1)", 0},
        {"zca", FLAG_BOOL, &a.zca, "ZCA whitening", 0},
        {"load_all", FLAG_BOOL, &a.load_all, "draw experts from all files at random", 0},
        {"no_aug", FLAG_BOOL, &a.no_aug, "no augmentation inside the unrolled student steps", 0},
        {"texture", FLAG_BOOL, &a.texture, "distill tileable textures", 0},
        {"canvas_size", FLAG_INT, &a.canvas_size, "texture canvas side in units of the image side", 0},
        {"canvas_samples", FLAG_INT, &a.canvas_samples, "random crops per canvas per step", 0},
        {"param", FLAG_STR, &a.param, "image parameterization: pixel, or freq (DCT coefficients; --ipc is then the storage budget)", 0},
        {"freq_dims", FLAG_INT, &a.freq_dims, "with --param=freq: DCT coefficients kept per channel per image", 0},
        {"soft_labels", FLAG_BOOL, &a.soft_labels, "learn soft labels (label logits) with the images", 0},
        {"lr_y", FLAG_FLOAT, &a.lr_y, "learning rate of the label logits (with --soft_labels)", 0},
        {"Momentum_y", FLAG_FLOAT, &a.Momentum_y, "momentum of the label logits' SGD", 0},
        {"ema_decay", FLAG_FLOAT, &a.ema_decay, "evaluate and save an exponential moving average of the set with this decay (0: off)", 0},
        {"Label_Model_Timestamp", FLAG_INT, &a.Label_Model_Timestamp, "expert snapshot (epoch) whose logits start the soft labels and that picks samples_predicted_correctly (-1: the last)", 0},
        {"num_trajectories", FLAG_INT, &a.num_trajectories, "expert segments per iteration, meta-gradients averaged (split over MPI ranks)", 0},
        {"max_files", FLAG_OPT_INT, &a.max_files, "use only this many expert files", 0},
        {"max_experts", FLAG_OPT_INT, &a.max_experts, "use only the first this many experts of each file", 0},
        {"force_save", FLAG_BOOL, &a.force_save, "write pictures even for ipc >= 50", 0},
        {"seed", FLAG_OPT_INT, &a.seed, "random seed (None: a fresh one, printed)", 0},
        {"device", FLAG_DEVICE, &a.device, "OpenCL device index, or a list 0,1,... (one per rank on a node, see clmtt devices; None: CLMTT_DEVICE or the default)", 0},
        {"save_path", FLAG_STR, &a.save_path, "run folder (default logged_files/<dataset>/<run name>)", 0},
        {"init_syn", FLAG_STR, &a.init_syn, "start from this synthetic set file (images, labels and lr)", 0},
        {"cfg", FLAG_STR, &cfg_path, "YAML file of flags (key: value, as DATM's configs); the command line overrides it", 0},
    };
    FlagSet fs = {"distill", "Distill a synthetic set by matching expert training trajectories.", flags,
                  (int)(sizeof flags / sizeof flags[0])};
    cli_parse(&fs, argc, argv);
    cli_require(!(a.texture && a.zca), "texture", "texture mode cannot be combined with --zca (as in the original)");
    cli_require(a.canvas_size >= 1, "canvas_size", "must be at least 1, got %d", a.canvas_size);
    cli_require(a.canvas_samples >= 1, "canvas_samples", "must be at least 1, got %d", a.canvas_samples);
    cli_require(a.ipc >= 1, "ipc", "must be at least 1, got %d", a.ipc);
    cli_require(a.Iteration >= 0, "Iteration", "must be non-negative, got %d", a.Iteration);
    cli_require(a.eval_it >= 1, "eval_it", "must be at least 1, got %d", a.eval_it);
    cli_require(a.num_eval >= 0, "num_eval", "must be non-negative, got %d", a.num_eval);
    cli_require(a.epoch_eval_train >= 0, "epoch_eval_train", "must be non-negative, got %d", a.epoch_eval_train);
    cli_require(a.syn_steps >= 1, "syn_steps", "must be at least 1, got %d", a.syn_steps);
    cli_require(a.expert_epochs >= 1, "expert_epochs", "must be at least 1, got %d", a.expert_epochs);
    cli_require(a.max_start_epoch >= 1, "max_start_epoch", "must be at least 1, got %d", a.max_start_epoch);
    cli_require(a.batch_syn != 0, "batch_syn", "must be at least 1 (or None)");
    cli_require(a.batch_train >= 1, "batch_train", "must be at least 1, got %d", a.batch_train);
    int pix_correct = distill_pix_correct(&a);
    cli_require(strcmp(a.pix_init, "real") == 0 || strcmp(a.pix_init, "noise") == 0 || pix_correct, "pix_init",
                "must be 'real', 'noise' or 'samples_predicted_correctly', got '%s'", a.pix_init);
    cli_require(!(pix_correct && a.texture), "pix_init",
                "samples_predicted_correctly picks single images; it cannot fill --texture canvases (use real or noise)");
    cli_require(isfinite(a.lr_teacher), "lr_teacher", "must be a number");
    cli_require(strcmp(a.param, "pixel") == 0 || strcmp(a.param, "freq") == 0, "param",
                "must be 'pixel' or 'freq', got '%s'", a.param);
    int freq = strcmp(a.param, "freq") == 0;
    cli_require(!(freq && a.texture), "param", "--param=freq cannot be combined with --texture (canvases are pixels)");
    cli_require(a.freq_dims >= 1, "freq_dims", "must be at least 1, got %d", a.freq_dims);
    cli_require(isfinite(a.lr_y) && a.lr_y >= 0, "lr_y", "must be a non-negative number, got %g", a.lr_y);
    cli_require(isfinite(a.Momentum_y) && a.Momentum_y >= 0 && a.Momentum_y < 1, "Momentum_y",
                "must be in [0, 1), got %g", a.Momentum_y);
    cli_require(isfinite(a.ema_decay) && a.ema_decay >= 0 && a.ema_decay < 1, "ema_decay",
                "must be in [0, 1) (0: off), got %g", a.ema_decay);
    cli_require(a.num_trajectories >= 1, "num_trajectories", "must be at least 1, got %d", a.num_trajectories);
    cli_require(a.Label_Model_Timestamp >= -1, "Label_Model_Timestamp", "must be -1 (the last) or an epoch, got %d",
                a.Label_Model_Timestamp);
    StartWindow window;
    MatchOptions match;
    distill_match_options(&a, &fs, &window, &match);
    DatasetInfo dsinfo;
    dataset_resolve(a.dataset, a.subset, a.res, &dsinfo);
    dsinfo.skip_bad_images = a.skip_bad_images;
    const DatasetInfo *ds = &dsinfo;
    if (a.zca) zca_check_size(ds->name, ds->channels, ds->height, ds->width);
    DsaStrategy dsa_eval = {0}, dsa_unroll = {0};
    if (a.dsa) dsa_strategy_parse(a.dsa_strategy, &dsa_eval);
    if (a.dsa && !a.no_aug) dsa_unroll = dsa_eval;
    uint64_t seed = command_seed(a.seed);
    Rng rng_init_set, rng_experts, rng_steps;
    rng_init(&rng_init_set, seed, 1);
    rng_init(&rng_experts, seed, 2);
    rng_init(&rng_steps, seed, 3);
    /* Stream 4: the evaluation networks, one sub-stream per iteration and network. */

    SynSet init = {0};
    if (a.init_syn) {
        synset_load(a.init_syn, &init);
        if ((init.freq_dims > 0) != freq)
            die("%s: the file holds a %s set, but --param is %s", a.init_syn, init.freq_dims ? "freq" : "pixel", a.param);
        if (freq) {
            if (cli_flag(&fs, "freq_dims")->given && a.freq_dims != init.freq_dims)
                die("--freq_dims %d does not match %s, which keeps %d coefficients", a.freq_dims, a.init_syn,
                    init.freq_dims);
            a.freq_dims = init.freq_dims;
        }
        if (init.texture != a.texture)
            die("%s: the file holds %s, but --texture is %s", a.init_syn, init.texture ? "texture canvases" : "images",
                a.texture ? "True" : "False");
        if (a.texture && !cli_flag(&fs, "canvas_size")->given) a.canvas_size = init.canvas_size;
        if (a.texture && !cli_flag(&fs, "canvas_samples")->given) a.canvas_samples = init.canvas_samples;
        /* The file's canvas_size was taken above unless given, so the shape check uses it. */
        init.canvas_size = a.canvas_size;
        synset_check_fits(&init, a.init_syn, ds, a.zca);
        if (init.set.n % ds->num_classes)
            die("%s: %d images is not a whole number per class of %s", a.init_syn, init.set.n, ds->name);
        const Flag *ipc_flag = cli_flag(&fs, "ipc");
        int file_ipc = freq ? init.budget_ipc : init.set.n / ds->num_classes;
        if (ipc_flag->given && a.ipc != file_ipc)
            die("--ipc %d does not match %s, which holds %d %s per class", a.ipc, a.init_syn, file_ipc,
                freq ? "images' storage (budget_ipc)" : "images");
        a.ipc = file_ipc;
        if (freq && init.set.n != freq_images_per_class(&a, ds) * ds->num_classes)
            die("%s: %d images do not fill the budget of ipc %d at freq_dims %d (%d per class)", a.init_syn, init.set.n,
                a.ipc, a.freq_dims, freq_images_per_class(&a, ds));
        if (!cli_flag(&fs, "lr_teacher")->given) a.lr_teacher = init.lr;
    }
    if (freq && freq_images_per_class(&a, ds) < 1)
        die("--freq_dims %d: the budget of --ipc %d holds %d x %d x %d floats per class, fewer than one image's %d "
            "coefficients per channel", a.freq_dims, a.ipc, a.ipc, ds->height, ds->width, a.freq_dims);
    if (freq && a.freq_dims > ds->height * ds->width)
        die("--freq_dims %d: an image of %s has only %d DCT coefficients per channel", a.freq_dims, ds->name,
            ds->height * ds->width);
    a.images_per_class = freq ? freq_images_per_class(&a, ds) : a.ipc;
    int nsyn = a.images_per_class * ds->num_classes;
    int batch_syn = a.batch_syn > 0 && a.batch_syn < nsyn ? a.batch_syn : nsyn;

    rt_init(a.device);
    printf("Hyper-parameters: dataset=%s model=%s ipc=%d syn_steps=%d expert_epochs=%d max_start_epoch=%d "
           "Iteration=%d lr_img=%g lr_lr=%g lr_teacher=%g batch_syn=%d pix_init=%s dsa=%s no_aug=%s eval_it=%d "
           "num_eval=%d epoch_eval_train=%d seed=%" PRIu64 "\n",
           ds->name, a.model, a.ipc, a.syn_steps, a.expert_epochs, a.max_start_epoch, a.Iteration, a.lr_img, a.lr_lr,
           a.lr_teacher, batch_syn, a.pix_init, a.dsa ? "True" : "False", a.no_aug ? "True" : "False", a.eval_it,
           a.num_eval, a.epoch_eval_train, seed);
    distill_match_describe(&a, &window);
    if (a.texture) {
        printf("Texture: canvases of %d x %d images, %d crop round%s per step\n", a.canvas_size, a.canvas_size,
               a.canvas_samples, a.canvas_samples == 1 ? "" : "s");
        if (strcmp(a.pix_init, "real") == 0 && !a.init_syn)
            printf("WARNING: Using texture with real initialization will take a very long time to smooth out the "
                   "boundaries between images.\n");
    }
    Dataset data;
    Net net;
    /* The buffer command's cached transform (<buffer_path>/<dataset>/zca.safetensors) when
     * present; otherwise fitted anew and not written (only clmtt buffer writes it). */
    Zca zca = {0};
    char zdir[4096];
    zca_cache_dir(zdir, sizeof zdir, a.buffer_path, ds, a.subset, a.res);
    ZcaSetup zs = {a.zca, zdir, 0, &zca};
    command_prepare(ds, a.data_path, a.model, &zs, &data, &net);
    /* One segment per iteration: the student's rows are split over the ranks (checked before
     * looking for experts); several: whole segments are. */
    int split_rows = a.num_trajectories == 1;
    if (split_rows) distiller_check_split(&net);
    FreqRank rank = {0};
    if (freq) {
        freqrank_prepare(dist_is_root() ? zdir : NULL, ds->name, a.zca, &data.train, &rank);   /* rank 0 writes */
        printf("Frequency parameterization: %d DCT coefficients per channel, %d images per class in the storage of "
               "ipc %d\n", a.freq_dims, a.images_per_class, a.ipc);
        if (init.freq_index)
            for (size_t i = 0; i < (size_t)ds->channels * a.freq_dims; i++) {
                size_t c = i / a.freq_dims, j = i % a.freq_dims;
                if (init.freq_index[i] != rank.order[c * ds->height * ds->width + j])
                    die("%s: its kept DCT positions differ from this data's ranking (channel %zu, coefficient %zu); "
                        "it was distilled from other data", a.init_syn, c, j);
            }
    }

    char edir[4096];
    expert_dir(edir, sizeof edir, a.buffer_path, ds, a.subset, a.res, a.zca, a.model);
    ExpertSource experts;
    experts_open(&experts, edir, &net, ds->name, a.zca, a.max_files, a.max_experts, a.load_all, &rng_experts);
    if (a.max_start_epoch - 1 + a.expert_epochs > experts.snapshots - 1)
        die("--max_start_epoch %d with --expert_epochs %d needs trajectories of at least %d epochs, but the experts "
            "in %s have %d", a.max_start_epoch, a.expert_epochs, a.max_start_epoch - 1 + a.expert_epochs, edir,
            experts.snapshots - 1);
    printf("Experts: %s (%d file%s)\n", edir, experts.nfiles, experts.nfiles == 1 ? "" : "s");

    /* The synthetic set: labels class-major, pixels real, noise or from a file. */
    RunOutputs out = {&a, ds, "", a.zca ? &zca : NULL};
    outputs_make_dir(&out, seed);
    ImageSet set;   /* host copy of the set's images (refreshed before evaluating and saving) */
    LabelExperts le = {0};
    int pick = pix_correct && !a.init_syn, use_le = pick || (a.soft_labels && !init.label_logits);
    if (use_le) label_experts_open(&le, &a, edir, &net, ds->name, seed);
    if (pick) distill_correct_images(&a, ds, &data, &le, &rng_init_set, &set);
    else distill_initial_images(&a, ds, &data, &init, &rng_init_set, &set);
    printf("Run folder: %s\n", out.dir);
    char mpath[4300];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", out.dir);
    FILE *metrics = dist_is_root() ? metrics_open(mpath) : NULL;   /* rank 0 writes every file */
    outputs_settings_line(&out, metrics, seed, batch_syn);

    LearnSet ls;
    distill_learnset(&a, ds, &set, batch_syn, freq ? &rank : NULL, &ls);
    if (init.label_logits && !a.soft_labels)
        die("%s holds learned soft labels; pass --soft_labels=True to go on learning them", a.init_syn);
    if (a.soft_labels) {
        /* The labels start as the file's logits, or from the label experts' logits on the
         * starting images. */
        float *logits = xmalloc((size_t)set.n * ds->num_classes * sizeof(float));
        char from[400] = "the file";
        if (init.label_logits) memcpy(logits, init.label_logits, (size_t)set.n * ds->num_classes * sizeof(float));
        else distill_start_logits(&a, &le, &net, &set, logits, from, sizeof from);
        learnset_set_soft(&ls, logits, a.lr_y, a.Momentum_y);
        free(logits);
        printf("Soft labels: label logits learned with lr_y=%g Momentum_y=%g, starting from %s\n", a.lr_y,
               a.Momentum_y, from);
    }
    if (use_le) label_experts_close(&le);
    if (a.ema_decay > 0) {
        learnset_set_ema(&ls, a.ema_decay);
        printf("EMA: evaluation and the saved sets use the moving average of the set (decay %g)\n", a.ema_decay);
    }
    Distiller d;
    distiller_init_split(&d, &net, nsyn, ls.img->rounds, batch_syn, a.syn_steps, &dsa_unroll, split_rows);
    distiller_set_match(&d, &match);
    Segments segs;
    segments_init(&segs, a.num_trajectories, &ls, net.nparams);
    SegmentSpan span = {&window, a.expert_epochs};
    if (a.num_trajectories > 1)
        printf("Expert segments: %d per iteration, meta-gradients averaged%s\n", a.num_trajectories,
               dist_size() > 1 ? " (split over the ranks)" : "");

    EvalPool pool;
    evalpool_init(&pool, &a, &dsa_eval);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    double t_start = now_seconds(), t_iters = 0, t_checkpoint = t_start;
    int iters_done = 0, skipped = 0, status = 0;
    Progress prog;
    progress_start(&prog, "distill", a.Iteration, "it");

    for (int it = 0; it <= a.Iteration; it++) {
        if (it % a.eval_it == 0 || it == a.Iteration) {
            /* Evaluation cannot train with a negative step size: stop as on divergence, so
             * that the set learned so far is still saved. */
            float shown_lr = learnset_shown_lr(&ls);
            if (a.num_eval > 0 && !(shown_lr >= 0)) {
                progress_clear(&prog);
                fprintf(stderr, "clmtt: iteration %d diverged: syn_lr = %g cannot train the evaluation networks "
                        "(lower --lr_lr or --lr_img); the last set is in %s/images_last.safetensors\n", it, shown_lr,
                        out.dir);
                status = 1;
                break;
            }
            learnset_images(&ls, set.images);
            /* Learned labels: the networks train on the set's current soft rows. */
            if (ls.learn_targets) {
                if (!set.targets) set.targets = xmalloc((size_t)set.n * ds->num_classes * sizeof(float));
                set.k = ds->num_classes;
                learnset_targets(&ls, set.targets);
            }
            int improved = evalpool_run(&pool, it, &set, shown_lr, &data.test, ds->num_classes, seed, 4, metrics,
                                        &prog);
            char stem[64];
            snprintf(stem, sizeof stem, "images_%d", it);
            outputs_save(&out, &ls, &set, it, stem, improved ? "images_best" : NULL);
            if (it < a.Iteration) outputs_checkpoint(&out, &ls, &set, it);
            t_checkpoint = now_seconds();
            if (dist_is_root()) report_write(out.dir);
        } else if (dist_is_root() && now_seconds() - t_checkpoint > CHECKPOINT_SECONDS) {
            /* rank 0's clock alone: the other ranks write nothing */
            learnset_images(&ls, set.images);
            outputs_checkpoint(&out, &ls, &set, it);
            t_checkpoint = now_seconds();
        }
        if (it == a.Iteration) break;
        if (any_rank_interrupted()) break;

        double t0 = now_seconds();
        int start;
        IterResult r;
        segments_iteration(&segs, &d, &ls, &experts, &rng_experts, &rng_steps, &span, seed, it, a.threshold, &start,
                           &r);
        double loss = r.loss, dlr = r.dlr;
        SetUpdate upd = r.update;
        if (upd == SET_NOT_FINITE) {
            progress_clear(&prog);
            fprintf(stderr, "clmtt: iteration %d diverged (loss %g, d loss/d syn_lr %g); the last good set is in %s/images_last.safetensors\n",
                    it, loss, dlr, out.dir);
            status = 1;
            break;
        }
        if (upd == SET_DIVERGED) {
            progress_clear(&prog);
            fprintf(stderr, "clmtt: iteration %d diverged (the update made syn_lr or the images non-finite); "
                    "the last good set is in %s/images_last.safetensors\n", it, out.dir);
            status = 1;
            break;
        }
        double secs = now_seconds() - t0;
        t_iters += secs;
        iters_done++;
        skipped += upd == SET_SKIPPED;
        char extra[160];
        distill_match_fields(&a, &window, it, d.match.step, upd == SET_SKIPPED, extra, sizeof extra);
        metrics_line(metrics,
                     "{\"iteration\": %d, \"loss\": %.9g, \"syn_lr\": %.9g, \"start_epoch\": %d, \"grad_syn_lr\": %.9g, "
                     "\"seconds\": %.3f, \"peak_device_bytes\": %zu%s}",
                     it, loss, ls.lr, start, dlr, secs, dev_mem_peak(), extra);
        if (it % 10 == 0) {
            progress_clear(&prog);
            printf("iter = %04d, loss = %.4f, syn_lr = %.6g (%.2f s/it)%s\n", it, loss, ls.lr, secs,
                   upd == SET_SKIPPED ? " skipped: loss above --threshold" : "");
        }
        progress_update(&prog, it + 1);
    }
    progress_clear(&prog);
    learnset_images(&ls, set.images);
    if (!finite_set(&set)) die("internal: the kept synthetic set is not finite");
    outputs_save(&out, &ls, &set, iters_done, "images_last", NULL);
    if (interrupted) {
        fprintf(stderr, "clmtt: interrupted after %d updates; continue with --init_syn %s/images_last.safetensors\n",
                iters_done - skipped, out.dir);
        status = 130;
    }
    char pk[32], el[32];
    char skip_note[96] = "";
    if (isfinite(a.threshold))
        snprintf(skip_note, sizeof skip_note, " (%d of %d iterations skipped: loss above --threshold)", skipped,
                 iters_done);
    printf("Done: %d updates%s in %s (%.2f s per iteration), peak device memory %s; run folder %s\n",
           iters_done - skipped, skip_note,
           format_duration(now_seconds() - t_start, el, sizeof el), iters_done ? t_iters / iters_done : 0.0,
           human_bytes((double)dev_mem_peak(), pk, sizeof pk), out.dir);
    evalpool_report(&pool, metrics);
    metrics_line(metrics, "{\"done\": true, \"updates\": %d, \"skipped\": %d, \"seconds_per_iteration\": %.4f, "
                 "\"peak_device_bytes\": %zu, \"status\": %d}",
                 iters_done - skipped, skipped, iters_done ? t_iters / iters_done : 0.0, dev_mem_peak(), status);
    if (metrics) fclose(metrics);
    segments_free(&segs);
    distiller_free(&d);
    learnset_free(&ls);
    experts_close(&experts);
    imageset_free(&set);
    synset_free(&init);
    freqrank_free(&rank);
    zca_free(&zca);
    dataset_free(&data);
    dataset_info_free(&dsinfo);
    rt_shutdown();
    return status;
}
