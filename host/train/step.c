/* The student-step engine over the executor: chunks weighted into partial sums. */
#include "train/step.h"
#include "core/blas.h"
#include "core/util.h"
#include "layers/conv_cols.h"

#include <string.h>

void step_init(StepEngine *s, const Net *net, int max_rows, int with_hvp, int loss_sums) {
    memset(s, 0, sizeof *s);
    if (max_rows < 1) die("internal: a student step of %d rows", max_rows);
    s->net = net;
    s->max_rows = max_rows;
    s->loss_sums = loss_sums;
    exec_init(&s->exec, net, max_rows, with_hvp);
}

void step_free(StepEngine *s) {
    exec_free(&s->exec);
    dev_free(s->part);
    dev_free(s->hpart);
    memset(s, 0, sizeof *s);
}

static void check_chunk(const StepEngine *s, int nc, int n) {
    if (nc < 1 || nc > s->max_rows || nc > n)
        die("internal: a chunk of %d rows of a batch of %d (the engine holds %d)", nc, n, s->max_rows);
}

/* Where a chunk's own mean goes: straight into out when it overwrites it (then scaled in
 * place), else into the engine's buffer *part (allocated on first use) to be added. */
static DPtr share_target(const StepEngine *s, cl_mem *part, int acc, DPtr out) {
    if (!acc) return out;
    if (!*part) *part = dev_alloc(s->net->nparams * sizeof(float), "one chunk's parameter derivative");
    return dptr(*part, 0);
}

/* out (=|+=) (nc/n) x the chunk's mean, which share_target put in `got`. */
static void weigh_share(const StepEngine *s, int nc, int n, int acc, DPtr got, DPtr out) {
    size_t P = s->net->nparams;
    float w = (float)nc / (float)n;
    if (acc) axpy(P, w, got, out);
    else if (nc != n) scal(P, w, out);
}

void step_grad(StepEngine *s, DPtr theta, cl_mem x, cl_mem targets, int nc, int n, int acc, DPtr grad) {
    check_chunk(s, nc, n);
    conv_cols_begin();   /* the backward pass reads the im2col columns the forward built */
    exec_forward(&s->exec, theta, x, nc, 1);
    if (s->loss_sums) exec_loss(&s->exec, targets, nc);
    else exec_softmax(&s->exec, targets, nc);
    DPtr g = share_target(s, &s->part, acc, grad);
    exec_backward(&s->exec, theta, g, x, nc, NULL);
    conv_cols_end();
    weigh_share(s, nc, n, acc, g, grad);
}

void step_grad_hvp(StepEngine *s, DPtr theta, DPtr lam, cl_mem x, cl_mem targets, int nc, int n, int acc, DPtr grad,
                   DPtr hvp, cl_mem u) {
    check_chunk(s, nc, n);
    DPtr g = grad.mem ? share_target(s, &s->part, acc, grad) : grad, h = share_target(s, &s->hpart, acc, hvp);
    exec_grad_hvp(&s->exec, theta, lam, x, nc, targets, g, h, u);
    if (grad.mem) weigh_share(s, nc, n, acc, g, grad);
    weigh_share(s, nc, n, acc, h, hvp);
    if (u && nc != n) {
        size_t in = (size_t)s->net->channels * s->net->height * s->net->width;
        scal((size_t)nc * in, (float)nc / (float)n, dptr(u, 0));
    }
}
