#include "net/net.h"
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void net_begin(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    memset(net, 0, sizeof *net);
    snprintf(net->model, sizeof net->model, "%s", model);
    net->channels = channels;
    net->height = height;
    net->width = width;
    net->num_classes = num_classes;
}

size_t net_param(Net *net, const char *name, int ndim, const int64_t *shape) {
    if (net->ntensors == NET_MAX_TENSORS) die("internal: too many parameter tensors in %s", net->model);
    ParamTensor *t = &net->tensors[net->ntensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) { t->shape[i] = shape[i]; t->numel *= (size_t)shape[i]; }
    t->offset = net->ndense;
    t->mem_offset = (net->nparams + NET_PARAM_ALIGN - 1) / NET_PARAM_ALIGN * NET_PARAM_ALIGN;
    net->ndense += t->numel;
    net->nparams = t->mem_offset + t->numel;
    return t->mem_offset;
}

void net_pack(const Net *net, const float *params, float *file) {
    for (int i = 0; i < net->ntensors; i++) {
        const ParamTensor *t = &net->tensors[i];
        memcpy(file + t->offset, params + t->mem_offset, t->numel * sizeof(float));
    }
}

void net_unpack(const Net *net, const float *file, float *params) {
    memset(params, 0, net->nparams * sizeof(float));
    for (int i = 0; i < net->ntensors; i++) {
        const ParamTensor *t = &net->tensors[i];
        memcpy(params + t->mem_offset, file + t->offset, t->numel * sizeof(float));
    }
}

Layer *net_add(Net *net, LayerKind kind) {
    if (net->nlayers == NET_MAX_LAYERS) die("internal: too many layers in %s", net->model);
    Layer *l = &net->layers[net->nlayers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->src = net->nlayers - 1;
    l->src2 = -1;
    l->bn_index = -1;
    return l;
}

int net_has_shared_nodes(const Net *net) {
    int reads[NET_MAX_LAYERS + 1] = {0};
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        if (++reads[l->src] > 1) return 1;
        if (l->kind == LAYER_ADD && ++reads[l->src2] > 1) return 1;
    }
    return 0;
}

int net_adjoint_slots(const Net *net, int *slot) {
    int L = net->nlayers, nslots = 0;
    int used[NET_MAX_LAYERS + 1] = {0};
    for (int v = 0; v <= L; v++) slot[v] = -1;
    slot[L] = 0; used[0] = 1; nslots = 1;
    for (int i = L - 1; i >= 0; i--) {
        const Layer *l = &net->layers[i];
        int srcs[2] = {l->src, l->kind == LAYER_ADD ? l->src2 : -1};
        for (int k = 0; k < 2; k++) {
            int v = srcs[k];
            if (v <= 0 || slot[v] >= 0) continue;
            int f = 0;
            while (used[f]) f++;
            slot[v] = f; used[f] = 1;
            if (f + 1 > nslots) nslots = f + 1;
        }
        /* node i+1 is complete once its producer (layer i) has read it */
        if (slot[i + 1] < 0) die("internal: %s: the output of layer %d feeds no layer", net->model, i);
        used[slot[i + 1]] = 0;
    }
    return nslots;
}

/* Uniform(-bound, bound) with bound = 1/sqrt(fan_in): PyTorch's default for conv and
 * linear weights (kaiming_uniform with a = sqrt(5)) and biases. */
static void fill_uniform(Rng *rng, float *x, size_t n, double fan_in) {
    double bound = 1.0 / sqrt(fan_in);
    for (size_t i = 0; i < n; i++) x[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * bound);
}

void net_init_params(const Net *net, Rng *rng, float *params) {
    memset(params, 0, net->nparams * sizeof(float));
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        if (l->kind == LAYER_CONV || l->kind == LAYER_LINEAR) {
            size_t fan_in = l->kind == LAYER_CONV ? (size_t)l->cin * l->k * l->k : (size_t)l->cin * l->h * l->w;
            size_t nw = l->kind == LAYER_CONV ? (size_t)l->cout * fan_in : (size_t)l->cout * fan_in;
            fill_uniform(rng, params + l->w_off, nw, (double)fan_in);
            if (l->has_bias) fill_uniform(rng, params + l->b_off, (size_t)l->cout, (double)fan_in);
        } else if (l->kind == LAYER_NORM) {
            size_t na = l->norm == NORM_LAYER ? (size_t)l->cout * l->ho * l->wo : (size_t)l->cout;
            for (size_t j = 0; j < na; j++) { params[l->w_off + j] = 1.0f; params[l->b_off + j] = 0.0f; }
        }
    }
}

char *net_param_layout_json(const Net *net) {
    size_t cap = 256 + (size_t)net->ntensors * 128, n = 0;
    char *s = xmalloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "[");
    for (int i = 0; i < net->ntensors; i++) {
        const ParamTensor *t = &net->tensors[i];
        n += (size_t)snprintf(s + n, cap - n, "%s[\"%s\", [", i ? ", " : "", t->name);
        for (int d = 0; d < t->ndim; d++) n += (size_t)snprintf(s + n, cap - n, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        n += (size_t)snprintf(s + n, cap - n, "]]");
    }
    snprintf(s + n, cap - n, "]");
    return s;
}

size_t net_max_activation(const Net *net) {
    size_t m = (size_t)net->channels * net->height * net->width;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        size_t o = (size_t)l->cout * l->ho * l->wo;
        if (o > m) m = o;
    }
    return m;
}

void net_print(const Net *net) {
    printf("model %s: input %dx%dx%d, %d classes, %zu parameters\n", net->model, net->channels, net->height,
           net->width, net->num_classes, net->ndense);
}
