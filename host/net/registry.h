/* Model names to network definitions. */
#ifndef CLMTT_REGISTRY_H
#define CLMTT_REGISTRY_H

#include "net/net.h"

/* Builds `model` for inputs channels x height x width and num_classes outputs.
 * Dies with "--model: ..." for names clmtt does not know. */
void net_build(Net *net, const char *model, int channels, int height, int width, int num_classes);
/* The same, returning 0 (and building nothing) for a name clmtt does not know. */
int net_try_build(Net *net, const char *model, int channels, int height, int width, int num_classes);
/* Network definitions (one file each in models/): each returns 0 when `model` is not one of its names. */
int convnet_build(Net *net, const char *model, int channels, int height, int width, int num_classes);
/* A ConvNet variant with net_width channels in every conv layer instead of its own (the original's
 * ConvNet(net_width=...)); 0 for a name outside the family. The simulator runs of the tests take
 * narrow networks with it. */
int convnet_build_width(Net *net, const char *model, int net_width, int channels, int height, int width,
                        int num_classes);
int mlp_build(Net *net, const char *model, int channels, int height, int width, int num_classes);
int lenet_build(Net *net, const char *model, int channels, int height, int width, int num_classes);
int alexnet_build(Net *net, const char *model, int channels, int height, int width, int num_classes);
int vgg_build(Net *net, const char *model, int channels, int height, int width, int num_classes);
int resnet_build(Net *net, const char *model, int channels, int height, int width, int num_classes);
/* ConvNet names the family accepts, for help texts. */
extern const char *const convnet_names_help;

#endif
