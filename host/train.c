#include "train.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void trainer_init(Trainer *t, const Net *net, int max_n) {
    memset(t, 0, sizeof *t);
    t->net = net;
    t->max_n = max_n;
    exec_init(&t->exec, net, max_n, 0);
    size_t P = net->nparams, img = (size_t)net->channels * net->height * net->width;
    t->params = dev_alloc(P * 4, "network parameters");
    t->grad = dev_alloc(P * 4, "parameter gradients");
    t->vel = dev_alloc(P * 4, "SGD momentum");
    t->x = dev_alloc((size_t)max_n * img * 4, "image batch");
    t->x_aug = dev_alloc((size_t)max_n * img * 4, "augmented image batch");
    t->labels = dev_alloc((size_t)max_n * 4, "label batch");
    t->host_x = xmalloc((size_t)max_n * img * sizeof(float));
    t->host_y = xmalloc((size_t)max_n * sizeof(int32_t));
}

void trainer_free(Trainer *t) {
    exec_free(&t->exec);
    dev_free(t->params); dev_free(t->grad); dev_free(t->vel);
    dev_free(t->x); dev_free(t->x_aug); dev_free(t->labels);
    free(t->host_x);
    free(t->host_y);
    memset(t, 0, sizeof *t);
}

void trainer_init_params(Trainer *t, Rng *rng) {
    float *p = xmalloc(t->net->nparams * sizeof(float));
    net_init_params(t->net, rng, p);
    dev_write_f32(t->params, 0, t->net->nparams, p);
    free(p);
    exec_reset_running(&t->exec);
}

void sgd_step(Sgd *s, cl_mem theta, cl_mem grad, cl_mem vel, size_t n) {
    LAUNCH("train_sgd_step", n, KM(theta), KL(0), KM(grad), KL(0), KM(vel), KL(n), KF(s->lr), KF(s->momentum),
           KF(s->weight_decay), KI(s->fresh));
    s->fresh = 0;
}

/* Copies rows idx[0..n-1] of `set` into the device batch buffers. */
static void load_batch(Trainer *t, const ImageSet *set, const int *idx, int n) {
    size_t img = (size_t)set->c * set->h * set->w;
    for (int i = 0; i < n; i++) {
        memcpy(t->host_x + (size_t)i * img, set->images + (size_t)idx[i] * img, img * sizeof(float));
        t->host_y[i] = set->labels[idx[i]];
    }
    dev_write_f32(t->x, 0, (size_t)n * img, t->host_x);
    dev_write(t->labels, 0, (size_t)n * sizeof(int32_t), t->host_y);
}

void train_epoch(Trainer *t, const ImageSet *set, int batch, const DsaStrategy *dsa, Rng *rng, Sgd *sgd,
                 double *loss, double *acc, BatchCallback on_batch, void *ctx) {
    if (batch > t->max_n) die("internal: batch %d above the trainer's %d", batch, t->max_n);
    int *perm = xmalloc((size_t)set->n * sizeof(int));
    rng_perm(rng, perm, set->n);
    exec_take_sums(&t->exec, NULL, NULL, NULL);
    DsaDraw draw = {0};
    for (int b0 = 0; b0 < set->n; b0 += batch) {
        int n = set->n - b0 < batch ? set->n - b0 : batch;
        load_batch(t, set, perm + b0, n);
        cl_mem input = t->x;
        if (dsa && dsa->ngroups > 0) {
            dsa_draw_free(&draw);
            dsa_draw(dsa, rng, n, set->h, set->w, &draw);
            dsa_forward(&draw, set->c, set->h, set->w, t->x_aug, t->x);
            input = t->x_aug;
        }
        exec_forward(&t->exec, dptr(t->params, 0), input, n, 1);
        exec_loss(&t->exec, t->labels, n);
        exec_backward(&t->exec, dptr(t->params, 0), dptr(t->grad, 0), input, n, t->labels, NULL);
        sgd_step(sgd, t->params, t->grad, t->vel, t->net->nparams);
        if (on_batch) on_batch(ctx, (size_t)(b0 + n));
    }
    dsa_draw_free(&draw);
    double ls, hits, rows;
    exec_take_sums(&t->exec, &ls, &hits, &rows);
    if (loss) *loss = rows > 0 ? ls / rows : 0;
    if (acc) *acc = rows > 0 ? hits / rows : 0;
    free(perm);
}

double test_accuracy(Trainer *t, const ImageSet *set) {
    int *idx = xmalloc((size_t)t->max_n * sizeof(int));
    exec_take_sums(&t->exec, NULL, NULL, NULL);
    for (int b0 = 0; b0 < set->n; b0 += t->max_n) {
        int n = set->n - b0 < t->max_n ? set->n - b0 : t->max_n;
        for (int i = 0; i < n; i++) idx[i] = b0 + i;
        load_batch(t, set, idx, n);
        exec_forward(&t->exec, dptr(t->params, 0), t->x, n, 0);
        exec_loss(&t->exec, t->labels, n);
    }
    free(idx);
    double hits, rows;
    exec_take_sums(&t->exec, NULL, &hits, &rows);
    return rows > 0 ? hits / rows : 0;
}
