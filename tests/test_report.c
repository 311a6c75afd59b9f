/* Run reports and results for scripts, through the clmtt binary (CLMTT_BIN) on a tiny
 * stand-in MNIST (tests/standin.h: class-dependent bars plus noise): a distill run's
 * curves.png and evolution.gif (decoded here with libpng's signature and giflib), clmtt
 * report's text and JSON and its regenerating the pictures, clmtt eval --json; and the
 * drawing on metrics without updates or evaluations, through the library. */
#include "io/report.h"
#include "io/synset.h"
#include "standin.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <gif_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NTRAIN = 40, NTEST = 20, SIDE = 28, NCLASS = 10, PIX = SIDE * SIDE };

static char *g_root, g_data[600], g_buf[600], g_run[600];
static int g_have_run;

/* One expert of 2 epochs, then 2 updates evaluated at 0, 1 and 2 by 2 networks each. */
static void ensure_run(void) {
    if (g_have_run) return;
    TuRun r = tu_clmtt(g_root, "buffer --dataset MNIST --data_path %s --buffer_path %s --model ConvNetW32 "
                       "--num_experts 1 --train_epochs 2 --batch_train 32 --seed 1", g_data, g_buf);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    r = tu_clmtt(g_root, "distill --dataset MNIST --data_path %s --buffer_path %s --model ConvNetW32 --expert_epochs 1 "
                 "--max_start_epoch 1 --ipc 1 --syn_steps 2 --Iteration 2 --eval_it 1 --num_eval 2 "
                 "--epoch_eval_train 1 --seed 5 --save_path %s", g_data, g_buf, g_run);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    g_have_run = 1;
}

static void check_png_size(const char *path, int want_w, int want_h) {
    size_t len;
    unsigned char *b = read_file(path, &len);
    ck_assert_msg(b != NULL, "%s is missing", path);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    ck_assert_msg(len > 24 && memcmp(b, sig, 8) == 0, "%s is not a PNG", path);
    int w = b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19], h = b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
    ck_assert_msg(w == want_w && h == want_h, "%s is %dx%d, expected %dx%d", path, w, h, want_w, want_h);
    free(b);
}

/* The GIF decodes; returns its frame count, checks the screen size and that the frames
 * differ (the set changed between the saved iterations). */
static int check_gif(const char *path, int want_w, int want_h) {
    int e;
    GifFileType *g = DGifOpenFileName(path, &e);
    ck_assert_msg(g != NULL, "%s: %s", path, GifErrorString(e));
    ck_assert_msg(DGifSlurp(g) == GIF_OK, "%s: %s", path, GifErrorString(g->Error));
    ck_assert_msg(g->SWidth == want_w && g->SHeight == want_h, "%s is %dx%d, expected %dx%d", path, g->SWidth,
                  g->SHeight, want_w, want_h);
    int n = g->ImageCount;
    for (int i = 0; i < n; i++) {
        ck_assert(g->SavedImages[i].ImageDesc.Width == want_w && g->SavedImages[i].ImageDesc.Height == want_h);
        ck_assert(g->SavedImages[i].ImageDesc.ColorMap || g->SColorMap);
    }
    if (n >= 2) {
        /* Compare colours, not indices: each frame has its own palette. */
        const SavedImage *a = &g->SavedImages[0], *b = &g->SavedImages[n - 1];
        size_t differ = 0;
        for (size_t p = 0; p < (size_t)want_w * want_h; p++) {
            GifColorType ca = a->ImageDesc.ColorMap->Colors[a->RasterBits[p]];
            GifColorType cb = b->ImageDesc.ColorMap->Colors[b->RasterBits[p]];
            differ += ca.Red != cb.Red || ca.Green != cb.Green || ca.Blue != cb.Blue;
        }
        ck_assert_msg(differ > 0, "%s: the first and last frames are the same", path);
    }
    DGifCloseFile(g, &e);
    return n;
}

static void no_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert(d != NULL);
    struct dirent *e;
    while ((e = readdir(d))) ck_assert_msg(!strstr(e->d_name, ".tmp."), "%s/%s is left over", dir, e->d_name);
    closedir(d);
}

/* 10 tiles of 28 x 4 in a row with 2-pixel padding, under a 26-pixel caption. */
static const int GIF_W = 10 * (4 * SIDE + 2) + 2, GIF_H = 4 * SIDE + 4 + 26;

