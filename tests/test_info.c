/* clmtt info: the binary (CLMTT_BIN) describes and checks small trajectory, set and ZCA-less
 * files this test writes through the library's writers, refuses broken ones with a
 * non-zero exit naming the fault, and prints a model's parameter layout as text and JSON.
 * No device is needed. */
#include "io/safetensors.h"
#include "io/synset.h"
#include "net/net.h"
#include "net/registry.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *g_root;

/* A trajectory file of `experts` x `snaps` snapshots of ConvNetW32 on MNIST, with nparams
 * floats per snapshot (the model's count unless testing a mismatch); nan_at >= 0 poisons
 * that value. */
static char *write_traj(const char *name, int experts, int snaps, long nparams_delta, long nan_at, const char *model_meta) {
    Net net;
    net_build(&net, "ConvNetW32", 1, 28, 28, 10);
    size_t P = net.ndense + (size_t)nparams_delta, n = (size_t)experts * snaps * P;
    float *x = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)((i % 97) * 0.01 - 0.4);
    if (nan_at >= 0) x[nan_at] = NAN;
    char *path = tu_path(g_root, name);
    StWriter *w = st_writer_new();
    st_writer_add(w, "trajectories", DT_F32, 3, (int64_t[]){experts, snaps, (int64_t)P}, x);
    char *layout = net_param_layout_json(&net), np[32];
    snprintf(np, sizeof np, "%zu", P);
    const char *kv[][2] = {{"format", "mtt-trajectories/1"}, {"model", model_meta}, {"dataset", "MNIST"},
                           {"channel", "1"}, {"height", "28"}, {"width", "28"}, {"num_classes", "10"},
                           {"zca", "false"}, {"lr_teacher", "0.01"}, {"train_epochs", "2"},
                           {"param_layout", layout}, {"num_params", np}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) st_writer_meta(w, kv[i][0], kv[i][1]);
    st_writer_save(w, path);
    st_writer_free(w);
    free(layout);
    free(x);
    return path;
}

/* A set of 2 images per class of MNIST; bad_label >= 0 sets row 3's label to it. */
static char *write_set(const char *name, int bad_label, int texture) {
    int side = texture ? 2 : 1;
    ImageSet s = {20, 1, 28 * side, 28 * side, NULL, NULL, NULL, 0};
    size_t n = (size_t)s.n * s.c * s.h * s.w;
    s.images = xmalloc(n * sizeof(float));
    s.labels = xmalloc((size_t)s.n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) s.images[i] = (float)sin((double)i);
    for (int i = 0; i < s.n; i++) s.labels[i] = i / 2;
    if (bad_label >= 0) s.labels[3] = bad_label;
    char *path = tu_path(g_root, name);
    const char *extra[] = {"iteration", "7", texture ? "texture" : NULL, "true", "canvas_size", "2", "canvas_samples",
                           "3", NULL};
    synset_save(path, &s, 0.0125, "MNIST", "ConvNetW32", 2, 0, NULL, extra, NULL);
    free(s.images);
    free(s.labels);
    return path;
}

START_TEST(model_layout_text_and_json) {
    Net net;
    net_build(&net, "ConvNetW32", 1, 28, 28, 10);
    TuRun r = tu_clmtt(g_root, "info --model ConvNetW32 --dataset MNIST");
    TU_EXPECT_OK(r);
    char want[128];
    snprintf(want, sizeof want, "%zu parameters in %d tensors", net.ndense, net.ntensors);
    TU_ASSERT_HAS(r.out, want);
    TU_ASSERT_HAS(r.out, "features.0.weight");
    TU_ASSERT_HAS(r.out, "[32, 1, 3, 3]");
    TU_ASSERT_HAS(r.out, "classifier.bias");
    tu_run_free(&r);

    r = tu_clmtt(g_root, "info --model=ConvNetW32 --dataset=MNIST --json");
    TU_EXPECT_OK(r);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(cJSON_IsObject(j), "not JSON: %s", r.out);
    ck_assert_int_eq((long)cJSON_GetObjectItem(j, "num_params")->valuedouble, (long)net.ndense);
    const cJSON *ts = cJSON_GetObjectItem(j, "tensors");
    ck_assert_int_eq(cJSON_GetArraySize(ts), net.ntensors);
    size_t total = 0;
    for (int i = 0; i < net.ntensors; i++) {
        const cJSON *t = cJSON_GetArrayItem(ts, i);
        ck_assert_str_eq(cJSON_GetObjectItem(t, "name")->valuestring, net.tensors[i].name);
        ck_assert_int_eq((long)cJSON_GetObjectItem(t, "offset")->valuedouble, (long)total);
        total += (size_t)cJSON_GetObjectItem(t, "numel")->valuedouble;
    }
    ck_assert_int_eq((long)total, (long)net.ndense);
    cJSON_Delete(j);
    tu_run_free(&r);

    r = tu_clmtt(g_root, "info --model NoSuchNet --dataset MNIST");
    TU_EXPECT_FAIL_WITH(r, "NoSuchNet");
    tu_run_free(&r);
    r = tu_clmtt(g_root, "info --model ConvNet");
    TU_EXPECT_FAIL_WITH(r, "--dataset");
    tu_run_free(&r);
}
END_TEST

