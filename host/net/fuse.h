/* Fusable runs of layers: after a convolution, [instance or batch norm] -> activation ->
 * [2x2 pooling] -> [flatten] runs as one block (layers/block.h) in every pass of the
 * executor; the block also adds the convolution's bias (its forward and tangent run without
 * it) and, ending with a flatten, writes the flattened NCHW layout itself. Found
 * once per executor; only in plain chains (no residual branches), so the adjoint of a
 * block's input is the only value its passes write. CLMTT_FUSE=0 turns fusion off (every
 * layer then runs alone); by default fusion is on for the GPU kernel family only. */
#ifndef CLMTT_FUSE_H
#define CLMTT_FUSE_H

#include "layers/block.h"
#include "net/net.h"

typedef struct {
    int last[NET_MAX_LAYERS];    /* layer i starts a block ending at layer last[i]; -1: no */
    int first[NET_MAX_LAYERS];   /* layer j ends a block starting at layer first[j]; -1: no */
    int norm[NET_MAX_LAYERS];    /* for a block's first layer: its norm layer, or -1 */
    int pool[NET_MAX_LAYERS];    /* for a block's first layer: its pool layer, or -1 */
    int flat[NET_MAX_LAYERS];    /* for a block's first layer: the flatten it ends with, or -1 */
    int count;                   /* blocks found */
} NetBlocks;

void fuse_find(const Net *net, NetBlocks *b);
/* The block that starts at layer i, for a batch of n. */
BlockShape fuse_block_shape(const Net *net, const NetBlocks *b, int i, int n);
/* Adjoint slots (as net_adjoint_slots) for a chain whose blocks each act as one layer: the
 * input and output of a block must not share a buffer, since its output adjoint is read
 * while its input adjoint is written. Nodes inside a block get no slot. Returns the count. */
int fuse_adjoint_slots(const Net *net, const NetBlocks *b, int *slot);

#endif
