/* The ConvNet family (SPEC 4.2, 4.3): depth x [conv 3x3 -> norm -> activation -> pool],
 * then flatten -> linear. Parameter names and order follow PyTorch's state_dict of the
 * original's ConvNet: features.<i>.weight/bias for the Sequential index i, then
 * classifier.weight/bias. Every variant uses the true input size (the original assumes
 * 32x32 for some names; at 32x32 and 28x28 the two agree). */
#include "net.h"
#include "util.h"

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

int convnet_build(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    ConvNetConfig cfg;
    if (!convnet_config(model, &cfg)) return 0;
    net_begin(net, model, channels, height, width, num_classes);
    int c = channels, h = height, w = width, seq = 0;
    char name[64];
    for (int d = 0; d < cfg.depth; d++) {
        /* A one-channel 28x28 input gets padding 3 on the first conv: 28 -> 32 (SPEC 4.2). */
        int pad = (channels == 1 && d == 0) ? 3 : 1;
        Layer *conv = net_add(net, LAYER_CONV);
        conv->cin = c; conv->h = h; conv->w = w;
        conv->cout = cfg.width; conv->k = 3; conv->pad = pad;
        conv->ho = h + 2 * pad - 2; conv->wo = w + 2 * pad - 2;
        conv->has_bias = 1;
        snprintf(name, sizeof name, "features.%d.weight", seq);
        conv->w_off = net_param(net, name, 4, (int64_t[]){cfg.width, c, 3, 3});
        snprintf(name, sizeof name, "features.%d.bias", seq);
        conv->b_off = net_param(net, name, 1, (int64_t[]){cfg.width});
        seq++;
        c = cfg.width; h = conv->ho; w = conv->wo;
        if (h < 1 || w < 1) die("--model: %s is too deep for %dx%d inputs", model, height, width);
        if (cfg.norm != NORM_NONE) {
            if (cfg.norm == NORM_GROUP && c % 4) die("--model: %s needs a width divisible by 4", model);
            Layer *nl = net_add(net, LAYER_NORM);
            nl->cin = nl->cout = c; nl->h = nl->ho = h; nl->w = nl->wo = w;
            nl->norm = cfg.norm;
            snprintf(name, sizeof name, "features.%d.weight", seq);
            if (cfg.norm == NORM_LAYER) nl->w_off = net_param(net, name, 3, (int64_t[]){c, h, w});
            else nl->w_off = net_param(net, name, 1, (int64_t[]){c});
            snprintf(name, sizeof name, "features.%d.bias", seq);
            if (cfg.norm == NORM_LAYER) nl->b_off = net_param(net, name, 3, (int64_t[]){c, h, w});
            else nl->b_off = net_param(net, name, 1, (int64_t[]){c});
            if (cfg.norm == NORM_BATCH) nl->bn_index = net->nbatchnorm++;
            seq++;
        }
        Layer *al = net_add(net, LAYER_ACT);
        al->cin = al->cout = c; al->h = al->ho = h; al->w = al->wo = w;
        al->act = cfg.act;
        seq++;
        if (cfg.pool != POOL_NONE) {
            Layer *pl = net_add(net, LAYER_POOL);
            pl->cin = pl->cout = c; pl->h = h; pl->w = w;
            pl->pool = cfg.pool;
            pl->ho = h / 2; pl->wo = w / 2;
            h = pl->ho; w = pl->wo;
            if (h < 1 || w < 1) die("--model: %s is too deep for %dx%d inputs", model, height, width);
            seq++;
        }
    }
    Layer *fl = net_add(net, LAYER_FLATTEN);
    fl->cin = c; fl->h = h; fl->w = w;
    fl->cout = c * h * w; fl->ho = fl->wo = 1;
    Layer *lin = net_add(net, LAYER_LINEAR);
    lin->cin = c * h * w; lin->h = lin->w = 1;
    lin->cout = num_classes; lin->ho = lin->wo = 1;
    lin->has_bias = 1;
    lin->w_off = net_param(net, "classifier.weight", 2, (int64_t[]){num_classes, c * h * w});
    lin->b_off = net_param(net, "classifier.bias", 1, (int64_t[]){num_classes});
    return 1;
}
