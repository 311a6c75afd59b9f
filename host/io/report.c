/* Run reports: metrics.jsonl into series, curves.png through cairo, evolution.gif through
 * giflib (docs/formats.md#run-reports). */
#include "io/report.h"
#include "core/util.h"
#include "io/png.h"
#include "io/safetensors.h"

#include <cairo.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <gif_lib.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ------------------------------------------------------------------ metrics */

static double num(const cJSON *o, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static RunEvals *evals_of(RunMetrics *m, const char *model) {
    for (int i = 0; i < m->nmodels; i++)
        if (strcmp(m->models[i].model, model) == 0) return &m->models[i];
    if (m->nmodels == REPORT_MAX_MODELS) return NULL;
    RunEvals *e = &m->models[m->nmodels++];
    memset(e, 0, sizeof *e);
    snprintf(e->model, sizeof e->model, "%s", model);
    return e;
}

int run_metrics_read(const char *dir, RunMetrics *m, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->status = -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    size_t len;
    char *text = (char *)read_file(path, &len);
    if (!text) return fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    int cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            /* A line being written when the file was read, or damage: skipped and counted. */
            m->bad_lines++;
            cJSON_Delete(o);
            continue;
        }
        const cJSON *settings = cJSON_GetObjectItemCaseSensitive(o, "settings");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "eval_model");
        if (cJSON_IsObject(settings)) {
            free(m->settings_json);
            m->settings_json = cJSON_PrintUnformatted(settings);
        } else if (cJSON_IsString(model)) {
            RunEvals *e = evals_of(m, model->valuestring);
            if (e) {
                e->it = xrealloc(e->it, (size_t)(e->n + 1) * sizeof(int));
                e->mean = xrealloc(e->mean, (size_t)(e->n + 1) * sizeof(double));
                e->std = xrealloc(e->std, (size_t)(e->n + 1) * sizeof(double));
                e->it[e->n] = (int)num(o, "iteration", 0);
                e->mean[e->n] = num(o, "accuracy_mean", NAN);
                e->std[e->n] = num(o, "accuracy_std", 0);
                e->syn_lr_last = num(o, "syn_lr", NAN);
                e->n++;
            }
        } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "done"))) {
            m->done = 1;
            m->updates = (int)num(o, "updates", 0);
            m->seconds_per_iteration = num(o, "seconds_per_iteration", NAN);
            m->peak_bytes = num(o, "peak_device_bytes", NAN);
            m->status = (int)num(o, "status", 0);
        } else if (cJSON_GetObjectItemCaseSensitive(o, "loss") && cJSON_GetObjectItemCaseSensitive(o, "iteration")) {
            if (m->nsteps == cap) {
                cap = cap ? 2 * cap : 256;
                m->steps = xrealloc(m->steps, (size_t)cap * sizeof(RunStep));
            }
            /* A non-finite loss is logged by its runner as null or a string; it stays NaN here. */
            RunStep *s = &m->steps[m->nsteps++];
            s->it = (int)num(o, "iteration", 0);
            s->loss = num(o, "loss", NAN);
            s->syn_lr = num(o, "syn_lr", NAN);
            s->seconds = num(o, "seconds", NAN);
            s->peak_bytes = num(o, "peak_device_bytes", NAN);
        }
        cJSON_Delete(o);
    }
    free(text);
    return 0;
}

void run_metrics_free(RunMetrics *m) {
    free(m->steps);
    free(m->settings_json);
    for (int i = 0; i < m->nmodels; i++) {
        free(m->models[i].it);
        free(m->models[i].mean);
        free(m->models[i].std);
    }
    memset(m, 0, sizeof *m);
}

