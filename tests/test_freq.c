/* Frequency-domain sets: the DCT ranking (largest variance first, against a brute-force
 * count), its cache reused, refused for other data and for a damaged file; a frequency set
 * through its file and back (freq_coeffs, freq_index, metadata, re-encoding). */
#include "testutil.h"
#include "data/freqrank.h"
#include "distill/learnset.h"
#include "io/synset.h"
#include "layers/dct2d.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 40, C = 2, H = 6, W = 5 };

/* Images whose DCT has a known variance profile: coefficient (c, p) ~ scale(c, p) * noise. */
static void make_train(ImageSet *s, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->n = N; s->c = C; s->h = H; s->w = W;
    s->images = xmalloc((size_t)N * C * H * W * sizeof(float));
    s->labels = xcalloc(N, sizeof(int32_t));
    double coef[C * H * W], img[C * H * W];
    Rng r;
    rng_init(&r, seed, 3);
    for (int i = 0; i < N; i++) {
        for (int e = 0; e < C * H * W; e++) coef[e] = rng_normal(&r) * (1.0 + ((e * 7 + 3) % 17));
        dct2d_inverse_ref(H, W, C, img, coef);
        for (int e = 0; e < C * H * W; e++) s->images[(size_t)i * C * H * W + e] = (float)img[e];
    }
}

START_TEST(rank_is_by_variance) {
    ImageSet s;
    make_train(&s, 1);
    FreqRank r;
    freqrank_fit(&s, &r);
    /* brute force: the variance of each coefficient over the images */
    double *X = xmalloc((size_t)N * C * H * W * sizeof(double)), *x = tu_to_double(s.images, (size_t)N * C * H * W);
    dct2d_forward_ref(H, W, N * C, X, x);
    for (int c = 0; c < C; c++) {
        for (int p = 0; p < H * W; p++) {
            double m = 0, q = 0;
            for (int i = 0; i < N; i++) m += X[((size_t)i * C + c) * H * W + p];
            m /= N;
            for (int i = 0; i < N; i++) q += pow(X[((size_t)i * C + c) * H * W + p] - m, 2);
            ck_assert_double_eq_tol(r.variance[c * H * W + p], q / (N - 1), 1e-4 * (q / (N - 1)) + 1e-6);
        }
        for (int j = 1; j < H * W; j++)
            ck_assert(r.variance[c * H * W + r.order[c * H * W + j - 1]] >= r.variance[c * H * W + r.order[c * H * W + j]]);
    }
    free(X); free(x);
    freqrank_free(&r);
    imageset_free(&s);
}
END_TEST

START_TEST(rank_cache_reused_and_refused) {
    char *dir = tu_tempdir("freqrank");
    char *path = tu_path(dir, FREQRANK_FILE), err[2048];
    ImageSet s, other;
    make_train(&s, 2);
    make_train(&other, 3);
    FreqRank fit, got;
    ck_assert_int_eq(freqrank_load(path, "MNIST", 0, &s, &got, err, sizeof err), 0);   /* none yet */
    freqrank_prepare(dir, "MNIST", 0, &s, &fit);
    ck_assert(file_exists(path));
    ck_assert_int_eq(freqrank_load(path, "MNIST", 0, &s, &got, err, sizeof err), 1);
    ck_assert_int_eq(memcmp(got.order, fit.order, (size_t)C * H * W * sizeof(int64_t)), 0);
    freqrank_free(&got);
    /* other pixels, another dataset name, the other ZCA choice: refused, naming the file */
    ck_assert_int_eq(freqrank_load(path, "MNIST", 0, &other, &got, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "train_crc32"));
    ck_assert_int_eq(freqrank_load(path, "FashionMNIST", 0, &s, &got, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "dataset"));
    ck_assert_int_eq(freqrank_load(path, "MNIST", 1, &s, &got, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "zca"));
    /* a damaged file */
    size_t len;
    unsigned char *bytes = read_file(path, &len);
    tu_write_file(path, bytes, len / 2);
    ck_assert_int_eq(freqrank_load(path, "MNIST", 0, &s, &got, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "unreadable"));
    free(bytes);
    freqrank_free(&fit);
    imageset_free(&s);
    imageset_free(&other);
    tu_rm_tree(dir);
    free(path);
    free(dir);
}
END_TEST

/* A frequency set's file: decoded images, freq_coeffs and freq_index, metadata; loading
 * the file and encoding its images gives the coefficients back. */
START_TEST(freq_set_file_round_trip) {
    tu_init();
    enum { ROWS = 6, K = 9 };
    ImageSet s;
    make_train(&s, 4);
    FreqRank r;
    freqrank_fit(&s, &r);
    int32_t labels[ROWS] = {0, 0, 1, 1, 2, 2};
    LearnSet ls;
    learnset_init(&ls, imageparam_freq(ROWS, C, H, W, K, r.order, ROWS), 3, s.images, labels, NULL, 0.02f);
    ImageSet set = {ROWS, C, H, W, xmalloc((size_t)ROWS * C * H * W * 4), xmalloc(ROWS * 4), NULL, 0};
    memcpy(set.labels, labels, sizeof labels);
    learnset_images(&ls, set.images);
    SynExtras more;
    learnset_extras(&ls, &more);
    ck_assert_int_eq(more.ntensors, 2);
    char *path = tu_temp_file("freqset", "set.safetensors");
    const char *extra[] = {"budget_ipc", "1", NULL};
    synset_save(path, &set, ls.lr, "MNIST", "ConvNetW32", 2, 0, NULL, extra, &more);
    SynSet back;
    synset_load(path, &back);
    ck_assert_int_eq(back.freq_dims, K);
    ck_assert_int_eq(back.budget_ipc, 1);
    for (int c = 0; c < C; c++)
        for (int j = 0; j < K; j++) ck_assert_int_eq(back.freq_index[c * K + j], r.order[(size_t)c * H * W + j]);
    ck_assert_int_eq(memcmp(back.set.images, set.images, (size_t)ROWS * C * H * W * 4), 0);
    /* re-encoding the file's images gives its coefficients */
    LearnSet again;
    learnset_init(&again, imageparam_freq(ROWS, C, H, W, K, r.order, ROWS), 3, back.set.images, labels, NULL, 0.02f);
    float *c1 = tu_download(again.theta, 0, (size_t)ROWS * C * K);
    double *c0 = tu_to_double(more.t[0].data, (size_t)ROWS * C * K);
    tu_check_close("coefficients through the file", c1, c0, (size_t)ROWS * C * K, 1e-5, 1e-6);
    free(c1); free(c0);
    learnset_free(&again);
    synset_free(&back);
    synset_extras_free(&more);
    learnset_free(&ls);
    imageset_free(&set);
    freqrank_free(&r);
    imageset_free(&s);
    tu_temp_file_free(path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("freq");
    TCase *tc = tcase_create("freq");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, rank_is_by_variance);
    tcase_add_test(tc, rank_cache_reused_and_refused);
    tcase_add_test(tc, freq_set_file_round_trip);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
