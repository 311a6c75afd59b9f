/* The parts of clmtt distill (cmd_distill.c runs the loop): the synthetic set's
 * initialization (distill_set.c), the evaluation pool (distill_evalpool.c) and the run's
 * outputs: folder, set files and pictures (distill_outputs.c). */
#ifndef CLMTT_DISTILL_PARTS_H
#define CLMTT_DISTILL_PARTS_H

#include "cli/cli.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "data/freqrank.h"
#include "data/zca.h"
#include "distill/distill.h"
#include "distill/iteration.h"
#include "distill/learnset.h"
#include "distill/match.h"
#include "distill/window.h"
#include "net/net.h"
#include "io/synset.h"
#include "train/evaluate.h"
#include "train/experts.h"

#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *dataset, *subset, *model, *eval_mode, *pix_init, *dsa_strategy, *data_path, *buffer_path;
    const char *save_path, *init_syn;
    int res, ipc, num_eval, eval_it, epoch_eval_train, Iteration, batch_real, batch_syn, batch_train, dsa;
    int expert_epochs, syn_steps, max_start_epoch, zca, load_all, no_aug, texture, canvas_size, canvas_samples;
    int max_files, max_experts, force_save, seed, device;
    double lr_img, lr_lr, lr_teacher, lr_init;
    int skip_bad_images;
    const char *param;       /* image parameterization: pixel or freq */
    int freq_dims;           /* freq: kept DCT coefficients per channel per image */
    int images_per_class;    /* rows per class: ipc, or with freq floor(ipc x H x W / freq_dims) */
    int soft_labels;         /* learned soft labels (label logits, SGD with lr_y and Momentum_y) */
    double lr_y, Momentum_y;
    int Label_Model_Timestamp;   /* the expert snapshot whose logits start the labels (-1: the last) */
    double ema_decay;        /* > 0: evaluate and save an exponential moving average of the set */
    /* Matching options (distill_match.c); defaults set after the initializer in cmd_distill.c. */
    int min_start_epoch, current_max_start_epoch, expansion_end_epoch, Sequential_Generation;
    double threshold;        /* INFINITY: every iteration updates the set */
    int auto_match;
    double loss_ratio;
    int num_trajectories;    /* expert segments per iteration, meta-gradients averaged */
} DistillArgs;

/* ---- matching options ---- */
/* Checks the window, threshold, auto_match and loss_ratio flags (dying with the flag's name)
 * and fills the start-epoch window and the loss's options; current_max_start_epoch not given
 * becomes max_start_epoch. */
void distill_match_options(DistillArgs *a, const FlagSet *fs, StartWindow *w, MatchOptions *m);
/* Prints one line per matching option that is on. */
void distill_match_describe(const DistillArgs *a, const StartWindow *w);
/* The options' values into the settings object of metrics.jsonl's first line. */
struct cJSON;
void distill_match_settings(const DistillArgs *a, struct cJSON *settings);
/* The options' fields of one iteration's metrics line (", \"upper_bound\": 3, ..."), each only
 * when its option is on, so plain MTT's lines stay as they were. */
void distill_match_fields(const DistillArgs *a, const StartWindow *w, int it, int match_step, int skipped, char *out,
                          size_t size);

/* ---- set initialization ---- */
/* The starting images and labels (class-major): from --init_syn's file (init, taken over),
 * real training images (texture: tiled canvases) or noise. */
void distill_initial_images(const DistillArgs *a, const DatasetInfo *ds, const Dataset *data, SynSet *init, Rng *rng,
                            ImageSet *out);
/* The learnable set over `images`: the parameterization the flags pick, its optimizers.
 * rank: the DCT ranking (freq only, else NULL). */
void distill_learnset(const DistillArgs *a, const DatasetInfo *ds, const ImageSet *images, int batch_syn,
                      const FreqRank *rank, LearnSet *out);

/* Soft labels: logits [n][classes] of `params` (one expert snapshot) on the set's images,
 * batch statistics, in chunks. */
void distill_label_logits(const Net *net, const float *params, const ImageSet *images, float *logits);

/* The expert snapshots that start the labels and, with --pix_init=samples_predicted_correctly,
 * pick the images (distill_labels.c): the first expert drawn from a stream of its own
 * (seed stream 5, so the run's expert order is unchanged), its snapshot at
 * --Label_Model_Timestamp, and the same snapshot of every expert of that expert's file
 * (after --max_experts). */
typedef struct {
    ExpertSource src;
    int epoch;             /* the snapshot index (-1 resolved to the last) */
    float *pick;           /* [nparams]: the first expert's snapshot */
    int nfile;             /* experts of its file in use (0 unless --pix_init=samples_predicted_correctly) */
    const float **file;    /* nfile pointers to [nparams]: their snapshots, file order */
    float *snaps;          /* [nfile][nparams]: what `file` points to */
    char who[160];         /* "expert E of <file> at epoch T", for messages */
} LabelExperts;
/* Whether --pix_init is samples_predicted_correctly. */
int distill_pix_correct(const DistillArgs *a);
void label_experts_open(LabelExperts *le, const DistillArgs *a, const char *edir, const Net *net, const char *dataset,
                        uint64_t seed);