void run_loss_smoothed(const RunMetrics *m, double *out) {
    int n = m->nsteps, w = n / 20;
    if (w < 1) w = 1;
    if (w > 100) w = 100;
    double sum = 0;
    int cnt = 0;
    for (int i = 0; i < n; i++) {
        if (isfinite(m->steps[i].loss)) { sum += m->steps[i].loss; cnt++; }
        if (i >= w && isfinite(m->steps[i - w].loss)) { sum -= m->steps[i - w].loss; cnt--; }
        out[i] = cnt ? sum / cnt : NAN;
    }
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int run_saved_iterations(const char *dir, int **its) {
    *its = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *s = e->d_name;
        if (strncmp(s, "images_", 7) != 0 || s[7] < '0' || s[7] > '9') continue;
        char *end;
        long it = strtol(s + 7, &end, 10);
        if (strcmp(end, ".safetensors") != 0 || it < 0 || it > 1000000000L) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            *its = xrealloc(*its, (size_t)cap * sizeof(int));
        }
        (*its)[n++] = (int)it;
    }
    closedir(d);
    if (n) qsort(*its, (size_t)n, sizeof(int), cmp_int);
    return n;
}

/* ------------------------------------------------------------------ drawing */

/* The writes of cairo's PNG encoder, gathered in memory and then written atomically. */
typedef struct {
    unsigned char *data;
    size_t len, cap;
} MemBuf;

static void membuf_add(MemBuf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 4096;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static cairo_status_t png_sink(void *closure, const unsigned char *data, unsigned int length) {
    membuf_add(closure, data, length);
    return CAIRO_STATUS_SUCCESS;
}

static const double palette[][3] = {{0.12, 0.47, 0.71}, {1.0, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                                    {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50}};

typedef struct {
    double x0, y0, w, h;            /* the plot area in pixels */
    double xmin, xmax, ymin, ymax;  /* the data range shown */
} Axes;

static double ax_x(const Axes *a, double x) { return a->x0 + (x - a->xmin) / (a->xmax - a->xmin) * a->w; }
static double ax_y(const Axes *a, double y) { return a->y0 + a->h - (y - a->ymin) / (a->ymax - a->ymin) * a->h; }

/* A step of 1, 2 or 5 times a power of ten giving about `target` ticks over range. */
static double nice_step(double range, int target) {
    double raw = range / target, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* Widens [lo, hi] (finite values seen) by 5% each side; a flat or empty range gets room. */
static void pad_range(double *lo, double *hi) {
    if (!(*lo <= *hi)) { *lo = 0; *hi = 1; return; }
    double r = *hi - *lo;
    if (r <= 1e-12 * fmax(fabs(*lo), fabs(*hi)) || r == 0) {
        double d = fabs(*lo) > 0 ? 0.1 * fabs(*lo) : 1;
        *lo -= d;
        *hi += d;
        return;
    }
    *lo -= 0.05 * r;
    *hi += 0.05 * r;
}

static void text_at(cairo_t *cr, double x, double y, double size, int bold, double align, const char *s) {
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, s, &ext);
    cairo_move_to(cr, x - align * ext.x_advance, y);
    cairo_show_text(cr, s);
}

/* Frame, grid lines, tick labels, the title and the x label. */
static void draw_axes(cairo_t *cr, const Axes *a, const char *title, const char *ylabel) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, a->x0, a->y0, a->w, a->h);
    cairo_fill(cr);
    char lab[64];
    cairo_set_line_width(cr, 1);
    double xs = nice_step(a->xmax - a->xmin, 8), ys = nice_step(a->ymax - a->ymin, 6);
    if (xs < 1) xs = 1;   /* iterations are whole */
    for (double x = ceil(a->xmin / xs) * xs; x <= a->xmax + 1e-9 * xs; x += xs) {
        double px = ax_x(a, x);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, px, a->y0);
        cairo_line_to(cr, px, a->y0 + a->h);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        snprintf(lab, sizeof lab, "%.0f", x);
        text_at(cr, px, a->y0 + a->h + 16, 11, 0, 0.5, lab);
    }
    for (double y = ceil(a->ymin / ys) * ys; y <= a->ymax + 1e-9 * ys; y += ys) {
        double py = ax_y(a, y);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, a->x0, py);
        cairo_line_to(cr, a->x0 + a->w, py);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        snprintf(lab, sizeof lab, "%.4g", fabs(y) < 1e-12 * ys ? 0.0 : y);
        text_at(cr, a->x0 - 6, py + 4, 11, 0, 1, lab);
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_rectangle(cr, a->x0, a->y0, a->w, a->h);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, a->x0, a->y0 - 10, 14, 1, 0, title);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    text_at(cr, a->x0 + a->w, a->y0 + a->h + 32, 11, 0, 1, "iteration");
    text_at(cr, a->x0 + a->w, a->y0 - 10, 11, 0, 1, ylabel);
}

