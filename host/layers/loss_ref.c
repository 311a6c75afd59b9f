/* float64 references of softmax cross-entropy (same layouts as cl/loss.cl). */
#include "layers/loss.h"
#include "core/util.h"

#include <math.h>

static void loss_ref_check(const CeShape *s) {
    if (s->N < 0 || s->K < 1) die("cross-entropy: bad shape N=%d K=%d", s->N, s->K);
}

/* Returns the mean of rowloss (NaN when some label is out of range). */
double ce_forward_ref(const CeShape *s, double *probs, double *rowloss, double *correct, const double *logits,
                      const int *labels) {
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
        const int y = labels[n], ok = y >= 0 && y < K;
        const double l = ok ? log(sum) + (m - o[y]) : NAN;
        total += l;
        if (rowloss) rowloss[n] = l;
        if (correct) correct[n] = ok && first == y ? 1.0 : 0.0;
    }
    return s->N > 0 ? total / s->N : 0.0;
}

void ce_backward_ref(const CeShape *s, double *dlogits, const double *probs, const int *labels) {
    loss_ref_check(s);
    for (int n = 0; n < s->N; n++)
        for (int k = 0; k < s->K; k++) {
            size_t i = (size_t)n * s->K + k;
            dlogits[i] = (probs[i] - (labels[n] == k ? 1.0 : 0.0)) / s->N;
        }
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
