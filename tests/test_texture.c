/* Texture mode: the crop and its transpose on the device against float64 references
 * (the crop is a copy: exact; the transpose sums: 1e-6); the references' adjointness
 * (1e-12) and their gradient against central finite differences (1e-8); offsets, real-image
 * tiling and the tiled preview; evaluation training on canvases against plain training;
 * the distiller's meta-gradient with texture crops (canvas_size 2, canvas_samples 2, 8x8
 * crops) with and without DSA against central finite differences of the float64 unrolled
 * loss (loss 1e-4, dL/dlr 2e-3, dL/dX 1e-4 relative); memory that grows by exactly two
 * parameter vectors, the indices and the offsets per step; and the commands end to end on
 * a Fashion-MNIST subset (buffer -> distill --texture -> eval --syn). */
#include "distill/distill.h"
#include "net/registry.h"
#include "augment/dsa.h"
#include "train/evaluate.h"
#include "fdcheck.h"
#include "io/safetensors.h"
#include "io/synset.h"
#include "testutil.h"
#include "augment/texture.h"
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- the crop kernels ---- */

/* Random offsets in range, with the extreme values 0 and Hc-1 / Wc-1 present. */
static void some_offsets(int32_t *offs, int crops, int Hc, int Wc, uint64_t seed) {
    Rng r;
    rng_init(&r, seed, 5);
    texture_draw_offsets(&r, crops, 1, Hc, Wc, offs);
    offs[0] = 0; offs[1] = Wc - 1;
    if (crops > 1) { offs[2] = Hc - 1; offs[3] = 0; }
}

typedef struct { TexShape s; int N, n, rounds; } CropCase;

static const CropCase crop_cases[] = {
    {{3, 5, 4, 10, 8}, 4, 3, 2},     /* canvas_size 2, non-square crops */
    {{1, 6, 6, 18, 18}, 5, 5, 3},    /* canvas_size 3, three rounds */
    {{2, 7, 7, 7, 7}, 3, 2, 2},      /* canvas_size 1: a plain circular shift */
    {{3, 8, 8, 16, 16}, 6, 1, 4},    /* one canvas, four rounds */
};

START_TEST(crop_forward_matches_reference) {
    tu_init();
    for (size_t t = 0; t < sizeof crop_cases / sizeof crop_cases[0]; t++) {
        const CropCase *cc = &crop_cases[t];
        const TexShape *s = &cc->s;
        size_t canvas = (size_t)s->C * s->Hc * s->Wc, crop = (size_t)s->C * s->H * s->W;
        int crops = cc->n * cc->rounds;
        float *X = xmalloc(cc->N * canvas * 4);
        tu_rand(X, cc->N * canvas, 100 + t, -2, 2);
        /* Rows and offsets sit behind a prefix, as one step's slice of the distiller's buffers. */
        int32_t rows[1 + 8], offs[6 + 2 * 32];
        rows[0] = -7;
        for (int i = 0; i < cc->n; i++) rows[1 + i] = (2 * i + 1) % cc->N;   /* may repeat: the forward allows it */
        for (int i = 0; i < 6; i++) offs[i] = -99;
        some_offsets(offs + 6, crops, s->Hc, s->Wc, 200 + t);
        cl_mem dX = tu_upload(X, cc->N * canvas), out = tu_poisoned(crops * crop);
        cl_mem drows = dev_alloc(sizeof rows, "rows"), doffs = dev_alloc(sizeof offs, "offsets");
        dev_write(drows, 0, sizeof rows, rows);
        dev_write(doffs, 0, sizeof offs, offs);
        texture_crop_forward(s, out, dX, drows, 1, doffs, 6, cc->n, cc->rounds);
        float *got = tu_download(out, 0, crops * crop);
        double *Xd = tu_to_double(X, cc->N * canvas), *want = xmalloc(crops * crop * 8);
        texture_crop_forward_ref(s, want, Xd, rows + 1, offs + 6, cc->n, cc->rounds);
        char what[64];
        snprintf(what, sizeof what, "crop forward case %zu", t);
        tu_check_close(what, got, want, crops * crop, 0, 0);   /* a copy: exact */
        /* Spot check of the definition: crop(c, y, x) = canvas(c, (y - dh) mod Hc, (x - dw) mod Wc). */
        int y = s->H - 1, x = 0, b = crops - 1, c = s->C - 1;
        int sy = ((y - offs[6 + 2 * b]) % s->Hc + s->Hc) % s->Hc, sx = ((x - offs[6 + 2 * b + 1]) % s->Wc + s->Wc) % s->Wc;
        ck_assert_float_eq(got[((size_t)b * s->C + c) * s->H * s->W + (size_t)y * s->W + x],
                           X[((size_t)rows[1 + b % cc->n] * s->C + c) * s->Hc * s->Wc + (size_t)sy * s->Wc + sx]);
        free(X); free(got); free(Xd); free(want);
        dev_free(dX); dev_free(out); dev_free(drows); dev_free(doffs);
    }
}
END_TEST

