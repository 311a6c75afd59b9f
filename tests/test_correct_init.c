/* DATM's initialization (distill/correct_init.h) against float64 references: the images a
 * snapshot picks are exactly the first ones of each class's random walk that the float64
 * forward (net_ref.c) classifies correctly, walked across more than one device batch; the
 * starting logits are the float64 mean over exactly the snapshots that classify each image
 * correctly; a class with too few correct images, and an image no snapshot gets right, stop
 * with messages that name them.
 *
 * The training set is made for the snapshot: random 1 x 8 x 8 images, labelled by the float64
 * prediction of snapshot 0 (so that classes have known numbers of correct images) or on
 * purpose by another class. Class 3 gets exactly IPC correct images among many wrong ones,
 * so its walk goes past the first batch of 256. */
#include "testutil.h"
#include "distill/correct_init.h"
#include "net/net_ref.h"
#include "net/registry.h"
#include "train/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K = 4, SIDE = 8, IMG = SIDE * SIDE, POOL = 1200, NSNAP = 4, IPC = 3, CORRECT_EACH = 40 };

static Net g_net;
static float *g_snap[NSNAP];       /* [nparams] each */
static ImageSet g_train;           /* labelled for snapshot 0 */
static int g_ready;
static char g_err[600];            /* messages of calls expected to succeed */
#define EXPECT_OK(call) ck_assert_msg((call) == 0, "unexpected failure: %s", g_err)

/* Float64 logits [n][K] of params on images [n][1][SIDE][SIDE]. */
static double *ref_logits(const float *params, const float *images, int n) {
    RefExec r;
    ref_exec_init(&r, &g_net, n);
    double *p = tu_to_double(params, g_net.nparams), *x = tu_to_double(images, (size_t)n * IMG);
    double *t = xcalloc((size_t)n * K, sizeof(double));
    for (int i = 0; i < n; i++) t[(size_t)i * K] = 1;   /* any targets: only the logits are used */
    ref_forward(&r, p, x, t);
    double *out = xmalloc((size_t)n * K * sizeof(double));
    memcpy(out, r.act[g_net.nlayers], (size_t)n * K * sizeof(double));
    ref_exec_free(&r);
    free(p); free(x); free(t);
    return out;
}

static int argmax_d(const double *row) {
    int b = 0;
    for (int k = 1; k < K; k++)
        if (row[k] > row[b]) b = k;
    return b;
}

/* Second largest logit below the largest: how far a row is from a tie. */
static double margin_d(const double *row) {
    int b = argmax_d(row);
    double m = INFINITY;
    for (int k = 0; k < K; k++)
        if (k != b && row[b] - row[k] < m) m = row[b] - row[k];
    return m;
}

/* The snapshots: fresh initializations whose last bias is shifted so that their mean logit
 * over the pool is the same for every class; predictions then spread over all classes. */
static void make_snapshots(const float *pool) {
    const Layer *last = &g_net.layers[g_net.nlayers - 1];
    ck_assert_msg(last->kind == LAYER_LINEAR && last->has_bias, "ConvNetW32 should end in a linear layer with bias");
    for (int s = 0; s < NSNAP; s++) {
        g_snap[s] = xmalloc(g_net.nparams * sizeof(float));
        Rng r;
        rng_init(&r, 100 + (uint64_t)s, 1);
        net_init_params(&g_net, &r, g_snap[s]);
        double *L = ref_logits(g_snap[s], pool, POOL);
        for (int k = 0; k < K; k++) {
            double m = 0;
            for (int i = 0; i < POOL; i++) m += L[(size_t)i * K + k];
            g_snap[s][last->b_off + k] -= (float)(m / POOL);
        }
        free(L);
    }
}

/* Labels from snapshot 0's float64 predictions: classes 0..K-2 get their first CORRECT_EACH
 * predicted images as correct ones, class K-1 exactly IPC; every other image is labelled
 * wrongly, by class K-1 when snapshot 0 predicts another class (so class K-1's walk is long),
 * else by class 0. Images within 1e-3 of a tie stay out (float32 may break the tie otherwise). */
