#include "exec.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "util.h"

#include <stdio.h>
#include <string.h>


void exec_init(Exec *e, const Net *net, int max_n, int with_tangents) {
    memset(e, 0, sizeof *e);
    e->net = net;
    e->max_n = max_n;
    e->with_tangents = with_tangents;
    char what[96];
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        snprintf(what, sizeof what, "activations of layer %d (batch %d)", i, max_n);
        e->act[i + 1] = dev_alloc((size_t)max_n * layer_out_size(l) * 4, what);
        if (with_tangents) {
            snprintf(what, sizeof what, "tangents of layer %d (batch %d)", i, max_n);
            e->tan[i + 1] = dev_alloc((size_t)max_n * layer_out_size(l) * 4, what);
        }
        if (l->kind == LAYER_NORM) {
            NormShape s = layer_norm_shape(l, max_n);
            e->stats[i] = dev_alloc((size_t)norm_nsets(&s) * 2 * 4, "normalization statistics");
        }
    }
    size_t amax = (size_t)max_n * net_max_activation(net);
    for (int k = 0; k < 2; k++) {
        e->adj[k] = dev_alloc(amax * 4, "activation gradients");
        if (with_tangents) e->radj[k] = dev_alloc(amax * 4, "activation gradient tangents");
    }
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].bn_index >= 0) {
            e->run_mean[i] = dev_alloc((size_t)net->layers[i].cout * 4, "batch norm running means");
            e->run_var[i] = dev_alloc((size_t)net->layers[i].cout * 4, "batch norm running variances");
        }
    exec_reset_running(e);
    size_t K = (size_t)net->num_classes;
    e->probs = dev_alloc((size_t)max_n * K * 4, "class probabilities");
    e->rowloss = dev_alloc((size_t)max_n * 4, "per-sample losses");
    e->correct = dev_alloc((size_t)max_n * 4, "per-sample hits");
    e->sums = dev_alloc(4 * 4, "loss and accuracy sums");
}

void exec_free(Exec *e) {
    for (int i = 0; i <= NET_MAX_LAYERS; i++) { dev_free(e->act[i]); dev_free(e->tan[i]); }
    for (int i = 0; i < NET_MAX_LAYERS; i++) {
        dev_free(e->stats[i]);
        dev_free(e->run_mean[i]);
        dev_free(e->run_var[i]);
    }
    for (int k = 0; k < 2; k++) { dev_free(e->adj[k]); dev_free(e->radj[k]); }
    dev_free(e->probs);
    dev_free(e->rowloss);
    dev_free(e->correct);
    dev_free(e->sums);
    memset(e, 0, sizeof *e);
}

void exec_reset_running(Exec *e) {
    for (int i = 0; i < e->net->nlayers; i++)
        if (e->run_mean[i]) {
            dev_fill(e->run_mean[i], 0, (size_t)e->net->layers[i].cout, 0.0f);
            dev_fill(e->run_var[i], 0, (size_t)e->net->layers[i].cout, 1.0f);
        }
}

static void check_batch(const Exec *e, int n) {
    if (n < 1 || n > e->max_n) die("internal: batch of %d rows for an executor sized for %d", n, e->max_n);
}

void exec_forward(Exec *e, DPtr params, cl_mem input, int n, int train) {
    check_batch(e, n);
    const Net *net = e->net;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        cl_mem in = i == 0 ? input : e->act[i], out = e->act[i + 1];
        switch (l->kind) {
        case LAYER_CONV: {
            Conv2dShape s = layer_conv_shape(l, n, i == 0);
            conv2d_forward(&s, out, in, dptr_add(params, l->w_off),
                           l->has_bias ? dptr_add(params, l->b_off) : dptr(NULL, 0));
            break;
        }
        case LAYER_NORM: {
            NormShape s = layer_norm_shape(l, n);
            DPtr gamma = dptr_add(params, l->w_off), beta = dptr_add(params, l->b_off);
            if (l->norm == NORM_BATCH && !train) {
                batchnorm_eval_forward(&s, out, in, e->run_mean[i], e->run_var[i], gamma, beta);
                break;
            }
            norm_forward(&s, out, e->stats[i], in, gamma, beta);
            if (l->norm == NORM_BATCH) batchnorm_update_running(&s, e->run_mean[i], e->run_var[i], e->stats[i]);
            break;
        }
        case LAYER_ACT: act_forward(l->act, (size_t)n * layer_out_size(l), out, in); break;
        case LAYER_POOL: {
            PoolShape s = layer_pool_shape(l, n);
            pool_forward(&s, out, in);
            break;
        }
        case LAYER_FLATTEN: flatten_forward(l->cin, n, l->h * l->w, out, in); break;
        case LAYER_LINEAR: {
            LinearShape s = layer_linear_shape(l, n);
            linear_forward(&s, out, in, dptr_add(params, l->w_off),
                           l->has_bias ? dptr_add(params, l->b_off) : dptr(NULL, 0));
            break;
        }
        }
    }
}

