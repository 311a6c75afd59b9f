#include "net/fuse.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

/* 1 when fusion is on: CLMTT_FUSE=1 on, =0 off; unset, on for the GPU kernel family and off
 * for the CPU family, where the fused kernels, which recompute the norm and activation in
 * every pass and walk a channel with one work-item, measured slower than the layers one by
 * one (Fashion-MNIST ConvNet ipc 1, PoCL on 2 cores: 2.41 s against 2.14 s per iteration). */
static int fuse_enabled(void) {
    const char *e = getenv("CLMTT_FUSE");
    if (e && *e) {
        if (strcmp(e, "0") != 0 && strcmp(e, "1") != 0) die("CLMTT_FUSE must be 0 or 1, got '%s'", e);
        return e[0] == '1';
    }
    return !rt_cpu_family();
}

/* 1 when layer j reads node j (the previous layer's output) as a plain chain step. */
static int chained(const Net *net, int j) { return j < net->nlayers && net->layers[j].src == j; }

void fuse_find(const Net *net, NetBlocks *b) {
    memset(b, 0, sizeof *b);
    for (int i = 0; i < NET_MAX_LAYERS; i++) b->last[i] = b->first[i] = b->norm[i] = b->pool[i] = b->flat[i] = -1;
    if (!fuse_enabled() || net_has_shared_nodes(net)) return;
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].kind == LAYER_ADD) return;
    for (int i = 1; i < net->nlayers; i++) {
        if (net->layers[i - 1].kind != LAYER_CONV) continue;
        int j = i, norm = -1;
        NormKind nk = NORM_NONE;
        const Layer *l = &net->layers[j];
        if (chained(net, j) && l->kind == LAYER_NORM && (l->norm == NORM_INSTANCE || l->norm == NORM_BATCH)) {
            norm = j; nk = l->norm; j++;
        }
        if (!chained(net, j) || net->layers[j].kind != LAYER_ACT) continue;
        ActKind ak = net->layers[j].act;
        j++;
        PoolKind pk = POOL_NONE;
        int pool = -1, flat = -1;
        const Layer *conv = &net->layers[i - 1];
        if (chained(net, j) && net->layers[j].kind == LAYER_POOL && conv->ho >= 2 && conv->wo >= 2) {
            pool = j;
            pk = net->layers[j++].pool;
        }
        if (!block_supports(nk, ak, pk)) continue;
        /* A flatten right after: the block writes NCHW, which is the flattened layout. */
        if (chained(net, j) && net->layers[j].kind == LAYER_FLATTEN) flat = j++;
        b->last[i] = j - 1;
        b->first[j - 1] = i;
        b->norm[i] = norm;
        b->pool[i] = pool;
        b->flat[i] = flat;
        b->count++;
        i = j - 1;
    }
}

BlockShape fuse_block_shape(const Net *net, const NetBlocks *b, int i, int n) {
    const Layer *conv = &net->layers[i - 1];
    NormKind nk = b->norm[i] >= 0 ? net->layers[b->norm[i]].norm : NORM_NONE;
    int a = b->norm[i] >= 0 ? i + 1 : i;   /* the activation layer */
    PoolKind pk = b->pool[i] >= 0 ? net->layers[b->pool[i]].pool : POOL_NONE;
    BlockShape s = {nk, net->layers[a].act, pk, conv->cout, n, conv->ho, conv->wo, b->flat[i] >= 0};
    return s;
}

int fuse_adjoint_slots(const Net *net, const NetBlocks *b, int *slot) {
    if (b->count == 0) return net_adjoint_slots(net, slot);
    int L = net->nlayers;
    for (int v = 0; v <= L; v++) slot[v] = -1;
    /* a chain: each step's input takes the slot its output does not use */
    slot[L] = 0;
    for (int i = L - 1; i >= 0; i--) {
        int start = b->first[i] >= 0 ? b->first[i] : i;
        if (start > 0) slot[start] = 1 - slot[i + 1];
        i = start;
    }
    return 2;
}
