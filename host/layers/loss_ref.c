/* float64 references of softmax cross-entropy (same layouts as cl/loss.cl). */
#include "layers/loss.h"
#include "core/util.h"

#include <math.h>

static void loss_ref_check(const CeShape *s) {
    if (s->N < 0 || s->K < 1) die("cross-entropy: bad shape N=%d K=%d", s->N, s->K);
}

/* Returns the mean of rowloss. */
double ce_forward_ref(const CeShape *s, double *probs, double *rowloss, double *correct, const double *logits,
                      const double *targets) {
    loss_ref_check(s);
    const int K = s->K;
    double total = 0.0;
    for (int n = 0; n < s->N; n++) {
        const double *o = logits + (size_t)n * K;
        double *p = probs + (size_t)n * K;
        int first = 0;
        for (int k = 1; k < K; k++)
            if (o[k] > o[first]) first = k;
        const double m = o[first];
        double sum = 0.0;
        for (int k = 0; k < K; k++) sum += exp(o[k] - m);
        for (int k = 0; k < K; k++) p[k] = exp(o[k] - m) / sum;
        const double *t = targets + (size_t)n * K;
        double to = 0.0;
        int tfirst = -1;
        for (int k = 0; k < K; k++) {
            if (t[k] != 0.0) to += t[k] * (m - o[k]);
            if (!isnan(t[k]) && (tfirst < 0 || t[k] > t[tfirst])) tfirst = k;
        }
        const double l = log(sum) + to;
        total += l;
        if (rowloss) rowloss[n] = l;
        if (correct) correct[n] = first == tfirst ? 1.0 : 0.0;
    }
    return s->N > 0 ? total / s->N : 0.0;
}

void ce_backward_ref(const CeShape *s, double *dlogits, const double *probs, const double *targets) {
    loss_ref_check(s);
    for (size_t i = 0; i < (size_t)s->N * s->K; i++) dlogits[i] = (probs[i] - targets[i]) / s->N;
}
void ce_rbackward_ref(const CeShape *s, double *rdlogits, const double *probs, const double *logits_t) {
    loss_ref_check(s);
    for (int n = 0; n < s->N; n++) {
        const size_t row = (size_t)n * s->K;
        double d = 0.0;
        for (int k = 0; k < s->K; k++) d += probs[row + k] * logits_t[row + k];
        for (int k = 0; k < s->K; k++) rdlogits[row + k] = probs[row + k] * (logits_t[row + k] - d) / s->N;
    }
}