cl_mem exec_logits(const Exec *e) { return e->act[e->net->nlayers]; }

void exec_loss(Exec *e, cl_mem labels, int n) {
    CeShape s = {n, e->net->num_classes};
    ce_forward(&s, e->probs, e->rowloss, e->correct, exec_logits(e), labels);
    LAUNCH_GROUPS("train_accumulate_sums", 1, rt_reduce_local(), KM(e->sums), KM(e->rowloss), KM(e->correct), KI(n),
                  KLOCAL(rt_reduce_local() * 4));
}

void exec_softmax(Exec *e, cl_mem labels, int n) {
    CeShape s = {n, e->net->num_classes};
    ce_forward(&s, e->probs, NULL, NULL, exec_logits(e), labels);
}

void exec_take_sums(Exec *e, double *loss_sum, double *correct, double *rows) {
    float s[3];
    dev_read_f32(e->sums, 0, 3, s);
    dev_fill(e->sums, 0, 4, 0.0f);
    if (loss_sum) *loss_sum = s[0];
    if (correct) *correct = s[1];
    if (rows) *rows = s[2];
}

/* One layer's backward; `din` may be NULL for the first layer. */
static void layer_backward(Exec *e, int i, int n, DPtr params, DPtr grad, cl_mem in, cl_mem din, cl_mem dout) {
    const Layer *l = &e->net->layers[i];
    switch (l->kind) {
    case LAYER_CONV: {
        Conv2dShape s = layer_conv_shape(l, n, i == 0);
        conv2d_backward(&s, din, dptr_add(grad, l->w_off), l->has_bias ? dptr_add(grad, l->b_off) : dptr(NULL, 0),
                        dout, in, dptr_add(params, l->w_off));
        break;
    }
    case LAYER_NORM: {
        NormShape s = layer_norm_shape(l, n);
        norm_backward(&s, din, dptr_add(grad, l->w_off), dptr_add(grad, l->b_off), dout, in, e->stats[i],
                      dptr_add(params, l->w_off));
        break;
    }
    case LAYER_ACT: if (din) act_backward(l->act, (size_t)n * layer_out_size(l), din, dout, in); break;
    case LAYER_POOL: {
        PoolShape s = layer_pool_shape(l, n);
        if (din) pool_backward(&s, din, dout, in);
        break;
    }
    case LAYER_FLATTEN: if (din) flatten_backward(l->cin, n, l->h * l->w, din, dout); break;
    case LAYER_LINEAR: {
        LinearShape s = layer_linear_shape(l, n);
        linear_backward(&s, din, dptr_add(grad, l->w_off), l->has_bias ? dptr_add(grad, l->b_off) : dptr(NULL, 0),
                        dout, in, dptr_add(params, l->w_off));
        break;
    }
    }
}

void exec_backward(Exec *e, DPtr params, DPtr grad, cl_mem input, int n, cl_mem labels, cl_mem din_input) {
    check_batch(e, n);
    CeShape cs = {n, e->net->num_classes};
    int cur = 0;
    ce_backward(&cs, e->adj[cur], e->probs, labels);
    for (int i = e->net->nlayers - 1; i >= 0; i--) {
        cl_mem in = i == 0 ? input : e->act[i];
        cl_mem din = i == 0 ? din_input : e->adj[1 - cur];
        layer_backward(e, i, n, params, grad, in, din, e->adj[cur]);
        cur = 1 - cur;
    }
}

