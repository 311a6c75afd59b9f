#include "exec.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static size_t out_size(const Layer *l) { return (size_t)l->cout * l->ho * l->wo; }

static Conv2dShape conv_shape(const Layer *l, int n, int first) {
    Conv2dShape s = {n, l->cin, l->h, l->w, l->cout, l->k, l->pad, first};
    return s;
}
static NormShape norm_shape(const Layer *l, int n) {
    NormShape s = {l->norm, l->cout, n, l->ho * l->wo};
    return s;
}
static PoolShape pool_shape(const Layer *l, int n) {
    PoolShape s = {l->pool, l->cin * n, l->h, l->w};
    return s;
}
static LinearShape linear_shape(const Layer *l, int n) {
    LinearShape s = {n, l->cin, l->cout};
    return s;
}

void exec_init(Exec *e, const Net *net, int max_n, int with_tangents) {
    memset(e, 0, sizeof *e);
    e->net = net;
    e->max_n = max_n;
    e->with_tangents = with_tangents;
    char what[96];
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        snprintf(what, sizeof what, "activations of layer %d (batch %d)", i, max_n);
        e->act[i + 1] = dev_alloc((size_t)max_n * out_size(l) * 4, what);
        if (with_tangents) {
            snprintf(what, sizeof what, "tangents of layer %d (batch %d)", i, max_n);
            e->tan[i + 1] = dev_alloc((size_t)max_n * out_size(l) * 4, what);
        }
        if (l->kind == LAYER_NORM) {
            NormShape s = norm_shape(l, max_n);
            e->stats[i] = dev_alloc((size_t)norm_nsets(&s) * 2 * 4, "normalization statistics");
        }
    }
    size_t amax = (size_t)max_n * net_max_activation(net);
    for (int k = 0; k < 2; k++) {
        e->adj[k] = dev_alloc(amax * 4, "activation gradients");
        if (with_tangents) e->radj[k] = dev_alloc(amax * 4, "activation gradient tangents");
    }
    if (net->nbatchnorm) {
        size_t nrun = 0;
        for (int i = 0; i < net->nlayers; i++)
            if (net->layers[i].bn_index >= 0) nrun += (size_t)net->layers[i].cout;
        e->run_mean = dev_alloc(nrun * 4, "batch norm running means");
        e->run_var = dev_alloc(nrun * 4, "batch norm running variances");
        exec_reset_running(e);
    }
    size_t K = (size_t)net->num_classes;
    e->probs = dev_alloc((size_t)max_n * K * 4, "class probabilities");
    e->rowloss = dev_alloc((size_t)max_n * 4, "per-sample losses");
    e->correct = dev_alloc((size_t)max_n * 4, "per-sample hits");
    e->sums = dev_alloc(4 * 4, "loss and accuracy sums");
}

void exec_free(Exec *e) {
    for (int i = 0; i <= NET_MAX_LAYERS; i++) { dev_free(e->act[i]); dev_free(e->tan[i]); }
    for (int i = 0; i < NET_MAX_LAYERS; i++) dev_free(e->stats[i]);
    for (int k = 0; k < 2; k++) { dev_free(e->adj[k]); dev_free(e->radj[k]); }
    dev_free(e->run_mean);
    dev_free(e->run_var);
    dev_free(e->probs);
    dev_free(e->rowloss);
    dev_free(e->correct);
    dev_free(e->sums);
    memset(e, 0, sizeof *e);
}

/* Offset of a batch norm layer's running statistics in the packed buffers. */
static size_t running_offset(const Net *net, int layer) {
    size_t off = 0;
    for (int i = 0; i < layer; i++)
        if (net->layers[i].bn_index >= 0) off += (size_t)net->layers[i].cout;
    return off;
}

void exec_reset_running(Exec *e) {
    if (!e->run_mean) return;
    size_t n = running_offset(e->net, e->net->nlayers);
    dev_fill(e->run_mean, 0, n, 0.0f);
    dev_fill(e->run_var, 0, n, 1.0f);
}

static void check_batch(const Exec *e, int n) {
    if (n < 1 || n > e->max_n) die("internal: batch of %d rows for an executor sized for %d", n, e->max_n);
}

/* Batch norm in eval mode reads its running statistics through sub-buffers, so the
 * layer code sees plain per-channel arrays. Their offsets are multiples of the channel
 * count, not of the device's alignment, hence the copies into small scratch buffers. */
static void batchnorm_eval(Exec *e, const Layer *l, int i, int n, DPtr params, cl_mem out, cl_mem in) {
    static cl_mem m, v;
    static size_t cap;
    size_t C = (size_t)l->cout, off = running_offset(e->net, i);
    if (cap < C) {
        dev_free(m); dev_free(v);
        m = dev_alloc(C * 4, "batch norm eval statistics");
        v = dev_alloc(C * 4, "batch norm eval statistics");
        cap = C;
    }
    dev_copy(m, 0, e->run_mean, off, C);
    dev_copy(v, 0, e->run_var, off, C);
    NormShape s = norm_shape(l, n);
    batchnorm_eval_forward(&s, out, in, m, v, dptr_add(params, l->w_off), dptr_add(params, l->b_off));
}

