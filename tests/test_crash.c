/* Crash safety and determinism of the commands that write, through the clmtt binary
 * (CLMTT_BIN) on a stand-in MNIST (tests/standin.h):
 *   - clmtt buffer and clmtt distill are killed with SIGKILL at 20 moments each, drawn over
 *     a whole run (so writes are among them); after every kill each file of the output folder
 *     loads completely (safetensors, PNG, GIF, every line of metrics.jsonl) or is absent. Two
 *     kinds of leftovers are by design and counted: <name>.tmp.<pid> (a write that never got
 *     its final name; the next run into the folder removes it) and an empty
 *     replay_buffer_N.safetensors (a name claimed before its first expert; readers skip it);
 *   - a buffer run started again writes its files from the next free index on;
 *   - a distill run continues from a killed run's images_last.safetensors (--init_syn);
 *   - past a file size limit (ulimit -f) a write fails with a message naming the file, and
 *     the file's previous version is left intact;
 *   - the same seed on the same device writes byte-identical trajectory and set files. */
#include "io/png.h"
#include "io/safetensors.h"
#include "io/synset.h"
#include "standin.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <gif_lib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { KILLS = 20 };

static char *g_root, g_data[600], g_ref_buf[600];

#define BUFFER_FLAGS "--dataset=MNIST --model=ConvNetW32 --num_experts=3 --train_epochs=2 --save_interval=1 " \
                     "--batch_train=32 --seed=1"
#define DISTILL_FLAGS "--dataset=MNIST --model=ConvNetW32 --ipc=1 --syn_steps=2 --expert_epochs=1 " \
                      "--max_start_epoch=1 --Iteration=6 --eval_it=2 --num_eval=1 --epoch_eval_train=2 --seed=5"

static void make_root(void) {
    g_root = tu_tempdir("crash");
    snprintf(g_data, sizeof g_data, "%s/data", g_root);
    snprintf(g_ref_buf, sizeof g_ref_buf, "%s/ref_buffers", g_root);
    standin_mnist(g_data, 100, 30, 3);
}

static double wall(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* ---- what a file must be to count as whole ---- */

typedef struct { int whole, temps, claimed; } Census;

static void check_safetensors(const char *path) {
    StFile f;
    char err[512];
    ck_assert_msg(st_open(path, &f, err, sizeof err) == 0, "%s does not load: %s", path, err);
    st_close(&f);
}

static void load_set(void *path) {
    SynSet s;
    synset_load(path, &s);
    synset_free(&s);
}

static void check_set(const char *path) {
    char err[2000];
    int st = tu_in_child(load_set, (void *)path, err, sizeof err);
    ck_assert_msg(st == 0, "%s does not load as a set (status %d): %s", path, st, err);
}

static void check_png(const char *path) {
    uint8_t *pix;
    int w, h;
    char err[512];
    ck_assert_msg(png_read_rgb8(path, &pix, &w, &h, err, sizeof err) == 0, "%s does not decode: %s", path, err);
    free(pix);
}

static void check_gif(const char *path) {
    int e;
    GifFileType *g = DGifOpenFileName(path, &e);
    ck_assert_msg(g != NULL, "%s does not open as a GIF: %s", path, GifErrorString(e));
    ck_assert_msg(DGifSlurp(g) == GIF_OK && g->ImageCount >= 1, "%s does not decode: %s", path,
                  GifErrorString(g->Error));
    DGifCloseFile(g, &e);
}

/* Every line ends with a newline and parses as JSON. */
static void check_jsonl(const char *path) {
    char *text = tu_read_text(path);
    size_t n = strlen(text);
    ck_assert_msg(n == 0 || text[n - 1] == '\n', "%s ends in a partial line", path);
    int line = 0;
    for (char *p = text, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        *nl = 0;
        line++;
        cJSON *j = cJSON_Parse(p);
        ck_assert_msg(j != NULL, "%s line %d is not JSON: %.200s", path, line, p);
        cJSON_Delete(j);
    }
    free(text);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Checks every file of dir (absent: nothing to check) and counts them. */
static void check_folder(const char *dir, Census *c) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *path = tu_path(dir, e->d_name);
        size_t len = 0;
        unsigned char *bytes = read_file(path, &len);
        if (!bytes) { free(path); continue; }   /* a subfolder */
        free(bytes);
        if (strstr(e->d_name, ".tmp.")) {
            c->temps++;
        } else if (len == 0 && strncmp(e->d_name, "replay_buffer_", 14) == 0) {
            c->claimed++;
        } else if (strncmp(e->d_name, "replay_buffer_", 14) == 0 || strcmp(e->d_name, "zca.safetensors") == 0) {
            check_safetensors(path);
            c->whole++;
        } else if (ends_with(e->d_name, ".safetensors")) {
            check_set(path);
            c->whole++;
        } else if (ends_with(e->d_name, ".png")) {
            check_png(path);
            c->whole++;
        } else if (ends_with(e->d_name, ".gif")) {
            check_gif(path);
            c->whole++;
        } else if (ends_with(e->d_name, ".jsonl")) {
            check_jsonl(path);
            c->whole++;
        } else {
            ck_abort_msg("%s: a file the commands do not write", path);
        }
        free(path);
    }
    closedir(d);
}

