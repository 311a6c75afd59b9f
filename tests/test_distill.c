/* Distillation: the chunk order of docs/algorithm.md#student-minibatches; the full meta-gradient (dL/dX, dL/dlr)
 * over 3 student steps against central finite differences of the unrolled loss computed
 * in float64 (no augmentation and each augmentation group, replaying the recorded
 * draws); peak device memory growing by two parameter vectors (theta_k, g_k) per extra step. */
#include "distill/distill.h"
#include "augment/dsa.h"
#include "net/registry.h"
#include "fdcheck.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

START_TEST(chunk_order_from_the_end) {
    Rng r;
    rng_init(&r, 3, 0);
    ChunkQueue q = {xmalloc(10 * sizeof(int)), 10, 4, 0};
    int rows[10], seen[10] = {0};
    int n1 = chunk_queue_next(&q, &r, rows);
    ck_assert_int_eq(n1, 2);   /* the short last chunk comes first */
    int last2[2] = {q.perm[8], q.perm[9]};
    ck_assert_int_eq(rows[0], last2[0]);
    ck_assert_int_eq(rows[1], last2[1]);
    for (int i = 0; i < n1; i++) seen[rows[i]]++;
    int n2 = chunk_queue_next(&q, &r, rows);
    ck_assert_int_eq(n2, 4);
    ck_assert_int_eq(rows[0], q.perm[4]);
    for (int i = 0; i < n2; i++) seen[rows[i]]++;
    int n3 = chunk_queue_next(&q, &r, rows);
    ck_assert_int_eq(n3, 4);
    ck_assert_int_eq(rows[0], q.perm[0]);
    for (int i = 0; i < n3; i++) seen[rows[i]]++;
    for (int i = 0; i < 10; i++) ck_assert_int_eq(seen[i], 1);   /* one permutation, each row once */
    ck_assert_int_eq(chunk_queue_next(&q, &r, rows), 2);          /* refilled */
    free(q.perm);
}
END_TEST

/* 1 x 6 x 6 images. The start noise is 5 times larger on networks with normalization. */
static const FdMetaShape plain = {6, 0, 1, 5.0f, 0, 0};
/* Frequency sets: 10 of the 36 DCT coefficients of each image. */
static const FdMetaShape freq6 = {6, 0, 1, 5.0f, 10, 0};
/* Learned soft labels: targets softmax(Y); dL/dY is checked too. */
static const FdMetaShape soft6 = {6, 0, 1, 5.0f, 0, 1};

/* The meta-gradient of a 3-step problem of `shape` against central differences of the float64
 * unrolled loss, at the stored entries first, first + stride, ... (up to npix). */
static void check_shape(const FdMetaShape *shape, const char *tag, const char *model, const char *strategy, double h,
                        uint64_t seed, size_t first, size_t stride, int npix) {
    tu_init();
    FdMeta m;
    fd_meta_make(&m, shape, model, 3, seed);
    FdMetaRun run;
    fd_meta_distiller(&m, strategy, &run);
    char what[128];
    snprintf(what, sizeof what, "%s%s/%s", tag, model, strategy);
    fd_check_meta_gradient(&m, &run, what, h, seed, first, stride, npix, 3e-3, NULL);
    fd_meta_run_free(&run);
    fd_meta_free(&m);
}

/* dL/dX at pixels spread over every image, including unused rows (gradient 0). */
static void check_meta_gradient(const char *model, const char *strategy, double h, uint64_t seed) {
    check_shape(&plain, "", model, strategy, h, seed, 3, 7, 64);
}

static void check_soft_meta_gradient(const char *strategy, uint64_t seed) {
    check_shape(&soft6, "soft labels ", "ConvNetAS", strategy, 1e-4, seed, 3, 7, 64);
}

START_TEST(meta_gradient_soft_labels) { check_soft_meta_gradient("none", 51); }
END_TEST
START_TEST(meta_gradient_soft_labels_dsa) { check_soft_meta_gradient("color_crop_cutout_flip_scale_rotate", 52); }
END_TEST