START_TEST(crop_transpose_matches_reference) {
    tu_init();
    for (size_t t = 0; t < sizeof crop_cases / sizeof crop_cases[0]; t++) {
        const CropCase *cc = &crop_cases[t];
        const TexShape *s = &cc->s;
        size_t canvas = (size_t)s->C * s->Hc * s->Wc, crop = (size_t)s->C * s->H * s->W;
        int crops = cc->n * cc->rounds;
        size_t roff = 5;   /* the crop gradient starts inside its buffer */
        float *R = xmalloc((roff + crops * crop) * 4), *G = xmalloc(cc->N * canvas * 4);
        tu_rand(R, roff + crops * crop, 300 + t, -1, 1);
        tu_rand(G, cc->N * canvas, 400 + t, -1, 1);   /* dX accumulates into what it holds */
        int32_t rows[8], offs[2 * 32];
        for (int i = 0; i < cc->n; i++) rows[i] = cc->N - 1 - i;   /* distinct; canvas 0 mostly unused */
        some_offsets(offs, crops, s->Hc, s->Wc, 500 + t);
        cl_mem dR = tu_upload(R, roff + crops * crop), dG = tu_upload(G, cc->N * canvas);
        cl_mem drows = dev_alloc(sizeof rows, "rows"), doffs = dev_alloc(sizeof offs, "offsets");
        dev_write(drows, 0, sizeof rows, rows);
        dev_write(doffs, 0, sizeof offs, offs);
        texture_crop_transpose_add(s, dG, dR, roff, drows, 0, doffs, 0, cc->n, cc->rounds, -0.75f);
        float *got = tu_download(dG, 0, cc->N * canvas);
        double *want = tu_to_double(G, cc->N * canvas), *Rd = tu_to_double(R + roff, crops * crop);
        texture_crop_transpose_add_ref(s, want, Rd, rows, offs, cc->n, cc->rounds, -0.75);
        char what[64];
        snprintf(what, sizeof what, "crop transpose case %zu", t);
        tu_check_close(what, got, want, cc->N * canvas, 1e-6, 1e-6);
        free(R); free(G); free(got); free(want); free(Rd);
        dev_free(dR); dev_free(dG); dev_free(drows); dev_free(doffs);
    }
}
END_TEST

/* <crop(X), R> = <X, crop^T(R)> in float64, with canvases repeated across and within rounds. */
START_TEST(reference_transpose_is_the_adjoint) {
    for (size_t t = 0; t < sizeof crop_cases / sizeof crop_cases[0]; t++) {
        const CropCase *cc = &crop_cases[t];
        const TexShape *s = &cc->s;
        size_t canvas = (size_t)s->C * s->Hc * s->Wc, crop = (size_t)s->C * s->H * s->W;
        int crops = cc->n * cc->rounds;
        double *X = tu_new_rand_d(cc->N * canvas, 600 + t), *R = tu_new_rand_d(crops * crop, 700 + t);
        double *CX = xmalloc(crops * crop * 8), *CtR = xcalloc(cc->N * canvas, 8);
        int32_t rows[8], offs[2 * 32];
        for (int i = 0; i < cc->n; i++) rows[i] = i % 2;   /* repeats within one round */
        some_offsets(offs, crops, s->Hc, s->Wc, 800 + t);
        texture_crop_forward_ref(s, CX, X, rows, offs, cc->n, cc->rounds);
        texture_crop_transpose_add_ref(s, CtR, R, rows, offs, cc->n, cc->rounds, 1.0);
        double a = tu_dot_d(CX, R, crops * crop), b = tu_dot_d(X, CtR, cc->N * canvas);
        ck_assert_msg(fabs(a - b) <= 1e-12 * (fabs(a) + 1), "case %zu: <crop X, R> = %.17g, <X, crop^T R> = %.17g", t, a, b);
        free(X); free(R); free(CX); free(CtR);
    }
}
END_TEST