static void batchnorm_running(Exec *e, const Layer *l, int i, int n) {
    static cl_mem m, v;
    static size_t cap;
    size_t C = (size_t)l->cout, off = running_offset(e->net, i);
    if (cap < C) {
        dev_free(m); dev_free(v);
        m = dev_alloc(C * 4, "batch norm running statistics");
        v = dev_alloc(C * 4, "batch norm running statistics");
        cap = C;
    }
    dev_copy(m, 0, e->run_mean, off, C);
    dev_copy(v, 0, e->run_var, off, C);
    NormShape s = norm_shape(l, n);
    batchnorm_update_running(&s, m, v, e->stats[i]);
    dev_copy(e->run_mean, off, m, 0, C);
    dev_copy(e->run_var, off, v, 0, C);
}

void exec_forward(Exec *e, DPtr params, cl_mem input, int n, int train) {
    check_batch(e, n);
    const Net *net = e->net;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        cl_mem in = i == 0 ? input : e->act[i], out = e->act[i + 1];
        switch (l->kind) {
        case LAYER_CONV: {
            Conv2dShape s = conv_shape(l, n, i == 0);
            conv2d_forward(&s, out, in, dptr_add(params, l->w_off),
                           l->has_bias ? dptr_add(params, l->b_off) : dptr(NULL, 0));
            break;
        }
        case LAYER_NORM: {
            if (l->norm == NORM_BATCH && !train) { batchnorm_eval(e, l, i, n, params, out, in); break; }
            NormShape s = norm_shape(l, n);
            norm_forward(&s, out, e->stats[i], in, dptr_add(params, l->w_off), dptr_add(params, l->b_off));
            if (l->norm == NORM_BATCH) batchnorm_running(e, l, i, n);
            break;
        }
        case LAYER_ACT: act_forward(l->act, (size_t)n * out_size(l), out, in); break;
        case LAYER_POOL: {
            PoolShape s = pool_shape(l, n);
            pool_forward(&s, out, in);
            break;
        }
        case LAYER_FLATTEN: flatten_forward(l->cin, n, l->h * l->w, out, in); break;
        case LAYER_LINEAR: {
            LinearShape s = linear_shape(l, n);
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
        Conv2dShape s = conv_shape(l, n, i == 0);
        conv2d_backward(&s, din, dptr_add(grad, l->w_off), l->has_bias ? dptr_add(grad, l->b_off) : dptr(NULL, 0),
                        dout, in, dptr_add(params, l->w_off));
        break;
    }
    case LAYER_NORM: {
        NormShape s = norm_shape(l, n);
        norm_backward(&s, din, dptr_add(grad, l->w_off), dptr_add(grad, l->b_off), dout, in, e->stats[i],
                      dptr_add(params, l->w_off));
        break;
    }
    case LAYER_ACT: if (din) act_backward(l->act, (size_t)n * out_size(l), din, dout, in); break;
    case LAYER_POOL: {
        PoolShape s = pool_shape(l, n);
        if (din) pool_backward(&s, din, dout, in);
        break;
    }
    case LAYER_FLATTEN: if (din) flatten_backward(l->cin, n, l->h * l->w, din, dout); break;
    case LAYER_LINEAR: {
        LinearShape s = linear_shape(l, n);
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
            Conv2dShape s = conv_shape(l, n, i == 0);
            conv2d_tangent(&s, tout, in, tin, dptr_add(params, l->w_off), dptr_add(lam, l->w_off),
                           l->has_bias ? dptr_add(lam, l->b_off) : dptr(NULL, 0));
            break;
        }
        case LAYER_NORM: {
            NormShape s = norm_shape(l, n);
            norm_tangent(&s, tout, in, tin, e->stats[i], dptr_add(params, l->w_off), dptr_add(lam, l->w_off),
                         dptr_add(lam, l->b_off));
            break;
        }
        case LAYER_ACT: act_tangent(l->act, (size_t)n * out_size(l), tout, in, tin); break;
        case LAYER_POOL: {
            PoolShape s = pool_shape(l, n);
            pool_tangent(&s, tout, in, tin);
            break;
        }
        case LAYER_FLATTEN: flatten_forward(l->cin, n, l->h * l->w, tout, tin); break;
        case LAYER_LINEAR: {
            LinearShape s = linear_shape(l, n);
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
        Conv2dShape s = conv_shape(l, n, i == 0);
        conv2d_rbackward(&s, rdin, dptr_add(hvp, l->w_off), l->has_bias ? dptr_add(hvp, l->b_off) : dptr(NULL, 0),
                         dout, rdout, in, tin, dptr_add(params, l->w_off), dptr_add(lam, l->w_off));
        break;
    }
    case LAYER_NORM: {
        NormShape s = norm_shape(l, n);
        norm_rbackward(&s, rdin, dptr_add(hvp, l->w_off), dptr_add(hvp, l->b_off), dout, rdout, in, tin,
                       e->stats[i], dptr_add(params, l->w_off), dptr_add(lam, l->w_off));
        break;
    }
    case LAYER_ACT: if (rdin) act_rbackward(l->act, (size_t)n * out_size(l), rdin, dout, rdout, in, tin); break;
    case LAYER_POOL: {
        PoolShape s = pool_shape(l, n);
        if (rdin) pool_backward(&s, rdin, rdout, in);
        break;
    }
    case LAYER_FLATTEN: if (rdin) flatten_backward(l->cin, n, l->h * l->w, rdin, rdout); break;
    case LAYER_LINEAR: {
        LinearShape s = linear_shape(l, n);
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
    CeShape cs = {n, e->net->num_classes};
    ce_forward(&cs, e->probs, e->rowloss, e->correct, exec_logits(e), labels);
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
