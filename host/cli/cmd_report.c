/* clmtt report RUN_DIR: a distill run folder summed up (settings, best and last accuracy per
 * model, time per iteration, peak memory, where the files are) from its metrics.jsonl and
 * set files, with curves.png and evolution.gif drawn anew (docs/formats.md#run-reports).
 * --json prints the same as one JSON object. */
#include "cli/cli.h"
#include "cli/commands.h"
#include "core/progress.h"
#include "core/util.h"
#include "io/report.h"
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* A file of the run folder, when it is there: {"name", "path"} plus the set's iteration. */
static void add_file(cJSON *files, const char *dir, const char *name) {
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!file_exists(path)) return;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "name", name);
    cJSON_AddStringToObject(f, "path", path);
    StFile st;
    if (strstr(name, ".safetensors") && st_open(path, &st, NULL, 0) == 0) {
        const char *it = st_meta(&st, "iteration");
        if (it) cJSON_AddNumberToObject(f, "iteration", atof(it));
        st_close(&st);
    }
    cJSON_AddItemToArray(files, f);
}

/* Settings of a run without a settings line (older runs): what its set files record. */
static cJSON *settings_from_sets(const char *dir) {
    const char *stems[] = {"images_last", "images_best", "images_0"};
    for (int i = 0; i < 3; i++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, stems[i]);
        StFile st;
        if (st_open(path, &st, NULL, 0) != 0) continue;
        cJSON *s = cJSON_CreateObject();
        const char *keys[] = {"dataset", "subset", "model", "ipc", "zca", "texture", "canvas_size"};
        for (int k = 0; k < 7; k++) {
            const char *v = st_meta(&st, keys[k]);
            if (v) cJSON_AddStringToObject(s, keys[k], v);
        }
        st_close(&st);
        return s;
    }
    return cJSON_CreateObject();
}

static cJSON *summary(const char *dir, const RunMetrics *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run", dir);
    cJSON *settings = m->settings_json ? cJSON_Parse(m->settings_json) : NULL;
    cJSON_AddItemToObject(o, "settings", settings ? settings : settings_from_sets(dir));

    /* Updates: count, time, memory; the end line's figures when the run finished. */
    double secs = 0, peak = 0;
    int timed = 0;
    for (int i = 0; i < m->nsteps; i++) {
        if (isfinite(m->steps[i].seconds)) { secs += m->steps[i].seconds; timed++; }
        if (m->steps[i].peak_bytes > peak) peak = m->steps[i].peak_bytes;
    }
    cJSON_AddNumberToObject(o, "updates", m->done ? m->updates : m->nsteps);
    add_num(o, "seconds_per_iteration", m->done ? m->seconds_per_iteration : timed ? secs / timed : NAN);
    add_num(o, "peak_device_bytes", m->done && isfinite(m->peak_bytes) ? m->peak_bytes : peak > 0 ? peak : NAN);
    const char *status = !m->done ? "unfinished (running, or stopped without its end line)"
                         : m->status == 0 ? "finished" : m->status == 1 ? "diverged"
                         : m->status == 130 ? "interrupted" : "stopped";
    cJSON_AddStringToObject(o, "status", status);
    if (m->nsteps) {
        double *sm = xmalloc((size_t)m->nsteps * sizeof(double));
        run_loss_smoothed(m, sm);
        const RunStep *first = &m->steps[0], *last = &m->steps[m->nsteps - 1];
        cJSON *l = cJSON_AddObjectToObject(o, "loss");
        add_num(l, "first", first->loss);
        add_num(l, "last", last->loss);
        add_num(l, "last_smoothed", sm[m->nsteps - 1]);
        cJSON_AddNumberToObject(l, "last_iteration", last->it);
        add_num(o, "syn_lr", last->syn_lr);
        free(sm);
    }

    cJSON *models = cJSON_AddArrayToObject(o, "accuracy");
    for (int k = 0; k < m->nmodels; k++) {
        const RunEvals *e = &m->models[k];
        int b = -1;
        for (int i = 0; i < e->n; i++)
            if (isfinite(e->mean[i]) && (b < 0 || e->mean[i] > e->mean[b])) b = i;
        cJSON *mj = cJSON_CreateObject();
        cJSON_AddStringToObject(mj, "model", e->model);
        cJSON_AddNumberToObject(mj, "evaluations", e->n);
        if (b >= 0) {
            cJSON *bj = cJSON_AddObjectToObject(mj, "best");
            cJSON_AddNumberToObject(bj, "iteration", e->it[b]);
            add_num(bj, "mean", e->mean[b]);
            add_num(bj, "std", e->std[b]);
        }
        if (e->n) {
            cJSON *lj = cJSON_AddObjectToObject(mj, "last");
            cJSON_AddNumberToObject(lj, "iteration", e->it[e->n - 1]);
            add_num(lj, "mean", e->mean[e->n - 1]);
            add_num(lj, "std", e->std[e->n - 1]);
        }
        cJSON_AddItemToArray(models, mj);
    }

    cJSON *files = cJSON_AddArrayToObject(o, "files");
    const char *names[] = {"metrics.jsonl", "curves.png", "evolution.gif", "images_best.safetensors",
                           "images_last.safetensors"};
    for (int i = 0; i < 5; i++) add_file(files, dir, names[i]);
    int *its;
    int n = run_saved_iterations(dir, &its);
    cJSON *saved = cJSON_AddArrayToObject(o, "saved_iterations");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(saved, cJSON_CreateNumber(its[i]));
    free(its);
    return o;
}