START_TEST(distill_writes_curves_and_evolution) {
    ensure_run();
    char p[800];
    snprintf(p, sizeof p, "%s/curves.png", g_run);
    check_png_size(p, 1000, 1010);
    snprintf(p, sizeof p, "%s/evolution.gif", g_run);
    ck_assert_int_eq(check_gif(p, GIF_W, GIF_H), 3);   /* images_0, images_1, images_2 */
    no_temp_files(g_run);
    /* The first line of metrics.jsonl holds the settings. */
    snprintf(p, sizeof p, "%s/metrics.jsonl", g_run);
    char *m = tu_read_text(p);
    ck_assert_msg(strncmp(m, "{\"settings\":", 12) == 0, "%s does not start with the settings:\n%.300s", p, m);
    cJSON *j = cJSON_ParseWithOpts(m, NULL, 0);
    ck_assert(j != NULL);
    const cJSON *s = cJSON_GetObjectItem(j, "settings");
    ck_assert_str_eq(cJSON_GetObjectItem(s, "model")->valuestring, "ConvNetW32");
    ck_assert_int_eq(cJSON_GetObjectItem(s, "syn_steps")->valueint, 2);
    cJSON_Delete(j);
    free(m);
}
END_TEST

START_TEST(report_sums_up_and_redraws) {
    ensure_run();
    char curves[800], gif[800];
    snprintf(curves, sizeof curves, "%s/curves.png", g_run);
    snprintf(gif, sizeof gif, "%s/evolution.gif", g_run);
    unlink(curves);
    unlink(gif);
    TuRun r = tu_clmtt(g_root, "report %s", g_run);
    TU_EXPECT_OK(r);
    TU_ASSERT_HAS(r.out, "(finished)");
    TU_ASSERT_HAS(r.out, "model=ConvNetW32");
    TU_ASSERT_HAS(r.out, "Updates: 2,");
    TU_ASSERT_HAS(r.out, "Accuracy of ConvNetW32: best ");
    TU_ASSERT_HAS(r.out, "curves.png");
    TU_ASSERT_HAS(r.out, "3 sets, iterations 0..2");
    tu_run_free(&r);
    check_png_size(curves, 1000, 1010);
    ck_assert_int_eq(check_gif(gif, GIF_W, GIF_H), 3);

    r = tu_clmtt(g_root, "report --json %s", g_run);
    TU_EXPECT_OK(r);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(cJSON_IsObject(j), "not JSON:\n%s", r.out);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "updates")->valueint, 2);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "status")->valuestring, "finished");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "settings"), "dataset")->valuestring, "MNIST");
    ck_assert(cJSON_GetObjectItem(j, "peak_device_bytes")->valuedouble > 0);
    ck_assert(cJSON_GetObjectItem(j, "seconds_per_iteration")->valuedouble > 0);
    const cJSON *acc = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "accuracy"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(acc, "model")->valuestring, "ConvNetW32");
    ck_assert_int_eq(cJSON_GetObjectItem(acc, "evaluations")->valueint, 3);
    const cJSON *best = cJSON_GetObjectItem(acc, "best"), *last = cJSON_GetObjectItem(acc, "last");
    ck_assert_int_eq(cJSON_GetObjectItem(last, "iteration")->valueint, 2);
    ck_assert(cJSON_GetObjectItem(best, "mean")->valuedouble >= cJSON_GetObjectItem(last, "mean")->valuedouble);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "saved_iterations")), 3);
    int has_best = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(j, "files")) has_best |= strcmp(cJSON_GetObjectItem(f, "name")->valuestring,
                                                                             "images_best.safetensors") == 0;
    ck_assert(has_best);
    cJSON_Delete(j);
    tu_run_free(&r);

    r = tu_clmtt(g_root, "report %s/nowhere", g_root);
    TU_EXPECT_FAIL_WITH(r, "nowhere");
    tu_run_free(&r);
    r = tu_clmtt(g_root, "report %s", g_data);   /* a folder without metrics.jsonl */
    TU_EXPECT_FAIL_WITH(r, "metrics.jsonl");
    tu_run_free(&r);
}
END_TEST

