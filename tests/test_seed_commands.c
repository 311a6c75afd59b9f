/* The three distillation commands of the original's README run unchanged with `clmtt
 * distill` in place of `python distill.py`, against stand-in data in the layouts users
 * have (tests/standin.h): CIFAR-100 with ZCA, ImageNet imagefruit at 128 px with
 * ConvNetD5, and imagesquawk textures. Each first trains the experts it needs with the
 * README's buffer command (one expert, as many epochs as the distill flags require), then
 * runs the distill command with only the iteration count and evaluation cost lowered.
 *
 * The texture command asks for --res=256; at that size one iteration takes minutes on a
 * 2-core CPU, so the test runs it at --res=64 unless CLMTT_SEED_FULL=1 (then 256, as
 * written). */
#include "standin.h"
#include "testutil.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *g_root;                 /* temp folder: data/, buffers/, runs, logs */
static char g_cifar[700], g_inet[700], g_buf[700];

static void ensure_data(void) {
    if (g_root) return;
    g_root = tu_tempdir("seed");
    snprintf(g_cifar, sizeof g_cifar, "%s/data/cifar100", g_root);
    snprintf(g_inet, sizeof g_inet, "%s/data/imagenet", g_root);
    snprintf(g_buf, sizeof g_buf, "%s/buffers", g_root);
    mkdir_p(g_cifar);
    /* One training image per class is what ipc 1 needs; JPEGs of odd sizes, resized by
     * the loader as ImageNet pictures are. */
    standin_cifar100(g_cifar, 1, 1, 11);
    standin_imagenet(g_inet, "imagefruit", 1, 1, 96, 80, 12);
    standin_imagenet(g_inet, "imagesquawk", 1, 1, 150, 120, 13);
    char cache[800];
    snprintf(cache, sizeof cache, "%s/cache", g_root);
    setenv("CLMTT_CACHE_DIR", cache, 1);
}

/* The saved set of a run: images shape and a metadata value. */
static void check_set(const char *run, const int64_t *shape, const char *key, const char *value) {
    char path[1000];
    snprintf(path, sizeof path, "%s/images_last.safetensors", run);
    StFile f;
    char err[512];
    ck_assert_msg(st_open(path, &f, err, sizeof err) == 0, "%s", err);
    const StTensor *t = st_find(&f, "images");
    ck_assert_msg(t != NULL, "%s has no images", path);
    ck_assert_int_eq(t->ndim, 4);
    for (int d = 0; d < 4; d++)
        ck_assert_msg(t->shape[d] == shape[d], "%s: images dim %d is %lld, want %lld", path, d, (long long)t->shape[d],
                      (long long)shape[d]);
    tu_expect_meta(&f, key, value);
    st_close(&f);
}

static void check_file(const char *run, const char *name) {
    char path[1000];
    snprintf(path, sizeof path, "%s/%s", run, name);
    ck_assert_msg(file_exists(path), "missing %s", path);
}

/* The stand-in sets hold one image per class, so the experts train with small batches:
 * an expert epoch then takes as many SGD steps as a student segment (with batches of 256
 * it would be one step, and the student would overshoot the target by far). */

/* What every distill run here adds to the README command: one meta-update, a cheap
 * evaluation before and after it, and a known run folder. */
#define FEW_ITERATIONS "--Iteration=1 --eval_it=1 --num_eval=1 --epoch_eval_train=1 --seed=1"

/* Trains experts with `clmtt <buffer>`, then runs `clmtt <distill> FEW_ITERATIONS` into
 * <root>/<run> (both get --buffer_path and --data_path appended). Returns the distill
 * run's stdout (malloc'd) and its folder in run_dir. */