/* L(X) = <R, crop(X)>: the reference gradient crop^T(R) against central differences. */
START_TEST(reference_gradient_finite_differences) {
    const CropCase *cc = &crop_cases[0];
    const TexShape *s = &cc->s;
    size_t canvas = (size_t)s->C * s->Hc * s->Wc, crop = (size_t)s->C * s->H * s->W, nx = cc->N * canvas;
    int crops = cc->n * cc->rounds;
    double *X = tu_new_rand_d(nx, 900), *R = tu_new_rand_d(crops * crop, 901);
    double *CX = xmalloc(crops * crop * 8), *grad = xcalloc(nx, 8), *fd = xmalloc(nx * 8);
    int32_t rows[3] = {1, 3, 1}, offs[2 * 6];
    some_offsets(offs, crops, s->Hc, s->Wc, 902);
    texture_crop_transpose_add_ref(s, grad, R, rows, offs, cc->n, cc->rounds, 1.0);
    const double h = 1e-6;
    int nonzero = 0;
    for (size_t j = 0; j < nx; j++) {
        double keep = X[j];
        X[j] = keep + h;
        texture_crop_forward_ref(s, CX, X, rows, offs, cc->n, cc->rounds);
        double lp = tu_dot_d(R, CX, crops * crop);
        X[j] = keep - h;
        texture_crop_forward_ref(s, CX, X, rows, offs, cc->n, cc->rounds);
        double lm = tu_dot_d(R, CX, crops * crop);
        X[j] = keep;
        fd[j] = (lp - lm) / (2 * h);
        nonzero += fd[j] != 0;
    }
    double e = tu_rel_err(grad, fd, nx);
    ck_assert_msg(e < 1e-8, "crop gradient vs finite differences: relative error %g", e);
    ck_assert_msg(nonzero > 0 && nonzero < (int)nx, "%d of %zu pixels reached (canvas 0 and 2 are unused)", nonzero, nx);
    free(X); free(R); free(CX); free(grad); free(fd);
}
END_TEST

/* Offsets are the rng's next draws UI{0..Hc-1}, UI{0..Wc-1}, crop after crop, round-major. */
START_TEST(offsets_follow_the_stream) {
    enum { n = 7, rounds = 3 };
    int32_t offs[2 * n * rounds];
    Rng a, b;
    rng_init(&a, 42, 3);
    rng_init(&b, 42, 3);
    texture_draw_offsets(&a, n, rounds, 20, 12, offs);
    for (int i = 0; i < n * rounds; i++) {
        ck_assert_int_eq(offs[2 * i], rng_int(&b, 0, 19));
        ck_assert_int_eq(offs[2 * i + 1], rng_int(&b, 0, 11));
    }
    int hit_lo = 0, hit_hi = 0;
    for (int k = 0; k < 200; k++) {
        texture_draw_offsets(&a, n, rounds, 20, 12, offs);
        for (int i = 0; i < 2 * n * rounds; i++) {
            int lim = i % 2 ? 12 : 20;
            ck_assert_msg(offs[i] >= 0 && offs[i] < lim, "offset %d outside [0, %d)", offs[i], lim);
            hit_lo += offs[i] == 0;
            hit_hi += offs[i] == lim - 1;
        }
    }
    ck_assert_msg(hit_lo > 0 && hit_hi > 0, "the extreme offsets never came up");
}
END_TEST

/* Every tile of a real-initialized canvas is a training image of the canvas's class, and
 * tiles are drawn independently (not all the same image). */
