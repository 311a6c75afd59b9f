/* clmtt bench: speed and peak device memory of expert training and of one distillation
 * iteration, on random data of a dataset's shape (no dataset files are read, so it runs
 * on any machine with an OpenCL device). Every figure is printed as a plain line, and
 * each measurement once more as one "BENCH_JSON {...}" line for scripts (tools/bench.sh). */
#include "cli/cli.h"
#include "cli/setup.h"
#include "cli/bench_counts.h"
#include "cli/bench_peak.h"
#include "cli/bench_gemm.h"
#include "net/registry.h"
#include "cli/commands.h"
#include "data/dataset.h"
#include "distill/distill.h"
#include "distill/iteration.h"
#include "augment/dsa.h"
#include "net/net.h"
#include "train/train.h"
#include "core/dist.h"
#include "core/util.h"
#include "layers/dct2d.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The original's augmentation for experts and for the unrolled student. */
static const char *const BENCH_DSA_STRATEGY = "color_crop_cutout_flip_scale_rotate";

typedef struct {
    const char *dataset, *model, *what;
    int batch_train, train_batches, ipc, syn_steps, batch_syn, iterations, dsa, seed, device;
} BenchArgs;

static const double MIB = 1024.0 * 1024.0;

/* Standard normal values: normalized pixels have about mean 0 and std 1 per channel. */
static void random_normal(Rng *rng, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(rng);
}

/* Per-sample floats of every layer's output, summed over the layers of the net. */
static size_t activation_floats_per_sample(const Net *net) {
    size_t s = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        s += (size_t)l->cout * l->ho * l->wo;
    }
    return s;
}

/* Bytes one distillation iteration would hold if, as the original does, the autograd graph
 * of all syn_steps student steps were kept: per step every layer's activations and the
 * state saved for backward (taken as equal in size), plus syn_steps+1 parameter vectors. */
static double graph_keeping_estimate(const Net *net, int batch_syn, int syn_steps) {
    double per_step = (double)activation_floats_per_sample(net) * batch_syn * 4.0 * 2.0;
    return syn_steps * per_step + (syn_steps + 1.0) * (double)net->nparams * 4.0;
}

/* The fields every JSON line shares. */
static cJSON *json_begin(const char *what, const BenchArgs *a, const DatasetInfo *ds, const Net *net) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "what", what);
    cJSON_AddStringToObject(o, "device", RT.dev.name);
    cJSON_AddStringToObject(o, "platform", RT.dev.platform_name);
    cJSON_AddStringToObject(o, "dataset", ds->name);
    cJSON_AddStringToObject(o, "model", net->model);
    cJSON_AddNumberToObject(o, "parameters", (double)net->ndense);
    cJSON_AddBoolToObject(o, "dsa", a->dsa);
    return o;
}

static void json_emit(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (!s) die("internal: cannot format a benchmark record");
    printf("BENCH_JSON %s\n", s);
    free(s);
    cJSON_Delete(o);
}

static void print_peak(const char *label, size_t bytes) {
    printf("%s: %zu bytes (%.1f MiB)\n", label, bytes, (double)bytes / MIB);
}

/* Buffers held from before the measurement count in its peak; say so when there are any. */
static void print_held(size_t held) {
    if (held) printf("(of which %zu bytes were held before the measurement began)\n", held);
}

/* Step clock for train_epoch's per-batch callback: waits for the device, then notes the
 * step's wall time. */
typedef struct { double last; double *secs; int n, cap; } StepClock;

static void on_step(void *ctx, size_t images_done) {
    (void)images_done;
    StepClock *c = ctx;
    rt_finish();
    double t = now_seconds();
    if (c->n < c->cap) c->secs[c->n++] = t - c->last;
    c->last = t;
}

static double min_of(const double *x, int n) {
    double m = x[0];
    for (int i = 1; i < n; i++) m = x[i] < m ? x[i] : m;
    return m;
}

/* Expert training: 1 warm-up step, then train_batches timed steps of batch_train random
 * images (upload, DSA, forward, loss, backward, SGD), as clmtt buffer runs them. */
