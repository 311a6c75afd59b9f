/* --zca end to end through the clmtt binary (path in CLMTT_BIN) on a tiny CIFAR-10 binary
 * folder the test writes (5 batches of 10 records plus 10 test records): buffer fits and
 * caches the transform in <buffer_path>/CIFAR10/zca.safetensors; eval and distill reuse it;
 * distill's pictures show the inverse-ZCA images (compared here with the raw pixels);
 * changed data and oversized images are refused. The tests run in order and share state. */
#include "io/png.h"
#include "io/safetensors.h"
#include "testutil.h"
#include "data/zca.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PER_BATCH = 10, NBATCH = 5, NTRAIN = PER_BATCH * NBATCH, PIX = 3072, REC = PIX + 1 };

static char *g_root;
static char g_data[512], g_buf[512], g_cache[640], g_run[512];
static unsigned char g_train[NTRAIN][REC];   /* label byte + pixels, as written */
static int g_have_buffer, g_have_run;

/* ---- the dataset ---- */

/* Record k of a file: label k % 10; a class-dependent checkerboard (cell size and phase
 * depend on the class, brightness on the channel) plus noise, so images differ clearly. */
static void make_record(unsigned char *rec, int k, Rng *r) {
    int c = k % 10;
    rec[0] = (unsigned char)c;
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                int cell = 2 + c % 4, on = ((x / cell) + (y / cell) + ch + c) % 2;
                int v = 30 + 20 * ch + 10 * c + (on ? 110 : 0) + rng_int(r, -25, 25);
                rec[1 + ch * 1024 + y * 32 + x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

static void write_batch(const char *name, unsigned char (*recs)[REC]) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", g_data, name);
    write_file_atomic(path, recs, (size_t)PER_BATCH * REC);
}

/* The temporary folder and the dataset, made once before the tests run. */
static void make_root(void) {
    g_root = tu_tempdir("zca-cli");
    snprintf(g_data, sizeof g_data, "%s/data", g_root);
    snprintf(g_buf, sizeof g_buf, "%s/buffers", g_root);
    snprintf(g_cache, sizeof g_cache, "%s/CIFAR10/%s", g_buf, ZCA_FILE);
    snprintf(g_run, sizeof g_run, "%s/run", g_root);
    mkdir_p(g_data);
    Rng r;
    rng_init(&r, 7, 1);
    for (int i = 0; i < NTRAIN; i++) make_record(g_train[i], i, &r);
    for (int b = 0; b < NBATCH; b++) {
        char name[64];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        write_batch(name, g_train + b * PER_BATCH);
    }
    unsigned char test[PER_BATCH][REC];
    for (int i = 0; i < PER_BATCH; i++) make_record(test[i], i, &r);
    write_batch("test_batch.bin", test);
}

/* ---- tests ---- */

/* buffer --zca: the experts under <buffer_path>/CIFAR10/ConvNetW32 (no _NO_ZCA suffix) with
 * zca = true, and the transform cached one level up, fitted on the 50 training images. */
static void need_buffer(void) {
    if (g_have_buffer) return;
    TuRun r = tu_clmtt(g_root, "buffer --dataset=CIFAR10 --data_path %s --zca --num_experts=1 --train_epochs=1 "
                       "--model=ConvNetW32 --buffer_path %s --seed 1", g_data, g_buf);
    TU_EXPECT_OK(r);
    ck_assert_msg(tu_has(r.out, "ZCA: fitted on 50 training images") && tu_has(r.out, "ZCA: saved"), "%s: stdout:\n%s",
                  r.log, r.out);
    tu_run_free(&r);
    g_have_buffer = 1;
}

START_TEST(buffer_caches_transform) {
    need_buffer();
    char path[800];
    snprintf(path, sizeof path, "%s/CIFAR10/ConvNetW32/replay_buffer_0.safetensors", g_buf);
    ck_assert_msg(file_exists(path), "%s is missing", path);
    StFile f;
    st_open_or_die(path, &f);
    tu_expect_meta(&f, "zca", "true");
    tu_expect_meta(&f, "dataset", "CIFAR10");
    st_close(&f);
    ck_assert_msg(file_exists(g_cache), "%s is missing", g_cache);
    st_open_or_die(g_cache, &f);
    tu_expect_meta(&f, "format", ZCA_FORMAT);
    tu_expect_meta(&f, "dataset", "CIFAR10");
    tu_expect_meta(&f, "channel", "3");
    tu_expect_meta(&f, "height", "32");
    tu_expect_meta(&f, "width", "32");
    tu_expect_meta(&f, "num_train", "50");
    tu_expect_meta(&f, "num_test", "10");
    const StTensor *t = st_find(&f, "T_inv");
    ck_assert_msg(t && t->ndim == 2 && t->shape[0] == PIX && t->shape[1] == PIX, "T_inv shape");
    st_close(&f);
    snprintf(path, sizeof path, "%s/CIFAR10_NO_ZCA", g_buf);
    ck_assert_msg(!dir_exists(path), "%s should not exist for a --zca run", path);
}
END_TEST

/* eval --zca with --random_real reuses the cache (no refit, nothing rewritten). */
START_TEST(eval_reuses_cache) {
    need_buffer();
    size_t len0, len1;
    unsigned char *before = read_file(g_cache, &len0);
    TuRun r = tu_clmtt(g_root, "eval --dataset=CIFAR10 --data_path %s --zca --random_real=1 --num_eval=1 "
                       "--epoch_eval_train=2 --model ConvNetW32 --buffer_path %s --seed 2", g_data, g_buf);
    TU_EXPECT_OK(r);
    ck_assert_msg(tu_has(r.out, "ZCA: using") && tu_has(r.out, g_cache), "%s: stdout:\n%s", r.log, r.out);
    ck_assert_msg(!tu_has(r.out, "ZCA: fitted"), "%s: eval refitted:\n%s", r.log, r.out);
    ck_assert_msg(tu_has(r.out, "Evaluate 1 random ConvNetW32"), "%s: stdout:\n%s", r.log, r.out);
    unsigned char *after = read_file(g_cache, &len1);
    ck_assert(len0 == len1 && memcmp(before, after, len0) == 0);
    free(before);
    free(after);
    tu_run_free(&r);
}
END_TEST

/* distill --zca (0 updates, real initialization): <stem>.png shows inverse-ZCA images, so
 * each tile equals (after the per-image min-max normalization) one raw training image of
 * its class within 2 levels; <stem>_whitened.png shows the whitened images, which do not. */
static void need_run(void) {
    if (g_have_run) return;
    need_buffer();
    TuRun r = tu_clmtt(g_root, "distill --dataset CIFAR10 --data_path %s --zca --buffer_path %s --model ConvNetW32 "
                       "--Iteration 0 --num_eval 0 --expert_epochs 1 --max_start_epoch 1 --ipc 1 --seed 3 "
                       "--save_path %s",
                       g_data, g_buf, g_run);
    TU_EXPECT_OK(r);
    ck_assert_msg(tu_has(r.out, "ZCA: using") && !tu_has(r.out, "ZCA: fitted"), "%s: stdout:\n%s", r.log, r.out);
    tu_run_free(&r);
    g_have_run = 1;
}

/* Largest level difference between tile k of a 1-row grid (x4 upsampling) and raw record
 * `rec` min-max normalized as the grid does. */
static int tile_diff(const uint8_t *px, int width, int k, const unsigned char *rec) {
    const unsigned char *p = rec + 1;
    int lo = 255, hi = 0;
    for (int i = 0; i < PIX; i++) { if (p[i] < lo) lo = p[i]; if (p[i] > hi) hi = p[i]; }
    int worst = 0;
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                double want = 255.0 * (p[ch * 1024 + y * 32 + x] - lo) / (hi - lo);
                int got = px[((size_t)(2 + 4 * y + 1) * width + (size_t)(2 + k * 130 + 4 * x + 2)) * 3 + ch];
                int e = (int)ceil(fabs(got - want));
                if (e > worst) worst = e;
            }
    return worst;
}

