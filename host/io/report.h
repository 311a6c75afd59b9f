/* Run reports of a clmtt distill run folder (docs/formats.md#run-reports): its metrics.jsonl
 * read into series, curves.png (matching loss raw and smoothed, syn_lr, evaluation accuracy
 * mean +- std per model, drawn with cairo) and evolution.gif (the set's grid at each saved
 * iteration, giflib). Everything here reports problems instead of dying, so a run that
 * writes its report never stops because of it. */
#ifndef CLMTT_REPORT_H
#define CLMTT_REPORT_H

#include <stddef.h>

typedef struct {
    int it;
    double loss, syn_lr, seconds, peak_bytes;
} RunStep;

typedef struct {
    char model[64];
    int n;
    int *it;
    double *mean, *std;
    double syn_lr_last;
} RunEvals;

enum { REPORT_MAX_MODELS = 16 };

typedef struct {
    int nsteps;
    RunStep *steps;                  /* the update lines, in file order */
    int nmodels;
    RunEvals models[REPORT_MAX_MODELS];
    char *settings_json;             /* the last "settings" line's object (malloc'd JSON), or NULL */
    int done, updates, status;       /* the last "done" line, when there is one */
    double seconds_per_iteration, peak_bytes;
    int bad_lines;                   /* lines that are not JSON objects (skipped) */
} RunMetrics;

/* Reads <dir>/metrics.jsonl. Returns 0, or -1 with "path: why" in err. */
int run_metrics_read(const char *dir, RunMetrics *m, char *err, size_t errlen);
void run_metrics_free(RunMetrics *m);
/* The trailing mean of loss over a window of w = clamp(n / 20, 1, 100) updates (out[nsteps]). */
void run_loss_smoothed(const RunMetrics *m, double *out);

/* The saved sets images_<it>.safetensors of dir, sorted by it: their iterations (malloc'd) and count. */
int run_saved_iterations(const char *dir, int **its);

/* <dir>/curves.png from m. Returns 0, or -1 with err. */
int report_curves(const char *dir, const RunMetrics *m, char *err, size_t errlen);
/* <dir>/evolution.gif from the images_<it> sets (pixel-space images_zca when present): one
 * frame per set, at most 10 images per class and 100 in all. Returns 0, or -1 with err
 * (also when there is no set to show). */
int report_evolution(const char *dir, char *err, size_t errlen);
/* Both pictures of a run folder; a problem is printed as a warning and 1 returned, else 0. */
int report_write(const char *dir);

#endif
