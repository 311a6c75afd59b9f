/* Plain C references of cl/scalars.cl (fp64 format), for tests. */
#include "distill/scalars.h"

#include <math.h>

double scalars_sum_ref(const float *partial, int groups) {
    double s = 0.0;
    for (int i = 0; i < groups; i++) s += partial[i];
    return s;
}

int scalars_argmin_ref(const double *dist, int K, double *best) {
    int k = 1;
    for (int j = 2; j <= K; j++)
        if (dist[j - 1] < dist[k - 1]) k = j;
    *best = dist[k - 1];
    return k;
}

int scalars_gate_ref(double num, double D, double dlr, double grad_bad, double threshold) {
    double loss = num / D;
    if (!isfinite(loss) || !isfinite(dlr) || grad_bad != 0) return SC_NOT_FINITE;
    return loss <= threshold ? SC_UPDATED : SC_SKIPPED;
}

float scalars_lambda_scale_ref(double D) { return (float)(2.0 / D); }

void scalars_keep_or_undo_ref(float *theta, float *vel, float *ema, const float *saved, const float *saved_vel,
                              const float *saved_ema, size_t n, int outcome, double set_bad) {
    if (outcome == SC_UPDATED && set_bad == 0) return;
    for (size_t i = 0; i < n; i++) {
        theta[i] = saved[i];
        vel[i] = saved_vel[i];
        if (ema) ema[i] = saved_ema[i];
    }
}

int scalars_settle_ref(int outcome, double set_bad) {
    return outcome == SC_UPDATED && set_bad != 0 ? SC_DIVERGED : outcome;
}