static void bench_train(const BenchArgs *a, const DatasetInfo *ds, const Net *net, const DsaStrategy *dsa, Rng *rng) {
    int B = a->batch_train, S = a->train_batches;
    size_t img = (size_t)ds->channels * ds->height * ds->width;
    ImageSet set = {B * S, ds->channels, ds->height, ds->width, NULL, NULL, NULL, 0};
    set.images = xmalloc((size_t)set.n * img * sizeof(float));
    set.labels = xmalloc((size_t)set.n * sizeof(int32_t));
    random_normal(rng, set.images, (size_t)set.n * img);
    for (int i = 0; i < set.n; i++) set.labels[i] = rng_int(rng, 0, ds->num_classes - 1);
    ImageSet warm = set;   /* the first batch of the same images */
    warm.n = B;

    printf("\n== train: %s on %s-shaped random images, batch_train=%d, %d timed step%s after 1 warm-up, dsa=%s\n",
           net->model, ds->name, B, S, S == 1 ? "" : "s", a->dsa ? "True" : "False");
    rt_finish();
    dev_mem_reset_peak();
    size_t held = dev_mem_current();
    Trainer tr;
    trainer_init(&tr, net, B);
    trainer_init_params(&tr, rng);
    Sgd sgd = {0.01, 0, 0, 1};   /* the original's expert optimizer: lr_teacher 0.01, no momentum */

    double t0 = now_seconds(), loss, acc;
    train_epoch(&tr, &warm, B, dsa, rng, &sgd, &loss, &acc, NULL, NULL);
    rt_finish();
    double warm_s = now_seconds() - t0;

    StepClock clock = {0, xmalloc((size_t)S * sizeof(double)), 0, S};
    clock.last = t0 = now_seconds();
    train_epoch(&tr, &set, B, dsa, rng, &sgd, &loss, &acc, on_step, &clock);
    rt_finish();
    double total = now_seconds() - t0;
    size_t peak = dev_mem_peak();

    double per_step = total / S, best = min_of(clock.secs, clock.n);
    printf("warm-up step (includes kernel compilation when not cached): %.3f s\n", warm_s);
    printf("training step: %.4f s mean, %.4f s fastest (%d timed, %.3f s in all)\n", per_step, best, S, total);
    printf("training speed: %.1f images/s\n", (double)set.n / total);
    printf("training loss of the timed steps (random labels): %.4f\n", loss);
    print_peak("peak device memory (training)", peak);
    print_held(held);

    cJSON *o = json_begin("train", a, ds, net);
    cJSON_AddNumberToObject(o, "batch_train", B);
    cJSON_AddNumberToObject(o, "steps", S);
    cJSON_AddNumberToObject(o, "seconds_per_step", per_step);
    cJSON_AddNumberToObject(o, "fastest_step_seconds", best);
    cJSON_AddNumberToObject(o, "warmup_seconds", warm_s);
    cJSON_AddNumberToObject(o, "images_per_second", (double)set.n / total);
    cJSON_AddNumberToObject(o, "peak_device_bytes", (double)peak);
    cJSON_AddNumberToObject(o, "peak_device_mib", (double)peak / MIB);
    json_emit(o);

    free(clock.secs);
    trainer_free(&tr);
    imageset_free(&set);
}

/* Per rank (gathered on rank 0): compute and communication seconds per iteration and the
 * peak device memory; and what is sent per iteration, measured and modelled. The model:
 * every forward step sums one parameter vector (P floats) over the ranks, every reverse step
 * two (gradient and Hessian-vector product), and the iteration the set's gradient once:
 * sum_bytes = 4 (3 K P + set floats). Summing by gather to rank 0 and broadcast moves
 * sum_bytes in and out of every other rank, and (N - 1) sum_bytes in and out of rank 0. */
