/* The learnable synthetic set over one flat buffer; see learnset.h. */
#include "distill/learnset.h"
#include "core/runtime.h"
#include "core/util.h"
#include "layers/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void learnset_init(LearnSet *s, ImageParam *img, int K, const float *images, const int32_t *labels,
                   const float *targets, float lr) {
    memset(s, 0, sizeof *s);
    s->img = img;
    s->n = img->rows;
    s->K = K;
    s->off_targets = img->stored_floats;
    s->off_lr = s->off_targets + (size_t)s->n * K;
    s->total = s->off_lr + 1;
    s->theta = dev_alloc(s->total * 4, "synthetic set");
    s->grad = dev_alloc(s->total * 4, "synthetic set meta-gradient");
    s->vel = dev_alloc(s->total * 4, "synthetic set momentum");
    s->saved = dev_alloc(s->total * 4, "synthetic set before the last update");
    s->saved_vel = dev_alloc(s->total * 4, "synthetic set momentum before the last update");
    img->ops->load(img, images, dptr(s->theta, 0));
    float *t = xmalloc((size_t)s->n * K * sizeof(float));
    if (targets) memcpy(t, targets, (size_t)s->n * K * sizeof(float));
    else ce_onehot_rows(t, labels, s->n, K);
    dev_write_f32(s->theta, s->off_targets, (size_t)s->n * K, t);
    free(t);
    dev_write_f32(s->theta, s->off_lr, 1, &lr);
    s->lr = lr;
    learnset_zero_grad(s);
}

void learnset_free(LearnSet *s) {
    imageparam_free(s->img);
    dev_free(s->ybuf);
    dev_free(s->ema);
    dev_free(s->saved_ema);
    cl_mem bufs[] = {s->theta, s->grad, s->vel, s->saved, s->saved_vel};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) dev_free(bufs[i]);
    memset(s, 0, sizeof *s);
}

void learnset_set_optim(LearnSet *s, double lr_img, double lr_lr) {
    s->opt_images = (Sgd){lr_img, 0.5, 0.0, 1};
    s->opt_targets = (Sgd){0.0, 0.5, 0.0, 1};
    s->opt_lr = (Sgd){lr_lr, 0.5, 0.0, 1};
    s->learn_targets = 0;
}

void learnset_set_soft(LearnSet *s, const float *logits, double lr_y, double mom_y) {
    s->soft = 1;
    s->learn_targets = 1;
    s->opt_targets = (Sgd){lr_y, mom_y, 0.0, 1};
    dev_write_f32(s->theta, s->off_targets, (size_t)s->n * s->K, logits);
}

/* What evaluation and the files read: the average when there is one. */
static cl_mem shown(const LearnSet *s) { return s->ema ? s->ema : s->theta; }

void learnset_logits(LearnSet *s, float *logits) {
    dev_read_f32(shown(s), s->off_targets, (size_t)s->n * s->K, logits);
}

int learnset_targets(LearnSet *s, float *targets) {
    if (!s->learn_targets) return 0;
    float *logits = xmalloc((size_t)s->n * s->K * sizeof(float));
    learnset_logits(s, logits);
    int bad = ce_softmax_rows(targets, NULL, logits, s->n, s->K);
    free(logits);
    if (bad >= 0) die("the label logits of row %d are not finite", bad);
    return 1;
}

void learnset_set_ema(LearnSet *s, double decay) {
    if (!(decay > 0 && decay < 1)) die("internal: EMA decay %g", decay);
    s->ema_decay = decay;
    if (!s->ema) s->ema = dev_alloc(s->total * 4, "synthetic set average");
    if (!s->saved_ema) s->saved_ema = dev_alloc(s->total * 4, "synthetic set average before the last update");
    dev_copy(s->ema, 0, s->theta, 0, s->total);
}

float learnset_shown_lr(LearnSet *s) {
    if (!s->ema) return s->lr;
    float lr;
    dev_read_f32(s->ema, s->off_lr, 1, &lr);
    return lr;
}

void learnset_render(LearnSet *s, int step, cl_mem idx, int idx_off, int n, cl_mem x, cl_mem targets) {
    ImageParam *p = s->img;
    p->ops->render(p, step, dptr(s->theta, 0), idx, idx_off, n, x);
    size_t rows = (size_t)p->rounds * n, len = rows * s->K;
    cl_mem dst = targets;
    if (s->soft) {   /* gather the logits, then their softmax */
        if (len > s->ybuf_floats) {
            dev_free(s->ybuf);
            s->ybuf = dev_alloc(len * 4, "a batch's label logits");
            s->ybuf_floats = len;
        }
        dst = s->ybuf;
    }
    LAUNCH("distill_gather_rows", len, KM(dst), KM(s->theta), KL(s->off_targets), KM(idx), KI(idx_off), KI(n),
           KI(p->rounds), KI(s->K));
    if (s->soft) {
        CeShape cs = {(int)rows, s->K};
        ce_forward(&cs, targets, NULL, NULL, s->ybuf, s->ybuf);
    }
}