START_TEST(real_init_tiles_canvases) {
    enum { NC = 3, PER = 5, C = 2, H = 4, W = 3, IPC = 2, CS = 3 };
    ImageSet train = {NC * PER, C, H, W, xmalloc(NC * PER * C * H * W * 4), xmalloc(NC * PER * 4), NULL, 0};
    for (int i = 0; i < train.n; i++) {
        train.labels[i] = (i * 7) % NC;
        for (int j = 0; j < C * H * W; j++) train.images[i * C * H * W + j] = (float)(i * 1000 + j);   /* unique values */
    }
    Rng r;
    rng_init(&r, 9, 1);
    ImageSet out = {0};
    texture_init_real(&train, NC, IPC, CS, &r, &out);
    ck_assert_int_eq(out.n, NC * IPC);
    ck_assert_int_eq(out.c, C);
    ck_assert_int_eq(out.h, CS * H);
    ck_assert_int_eq(out.w, CS * W);
    int distinct_sources = 0, last = -1;
    for (int k = 0; k < out.n; k++) {
        ck_assert_int_eq(out.labels[k], k / IPC);
        for (int a = 0; a < CS; a++)
            for (int b = 0; b < CS; b++) {
                /* The tile's top-left value names its source image. */
                float v = out.images[(size_t)k * C * CS * H * CS * W + (size_t)(a * H) * CS * W + b * W];
                int src = (int)(v / 1000);
                ck_assert_msg(src >= 0 && src < train.n && v == (float)(src * 1000), "tile (%d,%d) of canvas %d is no image", a, b, k);
                ck_assert_msg(train.labels[src] == out.labels[k], "canvas %d (class %d) holds image %d of class %d", k,
                              out.labels[k], src, train.labels[src]);
                for (int ch = 0; ch < C; ch++)
                    for (int y = 0; y < H; y++)
                        for (int x = 0; x < W; x++)
                            ck_assert_float_eq(
                                out.images[(size_t)k * C * CS * H * CS * W + ((size_t)ch * CS * H + a * H + y) * CS * W + b * W + x],
                                train.images[(size_t)src * C * H * W + ((size_t)ch * H + y) * W + x]);
                distinct_sources += src != last;
                last = src;
            }
    }
    ck_assert_msg(distinct_sources > out.n * CS * CS / 2, "tiles repeat their neighbour too often (%d changes)", distinct_sources);
    imageset_free(&out);
    imageset_free(&train);
}
END_TEST

START_TEST(tiled_preview_repeats_each_canvas) {
    enum { N = 2, C = 3, Hc = 4, Wc = 5 };
    float X[N * C * Hc * Wc];
    tu_rand(X, N * C * Hc * Wc, 77, -1, 1);
    float *t = texture_tile(X, N, C, Hc, Wc, 2);
    for (int p = 0; p < N * C; p++)
        for (int y = 0; y < 2 * Hc; y++)
            for (int x = 0; x < 2 * Wc; x++)
                ck_assert_float_eq(t[((size_t)p * 2 * Hc + y) * 2 * Wc + x], X[((size_t)p * Hc + y % Hc) * Wc + x % Wc]);
    free(t);
}
END_TEST

/* ---- evaluation training on canvases ---- */

/* Canvases that are constant per row crop to the same constant image wherever the crop
 * lands, so one epoch of texture training (2 crop rounds: every image twice, the same mean
 * loss) must move the parameters exactly as one epoch on the plain images does. This
 * checks the glue: canvas rows, repeated labels, crop shapes. */