/* ---- killing ---- */

/* Runs `clmtt <words>` to the end and returns its wall time. */
static double timed_run(const char *words) {
    double t0 = wall();
    TuRun r = tu_clmtt(g_root, "%s", words);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    return wall() - t0;
}

/* The time of a run with the compiled kernels already cached: the second of two. */
static double warm_run_time(const char *words) {
    timed_run(words);
    return timed_run(words);
}

/* Starts `clmtt <words>` and kills it with SIGKILL after `after` seconds (or lets it end
 * first). Returns 1 when the kill landed. */
static int kill_after(const char *words, double after) {
    char buf[2000], *args[40];
    snprintf(buf, sizeof buf, "%s", words);
    int n = 0;
    for (char *t = strtok(buf, " "); t && n < 39; t = strtok(NULL, " ")) args[n++] = t;
    args[n] = NULL;
    pid_t pid = tu_clmtt_start(args, NULL, NULL);
    double t0 = wall();
    int status;
    while (wall() - t0 < after) {
        if (waitpid(pid, &status, WNOHANG) == pid) return 0;
        usleep(2000);
    }
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* The moments, spread over [0, 0.9 x a warm run's time), from a fixed stream (a run on a
 * busy machine may take longer or shorter than the one measured). */
static double kill_moment(Rng *r, double run_time) { return 0.9 * run_time * rng_uniform(r); }

START_TEST(buffer_killed_leaves_whole_files_and_continues) {
    char buf[700], edir[800], words[4000];
    snprintf(buf, sizeof buf, "%s/kill_buffers", g_root);
    snprintf(edir, sizeof edir, "%s/MNIST_NO_ZCA/ConvNetW32", buf);
    snprintf(words, sizeof words, "buffer %s --data_path=%s --buffer_path=%s/warm", BUFFER_FLAGS, g_data, g_root);
    double t = warm_run_time(words);
    snprintf(words, sizeof words, "buffer %s --data_path=%s --buffer_path=%s", BUFFER_FLAGS, g_data, buf);
    Rng r;
    rng_init(&r, 11, 0);
    Census c = {0};
    int landed = 0;
    for (int k = 0; k < KILLS; k++) {
        landed += kill_after(words, kill_moment(&r, t));
        Census once = {0};
        check_folder(edir, &once);
        c = once;
    }
    printf("buffer: %d of %d kills landed; afterwards %d whole files, %d temporary, %d claimed and empty\n", landed,
           KILLS, c.whole, c.temps, c.claimed);
    ck_assert_msg(landed >= KILLS / 4, "only %d of %d kills landed before the run ended", landed, KILLS);

    /* Started again: the next free indices, and the unfinished temporaries are removed. */
    int before = 0;
    char path[1000];
    for (;; before++) {
        snprintf(path, sizeof path, "%s/replay_buffer_%d.safetensors", edir, before);
        if (!file_exists(path)) break;
    }
    TuRun run = tu_clmtt(g_root, "%s", words);
    TU_EXPECT_OK(run);
    if (c.temps) TU_ASSERT_HAS(run.out, "unfinished temporary file");
    tu_run_free(&run);
    for (int i = before; i < before + 3; i++) {
        snprintf(path, sizeof path, "%s/replay_buffer_%d.safetensors", edir, i);
        StFile f;
        char err[512];
        ck_assert_msg(st_open(path, &f, err, sizeof err) == 0, "%s: %s", path, err);
        ck_assert_int_eq(st_find(&f, "trajectories")->shape[0], 1);
        st_close(&f);
    }
    snprintf(path, sizeof path, "%s/replay_buffer_%d.safetensors", edir, before + 3);
    ck_assert_msg(!file_exists(path), "the run wrote more than its 3 files");
    Census after = {0};
    check_folder(edir, &after);
    ck_assert_int_eq(after.temps, 0);
}
END_TEST

START_TEST(distill_killed_leaves_whole_files_and_continues) {
    char run[700], words[4000];
    snprintf(run, sizeof run, "%s/kill_run", g_root);
    snprintf(words, sizeof words, "buffer %s --data_path=%s --buffer_path=%s", BUFFER_FLAGS, g_data, g_ref_buf);
    char first[800];
    snprintf(first, sizeof first, "%s/MNIST_NO_ZCA/ConvNetW32/replay_buffer_0.safetensors", g_ref_buf);
    if (!file_exists(first)) timed_run(words);
    char ref[700];
    snprintf(ref, sizeof ref, "%s/ref_run", g_root);
    snprintf(words, sizeof words, "distill %s --data_path=%s --buffer_path=%s --save_path=%s", DISTILL_FLAGS, g_data,
             g_ref_buf, ref);
    double t = warm_run_time(words);
    snprintf(words, sizeof words, "distill %s --data_path=%s --buffer_path=%s --save_path=%s", DISTILL_FLAGS, g_data,
             g_ref_buf, run);
    Rng r;
    rng_init(&r, 12, 0);
    Census c = {0};
    int landed = 0;
    for (int k = 0; k < KILLS; k++) {
        landed += kill_after(words, kill_moment(&r, t));
        Census once = {0};
        check_folder(run, &once);
        c = once;
    }
    printf("distill: %d of %d kills landed; afterwards %d whole files, %d temporary\n", landed, KILLS, c.whole,
           c.temps);
    ck_assert_msg(landed >= KILLS / 4, "only %d of %d kills landed before the run ended", landed, KILLS);

    /* A killed run's checkpoint starts the next one. */
    char last[800], cont[700];
    snprintf(last, sizeof last, "%s/images_last.safetensors", run);
    snprintf(cont, sizeof cont, "%s/continued", g_root);
    ck_assert_msg(file_exists(last), "no images_last.safetensors after %d kills", KILLS);
    TuRun go = tu_clmtt(g_root, "distill --dataset=MNIST --model=ConvNetW32 --syn_steps=2 --expert_epochs=1 "
                        "--max_start_epoch=1 --Iteration=2 --num_eval=0 --data_path=%s --buffer_path=%s "
                        "--init_syn=%s --save_path=%s", g_data, g_ref_buf, last, cont);
    TU_EXPECT_OK(go);
    tu_run_free(&go);
    snprintf(last, sizeof last, "%s/images_last.safetensors", cont);
    check_set(last);
}
END_TEST

START_TEST(file_size_limit_names_the_file_and_keeps_the_old_one) {
    char run[700], words[4000], set[800];
    snprintf(run, sizeof run, "%s/limited_run", g_root);
    char first[800];
    snprintf(first, sizeof first, "%s/MNIST_NO_ZCA/ConvNetW32/replay_buffer_0.safetensors", g_ref_buf);
    if (!file_exists(first)) {
        snprintf(words, sizeof words, "buffer %s --data_path=%s --buffer_path=%s", BUFFER_FLAGS, g_data, g_ref_buf);
        timed_run(words);
    }
    /* A set of 500 images (1.5 MiB, no pictures at ipc 50) against a limit of 1 MiB, which the
     * metrics lines and the OpenCL runtime's own cache files stay under. */
    snprintf(words, sizeof words, "distill %s --ipc=50 --pix_init=noise --data_path=%s --buffer_path=%s --save_path=%s",
             DISTILL_FLAGS, g_data, g_ref_buf, run);
    warm_run_time(words);   /* the OpenCL runtime's compiler must not be what hits the limit */
    snprintf(set, sizeof set, "%s/images_0.safetensors", run);
    size_t len0, len1;
    unsigned char *before = read_file(set, &len0);
    ck_assert(before != NULL && len0 > 1024 * 1024);
    TuRun r = tu_shell(g_root, "bash -c 'ulimit -f 1024; exec %s %s'", tu_clmtt_bin(), words);
    TU_EXPECT_FAIL_WITH(r, "cannot write");
    TU_EXPECT_FAIL_WITH(r, set);
    TU_EXPECT_FAIL_WITH(r, "File too large");
    tu_run_free(&r);
    unsigned char *after = read_file(set, &len1);
    ck_assert_msg(after && len1 == len0 && memcmp(before, after, len0) == 0, "%s changed", set);
    Census c = {0};
    check_folder(run, &c);
    ck_assert_int_eq(c.temps, 0);
    free(before);
    free(after);
}
END_TEST

static int same_bytes(const char *a, const char *b) {
    size_t la, lb;
    unsigned char *x = read_file(a, &la), *y = read_file(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

START_TEST(same_seed_same_bytes) {
    char buf[2][700], run[2][700], a[900], b[900];
    for (int i = 0; i < 2; i++) {
        snprintf(buf[i], sizeof buf[i], "%s/det_buffers%d", g_root, i);
        snprintf(run[i], sizeof run[i], "%s/det_run%d", g_root, i);
        TuRun r = tu_clmtt(g_root, "buffer %s --data_path=%s --buffer_path=%s", BUFFER_FLAGS, g_data, buf[i]);
        TU_EXPECT_OK(r);
        tu_run_free(&r);
        r = tu_clmtt(g_root, "distill %s --data_path=%s --buffer_path=%s --save_path=%s", DISTILL_FLAGS, g_data, buf[i],
                     run[i]);
        TU_EXPECT_OK(r);
        tu_run_free(&r);
    }
    for (int k = 0; k < 3; k++) {
        snprintf(a, sizeof a, "%s/MNIST_NO_ZCA/ConvNetW32/replay_buffer_%d.safetensors", buf[0], k);
        snprintf(b, sizeof b, "%s/MNIST_NO_ZCA/ConvNetW32/replay_buffer_%d.safetensors", buf[1], k);
        ck_assert_msg(same_bytes(a, b), "%s and %s differ", a, b);
    }
    const char *sets[] = {"images_0.safetensors", "images_2.safetensors", "images_6.safetensors",
                          "images_best.safetensors", "images_last.safetensors"};
    for (int k = 0; k < 5; k++) {
        snprintf(a, sizeof a, "%s/%s", run[0], sets[k]);
        snprintf(b, sizeof b, "%s/%s", run[1], sets[k]);
        ck_assert_msg(same_bytes(a, b), "%s and %s differ", a, b);
    }
}
END_TEST

int main(void) {
    tu_init();
    make_root();
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("crash");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, buffer_killed_leaves_whole_files_and_continues);
    tcase_add_test(tc, distill_killed_leaves_whole_files_and_continues);
    tcase_add_test(tc, file_size_limit_names_the_file_and_keeps_the_old_one);
    tcase_add_test(tc, same_seed_same_bytes);
    suite_add_tcase(s, tc);
    int failed = tu_run(s);
    if (!failed) tu_rm_tree(g_root);
    return failed;
}
