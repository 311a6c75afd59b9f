/* Softmax cross-entropy on the device (cl/loss.cl): one work-group per row writes the
 * probabilities and whatever else the pass asks for. */
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

void ce_pass(const CeShape *s, const CeOut *out, cl_mem logits, cl_mem logits_t, cl_mem targets) {
    if (loss_begin(s, out->probs, "probs", logits, "logits") == 0) return;
    size_t nk = (size_t)s->N * s->K;
    loss_need(targets, nk, sizeof(float), "targets");
    int flags = 0;
    if (out->rowloss) { loss_need(out->rowloss, s->N, sizeof(float), "rowloss"); flags |= 1; }
    if (out->correct) { loss_need(out->correct, s->N, sizeof(float), "correct"); flags |= 2; }
    if (out->dlogits) { loss_need(out->dlogits, nk, sizeof(float), "dlogits"); flags |= 4; }
    if (out->rdlogits) {
        if (!logits_t) die("cross-entropy: rdlogits wanted without the logits' tangent");
        loss_need(out->rdlogits, nk, sizeof(float), "rdlogits");
        loss_need(logits_t, nk, sizeof(float), "logits_t");
        flags |= 8;
    }
    /* An output that is not wanted gets probs as a stand-in (logits for the unread
     * tangent); the flags keep it untouched. */
    cl_mem p = out->probs;
    size_t l = loss_row_local(s->K, "loss_ce_fwd");
    LAUNCH_GROUPS("loss_ce_fwd", (size_t)s->N, l, KM(p), KM(out->rowloss ? out->rowloss : p),
                  KM(out->correct ? out->correct : p), KM(out->dlogits ? out->dlogits : p),
                  KM(out->rdlogits ? out->rdlogits : p), KM(logits), KM(logits_t ? logits_t : logits), KM(targets),
                  KI(s->N), KI(s->K), KI(flags), KLOCAL(l * sizeof(cl_float)), KLOCAL(l * sizeof(cl_int)));
}

/* probs [N][K], rowloss [N] (or NULL), correct [N] (or NULL) from logits [N][K], targets [N][K] */
void ce_forward(const CeShape *s, cl_mem probs, cl_mem rowloss, cl_mem correct, cl_mem logits, cl_mem targets) {
    CeOut out = {probs, rowloss, correct, NULL, NULL};
    ce_pass(s, &out, logits, NULL, targets);
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
