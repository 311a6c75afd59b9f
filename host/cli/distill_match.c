/* clmtt distill's matching flags: DATM's start-epoch window and loss threshold, ATT's
 * --auto_match and PAD's --loss_ratio, checked and turned into the distiller's options. */
#include "cli/cli.h"
#include "cli/distill_parts.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

void distill_match_options(DistillArgs *a, const FlagSet *fs, StartWindow *w, MatchOptions *m) {
    /* Not given: the upper bound starts at max_start_epoch, so the window is MTT's. */
    if (!cli_flag(fs, "current_max_start_epoch")->given) a->current_max_start_epoch = a->max_start_epoch;
    cli_require(a->min_start_epoch >= 0, "min_start_epoch", "must be non-negative, got %d", a->min_start_epoch);
    cli_require(a->current_max_start_epoch >= 1 && a->current_max_start_epoch <= a->max_start_epoch,
                "current_max_start_epoch", "must be in [1, --max_start_epoch %d], got %d", a->max_start_epoch,
                a->current_max_start_epoch);
    cli_require(a->expansion_end_epoch >= 1, "expansion_end_epoch", "must be at least 1, got %d",
                a->expansion_end_epoch);
    *w = (StartWindow){a->min_start_epoch, a->current_max_start_epoch, a->max_start_epoch, a->expansion_end_epoch,
                       a->Sequential_Generation};
    /* The upper bound only grows, so the first iteration's window is the narrowest. */
    int upper0 = window_upper(w, 0);
    cli_require(a->min_start_epoch < upper0, "min_start_epoch",
                "must be below the start epochs' upper bound %d (--%s), got %d", upper0,
                a->Sequential_Generation ? "current_max_start_epoch" : "max_start_epoch", a->min_start_epoch);
    cli_require(!isnan(a->threshold) && a->threshold > 0, "threshold", "must be a positive number (inf: off), got %g",
                a->threshold);
    cli_require(isfinite(a->loss_ratio) && a->loss_ratio >= 0 && a->loss_ratio < 1, "loss_ratio",
                "must be in [0, 1), got %g", a->loss_ratio);
    *m = (MatchOptions){a->auto_match, a->loss_ratio};
}

void distill_match_describe(const DistillArgs *a, const StartWindow *w) {
    if (window_in_use(w)) {
        if (w->sequential && w->current_max < w->max_start)
            printf("Start-epoch window: [%d, upper) with upper growing from %d to %d over %d iterations\n", w->min_start,
                   w->current_max, w->max_start, w->expansion_end);
        else
            printf("Start-epoch window: [%d, %d)\n", w->min_start, w->max_start);
    }
    if (isfinite(a->threshold))
        printf("Threshold: the set is updated only at iterations whose loss is <= %g\n", a->threshold);
    if (a->auto_match) printf("Auto match: the loss is taken at the student step closest to the target\n");
    if (a->loss_ratio > 0)
        printf("Loss ratio: the %g fraction of parameters with the smallest squared error is left out of the loss\n",
               a->loss_ratio);
}

void distill_match_settings(const DistillArgs *a, cJSON *settings) {
    cJSON_AddNumberToObject(settings, "min_start_epoch", a->min_start_epoch);
    cJSON_AddNumberToObject(settings, "current_max_start_epoch", a->current_max_start_epoch);
    cJSON_AddNumberToObject(settings, "expansion_end_epoch", a->expansion_end_epoch);
    cJSON_AddBoolToObject(settings, "Sequential_Generation", a->Sequential_Generation);
    if (isfinite(a->threshold)) cJSON_AddNumberToObject(settings, "threshold", a->threshold);   /* absent: off */
    cJSON_AddBoolToObject(settings, "auto_match", a->auto_match);
    cJSON_AddNumberToObject(settings, "loss_ratio", a->loss_ratio);
}

void distill_match_fields(const DistillArgs *a, const StartWindow *w, int it, int match_step, int skipped, char *out,
                          size_t size) {
    size_t n = 0;
    out[0] = 0;
    if (window_in_use(w)) n += (size_t)snprintf(out + n, size - n, ", \"upper_bound\": %d", window_upper(w, it));
    if (a->auto_match && n < size) n += (size_t)snprintf(out + n, size - n, ", \"match_step\": %d", match_step);
    if (isfinite(a->threshold) && n < size)
        snprintf(out + n, size - n, ", \"skipped\": %s", skipped ? "true" : "false");
}
