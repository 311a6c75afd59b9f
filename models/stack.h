/* Building a network layer by layer while tracking the per-sample shape (c x h x w) that
 * flows between layers, so each model file only lists its layers and PyTorch names.
 * Parameter tensors are named "<prefix>.weight" / "<prefix>.bias" in the order they are
 * added, which is PyTorch's parameters() order when layers are added in module order. */
#ifndef CLMTT_MODELS_STACK_H
#define CLMTT_MODELS_STACK_H

#include "net/net.h"

typedef struct {
    Net *net;
    int src;                 /* node the next layer reads */
    int c, h, w;             /* its shape */
    int flat;                /* 1 once the activations are rows of features (after flatten) */
} Stack;

void stack_begin(Stack *s, Net *net, const char *model, int channels, int height, int width, int num_classes);
/* K x K convolution, stride 1, zero padding `pad`. */
void stack_conv(Stack *s, const char *prefix, int cout, int k, int pad, int bias);
/* Normalization of the current c x h x w activations (NORM_NONE adds nothing). */
void stack_norm(Stack *s, const char *prefix, NormKind norm);
void stack_act(Stack *s, ActKind act);
/* 2 x 2 pooling, stride 2 (POOL_NONE adds nothing). */
void stack_pool(Stack *s, PoolKind pool);
/* Feature rows of c*h*w per sample, PyTorch's flatten order. On the network input (NCHW
 * rows already) it adds no layer. */
void stack_flatten(Stack *s);
void stack_linear(Stack *s, const char *prefix, int cout);

/* Branches (residual connections). The node the next layer would read: */
int stack_node(const Stack *s);
/* Continue from an earlier node (its shape becomes the current one). */
void stack_resume(Stack *s, int node);
/* Stride-2 subsampling (after a stride-1 conv: a stride-2 conv). */
void stack_subsample(Stack *s);
/* current = current + node `other` (same shape). */
void stack_add(Stack *s, int other);

#endif