static char *buffer_then_distill(const char *buffer, const char *distill, const char *data, const char *run,
                                 char *run_dir, size_t n) {
    TuRun r = tu_clmtt(g_root, "%s --buffer_path=%s --data_path=%s", buffer, g_buf, data);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    snprintf(run_dir, n, "%s/%s", g_root, run);
    r = tu_clmtt(g_root, "%s --buffer_path=%s --data_path=%s " FEW_ITERATIONS " --save_path=%s", distill, g_buf, data,
                 run_dir);
    TU_EXPECT_OK(r);
    char *out = r.out;
    r.out = NULL;
    tu_run_free(&r);
    return out;
}

START_TEST(cifar100_zca) {
    ensure_data();
    char run[800];
    /* README: buffer.py --dataset=CIFAR100 --model=ConvNet --train_epochs=50 --num_experts=100 --zca */
    char *out = buffer_then_distill(
        "buffer --dataset=CIFAR100 --model=ConvNet --train_epochs=22 --num_experts=1 --zca --batch_train=10 --seed=1",
        "distill --dataset=CIFAR100 --ipc=1 --syn_steps=20 --expert_epochs=3 --max_start_epoch=20 --zca --lr_img=1000 "
        "--lr_lr=1e-05 --lr_teacher=0.01",
        g_cifar, "run_cifar100", run, sizeof run);
    ck_assert_msg(tu_has(out, "Evaluate 1 random ConvNet"), "no evaluation in:\n%.3000s", out);
    free(out);
    check_set(run, (int64_t[]){100, 3, 32, 32}, "zca", "true");
    /* Pictures of ZCA runs are shown in normal colours; the whitened ones beside them. */
    check_file(run, "images_last.png");
    check_file(run, "images_last_whitened.png");
}
END_TEST

START_TEST(imagefruit_128) {
    ensure_data();
    char run[800];
    free(buffer_then_distill(
        "buffer --dataset=ImageNet --subset=imagefruit --model=ConvNetD5 --res=128 --train_epochs=11 --num_experts=1 "
        "--batch_train=1 --seed=2",
        "distill --dataset=ImageNet --subset=imagefruit --model=ConvNetD5 --ipc=1 --res=128 --syn_steps=20 "
        "--expert_epochs=2 --max_start_epoch=10 --lr_img=1000 --lr_lr=1e-06 --lr_teacher=0.01",
        g_inet, "run_imagefruit", run, sizeof run));
    check_set(run, (int64_t[]){10, 3, 128, 128}, "subset", "imagefruit");
    check_file(run, "images_last.png");
}
END_TEST

START_TEST(imagesquawk_texture) {
    ensure_data();
    const char *full = getenv("CLMTT_SEED_FULL");
    int res = full && strcmp(full, "1") == 0 ? 256 : 64;
    char buffer[512], distill[512], run[800];
    snprintf(buffer, sizeof buffer, "buffer --dataset=ImageNet --subset=imagesquawk --model=ConvNetD5 --res=%d "
             "--train_epochs=11 --num_experts=1 --batch_train=1 --seed=3", res);
    snprintf(distill, sizeof distill, "distill --texture --dataset=ImageNet --subset=imagesquawk --model=ConvNetD5 "
             "--ipc=1 --res=%d --syn_steps=20 --expert_epochs=2 --max_start_epoch=10 --lr_img=1000 --lr_lr=1e-06 "
             "--lr_teacher=0.01", res);
    free(buffer_then_distill(buffer, distill, g_inet, "run_imagesquawk", run, sizeof run));
    /* Canvases twice the image side (canvas_size 2), tiled 2x2 in the preview. */
    check_set(run, (int64_t[]){10, 3, 2 * res, 2 * res}, "texture", "true");
    check_file(run, "images_last_tiled.png");
}
END_TEST

int main(void) {
    Suite *s = suite_create("seed_commands");
    TCase *tc = tcase_create("seed_commands");
    tcase_set_timeout(tc, 1800);
    tcase_add_test(tc, cifar100_zca);
    tcase_add_test(tc, imagefruit_128);
    tcase_add_test(tc, imagesquawk_texture);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
