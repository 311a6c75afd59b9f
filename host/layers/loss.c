/* Softmax cross-entropy on the device (cl/loss.cl): row reductions run one work-group
 * per row, the element-wise backward one work-item per logit. */
#include "layers/loss.h"
#include "util.h"

static void loss_need(cl_mem m, size_t n, size_t elem, const char *what) {
    size_t bytes = 0;
    CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (bytes < n * elem)
        die("cross-entropy: buffer '%s' holds %zu elements, needs %zu", what, bytes / elem, n);
}

static void loss_check(const CeShape *s) {
    if (s->N < 0 || s->K < 1) die("cross-entropy: bad shape N=%d K=%d", s->N, s->K);
}

/* Local size for one row: the smallest power of two >= K, capped by the reduction size,
 * so short rows (K = 10) do not leave most of a group idle. */
static size_t loss_row_local(int K) {
    size_t cap = rt_reduce_local(), l = 1;
    while (l < (size_t)K && l < cap) l <<= 1;
    return l;
}

/* probs [N][K], rowloss [N] (or NULL), correct [N] (or NULL) from logits [N][K], labels int32 [N] */
void ce_forward(const CeShape *s, cl_mem probs, cl_mem rowloss, cl_mem correct, cl_mem logits, cl_mem labels) {
    loss_check(s);
    if (s->N == 0) return;
    size_t nk = (size_t)s->N * s->K;
    loss_need(probs, nk, sizeof(float), "probs");
    loss_need(logits, nk, sizeof(float), "logits");
    loss_need(labels, s->N, sizeof(cl_int), "labels");
    int flags = 0;
    if (rowloss) { loss_need(rowloss, s->N, sizeof(float), "rowloss"); flags |= 1; }
    if (correct) { loss_need(correct, s->N, sizeof(float), "correct"); flags |= 2; }
    /* An output that is not wanted gets probs as a stand-in; the flags keep it unwritten. */
    size_t l = loss_row_local(s->K);
    LAUNCH_GROUPS("loss_ce_fwd", (size_t)s->N, l, KM(probs), KM(rowloss ? rowloss : probs),
                  KM(correct ? correct : probs), KM(logits), KM(labels), KI(s->K), KI(flags),
                  KLOCAL(l * sizeof(cl_float)), KLOCAL(l * sizeof(cl_int)));
}

/* dlogits [N][K] = (probs - onehot(labels)) / N */
void ce_backward(const CeShape *s, cl_mem dlogits, cl_mem probs, cl_mem labels) {
    loss_check(s);
    if (s->N == 0) return;
    size_t nk = (size_t)s->N * s->K;
    loss_need(dlogits, nk, sizeof(float), "dlogits");
    loss_need(probs, nk, sizeof(float), "probs");
    loss_need(labels, s->N, sizeof(cl_int), "labels");
    LAUNCH("loss_ce_bwd", nk, KM(dlogits), KM(probs), KM(labels), KI(s->N), KI(s->K));
}

/* rdlogits [N][K] = probs * (logits_t - <probs, logits_t>_row) / N */
void ce_rbackward(const CeShape *s, cl_mem rdlogits, cl_mem probs, cl_mem logits_t) {
    loss_check(s);
    if (s->N == 0) return;
    size_t nk = (size_t)s->N * s->K;
    loss_need(rdlogits, nk, sizeof(float), "rdlogits");
    loss_need(probs, nk, sizeof(float), "probs");
    loss_need(logits_t, nk, sizeof(float), "logits_t");
    size_t l = loss_row_local(s->K);
    LAUNCH_GROUPS("loss_ce_rbwd", (size_t)s->N, l, KM(rdlogits), KM(probs), KM(logits_t), KI(s->N), KI(s->K),
                  KLOCAL(l * sizeof(cl_float)));
}
