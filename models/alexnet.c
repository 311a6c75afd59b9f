/* AlexNet of the original (docs/algorithm.md#other-architectures), sized for small images: five convolutions with
 * ReLU, max pooling after the 1st, 2nd and 5th, then one Linear. The first conv pads 4
 * for one-channel 28x28 inputs (28 -> 32), else 2. Names: features.<Sequential index>, fc. */
#include "stack.h"
#include "net/registry.h"

#include <stdio.h>
#include <string.h>

int alexnet_build(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    if (strcmp(model, "AlexNet") != 0) return 0;
    /* width, kernel, padding, pool after; Sequential index of each conv */
    static const struct { int cout, k, pad, pool, seq; } convs[5] = {
        {128, 5, 2, 1, 0}, {192, 5, 2, 1, 3}, {256, 3, 1, 0, 6}, {192, 3, 1, 0, 8}, {192, 3, 1, 1, 10}};
    Stack s;
    stack_begin(&s, net, model, channels, height, width, num_classes);
    char name[32];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "features.%d", convs[i].seq);
        stack_conv(&s, name, convs[i].cout, convs[i].k, i == 0 && channels == 1 ? 4 : convs[i].pad, 1);
        stack_act(&s, ACT_RELU);
        if (convs[i].pool) stack_pool(&s, POOL_MAX);
    }
    stack_linear(&s, "fc", num_classes);
    return 1;
}