START_TEST(good_files_described) {
    char *t = write_traj("good_traj.safetensors", 2, 3, 0, -1, "ConvNetW32");
    char *s = write_set("good_set.safetensors", -1, 0);
    char *x = write_set("texture_set.safetensors", -1, 1);
    TuRun r = tu_clmtt(g_root, "info %s %s %s", t, s, x);
    TU_EXPECT_OK(r);
    TU_ASSERT_HAS(r.out, "expert trajectory file (mtt-trajectories/1)");
    TU_ASSERT_HAS(r.out, "synthetic set file (mtt-synset/1)");
    TU_ASSERT_HAS(r.out, "hard, class-major");
    TU_ASSERT_HAS(r.out, "texture");
    ck_assert_msg(!tu_has(r.out, "error:"), "good files reported with errors:\n%s", r.out);
    tu_run_free(&r);

    r = tu_clmtt(g_root, "info --json %s %s %s", t, s, x);
    TU_EXPECT_OK(r);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 3, "not a JSON array of 3: %s", r.out);
    const cJSON *a = cJSON_GetArrayItem(j, 0), *b = cJSON_GetArrayItem(j, 1), *c = cJSON_GetArrayItem(j, 2);
    ck_assert_str_eq(cJSON_GetObjectItem(a, "kind")->valuestring, "trajectories");
    ck_assert_str_eq(cJSON_GetObjectItem(a, "model")->valuestring, "ConvNetW32");
    ck_assert_str_eq(cJSON_GetObjectItem(a, "dataset")->valuestring, "MNIST");
    ck_assert_int_eq(cJSON_GetObjectItem(a, "experts")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(a, "snapshots")->valueint, 3);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(a, "zca")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(a, "ok")));
    ck_assert_str_eq(cJSON_GetObjectItem(b, "kind")->valuestring, "set");
    ck_assert_int_eq(cJSON_GetObjectItem(b, "ipc")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(b, "images")->valueint, 20);
    ck_assert(fabs(cJSON_GetObjectItem(b, "lr")->valuedouble - 0.0125) < 1e-7);
    ck_assert_str_eq(cJSON_GetObjectItem(b, "parameterization")->valuestring, "pixels");
    ck_assert_str_eq(cJSON_GetObjectItem(c, "parameterization")->valuestring, "texture");
    ck_assert_int_eq(cJSON_GetObjectItem(c, "canvas_size")->valueint, 2);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(c, "ok")));
    cJSON_Delete(j);
    tu_run_free(&r);
    free(t);
    free(s);
    free(x);
}
END_TEST

/* Each broken file gets an error line naming its fault and a non-zero exit; the good file
 * beside it is still reported ok. */
START_TEST(broken_files_refused) {
    char *good = write_set("ok_set.safetensors", -1, 0);
    char *wrong_p = write_traj("wrong_p.safetensors", 1, 2, -5, -1, "ConvNetW32");
    char *nan = write_traj("nan.safetensors", 2, 2, 0, 100, "ConvNetW32");
    char *one = write_traj("one_snapshot.safetensors", 1, 1, 0, -1, "ConvNetW32");
    char *unknown = write_traj("unknown_model.safetensors", 1, 2, 0, -1, "NoSuchNet");
    char *label = write_set("bad_label.safetensors", 12, 0);
    char *junk = tu_path(g_root, "junk.safetensors");
    tu_write_file(junk, "not a safetensors file at all", 29);
    struct {
        const char *path, *needle;
    } cases[] = {{wrong_p, "parameters"}, {nan, "not finite"}, {one, "snapshot"}, {unknown, "NoSuchNet"},
                 {label, "label 12 of row 3"}, {junk, "error:"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TuRun r = tu_clmtt(g_root, "info %s %s", good, cases[i].path);
        ck_assert_msg(r.status == 1, "%s: exit %d, expected 1\n%s", cases[i].path, r.status, r.out);
        TU_ASSERT_HAS(r.out, cases[i].needle);
        TU_ASSERT_HAS(r.out, "  ok\n");
        tu_run_free(&r);
    }
    TuRun r = tu_clmtt(g_root, "info %s/missing.safetensors", g_root);
    ck_assert_int_eq(r.status, 1);
    TU_ASSERT_HAS(r.out, "error:");
    tu_run_free(&r);
    r = tu_clmtt(g_root, "info");
    TU_EXPECT_FAIL_WITH(r, "info");
    tu_run_free(&r);
    free(good); free(wrong_p); free(nan); free(one); free(unknown); free(label); free(junk);
}
END_TEST

int main(void) {
    Suite *s = suite_create("info");
    TCase *tc = tcase_create("info");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, model_layout_text_and_json);
    tcase_add_test(tc, good_files_described);
    tcase_add_test(tc, broken_files_refused);
    suite_add_tcase(s, tc);
    g_root = tu_tempdir("info");
    int rc = tu_run(s);
    if (rc == 0) tu_rm_tree(g_root);
    return rc;
}
