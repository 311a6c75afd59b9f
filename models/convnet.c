/* The ConvNet family (docs/algorithm.md#convnet-family): depth x [conv 3x3 -> norm -> activation -> pool],
 * then flatten -> linear. Parameter names and order follow PyTorch's state_dict of the
 * original's ConvNet: features.<i>.weight/bias for the Sequential index i, then
 * classifier.weight/bias. Every variant uses the true input size (the original assumes
 * 32x32 for some names; at 32x32 and 28x28 the two agree). */
#include "stack.h"
#include "net/registry.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int width, depth;
    ActKind act;
    NormKind norm;
    PoolKind pool;
} ConvNetConfig;

const char *const convnet_names_help =
    "ConvNet, ConvNetD1..ConvNetD8, ConvNetW32/W64/W128/W256/W512/W1024, ConvNetKIP, "
    "ConvNetAS/AR/AL, ConvNetNN/BN/LN/IN/GN, ConvNetNP/MP/AP";

/* Parses a ConvNet model name; returns 0 for anything else. */
static int convnet_config(const char *name, ConvNetConfig *c) {
    *c = (ConvNetConfig){128, 3, ACT_RELU, NORM_INSTANCE, POOL_AVG};
    if (strncmp(name, "ConvNet", 7) != 0) return 0;
    const char *v = name + 7;
    if (*v == 0) return 1;
    if (v[0] == 'D' && v[1] >= '1' && v[1] <= '8' && v[2] == 0) { c->depth = v[1] - '0'; return 1; }
    if (v[0] == 'W') {
        const int widths[] = {32, 64, 128, 256, 512, 1024};
        for (int i = 0; i < 6; i++) {
            char buf[8];
            snprintf(buf, sizeof buf, "%d", widths[i]);
            if (strcmp(v + 1, buf) == 0) { c->width = widths[i]; return 1; }
        }
        return 0;
    }
    if (strcmp(v, "KIP") == 0) { c->width = 1024; c->norm = NORM_NONE; return 1; }
    if (strcmp(v, "AS") == 0) { c->act = ACT_SIGMOID; return 1; }
    if (strcmp(v, "AR") == 0) { c->act = ACT_RELU; return 1; }
    if (strcmp(v, "AL") == 0) { c->act = ACT_LEAKYRELU; return 1; }
    if (strcmp(v, "NN") == 0) { c->norm = NORM_NONE; return 1; }
    if (strcmp(v, "BN") == 0) { c->norm = NORM_BATCH; return 1; }
    if (strcmp(v, "LN") == 0) { c->norm = NORM_LAYER; return 1; }
    if (strcmp(v, "IN") == 0) { c->norm = NORM_INSTANCE; return 1; }
    if (strcmp(v, "GN") == 0) { c->norm = NORM_GROUP; return 1; }
    if (strcmp(v, "NP") == 0) { c->pool = POOL_NONE; return 1; }
    if (strcmp(v, "MP") == 0) { c->pool = POOL_MAX; return 1; }
    if (strcmp(v, "AP") == 0) { c->pool = POOL_AVG; return 1; }
    return 0;
}

static void convnet_build_config(Net *net, const char *model, const ConvNetConfig *c, int channels, int height,
                                 int width, int num_classes) {
    ConvNetConfig cfg = *c;
    Stack s;
    stack_begin(&s, net, model, channels, height, width, num_classes);
    int seq = 0; /* index in the original's nn.Sequential, which names the parameters */
    char name[32];
    for (int d = 0; d < cfg.depth; d++) {
        /* A one-channel 28x28 input gets padding 3 on the first conv: 28 -> 32 (docs/algorithm.md#convnet-family). */
        snprintf(name, sizeof name, "features.%d", seq++);
        stack_conv(&s, name, cfg.width, 3, (channels == 1 && d == 0) ? 3 : 1, 1);
        if (cfg.norm != NORM_NONE) {
            snprintf(name, sizeof name, "features.%d", seq++);
            stack_norm(&s, name, cfg.norm);
        }
        stack_act(&s, cfg.act);
        seq++;
        if (cfg.pool != POOL_NONE) {
            stack_pool(&s, cfg.pool);
            seq++;
        }
    }
    stack_linear(&s, "classifier", num_classes);
}

int convnet_build(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    ConvNetConfig cfg;
    if (!convnet_config(model, &cfg)) return 0;
    convnet_build_config(net, model, &cfg, channels, height, width, num_classes);
    return 1;
}

int convnet_build_width(Net *net, const char *model, int net_width, int channels, int height, int width,
                        int num_classes) {
    ConvNetConfig cfg;
    if (!convnet_config(model, &cfg) || net_width < 1) return 0;
    cfg.width = net_width;
    convnet_build_config(net, model, &cfg, channels, height, width, num_classes);
    return 1;
}