START_TEST(texture_training_matches_plain_on_constant_canvases) {
    tu_init();
    enum { N = 6, H = 6, W = 6, CS = 2 };
    Net net;
    net_build(&net, "ConvNetW32", 1, H, W, 3);
    ImageSet plain = {N, 1, H, W, xmalloc(N * H * W * 4), xmalloc(N * 4), NULL, 0};
    ImageSet canv = {N, 1, CS * H, CS * W, xmalloc(N * CS * CS * H * W * 4), xmalloc(N * 4), NULL, 0};
    for (int i = 0; i < N; i++) {
        float v = 0.3f * (float)i - 0.8f;
        for (int j = 0; j < H * W; j++) plain.images[i * H * W + j] = v;
        for (int j = 0; j < CS * CS * H * W; j++) canv.images[i * CS * CS * H * W + j] = v;
        plain.labels[i] = canv.labels[i] = (i * 2) % 3;
    }
    float *p_plain = xmalloc(net.nparams * 4), *p_tex = xmalloc(net.nparams * 4);
    DsaStrategy none = {0};
    for (int tex = 0; tex < 2; tex++) {
        Trainer t;
        trainer_init(&t, &net, 16);
        if (tex) trainer_set_texture(&t, CS * H, CS * W, 2);
        Rng r;
        rng_init(&r, 5, 5);
        trainer_init_params(&t, &r);
        Sgd sgd = {0.1, 0.9, 5e-4, 1};
        double loss, acc;
        train_epoch(&t, tex ? &canv : &plain, 8, &none, &r, &sgd, &loss, &acc, NULL, NULL);
        dev_read_f32(t.params, 0, net.nparams, tex ? p_tex : p_plain);
        trainer_free(&t);
    }
    Rng r0;
    rng_init(&r0, 5, 5);
    float *p0 = xmalloc(net.nparams * 4);
    net_init_params(&net, &r0, p0);
    double moved = 0, diff = 0;
    for (size_t i = 0; i < net.nparams; i++) {
        moved += ((double)p_plain[i] - p0[i]) * ((double)p_plain[i] - p0[i]);
        diff += ((double)p_plain[i] - p_tex[i]) * ((double)p_plain[i] - p_tex[i]);
    }
    ck_assert_msg(moved > 0, "training did not move the parameters");
    ck_assert_msg(sqrt(diff) <= 1e-4 * sqrt(moved), "texture training differs from plain: |diff| %g, |step| %g", sqrt(diff),
                  sqrt(moved));
    free(p_plain); free(p_tex); free(p0);
    imageset_free(&plain);
    imageset_free(&canv);
}
END_TEST

/* ---- the distiller with texture crops ---- */

/* Canvases of 2 x 2 crops of 1 x 8 x 8, two crop rounds per step. */
static const FdMetaShape tex = {8, 2, 2, 1.0f, 0, 0};

static void check_texture_meta_gradient(const char *model, const char *strategy, double h, uint64_t seed) {
    tu_init();
    FdMeta m;
    fd_meta_make(&m, &tex, model, 3, seed);
    FdMetaRun run;
    fd_meta_distiller(&m, strategy, &run);
    Distiller d = run.d;
    char what[128];
    snprintf(what, sizeof what, "texture %s/%s", model, strategy);
    /* dL/dX at pixels spread over every canvas (pixels no crop reached have gradient 0). */
    enum { NPIX = 40 };
    size_t nx = run.set.img->stored_floats;
    int k, reached = fd_check_meta_gradient(&m, &run, what, h, seed, 5, nx / NPIX + 1, NPIX, 1e-4, &k);
    d = run.d;
    ck_assert_msg(reached >= k / 4, "%s: only %d of %d sampled pixels reach the loss", what, reached, k);
    /* Rows of a step are distinct canvases (the transpose's gather relies on it). */
    for (int s = 0; s < m.K; s++)
        for (int i = 0; i < d.batch_n[s]; i++)
            for (int j = 0; j < i; j++) ck_assert_int_ne(d.batch_idx[s * d.batch_syn + i], d.batch_idx[s * d.batch_syn + j]);
    fd_meta_run_free(&run);
    fd_meta_free(&m);
}

/* A narrow ReLU network keeps the float64 unrolled loss cheap; it is piecewise smooth, so
 * the steps are small in float64. */
START_TEST(meta_gradient_texture_no_augmentation) { check_texture_meta_gradient("ConvNetW32", "none", 1e-6, 31); }
END_TEST
/* One group per step from the full strategy: with these seeds the steps draw cutout, flip,
 * rotate and color, crop, scale (all six groups between the two tests). */