void label_experts_close(LabelExperts *le);
/* --pix_init=samples_predicted_correctly: images_per_class real training images per class
 * that le->pick classifies correctly (pick_correct_images, rng the real init's stream);
 * prints how many candidates each class took. */
void distill_correct_images(const DistillArgs *a, const DatasetInfo *ds, const Dataset *data, const LabelExperts *le,
                            Rng *rng, ImageSet *out);
/* Soft labels' starting logits [n][classes] on the set's images: with
 * samples_predicted_correctly the mean over le's file snapshots that classify each image
 * correctly, else le->pick's logits. Writes what it did into from[len]. */
void distill_start_logits(const DistillArgs *a, const LabelExperts *le, const Net *net, const ImageSet *images,
                          float *logits, char *from, size_t len);

/* ---- evaluation pool ---- */
typedef struct {
    char names[8][64];
    int n, num_eval;
    double best[8], best_std[8];
    int best_it[8];
    double last[8], last_std[8];   /* the most recent evaluation (the last iteration's set at the end) */
    int last_it;                   /* -1: none yet */
    EvalConfig cfg;
} EvalPool;
void evalpool_init(EvalPool *p, const DistillArgs *a, const DsaStrategy *dsa_eval);
/* --num_eval fresh networks of every model of the pool on `set` with step size lr; prints
 * and writes a metrics line per model. Returns 1 when some model's mean improved. Network
 * i of iteration it draws from stream rng_substream(rng_substream(stream, it), i) of seed,
 * and rank i % N trains it (host/core/dist.h). */
int evalpool_run(EvalPool *p, int it, const ImageSet *set, float lr, const ImageSet *test, int num_classes,
                 uint64_t seed, uint64_t stream, FILE *metrics, Progress *prog);
/* Prints the last evaluation's and the best accuracy per model (both, with their iterations),
 * and writes them as one metrics line {"final": ...}. */
void evalpool_report(const EvalPool *p, FILE *metrics);

/* ---- expert segments of an iteration (distill_segments.c) ---- */
typedef struct {
    const StartWindow *window;   /* draws each segment's start epoch */
    int expert_epochs;           /* target = start + expert_epochs */
} SegmentSpan;
typedef struct {
    int M;            /* --num_trajectories */
    size_t P;
    cl_mem acc;       /* M > 1: the sum of this rank's 1/M meta-gradients, the set's layout */
    float *host;      /* its host copy, summed over ranks */
    float *ends;      /* [M][2][P]: start and target of this rank's segments (clmtt's layout) */
} Segments;
void segments_init(Segments *s, int M, const LearnSet *ls, size_t nparams);
void segments_free(Segments *s);
/* One iteration's meta-gradient in ls->grad (dL/dlr in *dlr) and loss over M segments
 * drawn from ex; *start0 = the first segment's start epoch. M = 1 is exactly the
 * single-segment iteration (rng_steps); M > 1 splits the segments over the ranks, each from
 * its own stream of (seed, it, j), and averages. */
double segments_meta_grad(Segments *s, Distiller *d, LearnSet *ls, ExpertSource *ex, Rng *rng_experts,
                          Rng *rng_steps, const SegmentSpan *span, uint64_t seed, int it, int *start0, double *dlr);
/* One whole iteration: the meta-gradient as segments_meta_grad and the set's update when
 * the loss is at most `threshold`. M = 1: host/distill/iteration.h, one wait for the device;
 * M > 1: the averaged meta-gradient, checked and applied on the host. */
void segments_iteration(Segments *s, Distiller *d, LearnSet *ls, ExpertSource *ex, Rng *rng_experts, Rng *rng_steps,
                        const SegmentSpan *span, uint64_t seed, int it, double threshold, int *start0, IterResult *out);

/* ---- outputs ---- */
typedef struct {
    const DistillArgs *a;
    const DatasetInfo *ds;
    char dir[4096];
    const Zca *zca;        /* --zca: the transform, for pictures in normal colours; else NULL */
} RunOutputs;
/* images_last.safetensors only (no pictures): the set a killed run continues from with
 * --init_syn. `set` holds learnset_images of the current state. Rank 0 only. */
void outputs_checkpoint(const RunOutputs *o, LearnSet *ls, const ImageSet *set, int it);
/* --save_path, or logged_files/<dataset>/<model>_ipc<ipc>_<time>_s<seed>; created (by rank 0;
 * every rank knows its name). */
void outputs_make_dir(RunOutputs *o, uint64_t seed);
/* The set file <stem>.safetensors and its pictures, and the same under `also` when not
 * NULL: set holds the learnable set's current images (learnset_images, which the caller has
 * just run for evaluation), ls gives the step size and the parameterization's extras; the
 * inverse ZCA is computed once for all of them. Rank 0 writes; the others hold the same
 * set and do nothing. */
void outputs_save(const RunOutputs *o, LearnSet *ls, const ImageSet *set, int it, const char *stem, const char *also);
/* The run's settings as the first line of metrics.jsonl, {"settings": {...}}, for clmtt report. */
void outputs_settings_line(const RunOutputs *o, FILE *metrics, uint64_t seed, int batch_syn);

#endif
