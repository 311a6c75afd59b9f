#include "net/net_ref.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

static void add_ref(double *out, const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static size_t node_len(const RefExec *r, int v) {
    const Net *net = r->net;
    return (size_t)r->n * (v == 0 ? (size_t)net->channels * net->height * net->width : layer_out_size(&net->layers[v - 1]));
}

static const double *bias(const double *p, const Layer *l) { return l->has_bias ? p + l->b_off : NULL; }
static double *bias_mut(double *p, const Layer *l) { return l->has_bias ? p + l->b_off : NULL; }

void ref_exec_init(RefExec *r, const Net *net, int n) {
    memset(r, 0, sizeof *r);
    r->net = net;
    r->n = n;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        r->act[i + 1] = xcalloc((size_t)n * layer_out_size(l), sizeof(double));
        r->tan[i + 1] = xcalloc((size_t)n * layer_out_size(l), sizeof(double));
        if (l->kind == LAYER_NORM) {
            NormShape s = layer_norm_shape(l, n);
            r->stats[i] = xcalloc((size_t)norm_nsets(&s) * 2, sizeof(double));
        }
    }
    r->probs = xcalloc((size_t)n * net->num_classes, sizeof(double));
}

void ref_exec_free(RefExec *r) {
    for (int i = 1; i <= r->net->nlayers; i++) { free(r->act[i]); free(r->tan[i]); }
    for (int i = 0; i < r->net->nlayers; i++) free(r->stats[i]);
    free(r->probs);
    memset(r, 0, sizeof *r);
}

double ref_forward(RefExec *r, const double *p, const double *input, const double *targets) {
    const Net *net = r->net;
    int n = r->n;
    r->act[0] = (double *)input;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        const double *in = r->act[l->src];
        double *out = r->act[i + 1];
        switch (l->kind) {
        case LAYER_CONV: { Conv2dShape s = layer_conv_shape(l, n, l->src == 0); conv2d_forward_ref(&s, out, in, p + l->w_off, bias(p, l)); break; }
        case LAYER_NORM: { NormShape s = layer_norm_shape(l, n); norm_forward_ref(&s, out, r->stats[i], in, p + l->w_off, p + l->b_off); break; }
        case LAYER_ACT: act_forward_ref(l->act, (size_t)n * layer_out_size(l), out, in); break;
        case LAYER_POOL: { PoolShape s = layer_pool_shape(l, n); pool_forward_ref(&s, out, in); break; }
        case LAYER_FLATTEN: flatten_forward_ref(l->cin, n, l->h * l->w, out, in); break;
        case LAYER_LINEAR: { LinearShape s = layer_linear_shape(l, n); linear_forward_ref(&s, out, in, p + l->w_off, bias(p, l)); break; }
        case LAYER_SUBSAMPLE: { PoolShape s = layer_pool_shape(l, n); subsample_forward_ref(&s, out, in); break; }
        case LAYER_ADD: add_ref(out, in, r->act[l->src2], (size_t)n * layer_out_size(l)); break;
        }
    }
    CeShape cs = {n, net->num_classes};
    return ce_forward_ref(&cs, r->probs, NULL, NULL, r->act[net->nlayers], targets);
}

static void layer_backward_ref(RefExec *r, int i, const double *p, double *g, double *din, const double *dout) {
    const Layer *l = &r->net->layers[i];
    int n = r->n;
    const double *in = r->act[l->src];
    switch (l->kind) {
    case LAYER_CONV: { Conv2dShape s = layer_conv_shape(l, n, l->src == 0); conv2d_backward_ref(&s, din, g + l->w_off, bias_mut(g, l), dout, in, p + l->w_off); break; }
    case LAYER_NORM: { NormShape s = layer_norm_shape(l, n); norm_backward_ref(&s, din, g + l->w_off, g + l->b_off, dout, in, r->stats[i], p + l->w_off); break; }
    case LAYER_ACT: if (din) act_backward_ref(l->act, (size_t)n * layer_out_size(l), din, dout, in); break;
    case LAYER_POOL: { PoolShape s = layer_pool_shape(l, n); if (din) pool_backward_ref(&s, din, dout, in); break; }
    case LAYER_FLATTEN: if (din) flatten_backward_ref(l->cin, n, l->h * l->w, din, dout); break;
    case LAYER_LINEAR: { LinearShape s = layer_linear_shape(l, n); linear_backward_ref(&s, din, g + l->w_off, bias_mut(g, l), dout, in, p + l->w_off); break; }
    case LAYER_SUBSAMPLE: { PoolShape s = layer_pool_shape(l, n); if (din) subsample_backward_ref(&s, din, dout); break; }
    case LAYER_ADD: if (din) memcpy(din, dout, node_len(r, l->src) * sizeof(double)); break;
    }
}

