#include "net_ref.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

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

double ref_forward(RefExec *r, const double *p, const double *input, const int *labels) {
    const Net *net = r->net;
    int n = r->n;
    r->act[0] = (double *)input;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        const double *in = r->act[i];
        double *out = r->act[i + 1];
        switch (l->kind) {
        case LAYER_CONV: { Conv2dShape s = layer_conv_shape(l, n, i == 0); conv2d_forward_ref(&s, out, in, p + l->w_off, bias(p, l)); break; }
        case LAYER_NORM: { NormShape s = layer_norm_shape(l, n); norm_forward_ref(&s, out, r->stats[i], in, p + l->w_off, p + l->b_off); break; }
        case LAYER_ACT: act_forward_ref(l->act, (size_t)n * layer_out_size(l), out, in); break;
        case LAYER_POOL: { PoolShape s = layer_pool_shape(l, n); pool_forward_ref(&s, out, in); break; }
        case LAYER_FLATTEN: flatten_forward_ref(l->cin, n, l->h * l->w, out, in); break;
        case LAYER_LINEAR: { LinearShape s = layer_linear_shape(l, n); linear_forward_ref(&s, out, in, p + l->w_off, bias(p, l)); break; }
        }
    }
    CeShape cs = {n, net->num_classes};
    return ce_forward_ref(&cs, r->probs, NULL, NULL, r->act[net->nlayers], labels);
}

static void layer_backward_ref(RefExec *r, int i, const double *p, double *g, double *din, const double *dout) {
    const Layer *l = &r->net->layers[i];
    int n = r->n;
    const double *in = r->act[i];
    switch (l->kind) {
    case LAYER_CONV: { Conv2dShape s = layer_conv_shape(l, n, i == 0); conv2d_backward_ref(&s, din, g + l->w_off, bias_mut(g, l), dout, in, p + l->w_off); break; }
    case LAYER_NORM: { NormShape s = layer_norm_shape(l, n); norm_backward_ref(&s, din, g + l->w_off, g + l->b_off, dout, in, r->stats[i], p + l->w_off); break; }
    case LAYER_ACT: if (din) act_backward_ref(l->act, (size_t)n * layer_out_size(l), din, dout, in); break;
    case LAYER_POOL: { PoolShape s = layer_pool_shape(l, n); if (din) pool_backward_ref(&s, din, dout, in); break; }
    case LAYER_FLATTEN: if (din) flatten_backward_ref(l->cin, n, l->h * l->w, din, dout); break;
    case LAYER_LINEAR: { LinearShape s = layer_linear_shape(l, n); linear_backward_ref(&s, din, g + l->w_off, bias_mut(g, l), dout, in, p + l->w_off); break; }
    }
}

static void layer_rbackward_ref(RefExec *r, int i, const double *p, const double *lam, double *h, double *rdin,
                                const double *dout, const double *rdout) {
    const Layer *l = &r->net->layers[i];
    int n = r->n;
    const double *in = r->act[i], *tin = i == 0 ? NULL : r->tan[i];
    switch (l->kind) {
    case LAYER_CONV: { Conv2dShape s = layer_conv_shape(l, n, i == 0); conv2d_rbackward_ref(&s, rdin, h + l->w_off, bias_mut(h, l), dout, rdout, in, tin, p + l->w_off, lam + l->w_off); break; }
    case LAYER_NORM: { NormShape s = layer_norm_shape(l, n); norm_rbackward_ref(&s, rdin, h + l->w_off, h + l->b_off, dout, rdout, in, tin, r->stats[i], p + l->w_off, lam + l->w_off); break; }
    case LAYER_ACT: if (rdin) act_rbackward_ref(l->act, (size_t)n * layer_out_size(l), rdin, dout, rdout, in, tin); break;
    case LAYER_POOL: { PoolShape s = layer_pool_shape(l, n); if (rdin) pool_backward_ref(&s, rdin, rdout, in); break; }
    case LAYER_FLATTEN: if (rdin) flatten_backward_ref(l->cin, n, l->h * l->w, rdin, rdout); break;
    case LAYER_LINEAR: { LinearShape s = layer_linear_shape(l, n); linear_rbackward_ref(&s, rdin, h + l->w_off, bias_mut(h, l), dout, rdout, in, tin, p + l->w_off, lam + l->w_off); break; }
    }
}

static size_t max_act(const RefExec *r) { return (size_t)r->n * net_max_activation(r->net); }

void ref_backward(RefExec *r, const double *p, const int *labels, double *grad, double *dinput) {
    const Net *net = r->net;
    CeShape cs = {r->n, net->num_classes};
    double *buf[2] = {xcalloc(max_act(r), sizeof(double)), xcalloc(max_act(r), sizeof(double))};
    int cur = 0;
    ce_backward_ref(&cs, buf[cur], r->probs, labels);
    for (int i = net->nlayers - 1; i >= 0; i--) {
        double *din = i == 0 ? dinput : buf[1 - cur];
        layer_backward_ref(r, i, p, grad, din, buf[cur]);
        cur = 1 - cur;
    }
    free(buf[0]);
    free(buf[1]);
}

void ref_grad_hvp(RefExec *r, const double *p, const double *lam, const double *input, const int *labels,
                  double *grad, double *hvp, double *u) {
    const Net *net = r->net;
    int n = r->n;
    ref_forward(r, p, input, labels);
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        const double *in = r->act[i], *tin = i == 0 ? NULL : r->tan[i];
        double *tout = r->tan[i + 1];
        switch (l->kind) {
        case LAYER_CONV: { Conv2dShape s = layer_conv_shape(l, n, i == 0); conv2d_tangent_ref(&s, tout, in, tin, p + l->w_off, lam + l->w_off, l->has_bias ? lam + l->b_off : NULL); break; }
        case LAYER_NORM: { NormShape s = layer_norm_shape(l, n); norm_tangent_ref(&s, tout, in, tin, r->stats[i], p + l->w_off, lam + l->w_off, lam + l->b_off); break; }
        case LAYER_ACT: act_tangent_ref(l->act, (size_t)n * layer_out_size(l), tout, in, tin); break;
        case LAYER_POOL: { PoolShape s = layer_pool_shape(l, n); pool_tangent_ref(&s, tout, in, tin); break; }
        case LAYER_FLATTEN: flatten_forward_ref(l->cin, n, l->h * l->w, tout, tin); break;
        case LAYER_LINEAR: { LinearShape s = layer_linear_shape(l, n); linear_tangent_ref(&s, tout, in, tin, p + l->w_off, lam + l->w_off, l->has_bias ? lam + l->b_off : NULL); break; }
        }
    }
    CeShape cs = {n, net->num_classes};
    double *d[2] = {xcalloc(max_act(r), sizeof(double)), xcalloc(max_act(r), sizeof(double))};
    double *rd[2] = {xcalloc(max_act(r), sizeof(double)), xcalloc(max_act(r), sizeof(double))};
    int cur = 0;
    ce_backward_ref(&cs, d[cur], r->probs, labels);
    ce_rbackward_ref(&cs, rd[cur], r->probs, r->tan[net->nlayers]);
    for (int i = net->nlayers - 1; i >= 0; i--) {
        double *din = i == 0 ? NULL : d[1 - cur], *rdin = i == 0 ? u : rd[1 - cur];
        layer_rbackward_ref(r, i, p, lam, hvp, rdin, d[cur], rd[cur]);
        layer_backward_ref(r, i, p, grad, din, d[cur]);
        cur = 1 - cur;
    }
    for (int k = 0; k < 2; k++) { free(d[k]); free(rd[k]); }
}
