/* Softmax cross-entropy, mean over the N rows of logits [N][K], against target rows
 * targets [N][K]: one distribution per row (one-hot for a hard label, so hard and soft
 * labels share one path). One device pass (ce_pass) writes any of
 *   probs     = softmax(logits) (row max subtracted)
 *   rowloss   [n] = logsumexp - <t, o>
 *   correct   [n] = 1.0 if argmax (first maximum) of logits == that of targets
 *   dlogits   = (probs - targets) / N                        (the backward)
 *   rdlogits  = probs * (logits_t - <probs, logits_t>_row) / N (its tangent: the R-backward)
 * so a gradient step's loss and backward, and a distillation step's softmax, backward and
 * R-backward, are one launch each. ce_forward is the pass with probs, rowloss, correct.
 *   ce_onehot_rows  host target rows [n][K] from int32 class indices [n] (a NaN row for an
 *                 index outside [0, K), so its loss is NaN and the caller's check names it)
 *   ce_softmax_rows host target rows [n][K] = softmax of label logits [n][K] (in double, row
 *                 max subtracted); labels[n] (may be NULL) gets each row's first maximum.
 *                 Returns the first row with a non-finite logit, or -1
 * The mean loss is dev_sum(rowloss) / N. */
#ifndef CLMTT_LOSS_H
#define CLMTT_LOSS_H

#include "core/tensor.h"

#include <stdint.h>

typedef struct { int N, K; } CeShape;

/* The outputs of one pass; probs is required, every other one may be NULL. */
typedef struct { cl_mem probs, rowloss, correct, dlogits, rdlogits; } CeOut;

/* logits_t: the logits' tangent, read only when out->rdlogits is given. */
void ce_pass(const CeShape *s, const CeOut *out, cl_mem logits, cl_mem logits_t, cl_mem targets);
void ce_forward(const CeShape *s, cl_mem probs, cl_mem rowloss, cl_mem correct, cl_mem logits, cl_mem targets);
void ce_onehot_rows(float *targets, const int32_t *labels, int n, int K);
int ce_softmax_rows(float *targets, int32_t *labels, const float *logits, int n, int K);

/* References. Returns the mean loss. */
double ce_forward_ref(const CeShape *s, double *probs, double *rowloss, double *correct, const double *logits,
                      const double *targets);
void ce_backward_ref(const CeShape *s, double *dlogits, const double *probs, const double *targets);
void ce_rbackward_ref(const CeShape *s, double *rdlogits, const double *probs, const double *logits_t);


#endif