void learnset_label_grad(LearnSet *s, cl_mem tangent, cl_mem targets, cl_mem idx, int idx_off, int n, float scale) {
    if (!s->learn_targets) return;
    LAUNCH("distill_label_grad", (size_t)n * s->K, KM(s->grad), KL(s->off_targets), KM(tangent), KM(targets), KM(idx),
           KI(idx_off), KI(n), KI(s->img->rounds), KI(s->K), KF(scale));
}

void learnset_pullback(LearnSet *s, int step, cl_mem idx, int idx_off, int n, cl_mem u, float scale) {
    s->img->ops->pullback(s->img, step, dptr(s->grad, 0), idx, idx_off, n, u, scale);
}

void learnset_zero_grad(LearnSet *s) { dev_fill(s->grad, 0, s->total, 0.0f); }

void learnset_set_lr_grad(LearnSet *s, double dlr) {
    float g = (float)dlr;
    dev_write_f32(s->grad, s->off_lr, 1, &g);
}

int learnset_grad_finite(LearnSet *s) { return !dev_has_nonfinite(s->total, dptr(s->grad, 0)); }

/* Every tensor with its own optimizer; the images' stored form first. */
static void step_all(LearnSet *s) {
    sgd_step(&s->opt_images, s->img->stored_floats, dptr(s->theta, 0), dptr(s->grad, 0), dptr(s->vel, 0));
    if (s->learn_targets)
        sgd_step(&s->opt_targets, (size_t)s->n * s->K, dptr(s->theta, s->off_targets), dptr(s->grad, s->off_targets),
                 dptr(s->vel, s->off_targets));
    sgd_step(&s->opt_lr, 1, dptr(s->theta, s->off_lr), dptr(s->grad, s->off_lr), dptr(s->vel, s->off_lr));
}

int learnset_update(LearnSet *s) {
    dev_copy(s->saved, 0, s->theta, 0, s->total);
    dev_copy(s->saved_vel, 0, s->vel, 0, s->total);
    Sgd before[3] = {s->opt_images, s->opt_targets, s->opt_lr};
    step_all(s);
    float lr;
    dev_read_f32(s->theta, s->off_lr, 1, &lr);
    if (isfinite(lr) && !dev_has_nonfinite(s->total, dptr(s->theta, 0))) {
        s->lr = lr;
        if (s->ema) {   /* ema = d ema + (1 - d) theta */
            scal(s->total, (float)s->ema_decay, dptr(s->ema, 0));
            axpy(s->total, (float)(1.0 - s->ema_decay), dptr(s->theta, 0), dptr(s->ema, 0));
        }
        return 1;
    }
    dev_copy(s->theta, 0, s->saved, 0, s->total);
    dev_copy(s->vel, 0, s->saved_vel, 0, s->total);
    s->opt_images = before[0];
    s->opt_targets = before[1];
    s->opt_lr = before[2];
    return 0;
}

void learnset_update_start(LearnSet *s, IterScalars *sc) {
    dev_copy(s->saved, 0, s->theta, 0, s->total);
    dev_copy(s->saved_vel, 0, s->vel, 0, s->total);
    if (s->ema) dev_copy(s->saved_ema, 0, s->ema, 0, s->total);
    s->before[0] = s->opt_images;
    s->before[1] = s->opt_targets;
    s->before[2] = s->opt_lr;
    /* The step and the average as learnset_update takes them; undone below when the gate
     * said no or the step is not finite. */
    step_all(s);
    if (s->ema) {
        scal(s->total, (float)s->ema_decay, dptr(s->ema, 0));
        axpy(s->total, (float)(1.0 - s->ema_decay), dptr(s->theta, 0), dptr(s->ema, 0));
    }
    scalars_reduce(sc, SC_SET_BAD, 0, RED_NONFINITE, s->total, dptr(s->theta, 0), dptr(s->theta, 0));
    LAUNCH("learnset_keep_or_undo", s->total, KM(s->theta), KM(s->vel), KM(s->ema ? s->ema : s->theta), KM(s->saved),
           KM(s->saved_vel), KM(s->ema ? s->saved_ema : s->saved), KL(s->total), KI(s->ema != NULL), KM(sc->buf));
    LAUNCH("scalars_settle", 1, KM(sc->buf), KM(s->theta), KL(s->off_lr));
}

void learnset_update_finish(LearnSet *s, const IterValues *v) {
    if (v->outcome == SC_UPDATED) {
        s->lr = (float)v->lr;
        return;
    }
    s->opt_images = s->before[0];
    s->opt_targets = s->before[1];
    s->opt_lr = s->before[2];
}

void learnset_images(LearnSet *s, float *images) { s->img->ops->save(s->img, dptr(shown(s), 0), images); }

void learnset_extras(LearnSet *s, SynExtras *out) {
    memset(out, 0, sizeof *out);
    if (s->img->ops->extras) s->img->ops->extras(s->img, dptr(shown(s), 0), out);
    if (s->soft) {
        out->label_logits = xmalloc((size_t)s->n * s->K * sizeof(float));
        out->k = s->K;
        learnset_logits(s, out->label_logits);
    }
}