/* A polyline through the finite points (gaps at non-finite ones). */
static void draw_series(cairo_t *cr, const Axes *a, int n, const int *it, const RunStep *steps, const double *y,
                        double width) {
    int pen = 0;
    cairo_set_line_width(cr, width);
    cairo_save(cr);
    cairo_rectangle(cr, a->x0, a->y0, a->w, a->h);
    cairo_clip(cr);
    for (int i = 0; i < n; i++) {
        double x = it ? it[i] : steps[i].it;
        if (!isfinite(y[i])) { pen = 0; continue; }
        if (pen) cairo_line_to(cr, ax_x(a, x), ax_y(a, y[i]));
        else cairo_move_to(cr, ax_x(a, x), ax_y(a, y[i]));
        pen = 1;
    }
    cairo_stroke(cr);
    if (n == 1 && isfinite(y[0])) {   /* one point: a dot */
        cairo_arc(cr, ax_x(a, it ? it[0] : steps[0].it), ax_y(a, y[0]), 3, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    cairo_restore(cr);
}

/* rows < 0 count from the bottom (-1: the lowest), for curves that rise to the top right. */
static void legend(cairo_t *cr, const Axes *a, int row, const double *rgb, const char *s) {
    double x = a->x0 + a->w - 300, y = row >= 0 ? a->y0 + 18 + 17 * row : a->y0 + a->h + 2 + 17 * row;
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_rectangle(cr, x, y - 8, 18, 8);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text_at(cr, x + 24, y, 11, 0, 0, s);
}

static void empty_note(cairo_t *cr, const Axes *a, const char *s) {
    cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
    text_at(cr, a->x0 + a->w / 2, a->y0 + a->h / 2, 14, 0, 0.5, s);
}

int report_curves(const char *dir, const RunMetrics *m, char *err, size_t errlen) {
    const int W = 1000, PH = 330, H = 3 * PH + 20;
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 0.97, 0.97, 0.97);
    cairo_paint(cr);

    int n = m->nsteps, xmax = 1;
    for (int i = 0; i < n; i++) if (m->steps[i].it + 1 > xmax) xmax = m->steps[i].it + 1;
    for (int k = 0; k < m->nmodels; k++)
        for (int i = 0; i < m->models[k].n; i++) if (m->models[k].it[i] > xmax) xmax = m->models[k].it[i];
    Axes ax[3];
    for (int p = 0; p < 3; p++) ax[p] = (Axes){80, 40 + p * PH + 10, W - 110, PH - 90, 0, xmax, 0, 1};

    /* Matching loss: raw and smoothed. */
    double *raw = xmalloc((size_t)(n ? n : 1) * sizeof(double)), *smooth = xmalloc((size_t)(n ? n : 1) * sizeof(double));
    double *lr = xmalloc((size_t)(n ? n : 1) * sizeof(double));
    double lo = INFINITY, hi = -INFINITY, llo = INFINITY, lhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        raw[i] = m->steps[i].loss;
        lr[i] = m->steps[i].syn_lr;
        if (isfinite(raw[i])) { lo = fmin(lo, raw[i]); hi = fmax(hi, raw[i]); }
        if (isfinite(lr[i])) { llo = fmin(llo, lr[i]); lhi = fmax(lhi, lr[i]); }
    }
    run_loss_smoothed(m, smooth);
    pad_range(&lo, &hi);
    ax[0].ymin = lo; ax[0].ymax = hi;
    draw_axes(cr, &ax[0], "Matching loss", "loss");
    if (n) {
        const double light[3] = {0.62, 0.76, 0.90}, dark[3] = {0.05, 0.25, 0.60};
        cairo_set_source_rgb(cr, light[0], light[1], light[2]);
        draw_series(cr, &ax[0], n, NULL, m->steps, raw, 1);
        cairo_set_source_rgb(cr, dark[0], dark[1], dark[2]);
        draw_series(cr, &ax[0], n, NULL, m->steps, smooth, 2.5);
        int w = n / 20 < 1 ? 1 : n / 20 > 100 ? 100 : n / 20;
        char s[64];
        snprintf(s, sizeof s, "smoothed (mean of %d)", w);
        legend(cr, &ax[0], 0, light, "raw");
        legend(cr, &ax[0], 1, dark, s);
    } else {
        empty_note(cr, &ax[0], "no updates yet");
    }

    /* syn_lr after each update. */
    pad_range(&llo, &lhi);
    ax[1].ymin = llo; ax[1].ymax = lhi;
    draw_axes(cr, &ax[1], "Learned step size syn_lr", "syn_lr");
    if (n) {
        cairo_set_source_rgb(cr, 0.80, 0.30, 0.05);
        draw_series(cr, &ax[1], n, NULL, m->steps, lr, 2);
    } else {
        empty_note(cr, &ax[1], "no updates yet");
    }

    /* Evaluation accuracy: mean with a band of +- std, one colour per model. */
    double alo = INFINITY, ahi = -INFINITY;
    for (int k = 0; k < m->nmodels; k++)
        for (int i = 0; i < m->models[k].n; i++) {
            double mu = m->models[k].mean[i], sd = m->models[k].std[i];
            if (!isfinite(mu)) continue;
            alo = fmin(alo, mu - (isfinite(sd) ? sd : 0));
            ahi = fmax(ahi, mu + (isfinite(sd) ? sd : 0));
        }
    pad_range(&alo, &ahi);
    ax[2].ymin = fmax(alo, 0);
    ax[2].ymax = fmin(ahi, 1);
    if (!(ax[2].ymax > ax[2].ymin)) { ax[2].ymin = 0; ax[2].ymax = 1; }
    draw_axes(cr, &ax[2], "Test accuracy of fresh networks (mean \u00b1 std)", "accuracy");
    for (int k = 0; k < m->nmodels; k++) {
        const RunEvals *e = &m->models[k];
        const double *c = palette[k % 8];
        cairo_save(cr);
        cairo_rectangle(cr, ax[2].x0, ax[2].y0, ax[2].w, ax[2].h);
        cairo_clip(cr);
        cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.2);
        int started = 0;
        for (int i = 0; i < e->n; i++) {
            if (!isfinite(e->mean[i])) continue;
            double y = e->mean[i] + (isfinite(e->std[i]) ? e->std[i] : 0);
            if (started) cairo_line_to(cr, ax_x(&ax[2], e->it[i]), ax_y(&ax[2], y));
            else cairo_move_to(cr, ax_x(&ax[2], e->it[i]), ax_y(&ax[2], y));
            started = 1;
        }
        for (int i = e->n - 1; i >= 0 && started; i--) {
            if (!isfinite(e->mean[i])) continue;
            double y = e->mean[i] - (isfinite(e->std[i]) ? e->std[i] : 0);
            cairo_line_to(cr, ax_x(&ax[2], e->it[i]), ax_y(&ax[2], y));
        }
        if (started) {
            cairo_close_path(cr);
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        for (int i = 0; i < e->n; i++)
            if (isfinite(e->mean[i])) {
                cairo_arc(cr, ax_x(&ax[2], e->it[i]), ax_y(&ax[2], e->mean[i]), 3.5, 0, 2 * M_PI);
                cairo_fill(cr);
            }
        cairo_restore(cr);
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        draw_series(cr, &ax[2], e->n, e->it, NULL, e->mean, 2);
        double best = -1;
        int bi = -1;
        for (int i = 0; i < e->n; i++) if (e->mean[i] > best) { best = e->mean[i]; bi = i; }
        char s[128];
        if (bi >= 0) snprintf(s, sizeof s, "%s (best %.4f \u00b1 %.4f)", e->model, best, e->std[bi]);
        else snprintf(s, sizeof s, "%s", e->model);
        legend(cr, &ax[2], k - m->nmodels, c, s);
    }
    if (m->nmodels == 0) empty_note(cr, &ax[2], "no evaluations (--num_eval 0, or none yet)");
    free(raw);
    free(smooth);
    free(lr);

    cairo_destroy(cr);
    MemBuf b = {0};
    cairo_status_t st = cairo_surface_write_to_png_stream(surf, png_sink, &b);
    cairo_surface_destroy(surf);
    if (st != CAIRO_STATUS_SUCCESS) {
        free(b.data);
        return fail(err, errlen, "%s/curves.png: cairo: %s", dir, cairo_status_to_string(st));
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/curves.png", dir);
    int rc = write_file_atomic_quiet(path, b.data, b.len);
    free(b.data);
    if (rc) return fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ------------------------------------------------------------------ evolution.gif */

/* One frame: the grid of (up to 100 of) the set's images in RGB, or NULL with err. */
static uint8_t *set_frame(const char *path, int *fw, int *fh, char *err, size_t errlen) {
    StFile f;
    if (st_open(path, &f, err, errlen) != 0) return NULL;
    const StTensor *im = st_find(&f, "images_zca");
    if (!im) im = st_find(&f, "images");
    const StTensor *lb = st_find(&f, "labels");
    if (!im || im->dtype != DT_F32 || im->ndim != 4 || im->shape[0] < 1 || (im->shape[1] != 1 && im->shape[1] != 3)) {
        st_close(&f);
        fail(err, errlen, "%s: no images F32 [N, 1 or 3, H, W] to show", path);
        return NULL;
    }
    int n = (int)im->shape[0], c = (int)im->shape[1], h = (int)im->shape[2], w = (int)im->shape[3];
    size_t per = (size_t)c * h * w;
    /* Up to 10 images per class and 100 in all, in the set's order. */
    int classes = 1;
    int64_t *labels = NULL;
    if (lb && lb->dtype == DT_I64 && lb->ndim == 1 && lb->shape[0] == n) {
        labels = xmalloc((size_t)n * sizeof(int64_t));
        memcpy(labels, lb->data, (size_t)n * sizeof(int64_t));
        for (int i = 0; i < n; i++)
            if (labels[i] >= 0 && labels[i] < 100000 && labels[i] + 1 > classes) classes = (int)labels[i] + 1;
    }
    int per_class = 100 / classes;
    if (per_class > 10) per_class = 10;
    if (per_class < 1) per_class = 1;
    int *count = xcalloc((size_t)classes, sizeof(int));
    float *sel = xmalloc((size_t)(n < 100 ? n : 100) * per * sizeof(float));
    int k = 0;
    for (int i = 0; i < n && k < 100; i++) {
        int64_t l = labels ? labels[i] : 0;
        if (labels && (l < 0 || l >= classes || count[l]++ >= per_class)) continue;
        memcpy(sel + (size_t)k * per, (const char *)im->data + (size_t)i * per * sizeof(float), per * sizeof(float));
        k++;
    }
    st_close(&f);
    free(labels);
    free(count);
    int side = h > w ? h : w, up = side >= 128 ? 1 : 128 / side;
    if (up > 4) up = 4;
    uint8_t *grid = image_grid_rgb8(sel, k, c, h, w, 10, up, 0, fw, fh);
    free(sel);
    if (!grid) fail(err, errlen, "%s: the grid of %d images of %dx%d is too large to show", path, k, h, w);
    return grid;
}

/* The frame with a caption strip above it, drawn with cairo: RGB bytes (malloc'd). */
enum { CAPTION = 26 };
static uint8_t *captioned(const uint8_t *grid, int gw, int gh, const char *caption) {
    int W = gw < 240 ? 240 : gw, H = gh + CAPTION;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_surface_flush(s);
    unsigned char *px = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    memset(px, 0, (size_t)stride * H);
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            const uint8_t *g = grid + ((size_t)y * gw + x) * 3;
            uint32_t v = (uint32_t)g[0] << 16 | (uint32_t)g[1] << 8 | g[2];
            memcpy(px + (size_t)(y + CAPTION) * stride + (size_t)x * 4, &v, 4);
        }
    cairo_surface_mark_dirty(s);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    text_at(cr, 6, 18, 14, 1, 0, caption);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    uint8_t *out = xmalloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint32_t v;
            memcpy(&v, px + (size_t)y * stride + (size_t)x * 4, 4);
            uint8_t *o = out + ((size_t)y * W + x) * 3;
            o[0] = (uint8_t)(v >> 16);
            o[1] = (uint8_t)(v >> 8);
            o[2] = (uint8_t)v;
        }
    cairo_surface_destroy(s);
    return out;
}