START_TEST(meta_gradient_texture_with_dsa) {
    check_texture_meta_gradient("ConvNetW32", "color_crop_cutout_flip_scale_rotate", 1e-6, 48);
}
END_TEST
START_TEST(meta_gradient_texture_with_dsa_other_groups) {
    check_texture_meta_gradient("ConvNetW32", "color_crop_cutout_flip_scale_rotate", 1e-6, 50);
}
END_TEST

/* Per extra step: two parameter vectors (theta_k and g_k, each padded to the aligned stride), the step's indices, its crop offsets, its
 * augmentation draw (uploaded with the iteration's) and its distance slot among the
 * iteration's scalars; nothing that scales with activations or crops. */
START_TEST(texture_memory_grows_by_parameters_and_offsets) {
    tu_init();
    fd_meta_peak(&tex, 8);   /* grow-only scratch buffers reach their size first */
    size_t p2 = fd_meta_peak(&tex, 2), p8 = fd_meta_peak(&tex, 8);
    Net net;
    fd_net_build(&net, "ConvNetW32", tex.side);
    size_t per_step = 2 * rt_align_up(net.nparams) * 4 /* at the aligned stride */ + 4 * 4 /* indices */ + 4 * tex.canvas_samples * 2 * 4 /* offsets */ +
                      4 * tex.canvas_samples * DSA_NPARAM * 4 /* draw */ + 8 /* scalar slot */;
    ck_assert_msg(p8 - p2 == 6 * per_step, "peak grows by %zu bytes from 2 to 8 steps, want 6 x %zu", p8 - p2, per_step);
}
END_TEST

/* ---- the commands end to end ---- */

/* The first `count` records of a gzipped IDX file, written as a plain IDX file with that count. */
static void idx_subset(const char *src, const char *dst, int images, int count) {
    gzFile f = gzopen(src, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (the Debian Fashion-MNIST package)", src);
    size_t head = images ? 16 : 8, rec = images ? 784 : 1, body = (size_t)count * rec;
    unsigned char *b = xmalloc(head + body);
    ck_assert_msg(gzread(f, b, (unsigned)(head + body)) == (int)(head + body), "%s is shorter than %d records", src, count);
    gzclose(f);
    b[4] = (unsigned char)(count >> 24); b[5] = (unsigned char)(count >> 16);
    b[6] = (unsigned char)(count >> 8); b[7] = (unsigned char)count;
    write_file_atomic(dst, b, head + body);
    free(b);
}

static void png_size(const char *path, int *w, int *h) {
    size_t len;
    unsigned char *b = read_file(path, &len);
    ck_assert_msg(b != NULL, "%s is missing", path);
    ck_assert_msg(len > 24 && memcmp(b + 1, "PNG", 3) == 0 && memcmp(b + 12, "IHDR", 4) == 0, "%s is not a PNG", path);
    *w = b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19];
    *h = b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
    free(b);
}