static void layer_rbackward_ref(RefExec *r, int i, const double *p, const double *lam, double *h, double *rdin,
                                const double *dout, const double *rdout) {
    const Layer *l = &r->net->layers[i];
    int n = r->n;
    const double *in = r->act[l->src], *tin = l->src == 0 ? NULL : r->tan[l->src];
    switch (l->kind) {
    case LAYER_CONV: { Conv2dShape s = layer_conv_shape(l, n, l->src == 0); conv2d_rbackward_ref(&s, rdin, h + l->w_off, bias_mut(h, l), dout, rdout, in, tin, p + l->w_off, lam + l->w_off); break; }
    case LAYER_NORM: { NormShape s = layer_norm_shape(l, n); norm_rbackward_ref(&s, rdin, h + l->w_off, h + l->b_off, dout, rdout, in, tin, r->stats[i], p + l->w_off, lam + l->w_off); break; }
    case LAYER_ACT: if (rdin) act_rbackward_ref(l->act, (size_t)n * layer_out_size(l), rdin, dout, rdout, in, tin); break;
    case LAYER_POOL: { PoolShape s = layer_pool_shape(l, n); if (rdin) pool_backward_ref(&s, rdin, rdout, in); break; }
    case LAYER_FLATTEN: if (rdin) flatten_backward_ref(l->cin, n, l->h * l->w, rdin, rdout); break;
    case LAYER_LINEAR: { LinearShape s = layer_linear_shape(l, n); linear_rbackward_ref(&s, rdin, h + l->w_off, bias_mut(h, l), dout, rdout, in, tin, p + l->w_off, lam + l->w_off); break; }
    case LAYER_SUBSAMPLE: { PoolShape s = layer_pool_shape(l, n); if (rdin) subsample_backward_ref(&s, rdin, rdout); break; }
    case LAYER_ADD: if (rdin) memcpy(rdin, rdout, node_len(r, l->src) * sizeof(double)); break;
    }
}

/* Per-node adjoints of one backward pass (d[0] is the caller's input gradient or NULL);
 * a layer writes its contribution to tmp and it is added to the node's sum. */
typedef struct { double *d[NET_MAX_LAYERS + 1]; double *tmp; } RefAdj;

static void ref_adj_init(RefAdj *a, const RefExec *r, double *input_adj) {
    memset(a, 0, sizeof *a);
    a->d[0] = input_adj;
    if (input_adj) memset(input_adj, 0, node_len(r, 0) * sizeof(double));
    for (int v = 1; v <= r->net->nlayers; v++) a->d[v] = xcalloc(node_len(r, v), sizeof(double));
    size_t m = 0;
    for (int v = 0; v <= r->net->nlayers; v++) if (node_len(r, v) > m) m = node_len(r, v);
    a->tmp = xcalloc(m, sizeof(double));
}

static void ref_adj_free(RefAdj *a, const RefExec *r) {
    for (int v = 1; v <= r->net->nlayers; v++) free(a->d[v]);
    free(a->tmp);
}

/* Where layer i writes the contribution to input number k (0: src, 1: src2). */
static double *ref_adj_target(RefAdj *a, const Layer *l, int k) {
    return a->d[k ? l->src2 : l->src] ? a->tmp : NULL;
}