static void print_ranks(double compute_s, double comm_s, double sent_bytes, size_t peak, double sum_bytes, cJSON *o) {
    int N = dist_size();
    double *c = xcalloc((size_t)N, sizeof(double)), *m = xcalloc((size_t)N, sizeof(double));
    double *pk = xcalloc((size_t)N, sizeof(double)), *sb = xcalloc((size_t)N, sizeof(double));
    dist_gather_f64(compute_s, c);
    dist_gather_f64(comm_s, m);
    dist_gather_f64((double)peak, pk);
    dist_gather_f64(sent_bytes, sb);
    printf("ranks: %d (one OpenCL device each)\n", N);
    cJSON *rj = cJSON_AddArrayToObject(o, "per_rank");
    double cmax = 0, mmax = 0, pmax = 0;
    for (int r = 0; r < N; r++) {
        printf("rank %d: compute %.3f s, communication (waits included) %.3f s per iteration; sent %.2f MiB per "
               "iteration; peak device memory %.1f MiB\n", r, c[r], m[r], sb[r] / MIB, pk[r] / MIB);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "rank", r);
        cJSON_AddNumberToObject(x, "rank_compute_seconds", c[r]);
        cJSON_AddNumberToObject(x, "rank_comm_seconds", m[r]);
        cJSON_AddNumberToObject(x, "rank_sent_bytes", sb[r]);
        cJSON_AddNumberToObject(x, "rank_peak_device_bytes", pk[r]);
        cJSON_AddItemToArray(rj, x);
        cmax = fmax(cmax, c[r]);
        mmax = fmax(mmax, m[r]);
        pmax = fmax(pmax, pk[r]);
    }
    double root_bytes = 2.0 * (N - 1) * sum_bytes, other_bytes = N > 1 ? 2.0 * sum_bytes : 0;
    printf("communication model: %.2f MiB summed over the ranks per iteration (2 x syn_steps parameter vectors + "
           "the set's gradient); with N ranks rank 0 moves 2 (N-1) x that (%.2f MiB here), every other rank 2 x "
           "(%.2f MiB)\n", sum_bytes / MIB, root_bytes / MIB, other_bytes / MIB);
    cJSON_AddNumberToObject(o, "ranks", N);
    cJSON_AddNumberToObject(o, "max_rank_compute_seconds", cmax);
    cJSON_AddNumberToObject(o, "max_rank_comm_seconds", mmax);
    cJSON_AddNumberToObject(o, "max_rank_peak_device_bytes", pmax);
    cJSON_AddNumberToObject(o, "allreduce_bytes_per_iteration", sum_bytes);
    cJSON_AddNumberToObject(o, "model_root_bytes_per_iteration", root_bytes);
    free(c);
    free(m);
    free(pk);
    free(sb);
}

/* One distillation iteration: meta-gradient over syn_steps unrolled student steps and
 * the update of images and step size, from random images and a random expert segment
 * (a fresh initialization and a small perturbation of it as the target). */
