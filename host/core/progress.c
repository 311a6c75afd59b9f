#include "core/progress.h"
#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void progress_start(Progress *p, const char *label, double total, const char *unit) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->unit = unit;
    p->total = total;
    p->t0 = p->last = now_seconds();
    p->tty = isatty(STDOUT_FILENO);
}

const char *format_duration(double s, char *buf, size_t n) {
    if (s < 60) snprintf(buf, n, "%.1fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    return buf;
}

void progress_update(Progress *p, double done) {
    if (!p->tty) return;
    double t = now_seconds();
    if (t - p->last < 0.25 && done < p->total) return;
    p->last = t;
    double el = t - p->t0, rate = el > 0 ? done / el : 0;
    char eta[32] = "?";
    if (rate > 0 && p->total > done) format_duration((p->total - done) / rate, eta, sizeof eta);
    else if (done >= p->total) snprintf(eta, sizeof eta, "0s");
    printf("\r\033[K%s %.0f/%.0f %s  %.1f %s/s  ETA %s", p->label, done, p->total, p->unit, rate, p->unit, eta);
    fflush(stdout);
    p->shown = 1;
}

void progress_clear(Progress *p) {
    if (p->tty && p->shown) {
        printf("\r\033[K");
        fflush(stdout);
    }
    p->shown = 0;
}

double progress_elapsed(const Progress *p) { return now_seconds() - p->t0; }

/* The open log's name, for the message when a line cannot be written (one log per process). */
static char metrics_path[4096];

FILE *metrics_open(const char *path) {
    FILE *f = fopen(path, "a");
    if (!f) die("cannot open the metrics log %s: %s", path, strerror(errno));
    snprintf(metrics_path, sizeof metrics_path, "%s", path);
    return f;
}

/* Each line goes out in one write() to a file opened for appending, so a run killed at any
 * moment leaves whole lines only; a failed write (a full disk, a file size limit) stops the
 * run rather than losing its log silently. */
void metrics_line(FILE *f, const char *fmt, ...) {
    if (!f) return;
    va_list ap;
    va_start(ap, fmt);
    char *line = NULL;
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0) die("out of memory formatting a line of %s", metrics_path);
    line = xrealloc(line, (size_t)n + 2);
    line[n++] = '\n';
    fflush(f);
    const char *p = line;
    size_t left = (size_t)n;
    while (left > 0) {
        ssize_t w = write(fileno(f), p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("cannot write the metrics log %s: %s", metrics_path, w < 0 ? strerror(errno) : "no space");
        p += w;
        left -= (size_t)w;
    }
    free(line);
}
