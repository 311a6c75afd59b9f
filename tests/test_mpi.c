/* clmtt under Open MPI (host/core/dist.h): `mpirun --oversubscribe -np 2 clmtt ...` on
 * PoCL against one plain process with the same seed, on a tiny MNIST-format dataset the
 * test writes itself.
 *
 *   buffer   the trajectory files are byte-identical (experts split over the ranks), with
 *            and without --zca (then the transform's cache too)
 *   eval     every network's accuracy is identical (the pool split over the ranks)
 *   distill  one meta-update of the set (images, learned step size, soft labels) agrees
 *            within 1e-5 relative: plain, with DSA and uneven batches, texture, soft labels,
 *            three expert segments per iteration (--num_trajectories), and the matched step
 *            of --auto_match
 *   errors   a rank that fails ends the whole job, naming its rank and the reason; batch
 *            norm is refused over several ranks; only rank 0 prints the log
 *
 * Skipped (exit 77, ctest SKIP) when mpirun is not installed. Open MPI refuses root
 * unless OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM) are set; the test sets them for its runs. Every
 * run goes through `timeout`, so a job that hangs fails the test instead. */
#include "io/safetensors.h"
#include "standin.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NTRAIN = 60, NTEST = 20, SIDE = 28, NCLASS = 10, PIX = SIDE * SIDE };

static char *g_root;
static char g_data[512], g_buf[512];

/* A job of two ranks; seconds before `timeout` ends it. */
#define MPI2 "timeout 600 mpirun --oversubscribe -np 2 "
#define MPI_TIMEOUT_STATUS 124

/* The dataset and two experts of two epochs (one plain process), made once. */
static void ensure_root(void) {
    if (g_root) return;
    g_root = tu_tempdir("mpi");
    snprintf(g_data, sizeof g_data, "%s/data", g_root);
    snprintf(g_buf, sizeof g_buf, "%s/buffers", g_root);
    mkdir_p(g_data);
    standin_mnist(g_data, NTRAIN, NTEST, 1);
    TuRun r = tu_clmtt(g_root, "buffer --dataset MNIST --data_path %s --buffer_path %s --model ConvNetW32 "
                       "--num_experts 2 --train_epochs 2 --batch_train 16 --seed 1", g_data, g_buf);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
}

/* `clmtt <args>` under two ranks. */
static TuRun mpi2(const char *args) {
    char line[4096];
    snprintf(line, sizeof line, MPI2 "'%s' %s", tu_clmtt_bin(), args);
    return tu_shell(g_root, "%s", line);
}

static unsigned char *must_read(const char *path, size_t *len) {
    unsigned char *b = read_file(path, len);
    ck_assert_msg(b != NULL, "cannot read %s", path);
    return b;
}

/* Fails unless the files root/dir1/name and root/dir2/name hold the same bytes. */
static void assert_same_file(const char *dir1, const char *dir2, const char *name) {
    char p1[800], p2[800];
    snprintf(p1, sizeof p1, "%s/%s/%s", g_root, dir1, name);
    snprintf(p2, sizeof p2, "%s/%s/%s", g_root, dir2, name);
    size_t n1, n2;
    unsigned char *f1 = must_read(p1, &n1), *f2 = must_read(p2, &n2);
    ck_assert_msg(n1 == n2 && memcmp(f1, f2, n1) == 0, "%s and %s differ (%zu and %zu bytes)", p1, p2, n1, n2);
    free(f1);
    free(f2);
}

/* ---- buffer ---- */

START_TEST(buffer_files_identical) {
    ensure_root();
    /* Five experts in files of two: the last file holds one, and rank 1 trains experts 1, 3. */
    const char *flags = "--dataset MNIST --model ConvNetW32 --num_experts 5 --train_epochs 1 --batch_train 16 "
                        "--save_interval 2 --seed 7";
    TuRun a = tu_clmtt(g_root, "buffer %s --data_path %s --buffer_path %s/b1", flags, g_data, g_root);
    TU_EXPECT_OK(a);
    char args[2048];
    snprintf(args, sizeof args, "buffer %s --data_path %s --buffer_path %s/b2", flags, g_data, g_root);
    TuRun b = mpi2(args);
    TU_EXPECT_OK(b);
    for (int i = 0; i < 3; i++) {
        char name[128];
        snprintf(name, sizeof name, "MNIST_NO_ZCA/ConvNetW32/replay_buffer_%d.safetensors", i);
        assert_same_file("b1", "b2", name);
    }
    char p3[800];
    snprintf(p3, sizeof p3, "%s/b2/MNIST_NO_ZCA/ConvNetW32/replay_buffer_3.safetensors", g_root);
    ck_assert_msg(!file_exists(p3), "two ranks wrote a fourth file");
    /* Rank 0 logs every expert's epoch, the other rank's included, once. */
    for (int e = 0; e < 5; e++) {
        char line[64];
        snprintf(line, sizeof line, "Itr: %d\tEpoch: 0", e);
        TU_ASSERT_HAS(b.out, line);
    }
    const char *first = strstr(b.out, "Hyper-parameters");
    ck_assert_msg(first && !strstr(first + 1, "Hyper-parameters"), "the log is not printed exactly once:\n%s", b.out);
    tu_run_free(&a);
    tu_run_free(&b);
}
END_TEST