static void bench_distill(const BenchArgs *a, const DatasetInfo *ds, const Net *net, const DsaStrategy *dsa, Rng *rng) {
    int nsyn = a->ipc * ds->num_classes;
    int batch_syn = a->batch_syn > 0 && a->batch_syn < nsyn ? a->batch_syn : nsyn;
    size_t img = (size_t)ds->channels * ds->height * ds->width, P = net->nparams;
    float *images = xmalloc((size_t)nsyn * img * sizeof(float));
    int32_t *labels = xmalloc((size_t)nsyn * sizeof(int32_t));
    random_normal(rng, images, (size_t)nsyn * img);
    for (int i = 0; i < nsyn; i++) labels[i] = i / a->ipc;   /* class-major, as clmtt distill */
    float *theta0 = xmalloc(P * sizeof(float)), *target = xmalloc(P * sizeof(float));
    net_init_params(net, rng, theta0);
    for (size_t i = 0; i < P; i++) target[i] = theta0[i] + 0.01f * (float)rng_normal(rng);

    printf("\n== distill: %s on %s-shaped random images, ipc=%d (%d images), batch_syn=%d, syn_steps=%d, "
           "%d timed iteration%s after 1 warm-up, dsa=%s\n",
           net->model, ds->name, a->ipc, nsyn, batch_syn, a->syn_steps, a->iterations, a->iterations == 1 ? "" : "s",
           a->dsa ? "True" : "False");
    rt_finish();
    dev_mem_reset_peak();
    size_t held = dev_mem_current();
    /* The original's defaults: syn_lr starts at lr_teacher 0.01; lr_img 1000, lr_lr 1e-5. */
    LearnSet ls;
    learnset_init(&ls, imageparam_pixels(nsyn, ds->channels, ds->height, ds->width), ds->num_classes, images, labels,
                  NULL, 0.01f);
    learnset_set_optim(&ls, 1000, 1e-05);
    Distiller d;
    distiller_init(&d, net, nsyn, 1, batch_syn, a->syn_steps, dsa);
    double dalpha, loss = 0, warm_s = 0, total = 0;
    double *secs = xmalloc((size_t)a->iterations * sizeof(double));
    int finite = 1;
    double comm_s = 0, comm_b = 0;   /* this rank's communication in the timed iterations */
    BenchCounts counts = {0};
    for (int it = -1; it < a->iterations; it++) {
        double t0 = now_seconds(), c0 = dist_comm_seconds(), b0 = dist_comm_bytes();
        RtCounts n0 = rt_counts();
        IterResult r;
        distill_iteration(&d, &ls, theta0, target, rng, INFINITY, &r);
        loss = r.loss;
        dalpha = r.dlr;
        if (r.update != SET_UPDATED) finite = 0;
        RtCounts c1 = rt_counts_sub(rt_counts(), n0);
        if (it >= 0) bench_counts_add(&counts, &c1, &d);
        rt_finish();
        double s = now_seconds() - t0;
        if (!isfinite(loss) || !isfinite(dalpha)) finite = 0;
        if (it < 0) {
            warm_s = s;
        } else {
            secs[it] = s;
            total += s;
            comm_s += dist_comm_seconds() - c0;
            comm_b += dist_comm_bytes() - b0;
        }
    }
    size_t peak = dev_mem_peak();
    double per_it = total / a->iterations, best = min_of(secs, a->iterations);
    cJSON *o = json_begin("distill", a, ds, net);
    double est = graph_keeping_estimate(net, batch_syn, a->syn_steps);
    size_t act = activation_floats_per_sample(net);

    printf("warm-up iteration (includes kernel compilation when not cached): %.3f s\n", warm_s);
    printf("distillation iteration: %.3f s mean, %.3f s fastest (%d timed)\n", per_it, best, a->iterations);
    printf("matching loss of the last iteration (random expert segment): %.6g, syn_lr %.6g\n", loss, ls.lr);
    if (!finite) warn("the iteration produced non-finite values; the timing may not be representative");
    print_peak("peak device memory (distillation)", peak);
    print_held(held);
    printf("one parameter vector: %zu bytes (%.2f MiB); activations per sample: %zu floats over %d layers\n", P * 4,
           P * 4 / MIB, act, net->nlayers);
    printf("graph-keeping estimate (an estimate, not a measurement: the memory if the whole unrolled graph were kept, "
           "as the original does): %.0f bytes (%.1f MiB), %.1fx the measured peak\n",
           est, est / MIB, peak ? est / (double)peak : 0.0);
    print_ranks(per_it - comm_s / a->iterations, comm_s / a->iterations, comm_b / a->iterations, peak,
                (double)(2 * (size_t)a->syn_steps * P + ls.total) * 4, o);
    bench_counts_print(&counts);
    /* How near the device's arithmetic peak the matrix products run, over the whole iteration
     * (everything else, the element-wise passes and the launches, counts against it). */
    BenchPeak pk = bench_peak();
    double gflop = bench_counts_gflop_per_iteration(&counts), rate = per_it > 0 ? gflop / per_it : 0.0;
    printf("matrix products: %.2f GFLOP per iteration, %.1f GFLOP/s over the mean iteration; device peak measured "
           "%.1f GFLOP/s (%s): %.0f%% of it\n", gflop, rate, pk.gflops, pk.kernel, 100.0 * rate / pk.gflops);
    cJSON_AddNumberToObject(o, "iteration_gflops_rate", rate);
    cJSON_AddNumberToObject(o, "device_peak_gflops", pk.gflops);
    cJSON_AddStringToObject(o, "device_peak_kernel", pk.kernel);
    cJSON_AddNumberToObject(o, "ipc", a->ipc);
    cJSON_AddNumberToObject(o, "nsyn", nsyn);
    cJSON_AddNumberToObject(o, "batch_syn", batch_syn);
    cJSON_AddNumberToObject(o, "syn_steps", a->syn_steps);
    cJSON_AddNumberToObject(o, "iterations", a->iterations);
    cJSON_AddNumberToObject(o, "seconds_per_iteration", per_it);
    cJSON_AddNumberToObject(o, "fastest_iteration_seconds", best);
    cJSON_AddNumberToObject(o, "warmup_seconds", warm_s);
    cJSON_AddNumberToObject(o, "peak_device_bytes", (double)peak);
    cJSON_AddNumberToObject(o, "peak_device_mib", (double)peak / MIB);
    cJSON_AddNumberToObject(o, "parameter_vector_bytes", (double)P * 4);
    cJSON_AddNumberToObject(o, "graph_keeping_estimate_bytes", est);
    cJSON_AddNumberToObject(o, "graph_keeping_estimate_mib", est / MIB);
    cJSON_AddBoolToObject(o, "finite", finite);
    bench_counts_json(o, &counts);
    cJSON_AddNumberToObject(o, "host_peak_rss_bytes", (double)peak_rss_bytes());
    cJSON_AddNumberToObject(o, "compute_units", RT.dev.compute_units);
    cJSON_AddStringToObject(o, "device_type", RT.dev.type & CL_DEVICE_TYPE_GPU   ? "GPU"
                                              : RT.dev.type & CL_DEVICE_TYPE_CPU ? "CPU"
                                                                                 : "other");
    json_emit(o);

    free(secs);
    distiller_free(&d);
    learnset_free(&ls);
    free(theta0);
    free(target);
    free(images);
    free(labels);
}