static void make_train(const float *pool) {
    double *L = ref_logits(g_snap[0], pool, POOL);
    int quota[K];
    for (int k = 0; k < K; k++) quota[k] = k == K - 1 ? IPC : CORRECT_EACH;
    g_train.c = 1; g_train.h = SIDE; g_train.w = SIDE;
    g_train.images = xmalloc((size_t)POOL * IMG * sizeof(float));
    g_train.labels = xmalloc((size_t)POOL * sizeof(int32_t));
    int n = 0;
    for (int i = 0; i < POOL; i++) {
        const double *row = L + (size_t)i * K;
        if (margin_d(row) < 1e-3) continue;
        int p = argmax_d(row), label;
        if (quota[p] > 0) { label = p; quota[p]--; }
        else label = p == K - 1 ? 0 : K - 1;
        memcpy(g_train.images + (size_t)n * IMG, pool + (size_t)i * IMG, IMG * sizeof(float));
        g_train.labels[n++] = label;
    }
    g_train.n = n;
    for (int k = 0; k < K; k++)
        ck_assert_msg(quota[k] == 0, "snapshot 0 predicts class %d too rarely for the test's set (%d short)", k, quota[k]);
    free(L);
}

static void ensure_setup(void) {
    if (g_ready) return;
    tu_init();
    net_build(&g_net, "ConvNetW32", 1, SIDE, SIDE, K);
    float *pool = tu_new_rand((size_t)POOL * IMG, 7);
    make_snapshots(pool);
    make_train(pool);
    free(pool);
    g_ready = 1;
}

/* The picks, walked again here with rng_perm over class_index_build's lists and the float64
 * forward: the first IPC of each class's walk that are classified correctly. */
START_TEST(picks_are_the_first_correct_images_of_each_walk) {
    ensure_setup();
    Rng rng;
    rng_init(&rng, 42, 1);
    ImageSet out;
    int examined[K];
    for (int k = 0; k < K; k++) examined[k] = -1;
    EXPECT_OK(pick_correct_images(&g_net, g_snap[0], "snapshot 0", &g_train, K, IPC, &rng, &out, examined, g_err,
                                  sizeof g_err));
    ck_assert_int_eq(out.n, K * IPC);
    ck_assert(out.c == 1 && out.h == SIDE && out.w == SIDE);

    Rng again;
    rng_init(&again, 42, 1);
    ClassIndex ci;
    class_index_build(&g_train, K, &ci);
    double *L = ref_logits(g_snap[0], g_train.images, g_train.n);
    for (int c = 0; c < K; c++) {
        int *perm = xmalloc((size_t)ci.count[c] * sizeof(int));
        rng_perm(&again, perm, ci.count[c]);
        int got = 0, pos = 0;
        for (; pos < ci.count[c] && got < IPC; pos++) {
            int i = ci.idx[c][perm[pos]];
            if (argmax_d(L + (size_t)i * K) != c) continue;
            int row = c * IPC + got++;
            ck_assert_msg(g_train.labels[i] == c, "walk of class %d reached image %d of class %d", c, i, g_train.labels[i]);
            ck_assert_msg(memcmp(out.images + (size_t)row * IMG, g_train.images + (size_t)i * IMG, IMG * 4) == 0,
                          "row %d is not training image %d (pick %d of class %d, walk position %d)", row, i, got, c,
                          pos);
            ck_assert_int_eq(out.labels[row], c);
        }
        ck_assert_int_eq(got, IPC);
        ck_assert_msg(examined[c] == pos, "class %d: %d candidates examined, the float64 walk took %d", c, examined[c],
                      pos);
        free(perm);
    }
    /* The walk of class K-1 crossed a device batch (256 candidates). */
    ck_assert_msg(examined[K - 1] > 256, "class %d's walk took only %d candidates; the test should cross a batch",
                  K - 1, examined[K - 1]);
    /* Every picked row, forwarded on its own in float64, is classified as its class. */
    double *P = ref_logits(g_snap[0], out.images, out.n);
    for (int r = 0; r < out.n; r++)
        ck_assert_msg(argmax_d(P + (size_t)r * K) == out.labels[r], "picked row %d is not classified as class %d", r,
                      out.labels[r]);
    free(P);
    free(L);
    class_index_free(&ci);
    imageset_free(&out);
}
END_TEST