/* Forward tangents along the parameter direction `lam`, with a zero input tangent. */
static void exec_tangent(Exec *e, DPtr params, DPtr lam, cl_mem input, int n) {
    const Net *net = e->net;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        cl_mem in = i == 0 ? input : e->act[i];
        cl_mem tin = i == 0 ? NULL : e->tan[i], tout = e->tan[i + 1];
        switch (l->kind) {
        case LAYER_CONV: {
            Conv2dShape s = layer_conv_shape(l, n, i == 0);
            conv2d_tangent(&s, tout, in, tin, dptr_add(params, l->w_off), dptr_add(lam, l->w_off),
                           l->has_bias ? dptr_add(lam, l->b_off) : dptr(NULL, 0));
            break;
        }
        case LAYER_NORM: {
            NormShape s = layer_norm_shape(l, n);
            norm_tangent(&s, tout, in, tin, e->stats[i], dptr_add(params, l->w_off), dptr_add(lam, l->w_off),
                         dptr_add(lam, l->b_off));
            break;
        }
        case LAYER_ACT: act_tangent(l->act, (size_t)n * layer_out_size(l), tout, in, tin); break;
        case LAYER_POOL: {
            PoolShape s = layer_pool_shape(l, n);
            pool_tangent(&s, tout, in, tin);
            break;
        }
        case LAYER_FLATTEN: flatten_forward(l->cin, n, l->h * l->w, tout, tin); break;
        case LAYER_LINEAR: {
            LinearShape s = layer_linear_shape(l, n);
            linear_tangent(&s, tout, in, tin, dptr_add(params, l->w_off), dptr_add(lam, l->w_off),
                           l->has_bias ? dptr_add(lam, l->b_off) : dptr(NULL, 0));
            break;
        }
        }
    }
}

/* One layer's R-backward (tangent of its backward pass). */
static void layer_rbackward(Exec *e, int i, int n, DPtr params, DPtr lam, DPtr hvp, cl_mem in, cl_mem tin,
                            cl_mem rdin, cl_mem dout, cl_mem rdout) {
    const Layer *l = &e->net->layers[i];
    switch (l->kind) {
    case LAYER_CONV: {
        Conv2dShape s = layer_conv_shape(l, n, i == 0);
        conv2d_rbackward(&s, rdin, dptr_add(hvp, l->w_off), l->has_bias ? dptr_add(hvp, l->b_off) : dptr(NULL, 0),
                         dout, rdout, in, tin, dptr_add(params, l->w_off), dptr_add(lam, l->w_off));
        break;
    }
    case LAYER_NORM: {
        NormShape s = layer_norm_shape(l, n);
        norm_rbackward(&s, rdin, dptr_add(hvp, l->w_off), dptr_add(hvp, l->b_off), dout, rdout, in, tin,
                       e->stats[i], dptr_add(params, l->w_off), dptr_add(lam, l->w_off));
        break;
    }
    case LAYER_ACT: if (rdin) act_rbackward(l->act, (size_t)n * layer_out_size(l), rdin, dout, rdout, in, tin); break;
    case LAYER_POOL: {
        PoolShape s = layer_pool_shape(l, n);
        if (rdin) pool_backward(&s, rdin, rdout, in);
        break;
    }
    case LAYER_FLATTEN: if (rdin) flatten_backward(l->cin, n, l->h * l->w, rdin, rdout); break;
    case LAYER_LINEAR: {
        LinearShape s = layer_linear_shape(l, n);
        linear_rbackward(&s, rdin, dptr_add(hvp, l->w_off), l->has_bias ? dptr_add(hvp, l->b_off) : dptr(NULL, 0),
                         dout, rdout, in, tin, dptr_add(params, l->w_off), dptr_add(lam, l->w_off));
        break;
    }
    }
}

void exec_grad_hvp(Exec *e, DPtr params, DPtr lam, cl_mem input, int n, cl_mem labels, DPtr grad, DPtr hvp,
                   cl_mem u_input) {
    if (!e->with_tangents) die("internal: executor built without tangents");
    exec_forward(e, params, input, n, 1);
    exec_tangent(e, params, lam, input, n);
    exec_softmax(e, labels, n);
    CeShape cs = {n, e->net->num_classes};
    int cur = 0;
    ce_backward(&cs, e->adj[cur], e->probs, labels);
    ce_rbackward(&cs, e->radj[cur], e->probs, e->tan[e->net->nlayers]);
    for (int i = e->net->nlayers - 1; i >= 0; i--) {
        cl_mem in = i == 0 ? input : e->act[i];
        cl_mem tin = i == 0 ? NULL : e->tan[i];
        cl_mem din = i == 0 ? NULL : e->adj[1 - cur];
        cl_mem rdin = i == 0 ? u_input : e->radj[1 - cur];
        /* The R pass reads dout, so it runs before the backward pass moves on. */
        layer_rbackward(e, i, n, params, lam, hvp, in, tin, rdin, e->adj[cur], e->radj[cur]);
        layer_backward(e, i, n, params, grad, in, din, e->adj[cur]);
        cur = 1 - cur;
    }
}