/* The orthonormal 2-D DCT of frequency-domain sets at every resolution the datasets use:
 * clFFT (host/layers/dct2d.c) against two GEMMs with the DCT matrices (Y = D_H X D_W^T:
 * one GEMM over all rows, then one strided batched GEMM over the planes). GFLOP/s count the
 * GEMM form's 2 H W (H + W) flops per plane for both, so the figures compare directly. */
static double time_dct(int fft, Dct2d *d, cl_mem y, cl_mem t, cl_mem x, cl_mem dh, cl_mem dw, int H, int W, int B,
                       int reps) {
    double best = 1e30;
    for (int r = -1; r < reps; r++) {
        rt_finish();
        double t0 = now_seconds();
        if (fft) {
            dct2d(d, 0, y, x, B);
        } else {
            gemm(0, 1, (size_t)B * H, W, W, 1.0f, dptr(x, 0), W, dptr(dw, 0), W, 0.0f, dptr(t, 0), W);
            gemm_batched(0, 0, H, W, H, 1.0f, dptr(dh, 0), H, 0, dptr(t, 0), W, (size_t)H * W, 0.0f, dptr(y, 0), W,
                         (size_t)H * W, B);
        }
        rt_finish();
        double s = now_seconds() - t0;
        if (r >= 0 && s < best) best = s;   /* r = -1: warm-up (plans, kernel builds) */
    }
    return best;
}

/* DCT matrix D[k][n] = s(k) cos(pi (2n + 1) k / 2L) on the device. */
static cl_mem dct_matrix_dev(int L) {
    float *m = xmalloc((size_t)L * L * sizeof(float));
    for (int k = 0; k < L; k++)
        for (int n = 0; n < L; n++) m[k * L + n] = (float)(sqrt((k ? 2.0 : 1.0) / L) * cos(M_PI * (2 * n + 1) * k / (2.0 * L)));
    cl_mem d = dev_alloc((size_t)L * L * 4, "DCT matrix");
    dev_write_f32(d, 0, (size_t)L * L, m);
    free(m);
    return d;
}

