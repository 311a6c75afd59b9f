/* VGG11 and VGG11BN of the original (docs/algorithm.md#other-architectures): the configuration 64 M 128 M 256 256 M
 * 512 512 M 512 512 M, each number a [3x3 conv (padding 3 for the first conv of one-channel
 * inputs) -> norm -> ReLU], M a 2x2 max pool; VGG11 normalizes with instance norm, VGG11BN
 * with batch norm. The final 1x1 average pool of the original is the identity and is left
 * out. Then Linear(512 * h * w -> K), 512 features for 32x32 and 28x28 inputs.
 * Names: features.<Sequential index>, classifier. */
#include "stack.h"
#include "net/registry.h"

#include <stdio.h>
#include <string.h>

int vgg_build(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    NormKind norm;
    if (strcmp(model, "VGG11") == 0) norm = NORM_INSTANCE;
    else if (strcmp(model, "VGG11BN") == 0) norm = NORM_BATCH;
    else return 0;
    static const int cfg[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0}; /* 0: max pool */
    Stack s;
    stack_begin(&s, net, model, channels, height, width, num_classes);
    char name[32];
    int seq = 0;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        if (cfg[i] == 0) { stack_pool(&s, POOL_MAX); seq++; continue; }
        snprintf(name, sizeof name, "features.%d", seq);
        stack_conv(&s, name, cfg[i], 3, channels == 1 && i == 0 ? 3 : 1, 1);
        snprintf(name, sizeof name, "features.%d", seq + 1);
        stack_norm(&s, name, norm);
        stack_act(&s, ACT_RELU);
        seq += 3;
    }
    stack_linear(&s, "classifier", num_classes);
    return 1;
}
