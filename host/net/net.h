/* A network = a list of layers over one flat float32 parameter vector, with a table of
 * named parameter tensors in PyTorch's parameters() order (docs/formats.md#flat-parameter-vector), so trajectories
 * interchange with PyTorch. The architecture is independent of the batch size; an
 * executor (exec.h on the device, net_ref.c on the host in float64) runs it. */
#ifndef CLMTT_NET_H
#define CLMTT_NET_H

#include <stddef.h>
#include <stdint.h>

#include "layers/act.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/pool.h"
#include "core/rng.h"

/* SUBSAMPLE: stride-2 pick (after a stride-1 conv = a stride-2 conv); ADD: the sum of two
 * earlier outputs of the same shape (residual connections). */
typedef enum { LAYER_CONV, LAYER_NORM, LAYER_ACT, LAYER_POOL, LAYER_FLATTEN, LAYER_LINEAR, LAYER_SUBSAMPLE,
               LAYER_ADD } LayerKind;

/* Per-sample shapes: input cin x h x w, output cout x ho x wo (linear: h = w = 1).
 * Layers form a graph over nodes: node 0 is the network input, node i + 1 the output of
 * layer i. A layer reads node `src` (i for a plain chain) and, for ADD, also `src2`;
 * every src is an earlier node, so the layers run in order. */
typedef struct {
    LayerKind kind;
    int src, src2;
    int cin, h, w;
    int cout, ho, wo;
    int k, pad;              /* conv */
    NormKind norm;
    ActKind act;
    PoolKind pool;
    int has_bias;            /* conv / linear */
    size_t w_off, b_off;     /* conv/linear weight and bias; norm gamma and beta */
    int bn_index;            /* batch norm: index of its running statistics, else -1 */
} Layer;

/* Two layouts of the same parameters. Files (trajectories) hold PyTorch's state_dict order
 * without gaps (`offset`). clmtt's own parameter vectors, on the host and on the device,
 * start every tensor at a multiple of NET_PARAM_ALIGN floats (`mem_offset`, the layers'
 * w_off and b_off), so that every weight handed to a matrix product starts on a
 * CL_DEVICE_MEM_BASE_ADDR_ALIGN boundary of current GPUs (4096 bits at most) and at a
 * multiple of 32 floats. The gaps are zero. net_pack and net_unpack convert. */
typedef struct {
    char name[64];           /* PyTorch state_dict name, e.g. features.0.weight */
    int ndim;
    int64_t shape[4];
    size_t offset;           /* in a file's vector */
    size_t mem_offset;       /* in clmtt's parameter vectors */
    size_t numel;
} ParamTensor;

enum { NET_MAX_LAYERS = 128, NET_MAX_TENSORS = 128, NET_PARAM_ALIGN = 128 };

typedef struct {
    char model[64];
    int channels, height, width, num_classes;
    int nlayers;
    Layer layers[NET_MAX_LAYERS];
    int ntensors;
    ParamTensor tensors[NET_MAX_TENSORS];
    size_t nparams;          /* floats in one of clmtt's parameter vectors, gaps included */
    size_t ndense;           /* the parameters themselves: floats in a file's vector */
    int nbatchnorm;          /* layers with running statistics */
} Net;

/* A layer's shapes for a batch of n; `first` marks the network's first layer, whose
 * input is the NCHW image batch. */
static inline Conv2dShape layer_conv_shape(const Layer *l, int n, int first) {
    Conv2dShape s = {n, l->cin, l->h, l->w, l->cout, l->k, l->pad, first};
    return s;
}
static inline NormShape layer_norm_shape(const Layer *l, int n) {
    NormShape s = {l->norm, l->cout, n, l->ho * l->wo};
    return s;
}
static inline PoolShape layer_pool_shape(const Layer *l, int n) {
    PoolShape s = {l->pool, l->cin * n, l->h, l->w};
    return s;
}
static inline LinearShape layer_linear_shape(const Layer *l, int n) {
    LinearShape s = {n, l->cin, l->cout};
    return s;
}
static inline size_t layer_out_size(const Layer *l) { return (size_t)l->cout * l->ho * l->wo; }

/* file[ndense] (the files' order) from params[nparams], and back (the gaps set to zero). */
void net_pack(const Net *net, const float *params, float *file);
void net_unpack(const Net *net, const float *file, float *params);
/* PyTorch's default initialization (docs/algorithm.md#layers-and-initialization) into params[nparams]
 * (the gaps zero). */
void net_init_params(const Net *net, Rng *rng, float *params);
/* JSON text: [["features.0.weight", [128, 1, 3, 3]], ...] (malloc'd). */
char *net_param_layout_json(const Net *net);
/* Buffers for node adjoints in a backward pass (layers in reverse order): slot[v] for
 * nodes 1..nlayers, reusing a slot once its node's producer has run; returns the number
 * of slots (2 for a chain). Node 0 (the input) has no slot. */
int net_adjoint_slots(const Net *net, int *slot);
/* 1 when some node is read by more than one layer (a residual branch point). */
int net_has_shared_nodes(const Net *net);
/* Largest per-sample activation (floats) of any layer input or output. */
size_t net_max_activation(const Net *net);
void net_print(const Net *net);

/* Helpers for network definitions (models/). */
void net_begin(Net *net, const char *model, int channels, int height, int width, int num_classes);
/* Adds a parameter tensor and returns its offset in clmtt's parameter vectors. */
size_t net_param(Net *net, const char *name, int ndim, const int64_t *shape);
Layer *net_add(Net *net, LayerKind kind);

#endif