/* every coefficient of every row */
static void check_freq_meta_gradient(const char *strategy, uint64_t seed) {
    check_shape(&freq6, "freq ", "ConvNetAS", strategy, 1e-4, seed, 0, 1, FD_META_NSYN * 10);
}

START_TEST(meta_gradient_freq_no_augmentation) { check_freq_meta_gradient("none", 41); }
END_TEST
START_TEST(meta_gradient_freq_dsa) { check_freq_meta_gradient("color_crop_cutout_flip_scale_rotate", 42); }
END_TEST

/* Sigmoid keeps the unrolled loss smooth, so finite differences are clean. */
START_TEST(meta_gradient_no_augmentation) { check_meta_gradient("ConvNetAS", "none", 1e-4, 21); }
END_TEST
START_TEST(meta_gradient_color) { check_meta_gradient("ConvNetAS", "color", 1e-4, 22); }
END_TEST
START_TEST(meta_gradient_crop) { check_meta_gradient("ConvNetAS", "crop", 1e-4, 23); }
END_TEST
START_TEST(meta_gradient_cutout) { check_meta_gradient("ConvNetAS", "cutout", 1e-4, 24); }
END_TEST
START_TEST(meta_gradient_flip) { check_meta_gradient("ConvNetAS", "flip", 1e-4, 25); }
END_TEST
START_TEST(meta_gradient_scale) { check_meta_gradient("ConvNetAS", "scale", 1e-4, 26); }
END_TEST
START_TEST(meta_gradient_rotate) { check_meta_gradient("ConvNetAS", "rotate", 1e-4, 27); }
END_TEST
/* ReLU: piecewise smooth, so a small step in float64. */
START_TEST(meta_gradient_relu_network) { check_meta_gradient("ConvNetW32", "color_crop_cutout_flip_scale_rotate", 1e-6, 28); }
END_TEST

START_TEST(memory_grows_two_vectors_per_step) {
    tu_init();
    fd_meta_peak(&plain, 8);   /* grow-only scratch buffers reach their size first */
    size_t p2 = fd_meta_peak(&plain, 2), p8 = fd_meta_peak(&plain, 8);
    Net net;
    fd_net_build(&net, "ConvNetW32", plain.side);
    /* Per extra step: two parameter vectors (theta_k, g_k) at the aligned stride, the step's 4 indices, its
     * augmentation draw and its distance slot; nothing that scales with activations. */
    size_t per_step = 2 * rt_align_up(net.nparams) * 4 + 4 * 4 + 4 * DSA_NPARAM * 4 + 8;
    ck_assert_msg(p8 - p2 == 6 * per_step, "peak grows by %zu bytes from 2 to 8 steps, want 6 x %zu (%.3f parameter vectors)",
                  p8 - p2, per_step, (double)(p8 - p2) / 6 / ((double)net.nparams * 4));
}
END_TEST

int main(void) {
    Suite *s = suite_create("distill");
    TCase *tc = tcase_create("distill");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, chunk_order_from_the_end);
    tcase_add_test(tc, meta_gradient_no_augmentation);
    tcase_add_test(tc, meta_gradient_freq_no_augmentation);
    tcase_add_test(tc, meta_gradient_freq_dsa);
    tcase_add_test(tc, meta_gradient_soft_labels);
    tcase_add_test(tc, meta_gradient_soft_labels_dsa);
    tcase_add_test(tc, meta_gradient_color);
    tcase_add_test(tc, meta_gradient_crop);
    tcase_add_test(tc, meta_gradient_cutout);
    tcase_add_test(tc, meta_gradient_flip);
    tcase_add_test(tc, meta_gradient_scale);
    tcase_add_test(tc, meta_gradient_rotate);
    tcase_add_test(tc, meta_gradient_relu_network);
    tcase_add_test(tc, memory_grows_two_vectors_per_step);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
