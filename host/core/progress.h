/* Progress of long work: on a terminal a single updating line with rate and ETA;
 * otherwise nothing between the plain log lines the caller prints. Metrics go to a
 * JSON-lines file in the run folder, one object per line, flushed at once. */
#ifndef CLMTT_PROGRESS_H
#define CLMTT_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    char label[128];
    const char *unit;
    double total;
    double t0, last;
    int tty;
    int shown;
} Progress;

void progress_start(Progress *p, const char *label, double total, const char *unit);
void progress_update(Progress *p, double done);
/* Clears the line (terminal only) so the next log line starts clean. */
void progress_clear(Progress *p);
double progress_elapsed(const Progress *p);
/* "1h02m", "3m05s", "12.3s" */
const char *format_duration(double seconds, char *buf, size_t n);

FILE *metrics_open(const char *path);   /* appends; dies naming the path */
void metrics_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