static void bench_dct(const BenchArgs *a, const DatasetInfo *ds, const Net *net, const DsaStrategy *dsa, Rng *rng) {
    (void)dsa;
    static const int sides[] = {28, 32, 64, 128, 256};
    printf("\n== dct: orthonormal 2-D DCT of B planes, clFFT vs GEMM with the DCT matrix, fastest of %d\n",
           a->iterations);
    for (int i = 0; i < 5; i++) {
        int L = sides[i], B = (int)(((size_t)64 << 20) / 4 / ((size_t)L * L));   /* up to 64 MiB of planes */
        if (B > 512) B = 512;
        size_t n = (size_t)B * L * L;
        float *h = xmalloc(n * sizeof(float));
        random_normal(rng, h, n);
        cl_mem x = dev_alloc(n * 4, "planes"), y = dev_alloc(n * 4, "transformed planes"),
               t = dev_alloc(n * 4, "GEMM intermediate"), dm = dct_matrix_dev(L);
        dev_write_f32(x, 0, n, h);
        Dct2d d;
        dct2d_init(&d, L, L);
        double tf = time_dct(1, &d, y, t, x, dm, dm, L, L, B, a->iterations);
        double tg = time_dct(0, &d, y, t, x, dm, dm, L, L, B, a->iterations);
        double flops = 2.0 * L * L * (2.0 * L) * B;
        printf("%3dx%-3d x %5d planes: clFFT %8.3f ms (%7.2f GFLOP/s)  GEMM %8.3f ms (%7.2f GFLOP/s)  GEMM/clFFT %.2f\n",
               L, L, B, tf * 1e3, flops / tf * 1e-9, tg * 1e3, flops / tg * 1e-9, tg / tf);
        cJSON *o = json_begin("dct", a, ds, net);
        cJSON_AddNumberToObject(o, "side", L);
        cJSON_AddNumberToObject(o, "planes", B);
        cJSON_AddNumberToObject(o, "clfft_seconds", tf);
        cJSON_AddNumberToObject(o, "gemm_seconds", tg);
        cJSON_AddNumberToObject(o, "clfft_gflops", flops / tf * 1e-9);
        cJSON_AddNumberToObject(o, "gemm_gflops", flops / tg * 1e-9);
        json_emit(o);
        dct2d_free(&d);
        dev_free(x); dev_free(y); dev_free(t); dev_free(dm);
        free(h);
    }
}

/* The GEMM shapes of the model at ipc 1, 10 and 50 (cli/bench_gemm.c). */
static void bench_gemm_shapes(const BenchArgs *a, const DatasetInfo *ds, const Net *net, const DsaStrategy *dsa,
                              Rng *rng) {
    (void)dsa; (void)rng;
    static const int ipcs[] = {1, 10, 50};
    bench_gemm(net, ds->name, ipcs, 3, a->iterations > 3 ? a->iterations : 3);
}

typedef void (*BenchFn)(const BenchArgs *a, const DatasetInfo *ds, const Net *net, const DsaStrategy *dsa, Rng *rng);

/* Runs one measurement on a runtime of its own, opened for it and closed after, so its
 * peak counts only its own buffers and scratch; each starts from the same random state. */
static void run_measurement(BenchFn fn, const BenchArgs *a, const DatasetInfo *ds, const Net *net,
                            const DsaStrategy *dsa, const Rng *rng0) {
    Runtime *r = rt_open(a->device);
    Runtime *prev = rt_use(r);
    Rng rng = *rng0;
    char gm[32];
    printf("Device: %s (%s), %s, driver %s, %u compute units, %s global memory\n", RT.dev.name, RT.dev.platform_name,
           RT.dev.version, RT.dev.driver, RT.dev.compute_units, human_bytes((double)RT.dev.global_mem, gm, sizeof gm));
    if (RT.profile) printf("CLMTT_PROFILE is on: every kernel is timed and the queue is serialized, so times run slower\n");
    fn(a, ds, net, dsa, &rng);
    rt_close(r);
    rt_use(prev);
    fflush(stdout);
}