static const char *get_str(const cJSON *o, const char *k) { return cJSON_GetStringValue(cJSON_GetObjectItem(o, k)); }
static double get_num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void print_summary(const cJSON *o) {
    printf("Run folder: %s (%s)\n", get_str(o, "run"), get_str(o, "status"));
    const cJSON *s = cJSON_GetObjectItem(o, "settings"), *it;
    printf("Settings:");
    cJSON_ArrayForEach(it, s) {
        if (cJSON_IsString(it)) printf(" %s=%s", it->string, it->valuestring);
        else if (cJSON_IsBool(it)) printf(" %s=%s", it->string, cJSON_IsTrue(it) ? "True" : "False");
        else if (cJSON_IsNumber(it)) printf(" %s=%.9g", it->string, it->valuedouble);
    }
    printf("\n");
    char pk[32], spi[32] = "?";
    double peak = get_num(o, "peak_device_bytes"), sec = get_num(o, "seconds_per_iteration");
    if (isfinite(sec)) snprintf(spi, sizeof spi, "%.3f s", sec);
    printf("Updates: %.0f, %s per iteration, peak device memory %s\n", get_num(o, "updates"), spi,
           isfinite(peak) ? human_bytes(peak, pk, sizeof pk) : "?");
    const cJSON *l = cJSON_GetObjectItem(o, "loss");
    if (l)
        printf("Matching loss: first %.4g, last %.4g (smoothed %.4g) at iteration %.0f; syn_lr %.6g\n",
               get_num(l, "first"), get_num(l, "last"), get_num(l, "last_smoothed"), get_num(l, "last_iteration"),
               get_num(o, "syn_lr"));
    const cJSON *acc = cJSON_GetObjectItem(o, "accuracy");
    if (cJSON_GetArraySize(acc) == 0) printf("Accuracy: no evaluations\n");
    cJSON_ArrayForEach(it, acc) {
        const cJSON *b = cJSON_GetObjectItem(it, "best"), *la = cJSON_GetObjectItem(it, "last");
        printf("Accuracy of %s: best %.4f +- %.4f (iteration %.0f), last %.4f +- %.4f (iteration %.0f)\n",
               get_str(it, "model"), get_num(b, "mean"), get_num(b, "std"), get_num(b, "iteration"), get_num(la, "mean"),
               get_num(la, "std"), get_num(la, "iteration"));
    }
    printf("Files:\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "files")) {
        double i = get_num(it, "iteration");
        if (isfinite(i)) printf("  %s (iteration %.0f)\n", get_str(it, "path"), i);
        else printf("  %s\n", get_str(it, "path"));
    }
    const cJSON *saved = cJSON_GetObjectItem(o, "saved_iterations");
    int n = cJSON_GetArraySize(saved);
    if (n)
        printf("  %s/images_<it>.safetensors: %d set%s, iterations %.0f..%.0f\n", get_str(o, "run"), n, n == 1 ? "" : "s",
               cJSON_GetArrayItem(saved, 0)->valuedouble, cJSON_GetArrayItem(saved, n - 1)->valuedouble);
}

int cmd_report(int argc, char **argv) {
    int json = 0, pictures = 1;
    Flag flags[] = {
        {"json", FLAG_BOOL, &json, "print one JSON object instead of text", 0},
        {"pictures", FLAG_BOOL, &pictures, "draw curves.png and evolution.gif anew", 0},
    };
    FlagSet fs = {"report", "Sum up a distill run folder (clmtt report RUN_DIR) and draw its curves.png and evolution.gif.",
                  flags, (int)(sizeof flags / sizeof flags[0])};
    const char *dir = NULL;
    char **fargv = xmalloc((size_t)(argc + 1) * sizeof(char *));
    int fargc = 1;
    fargv[0] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-", 1) == 0) {
            fargv[fargc++] = argv[i];
            if (!strchr(argv[i], '=') && i + 1 < argc && cli_parse_bool(argv[i + 1]) >= 0) fargv[fargc++] = argv[++i];
        } else if (!dir) {
            dir = argv[i];
        } else {
            die("report: one run folder at a time (got '%s' and '%s')", dir, argv[i]);
        }
    }
    cli_parse(&fs, fargc, fargv);
    free(fargv);
    if (!dir) die("report: give the run folder: clmtt report RUN_DIR (see 'clmtt report --help')");
    if (!dir_exists(dir)) die("report: %s is not a folder", dir);
    RunMetrics m;
    char err[4600];
    if (run_metrics_read(dir, &m, err, sizeof err) != 0) die("report: %s (is %s a distill run folder?)", err, dir);
    if (m.bad_lines) warn("%s/metrics.jsonl: %d line%s that are not JSON objects were skipped", dir, m.bad_lines,
                          m.bad_lines == 1 ? "" : "s");
    int status = 0;
    if (pictures) {
        /* Drawn before the summary, so that its file list holds them. */
        if (report_curves(dir, &m, err, sizeof err) != 0) {
            warn("curves.png not written: %s", err);
            status = 1;
        }
        int *its;
        int n = run_saved_iterations(dir, &its);
        free(its);
        if (n && report_evolution(dir, err, sizeof err) != 0) {
            warn("evolution.gif not written: %s", err);
            status = 1;
        }
    }
    cJSON *o = summary(dir, &m);
    if (json) {
        char *s = cJSON_Print(o);
        printf("%s\n", s);
        free(s);
    } else {
        print_summary(o);
    }
    cJSON_Delete(o);
    run_metrics_free(&m);
    return status;
}
