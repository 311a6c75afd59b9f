/* The model registry: a --model name to the network definition that builds it (one file
 * per family in models/). A new model family adds its builder to the table below. */
#include "net/registry.h"
#include "core/util.h"

int net_try_build(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    typedef int (*Builder)(Net *, const char *, int, int, int, int);
    static const Builder builders[] = {convnet_build, mlp_build, lenet_build, alexnet_build, vgg_build, resnet_build};
    for (size_t i = 0; i < sizeof builders / sizeof builders[0]; i++)
        if (builders[i](net, model, channels, height, width, num_classes)) return 1;
    return 0;
}

void net_build(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    if (net_try_build(net, model, channels, height, width, num_classes)) return;
    die("--model: unknown or unsupported model '%s' (clmtt supports %s, MLP, LeNet, AlexNet, VGG11, VGG11BN, ResNet18, ResNet18_AP, ResNet18BN_AP)", model,
        convnet_names_help);
}
