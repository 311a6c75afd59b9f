#include "stack.h"
#include "core/util.h"

#include <stdio.h>

void stack_begin(Stack *s, Net *net, const char *model, int channels, int height, int width, int num_classes) {
    net_begin(net, model, channels, height, width, num_classes);
    s->net = net;
    s->src = 0;
    s->c = channels; s->h = height; s->w = width;
    s->flat = 0;
}

/* A layer that maps the current shape to cout x ho x wo. */
static Layer *stack_layer(Stack *s, LayerKind kind, int cout, int ho, int wo) {
    if (ho < 1 || wo < 1)
        die("--model: %s does not fit %dx%d inputs (a layer would output %dx%d)", s->net->model, s->net->height,
            s->net->width, ho, wo);
    Layer *l = net_add(s->net, kind);
    l->src = s->src;
    l->cin = s->c; l->h = s->h; l->w = s->w;
    l->cout = cout; l->ho = ho; l->wo = wo;
    s->src = s->net->nlayers;
    s->c = cout; s->h = ho; s->w = wo;
    return l;
}

static size_t stack_param(Stack *s, const char *prefix, const char *what, int ndim, const int64_t *shape) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", prefix, what);
    return net_param(s->net, name, ndim, shape);
}

void stack_conv(Stack *s, const char *prefix, int cout, int k, int pad, int bias) {
    if (s->flat) die("internal: %s: convolution after flatten", s->net->model);
    int cin = s->c;
    Layer *l = stack_layer(s, LAYER_CONV, cout, s->h + 2 * pad - k + 1, s->w + 2 * pad - k + 1);
    l->k = k; l->pad = pad; l->has_bias = bias;
    l->w_off = stack_param(s, prefix, "weight", 4, (int64_t[]){cout, cin, k, k});
    if (bias) l->b_off = stack_param(s, prefix, "bias", 1, (int64_t[]){cout});
}

void stack_norm(Stack *s, const char *prefix, NormKind norm) {
    if (norm == NORM_NONE) return;
    if (norm == NORM_GROUP && s->c % 4) die("--model: %s needs a width divisible by 4", s->net->model);
    Layer *l = stack_layer(s, LAYER_NORM, s->c, s->h, s->w);
    l->norm = norm;
    /* Layer norm has one affine pair per element, the others one per channel. */
    int ndim = norm == NORM_LAYER ? 3 : 1;
    const int64_t shape[3] = {s->c, s->h, s->w};
    l->w_off = stack_param(s, prefix, "weight", ndim, shape);
    l->b_off = stack_param(s, prefix, "bias", ndim, shape);
    if (norm == NORM_BATCH) l->bn_index = s->net->nbatchnorm++;
}

void stack_act(Stack *s, ActKind act) {
    Layer *l = stack_layer(s, LAYER_ACT, s->c, s->h, s->w);
    l->act = act;
}

void stack_pool(Stack *s, PoolKind pool) {
    if (pool == POOL_NONE) return;
    Layer *l = stack_layer(s, LAYER_POOL, s->c, pool_out(s->h), pool_out(s->w));
    l->pool = pool;
}

void stack_flatten(Stack *s) {
    if (s->flat) return;
    int features = s->c * s->h * s->w;
    if (s->src > 0) stack_layer(s, LAYER_FLATTEN, features, 1, 1);
    else { s->c = features; s->h = s->w = 1; }
    s->flat = 1;
}

void stack_linear(Stack *s, const char *prefix, int cout) {
    stack_flatten(s);
    int cin = s->c;
    Layer *l = stack_layer(s, LAYER_LINEAR, cout, 1, 1);
    l->has_bias = 1;
    l->w_off = stack_param(s, prefix, "weight", 2, (int64_t[]){cout, cin});
    l->b_off = stack_param(s, prefix, "bias", 1, (int64_t[]){cout});
}

int stack_node(const Stack *s) { return s->src; }

void stack_resume(Stack *s, int node) {
    if (node < 0 || node > s->net->nlayers) die("internal: %s: no node %d", s->net->model, node);
    s->src = node;
    if (node == 0) { s->c = s->net->channels; s->h = s->net->height; s->w = s->net->width; }
    else {
        const Layer *l = &s->net->layers[node - 1];
        s->c = l->cout; s->h = l->ho; s->w = l->wo;
    }
    s->flat = node > 0 && (s->net->layers[node - 1].kind == LAYER_FLATTEN || s->net->layers[node - 1].kind == LAYER_LINEAR);
}

void stack_subsample(Stack *s) {
    if (s->flat) die("internal: %s: subsampling after flatten", s->net->model);
    stack_layer(s, LAYER_SUBSAMPLE, s->c, subsample_out(s->h), subsample_out(s->w));
}

void stack_add(Stack *s, int other) {
    /* the network input is NCHW, every later node CNHW: only later nodes can be added */
    if (other <= 0 || s->src <= 0) die("internal: %s: adding the network input", s->net->model);
    int c = s->c, h = s->h, w = s->w;
    Stack o = *s;
    stack_resume(&o, other);
    if (o.c != c || o.h != h || o.w != w)
        die("internal: %s: adding %dx%dx%d to %dx%dx%d", s->net->model, o.c, o.h, o.w, c, h, w);
    Layer *l = stack_layer(s, LAYER_ADD, c, h, w);
    l->src2 = other;
}