static int gif_sink(GifFileType *g, const GifByteType *data, int n) {
    membuf_add(g->UserData, data, (size_t)n);
    return n;
}

/* The frame's palette and indices: exact when it has at most 256 colours (grey sets always),
 * else giflib's median-cut quantizer. Returns 0, or -1. */
static int frame_indices(const uint8_t *rgb, int W, int H, GifColorType *map, GifByteType *idx) {
    size_t n = (size_t)W * H;
    enum { SLOTS = 4096 };
    uint32_t key[SLOTS];
    int val[SLOTS], ncol = 0, exact = 1;
    memset(key, 0, sizeof key);
    for (size_t i = 0; i < n && exact; i++) {
        uint32_t c = (uint32_t)rgb[3 * i] << 16 | (uint32_t)rgb[3 * i + 1] << 8 | rgb[3 * i + 2];
        uint32_t h = (c * 2654435761u) >> 20;
        while (key[h] && key[h] != c + 1) h = (h + 1) % SLOTS;
        if (!key[h]) {
            if (ncol == 256) { exact = 0; break; }
            key[h] = c + 1;
            val[h] = ncol;
            map[ncol].Red = rgb[3 * i];
            map[ncol].Green = rgb[3 * i + 1];
            map[ncol].Blue = rgb[3 * i + 2];
            ncol++;
        }
        idx[i] = (GifByteType)val[h];
    }
    if (exact) {
        for (int i = ncol; i < 256; i++) map[i] = map[0];
        return 0;
    }
    GifByteType *r = xmalloc(n), *g = xmalloc(n), *b = xmalloc(n);
    for (size_t i = 0; i < n; i++) { r[i] = rgb[3 * i]; g[i] = rgb[3 * i + 1]; b[i] = rgb[3 * i + 2]; }
    int size = 256;
    int rc = GifQuantizeBuffer((unsigned)W, (unsigned)H, &size, r, g, b, idx, map);
    for (int i = size; i < 256; i++) map[i] = map[0];
    free(r); free(g); free(b);
    return rc == GIF_OK ? 0 : -1;
}

