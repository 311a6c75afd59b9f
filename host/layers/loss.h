/* Softmax cross-entropy, mean over the N rows of logits [N][K]; labels are int32 [N].
 *   ce_forward    probs = softmax(logits) (row max subtracted), rowloss[n] = logsumexp - o[y],
 *                 correct[n] = 1.0 if argmax (first maximum) == y else 0.0
 *                 (rowloss, correct may be NULL)
 *   ce_backward   dlogits = (probs - onehot(y)) / N
 *   ce_rbackward  rdlogits = probs * (logits_t - <probs, logits_t>_row) / N
 * The mean loss is dev_sum(rowloss) / N. */
#ifndef CLMTT_LOSS_H
#define CLMTT_LOSS_H

#include "core/tensor.h"

typedef struct { int N, K; } CeShape;

void ce_forward(const CeShape *s, cl_mem probs, cl_mem rowloss, cl_mem correct, cl_mem logits, cl_mem labels);
void ce_backward(const CeShape *s, cl_mem dlogits, cl_mem probs, cl_mem labels);
void ce_rbackward(const CeShape *s, cl_mem rdlogits, cl_mem probs, cl_mem logits_t);

/* References: labels as int. Returns the mean loss. */
double ce_forward_ref(const CeShape *s, double *probs, double *rowloss, double *correct, const double *logits,
                      const int *labels);
void ce_backward_ref(const CeShape *s, double *dlogits, const double *probs, const int *labels);
void ce_rbackward_ref(const CeShape *s, double *rdlogits, const double *probs, const double *logits_t);

#endif
