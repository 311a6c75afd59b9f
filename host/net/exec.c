#include "net/exec.h"
#include "core/blas.h"
#include "layers/block.h"
#include "layers/conv2d.h"
#include "layers/conv_cols.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "core/util.h"

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
    fuse_find(net, &e->blocks);
    e->nslots = fuse_adjoint_slots(net, &e->blocks, e->slot);
    for (int k = 0; k < e->nslots; k++) {
        e->adj[k] = dev_alloc(amax * 4, "activation gradients");
        if (with_tangents) e->radj[k] = dev_alloc(amax * 4, "activation gradient tangents");
    }
    if (net_has_shared_nodes(net)) {
        e->scratch = dev_alloc(amax * 4, "activation gradients of a second branch");
        if (with_tangents) e->rscratch = dev_alloc(amax * 4, "activation gradient tangents of a second branch");
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
    for (int k = 0; k <= NET_MAX_LAYERS; k++) { dev_free(e->adj[k]); dev_free(e->radj[k]); }
    dev_free(e->scratch);
    dev_free(e->rscratch);
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

/* The buffer of node v: the network input for v = 0, else the output of layer v - 1. */
static cl_mem node_act(const Exec *e, int v, cl_mem input) { return v == 0 ? input : e->act[v]; }

/* Floats per sample of node v. */
static size_t node_size(const Net *net, int v) {
    return v == 0 ? (size_t)net->channels * net->height * net->width : layer_out_size(&net->layers[v - 1]);
}

/* out = a + b over n floats. */
static void add_nodes(cl_mem out, cl_mem a, cl_mem b, size_t n) {
    dev_copy(out, 0, a, 0, n);
    axpy(n, 1.0f, dptr(b, 0), dptr(out, 0));
}

static void check_batch(const Exec *e, int n) {
    if (n < 1 || n > e->max_n) die("internal: batch of %d rows for an executor sized for %d", n, e->max_n);
}

/* The fused block starting at layer i, or -1 when layer i starts none. */
static int block_at(const Exec *e, int i) { return e->blocks.last[i]; }

/* The block's norm parameters (absent without norm) at `p` (params, lam, grad, ...). */
static DPtr block_gamma(const Exec *e, int i, DPtr p) {
    int nl = e->blocks.norm[i];
    return nl >= 0 ? dptr_add(p, e->net->layers[nl].w_off) : dptr(NULL, 0);
}
static DPtr block_beta(const Exec *e, int i, DPtr p) {
    int nl = e->blocks.norm[i];
    return nl >= 0 ? dptr_add(p, e->net->layers[nl].b_off) : dptr(NULL, 0);
}
static cl_mem block_stats(const Exec *e, int i) {
    int nl = e->blocks.norm[i];
    return nl >= 0 ? e->stats[nl] : NULL;
}
/* The bias of the convolution before block i, in `p` (absent when it has none). */
static DPtr block_bias(const Exec *e, int i, DPtr p) {
    const Layer *conv = &e->net->layers[i - 1];
    return conv->has_bias ? dptr_add(p, conv->b_off) : dptr(NULL, 0);
}
/* 1 when the convolution at layer i leaves its bias gradient to the block after it. */
static int bias_in_block(const Exec *e, int i) { return i + 1 < e->net->nlayers && block_at(e, i + 1) >= 0; }

/* 1 when the block starting at layer i runs in a forward pass: not for batch norm in eval
 * mode, which takes the running statistics layer by layer. */
static int block_runs(const Exec *e, int i, int train) {
    if (i >= e->net->nlayers || block_at(e, i) < 0) return 0;
    int nl = e->blocks.norm[i];
    return !(nl >= 0 && e->net->layers[nl].norm == NORM_BATCH && !train);
}

/* Forward of the block starting at layer i (when block_runs). Its input, the convolution's
 * output, comes without the bias: the block adds it. */
static void block_forward_at(Exec *e, int i, DPtr params, int n) {
    int nl = e->blocks.norm[i];
    BlockShape s = fuse_block_shape(e->net, &e->blocks, i, n);
    int bn = nl >= 0 && e->net->layers[nl].norm == NORM_BATCH;
    block_forward(&s, e->act[block_at(e, i) + 1], block_stats(e, i), e->act[i], block_gamma(e, i, params),
                  block_beta(e, i, params), block_bias(e, i, params), bn ? e->run_mean[nl] : NULL,
                  bn ? e->run_var[nl] : NULL);
}

void exec_forward(Exec *e, DPtr params, cl_mem input, int n, int train) {
    check_batch(e, n);
    e->dlogits_n = 0;   /* the output gradient, if any, belongs to the batch before */
    const Net *net = e->net;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        if (block_runs(e, i, train)) {
            block_forward_at(e, i, params, n);
            i = block_at(e, i);
            continue;
        }
        cl_mem in = node_act(e, l->src, input), out = e->act[i + 1];
        switch (l->kind) {
        case LAYER_CONV: {
            Conv2dShape s = layer_conv_shape(l, n, l->src == 0);
            int b = l->has_bias && !block_runs(e, i + 1, train);   /* else the block adds it */
            conv2d_forward(&s, out, in, dptr_add(params, l->w_off), b ? dptr_add(params, l->b_off) : dptr(NULL, 0));
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
        case LAYER_SUBSAMPLE: {
            PoolShape s = layer_pool_shape(l, n);
            subsample_forward(&s, out, in);
            break;
        }
        case LAYER_ADD: add_nodes(out, in, node_act(e, l->src2, input), (size_t)n * layer_out_size(l)); break;
        }
    }
}

cl_mem exec_logits(const Exec *e) { return e->act[e->net->nlayers]; }

/* The loss pass also writes d loss / d logits into the output node's adjoint, which
 * exec_backward starts from (n * K floats: nothing beside a launch of its own). */
static cl_mem exec_dlogits(Exec *e, int n) {
    e->dlogits_n = n;
    return e->adj[e->slot[e->net->nlayers]];
}

void exec_loss(Exec *e, cl_mem targets, int n) {
    CeShape s = {n, e->net->num_classes};
    CeOut out = {e->probs, e->rowloss, e->correct, exec_dlogits(e, n), NULL};
    ce_pass(&s, &out, exec_logits(e), NULL, targets);
    LAUNCH_GROUPS("train_accumulate_sums", 1, rt_reduce_local("train_accumulate_sums"), KM(e->sums), KM(e->rowloss),
                  KM(e->correct), KI(n), KLOCAL(rt_reduce_local("train_accumulate_sums") * 4));
}

void exec_softmax(Exec *e, cl_mem targets, int n) {
    CeShape s = {n, e->net->num_classes};
    CeOut out = {e->probs, NULL, NULL, exec_dlogits(e, n), NULL};
    ce_pass(&s, &out, exec_logits(e), NULL, targets);
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
        Conv2dShape s = layer_conv_shape(l, n, l->src == 0);
        int db = l->has_bias && !bias_in_block(e, i);
        conv2d_backward(&s, din, dptr_add(grad, l->w_off), db ? dptr_add(grad, l->b_off) : dptr(NULL, 0),
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
    case LAYER_SUBSAMPLE: {
        PoolShape s = layer_pool_shape(l, n);
        if (din) subsample_backward(&s, din, dout);
        break;
    }
    case LAYER_ADD: die("internal: layer_backward on an add layer"); /* handled by the caller */
    }
}

/* Adjoint bookkeeping of one backward pass: node v's adjoint is adj[slot[v]] (for v = 0
 * the caller's input gradient, NULL when not wanted); got[v] counts the contributions
 * already summed into it. The first contribution is written in place, later ones go to
 * the scratch buffer and are added. */
typedef struct {
    Exec *e;
    cl_mem *adj, scratch, input_adj;
    int n;
    int got[NET_MAX_LAYERS + 1];
} Adjoints;

static void adjoints_begin(Adjoints *a, Exec *e, cl_mem *adj, cl_mem scratch, cl_mem input_adj, int n) {
    memset(a, 0, sizeof *a);
    a->e = e; a->adj = adj; a->scratch = scratch; a->input_adj = input_adj; a->n = n;
}

static cl_mem adjoint_of(const Adjoints *a, int v) { return v == 0 ? a->input_adj : a->adj[a->e->slot[v]]; }

/* Where a layer should write its contribution to node v (NULL: not wanted). */
static cl_mem adjoint_target(const Adjoints *a, int v) {
    cl_mem t = adjoint_of(a, v);
    return t && a->got[v] > 0 ? a->scratch : t;
}

/* Records that the contribution to node v has been written to adjoint_target(v). */
static void adjoint_written(Adjoints *a, int v) {
    cl_mem t = adjoint_of(a, v);
    if (t && a->got[v] > 0) axpy((size_t)a->n * node_size(a->e->net, v), 1.0f, dptr(a->scratch, 0), dptr(t, 0));
    a->got[v]++;
}

/* An add layer passes its output adjoint g to both inputs. */
static void adjoint_pass(Adjoints *a, int v, cl_mem g) {
    cl_mem t = adjoint_of(a, v);
    size_t len = (size_t)a->n * node_size(a->e->net, v);
    if (t && a->got[v] > 0) axpy(len, 1.0f, dptr(g, 0), dptr(t, 0));
    else if (t) dev_copy(t, 0, g, 0, len);
    a->got[v]++;
}

/* Backward of the block ending at layer j (starting at f = first[j]): the adjoint of node f
 * and the gradients of its norm and of the conv's bias. Returns f. */
static int block_adjoint_step(Adjoints *a, int j, DPtr params, DPtr grad) {
    Exec *e = a->e;
    int f = e->blocks.first[j];
    BlockShape s = fuse_block_shape(e->net, &e->blocks, f, a->n);
    block_backward(&s, adjoint_target(a, f), block_gamma(e, f, grad), block_beta(e, f, grad), block_bias(e, f, grad),
                   a->adj[e->slot[j + 1]], e->act[f], block_stats(e, f), block_gamma(e, f, params),
                   block_beta(e, f, params), block_bias(e, f, params));
    adjoint_written(a, f);
    return f;
}

/* Backward of layer i: dout = adjoint of node i+1, contributions to its input node(s).
 * Returns the next layer down (i - 1, or below the block that ends at i). */
static int adjoint_step(Adjoints *a, int i, DPtr params, DPtr grad, cl_mem input) {
    const Layer *l = &a->e->net->layers[i];
    if (a->e->blocks.first[i] >= 0) return block_adjoint_step(a, i, params, grad) - 1;
    cl_mem dout = a->adj[a->e->slot[i + 1]];
    if (l->kind == LAYER_ADD) {
        adjoint_pass(a, l->src, dout);
        adjoint_pass(a, l->src2, dout);
        return i - 1;
    }
    layer_backward(a->e, i, a->n, params, grad, node_act(a->e, l->src, input), adjoint_target(a, l->src), dout);
    adjoint_written(a, l->src);
    return i - 1;
}

void exec_backward(Exec *e, DPtr params, DPtr grad, cl_mem input, int n, cl_mem dinput) {
    check_batch(e, n);
    if (e->dlogits_n != n) die("internal: exec_backward of %d rows without exec_loss or exec_softmax after the forward", n);
    Adjoints a;
    adjoints_begin(&a, e, e->adj, e->scratch, dinput, n);
    for (int i = e->net->nlayers - 1; i >= 0;) i = adjoint_step(&a, i, params, grad, input);
}

/* Forward tangents along the parameter direction `lam`, with a zero input tangent. */
static void exec_tangent(Exec *e, DPtr params, DPtr lam, cl_mem input, int n) {
    const Net *net = e->net;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        if (block_at(e, i) >= 0) {
            BlockShape s = fuse_block_shape(net, &e->blocks, i, n);
            block_tangent(&s, e->tan[block_at(e, i) + 1], e->act[i], e->tan[i], block_stats(e, i),
                          block_gamma(e, i, params), block_beta(e, i, params), block_gamma(e, i, lam),
                          block_beta(e, i, lam), block_bias(e, i, params), block_bias(e, i, lam));
            i = block_at(e, i);
            continue;
        }
        cl_mem in = node_act(e, l->src, input);
        cl_mem tin = l->src == 0 ? NULL : e->tan[l->src], tout = e->tan[i + 1];
        if (!tin && l->kind != LAYER_CONV && l->kind != LAYER_LINEAR)
            die("internal: %s: layer %d reads the input but has no zero-tangent form", net->model, i);
        switch (l->kind) {
        case LAYER_CONV: {
            Conv2dShape s = layer_conv_shape(l, n, l->src == 0);
            int b = l->has_bias && !block_runs(e, i + 1, 1);   /* else the block adds it */
            conv2d_tangent(&s, tout, in, tin, dptr_add(params, l->w_off), dptr_add(lam, l->w_off),
                           b ? dptr_add(lam, l->b_off) : dptr(NULL, 0));
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
        case LAYER_SUBSAMPLE: {
            PoolShape s = layer_pool_shape(l, n);
            subsample_forward(&s, tout, tin);
            break;
        }
        case LAYER_ADD: add_nodes(tout, tin, e->tan[l->src2], (size_t)n * layer_out_size(l)); break;
        }
    }
}

/* One layer's R-backward (tangent of its backward pass). */
static void layer_rbackward(Exec *e, int i, int n, DPtr params, DPtr lam, DPtr hvp, cl_mem in, cl_mem tin,
                            cl_mem rdin, cl_mem dout, cl_mem rdout) {
    const Layer *l = &e->net->layers[i];
    switch (l->kind) {
    case LAYER_CONV: {
        Conv2dShape s = layer_conv_shape(l, n, l->src == 0);
        int db = l->has_bias && !bias_in_block(e, i);
        conv2d_rbackward(&s, rdin, dptr_add(hvp, l->w_off), db ? dptr_add(hvp, l->b_off) : dptr(NULL, 0),
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
    case LAYER_SUBSAMPLE: {
        PoolShape s = layer_pool_shape(l, n);
        if (rdin) subsample_backward(&s, rdin, rdout);
        break;
    }
    case LAYER_ADD: die("internal: layer_rbackward on an add layer"); /* handled by the caller */
    }
}

void exec_grad_hvp(Exec *e, DPtr params, DPtr lam, cl_mem input, int n, cl_mem targets, DPtr grad, DPtr hvp,
                   cl_mem u) {
    if (!e->with_tangents) die("internal: executor built without tangents");
    conv_cols_begin();   /* im2col columns shared by the four passes below */
    exec_forward(e, params, input, n, 1);
    exec_tangent(e, params, lam, input, n);
    CeShape cs = {n, e->net->num_classes};
    const int L = e->net->nlayers;
    CeOut out = {e->probs, NULL, NULL, exec_dlogits(e, n), e->radj[e->slot[L]]};
    ce_pass(&cs, &out, exec_logits(e), e->tan[L], targets);   /* softmax, backward and R-backward */
    Adjoints a, r;
    adjoints_begin(&a, e, e->adj, e->scratch, NULL, n);
    adjoints_begin(&r, e, e->radj, e->rscratch, u, n);
    for (int i = L - 1; i >= 0;) {
        const Layer *l = &e->net->layers[i];
        cl_mem dout = e->adj[e->slot[i + 1]], rdout = e->radj[e->slot[i + 1]];
        int f = e->blocks.first[i];
        if (f >= 0) {
            /* The R pass reads dout, so it runs before the backward pass overwrites a slot. */
            BlockShape s = fuse_block_shape(e->net, &e->blocks, f, n);
            block_rbackward(&s, adjoint_target(&r, f), block_gamma(e, f, hvp), block_beta(e, f, hvp),
                            block_bias(e, f, hvp), dout, rdout, e->act[f], e->tan[f], block_stats(e, f),
                            block_gamma(e, f, params), block_beta(e, f, params), block_gamma(e, f, lam),
                            block_beta(e, f, lam), block_bias(e, f, params), block_bias(e, f, lam));
            adjoint_written(&r, f);
        } else if (l->kind == LAYER_ADD) {
            adjoint_pass(&r, l->src, rdout);
            adjoint_pass(&r, l->src2, rdout);
        } else {
            /* The R pass reads dout, so it runs before the backward pass moves on. */
            cl_mem tin = l->src == 0 ? NULL : e->tan[l->src];
            layer_rbackward(e, i, n, params, lam, hvp, node_act(e, l->src, input), tin, adjoint_target(&r, l->src),
                            dout, rdout);
            adjoint_written(&r, l->src);
        }
        i = adjoint_step(&a, i, params, grad, input);
    }
    conv_cols_end();
}