/* --zca: the transform is fitted by host BLAS on every rank; it and the experts are the
 * same bytes as one process's (host/core/dist.c gives OpenBLAS a lone process's threads). */
START_TEST(buffer_zca_identical) {
    ensure_root();
    const char *flags = "--dataset MNIST --model ConvNetW32 --num_experts 2 --train_epochs 1 --batch_train 16 "
                        "--zca --seed 8";
    TuRun a = tu_clmtt(g_root, "buffer %s --data_path %s --buffer_path %s/z1", flags, g_data, g_root);
    TU_EXPECT_OK(a);
    char args[2048];
    snprintf(args, sizeof args, "buffer %s --data_path %s --buffer_path %s/z2", flags, g_data, g_root);
    TuRun b = mpi2(args);
    TU_EXPECT_OK(b);
    const char *files[] = {"MNIST/zca.safetensors", "MNIST/ConvNetW32/replay_buffer_0.safetensors"};
    for (int i = 0; i < 2; i++) assert_same_file("z1", "z2", files[i]);
    tu_run_free(&a);
    tu_run_free(&b);
}
END_TEST

/* ---- eval ---- */

/* The "accuracies" arrays of eval --json output, as one string per model. */
static void accuracies_of(const char *json, char *out, size_t n) {
    out[0] = 0;
    for (const char *p = json; (p = strstr(p, "\"accuracies\"")); p++) {
        const char *e = strchr(p, ']');
        ck_assert_msg(e != NULL, "bad JSON: %s", json);
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%.*s|", (int)(e - p), p);
    }
    ck_assert_msg(out[0], "no accuracies in: %s", json);
}

START_TEST(eval_results_identical) {
    ensure_root();
    /* Two models of three networks each over two ranks: random real subsets, one per network. */
    const char *flags = "--dataset MNIST --model ConvNetW32 --eval_mode C --random_real 2 --num_eval 3 "
                        "--epoch_eval_train 2 --batch_train 8 --seed 11 --json --device 0,0";
    TuRun a = tu_clmtt(g_root, "eval %s --data_path %s", flags, g_data);
    TU_EXPECT_OK(a);
    char args[2048];
    snprintf(args, sizeof args, "eval %s --data_path %s", flags, g_data);
    TuRun b = mpi2(args);
    TU_EXPECT_OK(b);
    char acc_a[4096], acc_b[4096];
    accuracies_of(a.out, acc_a, sizeof acc_a);
    accuracies_of(b.out, acc_b, sizeof acc_b);
    ck_assert_msg(strcmp(acc_a, acc_b) == 0, "one process: %s\ntwo ranks: %s", acc_a, acc_b);
    /* The settings count the images of a random real subset (2 per class). */
    TU_ASSERT_HAS(a.out, "\"images\":\t20,");
    TU_ASSERT_HAS(b.out, "\"images\":\t20,");
    tu_run_free(&a);
    tu_run_free(&b);
}
END_TEST

/* ---- distill ---- */

/* Tensor `name` of <dir>/<stem>.safetensors as doubles (malloc'd), its count in *n. */
static double *tensor_of(const char *dir, const char *stem, const char *name, size_t *n) {
    char path[800], err[512];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, stem);
    StFile f;
    ck_assert_msg(st_open(path, &f, err, sizeof err) == 0, "%s", err);
    const StTensor *t = st_find(&f, name);
    ck_assert_msg(t != NULL && t->dtype == DT_F32, "%s: no F32 tensor %s", path, name);
    double *v = xmalloc(t->numel * sizeof(double));
    for (size_t i = 0; i < t->numel; i++) {
        float x;
        memcpy(&x, (const char *)t->data + 4 * i, 4);
        v[i] = x;
    }
    *n = t->numel;
    st_close(&f);
    return v;
}