/* For each class tile: the smallest tile_diff over the training images of that class. */
static void best_matches(const char *png, int best[10]) {
    uint8_t *px;
    int w, h;
    char err[512];
    ck_assert_msg(png_read_rgb8(png, &px, &w, &h, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(w == 10 * 130 + 2 && h == 132, "%s is %dx%d", png, w, h);
    for (int k = 0; k < 10; k++) {
        best[k] = 1000;
        for (int i = 0; i < NTRAIN; i++) {
            if (g_train[i][0] != k) continue;
            int e = tile_diff(px, w, k, g_train[i]);
            if (e < best[k]) best[k] = e;
        }
    }
    free(px);
}

START_TEST(distill_pictures_in_colour_space) {
    need_run();
    const char *stems[] = {"images_0", "images_last"};
    for (int s = 0; s < 2; s++) {
        char p[800];
        const char *suffix[] = {".png", "_clipped.png", "_whitened.png", "_whitened_clipped.png", ".safetensors"};
        for (int k = 0; k < 5; k++) {
            snprintf(p, sizeof p, "%s/%s%s", g_run, stems[s], suffix[k]);
            ck_assert_msg(file_exists(p), "%s is missing", p);
        }
        snprintf(p, sizeof p, "%s/%s.safetensors", g_run, stems[s]);
        StFile f;
        st_open_or_die(p, &f);
        tu_expect_meta(&f, "zca", "true");
        /* images_zca: the set mapped back to pixels in [0, 1]; with 0 updates from a real
         * initialization, each row is a raw training image of its class */
        const StTensor *z = st_find(&f, "images_zca");
        ck_assert_msg(z && z->dtype == DT_F32 && z->ndim == 4 && z->shape[0] == 10 && z->shape[1] == 3 &&
                          z->shape[2] == 32 && z->shape[3] == 32,
                      "%s: tensor images_zca F32 [10, 3, 32, 32] missing", p);
        if (s == 0) {
            float *zi = xmalloc(z->nbytes);
            memcpy(zi, z->data, z->nbytes);
            for (int k = 0; k < 10; k++) {
                double best = 1e9;
                for (int i = 0; i < NTRAIN; i++) {
                    if (g_train[i][0] != k) continue;
                    double e = 0;
                    for (int j = 0; j < PIX; j++) e = fmax(e, fabs(zi[k * PIX + j] - g_train[i][1 + j] / 255.0));
                    if (e < best) best = e;
                }
                ck_assert_msg(best < 1e-3, "%s: images_zca row %d is %g from every raw image of its class", p, k, best);
            }
            free(zi);
        }
        st_close(&f);
    }
    char png[800];
    int best[10];
    snprintf(png, sizeof png, "%s/images_0.png", g_run);
    best_matches(png, best);
    for (int k = 0; k < 10; k++)
        ck_assert_msg(best[k] <= 2, "%s: tile %d differs from every raw image of its class by %d levels", png, k,
                      best[k]);
    snprintf(png, sizeof png, "%s/images_0_whitened.png", g_run);
    best_matches(png, best);
    int far = 0;
    for (int k = 0; k < 10; k++) far += best[k] > 20;
    ck_assert_msg(far == 10, "%s: only %d of 10 whitened tiles differ from the raw images", png, far);
}
END_TEST

/* eval --syn of a --zca set: whitens the test split with the cached transform. */
START_TEST(eval_zca_set) {
    need_run();
    TuRun r = tu_clmtt(g_root, "eval --dataset CIFAR10 --data_path %s --zca --syn %s/images_last.safetensors "
                       "--num_eval 1 --epoch_eval_train 1 --model ConvNetW32 --buffer_path %s --seed 4",
                       g_data, g_run, g_buf);
    TU_EXPECT_OK(r);
    ck_assert_msg(tu_has(r.out, "ZCA: using") && tu_has(r.out, "Evaluate 1 random ConvNetW32"), "%s: stdout:\n%s", r.log,
                  r.out);
    tu_run_free(&r);
    r = tu_clmtt(g_root, "eval --dataset CIFAR10 --data_path %s --syn %s/images_last.safetensors --num_eval 1 "
                 "--epoch_eval_train 1 --model ConvNetW32", g_data, g_run);
    TU_EXPECT_FAIL_WITH(r, "--zca=True");
    tu_run_free(&r);
}
END_TEST

/* Changed training data with the old cache: refused, naming the file; ImageNet-128 refused. */
START_TEST(refusals) {
    need_buffer();
    /* One pixel of batch 3 one level brighter (kept in this test's copy too, so later
     * tests would see the same data). */
    unsigned char(*b3)[REC] = g_train + 2 * PER_BATCH;
    b3[4][100] = (unsigned char)(b3[4][100] < 255 ? b3[4][100] + 1 : 254);
    write_batch("data_batch_3.bin", b3);
    TuRun r = tu_clmtt(g_root, "eval --dataset=CIFAR10 --data_path %s --zca --random_real=1 --num_eval=1 "
                       "--epoch_eval_train=0 --model ConvNetW32 --buffer_path %s", g_data, g_buf);
    TU_EXPECT_FAIL_WITH(r, "was fitted on different training data");
    ck_assert_msg(tu_has(r.err, g_cache) && tu_has(r.err, "--buffer_path"), "%s: stderr:\n%s", r.log, r.err);
    tu_run_free(&r);
    r = tu_clmtt(g_root, "buffer --dataset ImageNet --subset imagenette --zca --buffer_path %s/in", g_root);
    TU_EXPECT_FAIL_WITH(r, "--zca");
    ck_assert_msg(tu_has(r.err, "49152") && tu_has(r.err, "GB"), "%s: stderr:\n%s", r.log, r.err);
    tu_run_free(&r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("zca_cli");
    TCase *tc = tcase_create("zca_cli");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, buffer_caches_transform);
    tcase_add_test(tc, eval_reuses_cache);
    tcase_add_test(tc, distill_pictures_in_colour_space);
    tcase_add_test(tc, eval_zca_set);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    make_root();
    int rc = tu_run(s);
    /* Kept for inspection when a test failed. */
    if (rc == 0) tu_rm_tree(g_root);
    return rc;
}
