/* Softmax cross-entropy on the device (cl/loss.cl): row reductions run one work-group
 * per row, the element-wise backward one work-item per logit. */
#include "layers/loss.h"
#include "core/util.h"

#include <math.h>

static void loss_need(cl_mem m, size_t n, size_t elem, const char *what) {
    size_t bytes = 0;
    CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (bytes < n * elem)
        die("cross-entropy: buffer '%s' holds %zu elements, needs %zu", what, bytes / elem, n);
}

/* Checks the shape and two [N][K] float buffers a, b; returns N*K (0: nothing to do, the
 * buffers are not checked). */
static size_t loss_begin(const CeShape *s, cl_mem a, const char *a_name, cl_mem b, const char *b_name) {
    if (s->N < 0 || s->K < 1) die("cross-entropy: bad shape N=%d K=%d", s->N, s->K);
    size_t nk = (size_t)s->N * s->K;
    if (nk == 0) return 0;
    loss_need(a, nk, sizeof(float), a_name);
    loss_need(b, nk, sizeof(float), b_name);
    return nk;
}

/* Local size for one row: the smallest power of two >= K, capped by the reduction size,
 * so short rows (K = 10) do not leave most of a group idle. */
static size_t loss_row_local(int K, const char *kernel) {
    size_t cap = rt_reduce_local(kernel), l = 1;
    while (l < (size_t)K && l < cap) l <<= 1;
    return l;
}

/* probs [N][K], rowloss [N] (or NULL), correct [N] (or NULL) from logits [N][K], targets [N][K] */
void ce_forward(const CeShape *s, cl_mem probs, cl_mem rowloss, cl_mem correct, cl_mem logits, cl_mem targets) {
    if (loss_begin(s, probs, "probs", logits, "logits") == 0) return;
    loss_need(targets, (size_t)s->N * s->K, sizeof(float), "targets");
    int flags = 0;
    if (rowloss) { loss_need(rowloss, s->N, sizeof(float), "rowloss"); flags |= 1; }
    if (correct) { loss_need(correct, s->N, sizeof(float), "correct"); flags |= 2; }
    /* An output that is not wanted gets probs as a stand-in; the flags keep it unwritten. */
    size_t l = loss_row_local(s->K, "loss_ce_fwd");
    LAUNCH_GROUPS("loss_ce_fwd", (size_t)s->N, l, KM(probs), KM(rowloss ? rowloss : probs),
                  KM(correct ? correct : probs), KM(logits), KM(targets), KI(s->K), KI(flags),
                  KLOCAL(l * sizeof(cl_float)), KLOCAL(l * sizeof(cl_int)));
}

/* dlogits [N][K] = (probs - targets) / N */
void ce_backward(const CeShape *s, cl_mem dlogits, cl_mem probs, cl_mem targets) {
    size_t nk = loss_begin(s, dlogits, "dlogits", probs, "probs");
    if (nk == 0) return;
    loss_need(targets, nk, sizeof(float), "targets");
    LAUNCH("loss_ce_bwd", nk, KM(dlogits), KM(probs), KM(targets), KI(s->N), KI(s->K));
}

/* Host rows [n][K]: one-hot of each label, NaN for a label outside [0, K). */
void ce_onehot_rows(float *targets, const int32_t *labels, int n, int K) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++)
            targets[(size_t)i * K + k] = labels[i] < 0 || labels[i] >= K ? NAN : labels[i] == k ? 1.0f : 0.0f;
}

int ce_softmax_rows(float *targets, int32_t *labels, const float *logits, int n, int K) {
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        int am = 0;
        for (int k = 0; k < K; k++) {
            if (!isfinite(l[k])) return i;
            if (l[k] > l[am]) am = k;
        }
        double z = 0;
        for (int k = 0; k < K; k++) z += exp((double)l[k] - l[am]);
        for (int k = 0; k < K; k++) targets[(size_t)i * K + k] = (float)(exp((double)l[k] - l[am]) / z);
        if (labels) labels[i] = am;
    }
    return -1;
}

/* rdlogits [N][K] = probs * (logits_t - <probs, logits_t>_row) / N */
void ce_rbackward(const CeShape *s, cl_mem rdlogits, cl_mem probs, cl_mem logits_t) {
    size_t nk = loss_begin(s, rdlogits, "rdlogits", probs, "probs");
    if (nk == 0) return;
    loss_need(logits_t, nk, sizeof(float), "logits_t");
    size_t l = loss_row_local(s->K, "loss_ce_rbwd");
    LAUNCH_GROUPS("loss_ce_rbwd", (size_t)s->N, l, KM(rdlogits), KM(probs), KM(logits_t), KI(s->N), KI(s->K),
                  KLOCAL(l * sizeof(cl_float)));
}