/* The update of tensor `name` over the run's one iteration (images_1 - images_0) in two
 * runs: they agree within rtol relative, and the update is not zero. */
static void check_update(const char *run1, const char *run2, const char *name, double rtol) {
    size_t n[4];
    double *a0 = tensor_of(run1, "images_0", name, &n[0]), *a1 = tensor_of(run1, "images_1", name, &n[1]);
    double *b0 = tensor_of(run2, "images_0", name, &n[2]), *b1 = tensor_of(run2, "images_1", name, &n[3]);
    ck_assert(n[0] == n[1] && n[0] == n[2] && n[0] == n[3]);
    double da2 = 0, diff2 = 0, start2 = 0;
    for (size_t i = 0; i < n[0]; i++) {
        double da = a1[i] - a0[i], db = b1[i] - b0[i];
        da2 += da * da;
        diff2 += (da - db) * (da - db);
        start2 += (a0[i] - b0[i]) * (a0[i] - b0[i]);
    }
    ck_assert_msg(start2 == 0, "%s: the two runs start from different sets", name);
    ck_assert_msg(da2 > 0, "%s: the update is zero", name);
    double rel = sqrt(diff2 / da2);
    printf("%s vs %s: %s update relative difference %.3g\n", run1, run2, name, rel);
    ck_assert_msg(rel <= rtol, "%s: two ranks' update differs from one process's by %.3g relative (> %g)", name, rel,
                  rtol);
    free(a0); free(a1); free(b0); free(b1);
}

/* A number of the run's metrics.jsonl: the value after the first "key": . */
static double metric_of(const char *dir, const char *key) {
    char path[800], pat[128];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    char *text = tu_read_text(path);
    const char *p = strstr(text, pat);
    ck_assert_msg(p != NULL, "%s has no %s", path, key);
    double v = strtod(p + strlen(pat), NULL);
    free(text);
    return v;
}

/* The iteration's loss and dL/d(step size) as the two runs logged them (9 digits). */
static void check_metric(const char *run1, const char *run2, const char *key, double rtol) {
    double a = metric_of(run1, key), b = metric_of(run2, key);
    double rel = fabs(a - b) / fmax(fabs(a), 1e-30);
    printf("%s: %s %.9g vs %.9g, relative difference %.3g\n", run1, key, a, b, rel);
    ck_assert_msg(a != 0, "%s: %s is 0", run1, key);
    ck_assert_msg(rel <= rtol, "%s: two ranks %.9g, one process %.9g (%.3g relative)", key, b, a, rel);
}

/* One meta-update by one process and by two ranks with `extra` flags; compares the updates. */
static void distill_pair(const char *tag, const char *extra, int soft) {
    ensure_root();
    char common[2048], r1[700], r2[700];
    snprintf(r1, sizeof r1, "%s/%s_1", g_root, tag);
    snprintf(r2, sizeof r2, "%s/%s_2", g_root, tag);
    snprintf(common, sizeof common,
             "distill --dataset MNIST --data_path %s --buffer_path %s --model ConvNetW32 --expert_epochs 1 "
             "--max_start_epoch 2 --syn_steps 3 --Iteration 1 --num_eval 0 --lr_img 100 --seed 5 %s",
             g_data, g_buf, extra);
    TuRun a = tu_clmtt(g_root, "%s --save_path %s", common, r1);
    TU_EXPECT_OK(a);
    char args[3000];
    snprintf(args, sizeof args, "%s --save_path %s", common, r2);
    TuRun b = mpi2(args);
    TU_EXPECT_OK(b);
    check_update(r1, r2, "images", 1e-5);
    check_update(r1, r2, "lr", 1e-5);
    check_metric(r1, r2, "grad_syn_lr", 1e-5);
    check_metric(r1, r2, "loss", 1e-5);
    if (soft) check_update(r1, r2, "labels", 1e-5);
    tu_run_free(&a);
    tu_run_free(&b);
}

START_TEST(distill_plain) { distill_pair("plain", "--ipc 2 --dsa False", 0); }
END_TEST