/* A run that has logged only its settings and a torn last line still gets its pictures. */
START_TEST(curves_without_updates_or_evaluations) {
    char *dir = tu_tempdir("report_empty");
    char *p = tu_path(dir, "metrics.jsonl");
    const char *text = "{\"settings\": {\"dataset\": \"MNIST\"}}\n{\"iteration\": 0, \"lo";
    tu_write_file(p, text, strlen(text));
    RunMetrics m;
    char err[512];
    ck_assert_msg(run_metrics_read(dir, &m, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(m.nsteps, 0);
    ck_assert_int_eq(m.nmodels, 0);
    ck_assert_int_eq(m.bad_lines, 1);
    ck_assert(m.settings_json && strstr(m.settings_json, "MNIST"));
    ck_assert_msg(report_curves(dir, &m, err, sizeof err) == 0, "%s", err);
    run_metrics_free(&m);
    char *c = tu_path(dir, "curves.png");
    check_png_size(c, 1000, 1010);
    ck_assert_msg(report_evolution(dir, err, sizeof err) != 0, "an animation of no sets");
    free(c);
    free(p);
    tu_rm_tree(dir);
    free(dir);
}
END_TEST

/* Colour sets (more than 256 colours: giflib's quantizer) of 20 images, 2 per class: the
 * animation shows them all, one frame per images_<it> file in iteration order. */
START_TEST(evolution_of_colour_sets) {
    char *dir = tu_tempdir("report_colour");
    int its[2] = {10, 5};
    for (int f = 0; f < 2; f++) {
        ImageSet s = {20, 3, 32, 32, tu_new_rand(20 * 3 * 32 * 32, (uint64_t)(7 + f)), xmalloc(20 * sizeof(int32_t)), NULL, 0};
        for (int i = 0; i < 20; i++) s.labels[i] = i / 2;
        char name[64];
        snprintf(name, sizeof name, "images_%d.safetensors", its[f]);
        char *p = tu_path(dir, name);
        synset_save(p, &s, 0.01, "CIFAR10", "ConvNet", 2, 0, NULL, NULL, NULL);
        free(p);
        imageset_free(&s);
    }
    char err[512];
    ck_assert_msg(report_evolution(dir, err, sizeof err) == 0, "%s", err);
    char *g = tu_path(dir, "evolution.gif");
    ck_assert_int_eq(check_gif(g, 10 * (4 * 32 + 2) + 2, 2 * (4 * 32 + 2) + 2 + 26), 2);
    int e;
    GifFileType *gf = DGifOpenFileName(g, &e);
    ck_assert(gf && DGifSlurp(gf) == GIF_OK);
    GraphicsControlBlock gcb;
    ck_assert(DGifSavedExtensionToGCB(gf, 1, &gcb) == GIF_OK);
    ck_assert_int_eq(gcb.DelayTime, 200);   /* the last frame stays longer */
    DGifCloseFile(gf, &e);
    no_temp_files(dir);
    free(g);
    tu_rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(eval_json_is_one_object) {
    TuRun r = tu_clmtt(g_root, "eval --dataset MNIST --data_path %s --model ConvNetW32 --random_real 1 --num_eval 2 "
                       "--epoch_eval_train 1 --seed 3 --json", g_data);
    TU_EXPECT_OK(r);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(cJSON_IsObject(j), "stdout is not one JSON object:\n%s", r.out);
    TU_ASSERT_HAS(r.err, "test accuracy");   /* the log went to stderr */
    const cJSON *s = cJSON_GetObjectItem(j, "settings");
    ck_assert_str_eq(cJSON_GetObjectItem(s, "dataset")->valuestring, "MNIST");
    ck_assert_int_eq(cJSON_GetObjectItem(s, "num_eval")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(s, "seed")->valueint, 3);
    const cJSON *models = cJSON_GetObjectItem(j, "models");
    ck_assert_int_eq(cJSON_GetArraySize(models), 1);
    const cJSON *m = cJSON_GetArrayItem(models, 0), *acc = cJSON_GetObjectItem(m, "accuracies");
    ck_assert_str_eq(cJSON_GetObjectItem(m, "model")->valuestring, "ConvNetW32");
    ck_assert_int_eq(cJSON_GetArraySize(acc), 2);
    double a0 = cJSON_GetArrayItem(acc, 0)->valuedouble, a1 = cJSON_GetArrayItem(acc, 1)->valuedouble;
    ck_assert(fabs(cJSON_GetObjectItem(m, "mean")->valuedouble - (a0 + a1) / 2) < 1e-12);
    ck_assert(fabs(cJSON_GetObjectItem(m, "std")->valuedouble - fabs(a0 - a1) / 2) < 1e-9);
    for (int i = 0; i < 2; i++) {
        double a = cJSON_GetArrayItem(acc, i)->valuedouble;
        ck_assert_msg(a >= 0 && a <= 1 && fabs(a * NTEST - round(a * NTEST)) < 1e-9, "accuracy %g is not k/%d", a, NTEST);
    }
    cJSON_Delete(j);
    tu_run_free(&r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, curves_without_updates_or_evaluations);
    tcase_add_test(tc, evolution_of_colour_sets);
    tcase_add_test(tc, eval_json_is_one_object);
    tcase_add_test(tc, distill_writes_curves_and_evolution);
    tcase_add_test(tc, report_sums_up_and_redraws);
    suite_add_tcase(s, tc);
    g_root = tu_tempdir("report");
    snprintf(g_data, sizeof g_data, "%s/data", g_root);
    snprintf(g_buf, sizeof g_buf, "%s/buffers", g_root);
    snprintf(g_run, sizeof g_run, "%s/run", g_root);
    mkdir_p(g_data);
    standin_mnist(g_data, NTRAIN, NTEST, 1);
    int rc = tu_run(s);
    if (rc == 0) tu_rm_tree(g_root);
    return rc;
}