START_TEST(distill_texture_end_to_end) {
    char *root = tu_tempdir("texture");
    char data[700], buf[700], run[700], file[800], path[900];
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(buf, sizeof buf, "%s/buffers", root);
    snprintf(run, sizeof run, "%s/run", root);
    mkdir_p(data);
    const char *src = "/usr/share/datasets/fashion-mnist";
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                            "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        char s[800], d[800];
        snprintf(s, sizeof s, "%s/%s.gz", src, names[i]);
        snprintf(d, sizeof d, "%s/%s", data, names[i]);
        idx_subset(s, d, i % 2 == 0, i < 2 ? 500 : 200);
    }
    TuRun r = tu_clmtt(root, "buffer --dataset FashionMNIST --data_path %s --buffer_path %s --model ConvNetW32 "
                       "--num_experts 1 --train_epochs 3 --batch_train 64 --seed 1", data, buf);
    TU_EXPECT_OK(r);
    tu_run_free(&r);

    r = tu_clmtt(root, "distill --dataset FashionMNIST --data_path %s --buffer_path %s --model ConvNetW32 --texture "
                 "--pix_init=real --Iteration=2 --syn_steps=3 --expert_epochs=1 --max_start_epoch=2 --eval_it=2 "
                 "--num_eval=1 --epoch_eval_train=2 --canvas_samples=2 --seed 3 --save_path %s", data, buf, run);
    TU_EXPECT_OK(r);
    ck_assert_msg(strstr(r.out, "WARNING: Using texture with real initialization"), "no texture + real warning:\n%.2000s", r.out);
    ck_assert_msg(strstr(r.out, "Evaluate 1 random ConvNetW32"), "no evaluation line:\n%.3000s", r.out);
    tu_run_free(&r);

    /* The saved set: canvases of 2 x 28 on each side, texture metadata, finite values. */
    snprintf(file, sizeof file, "%s/images_last.safetensors", run);
    StFile f;
    st_open_or_die(file, &f);
    const StTensor *im = st_find(&f, "images");
    ck_assert_msg(im && im->dtype == DT_F32 && im->ndim == 4, "%s: no F32 [N, C, H, W] images", file);
    ck_assert_msg(im->shape[0] == 10 && im->shape[1] == 1 && im->shape[2] == 56 && im->shape[3] == 56,
                  "%s: images are [%lld, %lld, %lld, %lld], want [10, 1, 56, 56]", file, (long long)im->shape[0],
                  (long long)im->shape[1], (long long)im->shape[2], (long long)im->shape[3]);
    tu_expect_meta(&f, "texture", "true");
    tu_expect_meta(&f, "canvas_size", "2");
    tu_expect_meta(&f, "canvas_samples", "2");
    for (size_t i = 0; i < im->numel; i++) {
        float x;
        memcpy(&x, (const char *)im->data + 4 * i, 4);
        ck_assert_msg(isfinite(x), "%s: value %zu is not finite", file, i);
    }
    st_close(&f);
    /* The initial canvases (images_0) are tiled from real images: every 28 x 28 tile of
     * canvas c is a (normalized) training image of class c. */
    snprintf(file, sizeof file, "%s/images_0.safetensors", run);
    SynSet s0;
    synset_load(file, &s0);
    ck_assert(s0.texture && s0.canvas_size == 2 && s0.canvas_samples == 2);
    ck_assert_int_eq(s0.set.h, 56);
    Dataset ds;
    dataset_load(dataset_require("FashionMNIST"), data, 1, &ds);
    for (int c = 0; c < 10; c++)
        for (int t = 0; t < 4; t++) {
            int a = t / 2, b = t % 2, found = -1;
            for (int i = 0; i < ds.train.n && found < 0; i++) {
                int same = 1;
                for (int y = 0; y < 28 && same; y++)
                    same = memcmp(s0.set.images + (size_t)c * 56 * 56 + (size_t)(a * 28 + y) * 56 + b * 28,
                                  ds.train.images + (size_t)i * 784 + y * 28, 28 * sizeof(float)) == 0;
                if (same) found = i;
            }
            ck_assert_msg(found >= 0, "tile (%d, %d) of canvas %d is not a training image", a, b, c);
            ck_assert_msg(ds.train.labels[found] == c, "tile (%d, %d) of canvas %d is an image of class %d", a, b, c,
                          ds.train.labels[found]);
        }
    dataset_free(&ds);

    /* Pictures: the grid of canvases and the 2 x 2 tiled preview (x4, 10 per row, 2 px padding). */
    int w, h;
    snprintf(path, sizeof path, "%s/images_last.png", run);
    png_size(path, &w, &h);
    ck_assert_msg(w == 10 * (56 * 4 + 2) + 2 && h == 56 * 4 + 4, "%s is %dx%d", path, w, h);
    snprintf(path, sizeof path, "%s/images_last_tiled.png", run);
    png_size(path, &w, &h);
    ck_assert_msg(w == 10 * (112 * 4 + 2) + 2 && h == 112 * 4 + 4, "%s is %dx%d", path, w, h);

    /* clmtt eval recognizes the texture set from its metadata. */
    snprintf(file, sizeof file, "%s/images_last.safetensors", run);
    r = tu_clmtt(root, "eval --dataset FashionMNIST --data_path %s --model ConvNetW32 --syn %s --num_eval=1 "
                 "--epoch_eval_train=2 --seed 2", data, file);
    TU_EXPECT_OK(r);
    ck_assert_msg(strstr(r.out, "Texture set: 56x56 canvases"), "eval did not treat the set as texture:\n%.2000s", r.out);
    ck_assert_msg(strstr(r.out, "Evaluate 1 random ConvNetW32, mean = "), "no result line:\n%.2000s", r.out);
    tu_run_free(&r);

    /* --init_syn continues from a texture set: with --Iteration 0, images_0 is that set
     * (canvas_size and canvas_samples come from the file). */
    char run2[800], file2[900];
    snprintf(run2, sizeof run2, "%s/run2", root);
    r = tu_clmtt(root, "distill --dataset FashionMNIST --data_path %s --buffer_path %s --model ConvNetW32 --texture "
                 "--Iteration=0 --syn_steps=2 --expert_epochs=1 --max_start_epoch=1 --num_eval=0 --seed 4 "
                 "--init_syn %s --save_path %s", data, buf, file, run2);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    snprintf(file2, sizeof file2, "%s/images_0.safetensors", run2);
    SynSet a, b;
    synset_load(file, &a);
    synset_load(file2, &b);
    ck_assert(b.texture && b.canvas_size == 2 && b.canvas_samples == 2);
    ck_assert_msg(memcmp(a.set.images, b.set.images, (size_t)10 * 56 * 56 * sizeof(float)) == 0,
                  "images_0 of the continued run differs from %s", file);
    synset_free(&a);
    synset_free(&b);
    /* ... and refuses an ordinary set, naming the mismatch. */
    r = tu_clmtt(root, "distill --dataset FashionMNIST --data_path %s --buffer_path %s --model ConvNetW32 "
                 "--Iteration=0 --num_eval=0 --max_start_epoch=1 --expert_epochs=1 --init_syn %s --save_path %s/run3",
                 data, buf, file, root);
    TU_EXPECT_FAIL_WITH(r, "texture");
    tu_run_free(&r);

    /* A texture set whose canvases are not canvas_size x 28: refused with both sizes named. */
    ImageSet bad = {10, 1, 50, 50, xcalloc(10 * 50 * 50, 4), s0.set.labels, NULL, 0};
    snprintf(path, sizeof path, "%s/bad.safetensors", root);
    const char *extra[] = {"texture", "true", "canvas_size", "2", "canvas_samples", "1", NULL};
    synset_save(path, &bad, 0.01, "FashionMNIST", "ConvNetW32", 1, 0, NULL, extra, NULL);
    r = tu_clmtt(root, "eval --dataset FashionMNIST --data_path %s --model ConvNetW32 --syn %s --num_eval=1 "
                 "--epoch_eval_train=1", data, path);
    TU_EXPECT_FAIL_WITH(r, "canvas_size");
    ck_assert_msg(tu_has(r.err, "1x50x50") && tu_has(r.err, "1x56x56"), "the refusal does not name the sizes: %s", r.err);
    tu_run_free(&r);
    free(bad.images);
    synset_free(&s0);
    tu_rm_tree(root);   /* kept for inspection when a check failed */
    free(root);
}
END_TEST

int main(void) {
    Suite *s = suite_create("texture");
    TCase *tc = tcase_create("texture");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, crop_forward_matches_reference);
    tcase_add_test(tc, crop_transpose_matches_reference);
    tcase_add_test(tc, reference_transpose_is_the_adjoint);
    tcase_add_test(tc, reference_gradient_finite_differences);
    tcase_add_test(tc, offsets_follow_the_stream);
    tcase_add_test(tc, real_init_tiles_canvases);
    tcase_add_test(tc, tiled_preview_repeats_each_canvas);
    tcase_add_test(tc, texture_training_matches_plain_on_constant_canvases);
    tcase_add_test(tc, meta_gradient_texture_no_augmentation);
    tcase_add_test(tc, meta_gradient_texture_with_dsa);
    tcase_add_test(tc, meta_gradient_texture_with_dsa_other_groups);
    tcase_add_test(tc, texture_memory_grows_by_parameters_and_offsets);
    /* tu_small: the commands end to end train on 28x28 images for minutes of device time,
     * far too long for a simulator; the cases above run the texture kernels. */
    if (!tu_small()) tcase_add_test(tc, distill_texture_end_to_end);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