/* 30 rows in batches of 7: steps of 2, 7 and 7 rows, split 1+1, 3+4, 3+4 over the ranks. */
START_TEST(distill_dsa_uneven) { distill_pair("dsa", "--ipc 3 --batch_syn 7", 0); }
END_TEST

START_TEST(distill_texture) {
    distill_pair("texture", "--ipc 1 --texture True --canvas_size 2 --canvas_samples 2", 0);
}
END_TEST

/* Three expert segments per iteration: ranks 0 and 1 unroll segments 0, 2 and 1 whole. */
START_TEST(distill_segments) { distill_pair("segments", "--ipc 2 --num_trajectories 3", 0); }
END_TEST

/* The matching loss at the closest student step: the reverse sweep starts there. */
START_TEST(distill_auto_match) { distill_pair("automatch", "--ipc 2 --dsa False --auto_match True", 0); }
END_TEST

START_TEST(distill_soft_labels) { distill_pair("soft", "--ipc 2 --dsa False --soft_labels True --lr_y 10", 1); }
END_TEST

/* ---- failures ---- */

START_TEST(failing_rank_ends_job) {
    ensure_root();
    /* Rank 1 alone is given a data folder that does not exist (MPMD: one command line per
     * rank); rank 0 would otherwise wait for it in the first collective forever. */
    char line[4096];
    snprintf(line, sizeof line,
             "timeout 300 mpirun --oversubscribe -np 1 '%s' eval --dataset MNIST --data_path %s --random_real 1 "
             "--num_eval 2 --epoch_eval_train 1 --seed 1 : -np 1 '%s' eval --dataset MNIST --data_path %s/missing "
             "--random_real 1 --num_eval 2 --epoch_eval_train 1 --seed 1",
             tu_clmtt_bin(), g_data, tu_clmtt_bin(), g_root);
    TuRun r = tu_shell(g_root, "%s", line);
    ck_assert_msg(r.status != 0 && r.status != MPI_TIMEOUT_STATUS,
                  "%s: exit status %d (124: the job hung until timeout)", r.log, r.status);
    TU_ASSERT_HAS(r.err, "clmtt: rank 1: ");
    TU_ASSERT_HAS(r.err, "/missing");
    tu_run_free(&r);
}
END_TEST

START_TEST(batch_norm_refused) {
    ensure_root();
    char args[2048];
    snprintf(args, sizeof args, "distill --dataset MNIST --data_path %s --buffer_path %s --model ConvNetBN "
             "--Iteration 1 --num_eval 0 --seed 1 --save_path %s/bn", g_data, g_buf, g_root);
    TuRun r = mpi2(args);
    ck_assert_msg(r.status != 0 && r.status != MPI_TIMEOUT_STATUS, "%s: exit status %d", r.log, r.status);
    TU_ASSERT_HAS(r.err, "batch norm");
    TU_ASSERT_HAS(r.err, "2 ranks");
    tu_run_free(&r);
}
END_TEST

static int have_mpirun(void) { return system("command -v mpirun >/dev/null 2>&1") == 0; }

int main(void) {
    if (!have_mpirun()) {
        printf("mpirun not found (Debian: openmpi-bin): skipped\n");
        return 77;
    }
    /* Open MPI refuses to start as root without both. */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    /* Under AddressSanitizer (tools/test.sh --sanitize) the ranks run without the leak check:
     * Open MPI unloads its components at MPI_Finalize, so LeakSanitizer reports their
     * allocations under no module it can attribute or suppress. Memory errors and undefined
     * behaviour stay fatal, and the same commands run leak-checked without MPI elsewhere. */
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan) {
        char opts[2048];
        snprintf(opts, sizeof opts, "%s:detect_leaks=0", asan);
        setenv("ASAN_OPTIONS", opts, 1);
    }
    Suite *s = suite_create("mpi");
    TCase *t = tcase_create("mpi");
    tcase_set_timeout(t, 3000);
    tcase_add_test(t, failing_rank_ends_job);
    tcase_add_test(t, batch_norm_refused);
    tcase_add_test(t, buffer_files_identical);
    tcase_add_test(t, buffer_zca_identical);
    tcase_add_test(t, eval_results_identical);
    tcase_add_test(t, distill_plain);
    tcase_add_test(t, distill_dsa_uneven);
    tcase_add_test(t, distill_texture);
    tcase_add_test(t, distill_soft_labels);
    tcase_add_test(t, distill_segments);
    tcase_add_test(t, distill_auto_match);
    suite_add_tcase(s, t);
    return tu_run(s);
}