/* With a snapshot that is right on every image of a class, the walk is the real init's:
 * the same permutation, so the same first images (here: class 0 of a set whose class 0
 * holds only images snapshot 0 gets right). */
START_TEST(all_correct_class_picks_what_real_init_picks) {
    ensure_setup();
    ImageSet only = {0};
    double *L = ref_logits(g_snap[0], g_train.images, g_train.n);
    only.c = 1; only.h = SIDE; only.w = SIDE;
    only.images = xmalloc((size_t)g_train.n * IMG * sizeof(float));
    only.labels = xmalloc((size_t)g_train.n * sizeof(int32_t));
    for (int i = 0; i < g_train.n; i++) {
        int p = argmax_d(L + (size_t)i * K);
        if (p != g_train.labels[i]) continue;   /* keep the correct ones of every class */
        memcpy(only.images + (size_t)only.n * IMG, g_train.images + (size_t)i * IMG, IMG * 4);
        only.labels[only.n++] = p;
    }
    Rng a, b;
    rng_init(&a, 9, 1);
    rng_init(&b, 9, 1);
    ImageSet picked, real;
    EXPECT_OK(pick_correct_images(&g_net, g_snap[0], "snapshot 0", &only, K, IPC, &a, &picked, NULL, g_err,
                                  sizeof g_err));
    random_real_subset(&only, K, IPC, &b, &real);
    ck_assert_msg(memcmp(picked.images, real.images, (size_t)K * IPC * IMG * 4) == 0,
                  "an all-correct set picked other images than the real initialization");
    ck_assert_msg(rng_uniform(&a) == rng_uniform(&b), "the two initializations left the stream in different places");
    imageset_free(&picked);
    imageset_free(&real);
    imageset_free(&only);
    free(L);
}
END_TEST

/* logits = float64 mean over exactly the snapshots whose float64 prediction is the label. */
START_TEST(logits_average_exactly_the_correct_snapshots) {
    ensure_setup();
    Rng rng;
    rng_init(&rng, 43, 1);
    ImageSet set;
    EXPECT_OK(pick_correct_images(&g_net, g_snap[0], "snapshot 0", &g_train, K, IPC, &rng, &set, NULL, g_err,
                                  sizeof g_err));
    /* Snapshot 0 is not first: what counts is being right, not the position. */
    const float *snaps[NSNAP] = {g_snap[2], g_snap[0], g_snap[3], g_snap[1]};
    float *got = xmalloc((size_t)set.n * K * sizeof(float));
    int *counts = xmalloc((size_t)set.n * sizeof(int));
    for (size_t i = 0; i < (size_t)set.n * K; i++) got[i] = NAN;
    for (int i = 0; i < set.n; i++) counts[i] = -1;
    EXPECT_OK(average_correct_logits(&g_net, snaps, NSNAP, &set, got, counts, g_err, sizeof g_err));

    double *want = xcalloc((size_t)set.n * K, sizeof(double));
    int *num = xcalloc((size_t)set.n, sizeof(int)), partial = 0;
    for (int s = 0; s < NSNAP; s++) {
        double *L = ref_logits(snaps[s], set.images, set.n);
        for (int i = 0; i < set.n; i++) {
            const double *row = L + (size_t)i * K;
            ck_assert_msg(margin_d(row) > 1e-4, "snapshot %d is within %g of a tie on image %d", s, margin_d(row), i);
            if (argmax_d(row) != set.labels[i]) continue;
            for (int k = 0; k < K; k++) want[(size_t)i * K + k] += row[k];
            num[i]++;
        }
        free(L);
    }
    for (int i = 0; i < set.n; i++) {
        ck_assert_msg(counts[i] == num[i], "image %d: %d snapshots averaged, %d classify it correctly", i, counts[i],
                      num[i]);
        ck_assert(num[i] >= 1);
        if (num[i] < NSNAP) partial++;
        for (int k = 0; k < K; k++) want[(size_t)i * K + k] /= num[i];
    }
    ck_assert_msg(partial > 0, "every snapshot is right on every image: the mask is not exercised");
    tu_check_close("averaged logits", got, want, (size_t)set.n * K, 1e-4, 1e-5);
    free(got); free(counts); free(want); free(num);
    imageset_free(&set);
}
END_TEST