int report_evolution(const char *dir, char *err, size_t errlen) {
    int *its;
    int nits = run_saved_iterations(dir, &its);
    if (nits == 0) return fail(err, errlen, "%s: no images_<it>.safetensors to animate", dir);
    MemBuf out = {0};
    int gerr = 0, W = 0, H = 0, frames = 0, rc = 0;
    GifFileType *gif = EGifOpen(&out, gif_sink, &gerr);
    if (!gif) {
        free(its);
        return fail(err, errlen, "%s/evolution.gif: giflib: %s", dir, GifErrorString(gerr));
    }
    GifColorType colors[256];
    for (int f = 0; f < nits && rc == 0; f++) {
        char path[4300], cap[64];
        snprintf(path, sizeof path, "%s/images_%d.safetensors", dir, its[f]);
        int gw, gh;
        uint8_t *grid = set_frame(path, &gw, &gh, err, errlen);
        if (!grid) { rc = -1; break; }
        snprintf(cap, sizeof cap, "iteration %d", its[f]);
        uint8_t *rgb = captioned(grid, gw, gh, cap);
        free(grid);
        int fw = gw < 240 ? 240 : gw, fh = gh + CAPTION;
        if (frames == 0) {
            EGifSetGifVersion(gif, true);   /* GIF89a: frame delays and looping */
            W = fw;
            H = fh;
            if (EGifPutScreenDesc(gif, W, H, 8, 0, NULL) == GIF_ERROR) rc = -1;
            /* Loop forever (the NETSCAPE2.0 application extension). */
            unsigned char loop[3] = {1, 0, 0};
            if (rc == 0 && (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
                            EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_ERROR ||
                            EGifPutExtensionBlock(gif, 3, loop) == GIF_ERROR ||
                            EGifPutExtensionTrailer(gif) == GIF_ERROR))
                rc = -1;
            if (rc) fail(err, errlen, "%s/evolution.gif: giflib: %s", dir, GifErrorString(gif->Error));
        } else if (fw != W || fh != H) {
            free(rgb);   /* a set of another shape (another run in this folder): left out */
            continue;
        }
        GifByteType *idx = xmalloc((size_t)W * H);
        if (rc == 0 && frame_indices(rgb, W, H, colors, idx) != 0) rc = fail(err, errlen, "%s: cannot quantize", path);
        free(rgb);
        if (rc == 0) {
            /* 0.5 s a frame, 2 s on the last one. */
            GraphicsControlBlock gcb = {DISPOSAL_UNSPECIFIED, false, f == nits - 1 ? 200 : 50, NO_TRANSPARENT_COLOR};
            GifByteType ext[4];
            EGifGCBToExtension(&gcb, ext);
            ColorMapObject *map = GifMakeMapObject(256, colors);
            if (!map || EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_ERROR ||
                EGifPutImageDesc(gif, 0, 0, W, H, false, map) == GIF_ERROR)
                rc = -1;
            for (int y = 0; y < H && rc == 0; y++)
                if (EGifPutLine(gif, idx + (size_t)y * W, W) == GIF_ERROR) rc = -1;
            GifFreeMapObject(map);
            if (rc) fail(err, errlen, "%s/evolution.gif: giflib: %s", dir, GifErrorString(gif->Error));
            frames++;
        }
        free(idx);
    }
    free(its);
    if (EGifCloseFile(gif, &gerr) == GIF_ERROR && rc == 0)
        rc = fail(err, errlen, "%s/evolution.gif: giflib: %s", dir, GifErrorString(gerr));
    if (rc == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/evolution.gif", dir);
        if (write_file_atomic_quiet(path, out.data, out.len) != 0)
            rc = fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
    }
    free(out.data);
    return rc;
}

int report_write(const char *dir) {
    char err[4600];
    RunMetrics m;
    int bad = 0;
    if (run_metrics_read(dir, &m, err, sizeof err) == 0) {
        if (report_curves(dir, &m, err, sizeof err) != 0) {
            warn("curves.png not written: %s", err);
            bad = 1;
        }
        run_metrics_free(&m);
    } else {
        warn("curves.png not written: %s", err);
        bad = 1;
    }
    int *its;
    int nits = run_saved_iterations(dir, &its);
    free(its);
    if (nits && report_evolution(dir, err, sizeof err) != 0) {
        warn("evolution.gif not written: %s", err);
        bad = 1;
    }
    return bad;
}