static void ref_adj_add(RefAdj *a, const RefExec *r, const Layer *l, int k) {
    int v = k ? l->src2 : l->src;
    if (!a->d[v]) return;
    size_t len = node_len(r, v);
    for (size_t j = 0; j < len; j++) a->d[v][j] += a->tmp[j];
}

void ref_backward(RefExec *r, const double *p, const double *targets, double *grad, double *dinput) {
    const Net *net = r->net;
    memset(grad, 0, net->nparams * sizeof(double));   /* the gaps between tensors too */
    CeShape cs = {r->n, net->num_classes};
    RefAdj a;
    ref_adj_init(&a, r, dinput);
    ce_backward_ref(&cs, a.d[net->nlayers], r->probs, targets);
    for (int i = net->nlayers - 1; i >= 0; i--) {
        const Layer *l = &net->layers[i];
        for (int k = 0; k < (l->kind == LAYER_ADD ? 2 : 1); k++) {
            layer_backward_ref(r, i, p, grad, ref_adj_target(&a, l, k), a.d[i + 1]);
            ref_adj_add(&a, r, l, k);
        }
    }
    ref_adj_free(&a, r);
}

void ref_grad_hvp(RefExec *r, const double *p, const double *lam, const double *input, const double *targets,
                  double *grad, double *hvp, double *u) {
    const Net *net = r->net;
    int n = r->n;
    memset(grad, 0, net->nparams * sizeof(double));   /* the gaps between tensors too */
    memset(hvp, 0, net->nparams * sizeof(double));
    ref_forward(r, p, input, targets);
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        const double *in = r->act[l->src], *tin = l->src == 0 ? NULL : r->tan[l->src];
        double *tout = r->tan[i + 1];
        switch (l->kind) {
        case LAYER_CONV: { Conv2dShape s = layer_conv_shape(l, n, l->src == 0); conv2d_tangent_ref(&s, tout, in, tin, p + l->w_off, lam + l->w_off, l->has_bias ? lam + l->b_off : NULL); break; }
        case LAYER_NORM: { NormShape s = layer_norm_shape(l, n); norm_tangent_ref(&s, tout, in, tin, r->stats[i], p + l->w_off, lam + l->w_off, lam + l->b_off); break; }
        case LAYER_ACT: act_tangent_ref(l->act, (size_t)n * layer_out_size(l), tout, in, tin); break;
        case LAYER_POOL: { PoolShape s = layer_pool_shape(l, n); pool_tangent_ref(&s, tout, in, tin); break; }
        case LAYER_FLATTEN: flatten_forward_ref(l->cin, n, l->h * l->w, tout, tin); break;
        case LAYER_LINEAR: { LinearShape s = layer_linear_shape(l, n); linear_tangent_ref(&s, tout, in, tin, p + l->w_off, lam + l->w_off, l->has_bias ? lam + l->b_off : NULL); break; }
        case LAYER_SUBSAMPLE: { PoolShape s = layer_pool_shape(l, n); subsample_forward_ref(&s, tout, tin); break; }
        case LAYER_ADD: add_ref(tout, tin, r->tan[l->src2], (size_t)n * layer_out_size(l)); break;
        }
    }
    CeShape cs = {n, net->num_classes};
    RefAdj a, ra;
    ref_adj_init(&a, r, NULL);
    ref_adj_init(&ra, r, u);
    ce_backward_ref(&cs, a.d[net->nlayers], r->probs, targets);
    ce_rbackward_ref(&cs, ra.d[net->nlayers], r->probs, r->tan[net->nlayers]);
    for (int i = net->nlayers - 1; i >= 0; i--) {
        const Layer *l = &net->layers[i];
        for (int k = 0; k < (l->kind == LAYER_ADD ? 2 : 1); k++) {
            layer_rbackward_ref(r, i, p, lam, hvp, ref_adj_target(&ra, l, k), a.d[i + 1], ra.d[i + 1]);
            ref_adj_add(&ra, r, l, k);
            layer_backward_ref(r, i, p, grad, ref_adj_target(&a, l, k), a.d[i + 1]);
            ref_adj_add(&a, r, l, k);
        }
    }
    ref_adj_free(&a, r);
    ref_adj_free(&ra, r);
}