/* Class K-1 has exactly IPC correct images: IPC + 1 fails, naming the class and the counts. */
START_TEST(too_few_correct_images_name_class_and_counts) {
    ensure_setup();
    int total = 0;
    for (int i = 0; i < g_train.n; i++) total += g_train.labels[i] == K - 1;
    Rng rng;
    rng_init(&rng, 44, 1);
    ImageSet out;
    char err[600] = "", want[256];
    ck_assert_int_eq(pick_correct_images(&g_net, g_snap[0], "snapshot 0 of the test", &g_train, K, IPC + 1, &rng, &out,
                                         NULL, err, sizeof err), -1);
    ck_assert_msg(out.images == NULL && out.n == 0, "a failed pick left a set behind");
    snprintf(want, sizeof want, "snapshot 0 of the test classifies only %d of the %d training images of class %d", IPC,
             total, K - 1);
    TU_ASSERT_HAS(err, want);
    snprintf(want, sizeof want, "fewer than the %d per class needed", IPC + 1);
    TU_ASSERT_HAS(err, want);
    TU_ASSERT_HAS(err, "--pix_init=samples_predicted_correctly");
    /* More per class than a class holds at all. */
    rng_init(&rng, 44, 1);
    ck_assert_int_eq(pick_correct_images(&g_net, g_snap[0], "snapshot 0", &g_train, K, g_train.n, &rng, &out, NULL,
                                         err, sizeof err), -1);
    TU_ASSERT_HAS(err, "class 0 has only");
}
END_TEST

/* An image that none of the snapshots classifies correctly has no average: named. */
START_TEST(image_without_a_correct_snapshot_is_named) {
    ensure_setup();
    double *L = ref_logits(g_snap[0], g_train.images, g_train.n);
    int32_t labels[2] = {-1, -1};
    float images[2 * IMG];
    /* Row 0 right under snapshot 0, row 1 wrong. */
    for (int i = 0; i < g_train.n && (labels[0] < 0 || labels[1] < 0); i++) {
        int right = argmax_d(L + (size_t)i * K) == g_train.labels[i], row = right ? 0 : 1;
        if (labels[row] >= 0) continue;
        memcpy(images + row * IMG, g_train.images + (size_t)i * IMG, IMG * 4);
        labels[row] = g_train.labels[i];
    }
    free(L);
    ImageSet two = {2, 1, SIDE, SIDE, images, labels, NULL, 0};
    const float *snaps[1] = {g_snap[0]};
    float logits[2 * K];
    char err[600] = "", want[200];
    ck_assert_int_eq(average_correct_logits(&g_net, snaps, 1, &two, logits, NULL, err, sizeof err), -1);
    snprintf(want, sizeof want, "none of the 1 expert snapshots classifies image 1 (class %d) correctly", labels[1]);
    TU_ASSERT_HAS(err, want);
}
END_TEST

int main(void) {
    Suite *s = suite_create("correct_init");
    TCase *tc = tcase_create("correct_init");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, picks_are_the_first_correct_images_of_each_walk);
    tcase_add_test(tc, all_correct_class_picks_what_real_init_picks);
    tcase_add_test(tc, logits_average_exactly_the_correct_snapshots);
    tcase_add_test(tc, too_few_correct_images_name_class_and_counts);
    tcase_add_test(tc, image_without_a_correct_snapshot_is_named);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