int cmd_bench(int argc, char **argv) {
    BenchArgs a = {"CIFAR10", "ConvNet", "all", 256, 5, 1, 20, -1, 2, 1, 0, -1};
    Flag flags[] = {
        {"dataset", FLAG_STR, &a.dataset, "shape and classes of the random data: MNIST, FashionMNIST, CIFAR10, CIFAR100", 0},
        {"model", FLAG_STR, &a.model, "network architecture", 0},
        {"what", FLAG_STR, &a.what, "what to measure: train, distill, all, dct (the frequency sets' transform, clFFT vs GEMM) or gemm (the model's matrix products at ipc 1, 10, 50)", 0},
        {"batch_train", FLAG_INT, &a.batch_train, "training batch size", 0},
        {"train_batches", FLAG_INT, &a.train_batches, "training steps to time (after 1 warm-up step)", 0},
        {"ipc", FLAG_INT, &a.ipc, "synthetic images per class", 0},
        {"syn_steps", FLAG_INT, &a.syn_steps, "student steps per distillation iteration", 0},
        {"batch_syn", FLAG_OPT_INT, &a.batch_syn, "student minibatch size (None: the whole set, ipc x classes)", 0},
        {"iterations", FLAG_INT, &a.iterations, "distillation iterations to time (after 1 warm-up iteration)", 0},
        {"dsa", FLAG_BOOL, &a.dsa, "differentiable siamese augmentation in training and in the unroll (True/False)", 0},
        {"device", FLAG_DEVICE, &a.device, "OpenCL device index, or a list 0,1,... (one per rank on a node, see clmtt devices; None: CLMTT_DEVICE or the default)", 0},
        {"seed", FLAG_OPT_INT, &a.seed, "random seed of the data (None: a fresh one, printed)", 0},
    };
    FlagSet fs = {"bench",
                  "Measure training speed and distillation time and peak device memory on random data of a dataset's "
                  "shape\n(no dataset files needed). Prints plain lines and one 'BENCH_JSON {...}' line per measurement; "
                  "CLMTT_PROFILE=1\nadds device time per kernel (and serializes the queue).",
                  flags, (int)(sizeof flags / sizeof flags[0])};
    cli_parse(&fs, argc, argv);
    int do_train = strcmp(a.what, "train") == 0 || strcmp(a.what, "all") == 0;
    int do_distill = strcmp(a.what, "distill") == 0 || strcmp(a.what, "all") == 0;
    int do_dct = strcmp(a.what, "dct") == 0, do_gemm = strcmp(a.what, "gemm") == 0;
    cli_require(do_train || do_distill || do_dct || do_gemm, "what", "must be train, distill, dct, gemm or all, got '%s'",
                a.what);
    cli_require(a.batch_train >= 1, "batch_train", "must be at least 1, got %d", a.batch_train);
    cli_require(a.train_batches >= 1, "train_batches", "must be at least 1, got %d", a.train_batches);
    cli_require(a.ipc >= 1, "ipc", "must be at least 1, got %d", a.ipc);
    cli_require(a.syn_steps >= 1, "syn_steps", "must be at least 1, got %d", a.syn_steps);
    cli_require(a.batch_syn != 0, "batch_syn", "must be at least 1 (or None)");
    cli_require(a.iterations >= 1, "iterations", "must be at least 1, got %d", a.iterations);
    const DatasetInfo *ds = dataset_require(a.dataset);
    cli_require((double)a.batch_train * a.train_batches * ds->channels * ds->height * ds->width < 2e9, "train_batches",
                "batch_train x train_batches images of %s do not fit in host memory", ds->name);
    Net net;
    net_build(&net, a.model, ds->channels, ds->height, ds->width, ds->num_classes);
    DsaStrategy dsa = {0};
    if (a.dsa) dsa_strategy_parse(BENCH_DSA_STRATEGY, &dsa);
    uint64_t seed = command_seed(a.seed);
    Rng rng;
    rng_init(&rng, seed, 0xbe7cULL);

    char bs[16];
    if (a.batch_syn > 0) snprintf(bs, sizeof bs, "%d", a.batch_syn);
    else snprintf(bs, sizeof bs, "None");
    printf("Benchmark: dataset=%s (%dx%dx%d, %d classes; random data) model=%s what=%s batch_train=%d "
           "train_batches=%d ipc=%d syn_steps=%d batch_syn=%s iterations=%d dsa=%s seed=%" PRIu64 "\n",
           ds->name, ds->channels, ds->height, ds->width, ds->num_classes, net.model, a.what, a.batch_train,
           a.train_batches, a.ipc, a.syn_steps, bs, a.iterations, a.dsa ? "True" : "False",
           seed);
    printf("Network: %s, %zu parameters, %d layers\n", net.model, net.ndense, net.nlayers);

    if (do_gemm) {
        run_measurement(bench_gemm_shapes, &a, ds, &net, &dsa, &rng);
    } else if (do_dct) {
        run_measurement(bench_dct, &a, ds, &net, &dsa, &rng);
    } else if (do_train && do_distill) {
        run_measurement(bench_train, &a, ds, &net, &dsa, &rng);
        run_measurement(bench_distill, &a, ds, &net, &dsa, &rng);
    } else {
        run_measurement(do_train ? bench_train : bench_distill, &a, ds, &net, &dsa, &rng);
    }
    return 0;
}
