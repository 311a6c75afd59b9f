/* ResNet18 of the original (docs/algorithm.md#other-architectures) and its "AP" variants: BasicBlocks [2, 2, 2, 2] of
 * widths 64, 128, 256, 512 after a 3x3 stem, instance norm (GroupNorm with one group per
 * channel) unless the name says BN. No conv has a bias.
 *   ResNet18          strided blocks use stride-2 convs (here: stride 1, then subsampling,
 *                     which is the same map), 1x1 stride-2 shortcuts; head: 4x4 average
 *                     pool (two 2x2 pools: equal for any size), Linear(512 h w -> K)
 *   ResNet18_AP,      strided blocks keep stride 1 and average-pool 2x2 after conv1 and
 *   ResNet18BN_AP     after the shortcut's 1x1 conv (before its norm); head: Linear(512 h w -> K)
 * Names follow the original's modules: conv1, bn1, layer<k>.<b>.conv1 / bn1 / conv2 / bn2 /
 * shortcut.<i>, classifier. */
#include "stack.h"
#include "net/registry.h"

#include <stdio.h>
#include <string.h>

typedef struct { NormKind norm; int ap; } ResNetConfig;

static void conv_norm(Stack *s, const char *conv, const char *norm, int cout, int k, NormKind nk) {
    stack_conv(s, conv, cout, k, k / 2, 0);
    stack_norm(s, norm, nk);
}

/* One BasicBlock (or BasicBlock_AP) named `p` (e.g. "layer2.0"). */
static void basic_block(Stack *s, const char *p, int cout, int stride, const ResNetConfig *cfg) {
    char a[48], b[48];
    int in = stack_node(s), cin = s->c;
    snprintf(a, sizeof a, "%s.conv1", p); snprintf(b, sizeof b, "%s.bn1", p);
    stack_conv(s, a, cout, 3, 1, 0);
    if (stride != 1 && !cfg->ap) stack_subsample(s);
    stack_norm(s, b, cfg->norm);
    stack_act(s, ACT_RELU);
    if (stride != 1 && cfg->ap) stack_pool(s, POOL_AVG);
    snprintf(a, sizeof a, "%s.conv2", p); snprintf(b, sizeof b, "%s.bn2", p);
    conv_norm(s, a, b, cout, 3, cfg->norm);
    int main = stack_node(s), shortcut = in;
    if (stride != 1 || cin != cout) {
        stack_resume(s, in);
        snprintf(a, sizeof a, "%s.shortcut.0", p);
        stack_conv(s, a, cout, 1, 0, 0);
        if (stride != 1) {
            if (cfg->ap) stack_pool(s, POOL_AVG);
            else stack_subsample(s);
        }
        /* the AP shortcut is conv, pool, norm: its norm is module 2 */
        snprintf(b, sizeof b, "%s.shortcut.%d", p, cfg->ap && stride != 1 ? 2 : 1);
        stack_norm(s, b, cfg->norm);
        shortcut = stack_node(s);
        stack_resume(s, main);
    }
    stack_add(s, shortcut);
    stack_act(s, ACT_RELU);
}

int resnet_build(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    ResNetConfig cfg;
    if (strcmp(model, "ResNet18") == 0) cfg = (ResNetConfig){NORM_INSTANCE, 0};
    else if (strcmp(model, "ResNet18_AP") == 0) cfg = (ResNetConfig){NORM_INSTANCE, 1};
    else if (strcmp(model, "ResNet18BN_AP") == 0) cfg = (ResNetConfig){NORM_BATCH, 1};
    else return 0;
    Stack s;
    stack_begin(&s, net, model, channels, height, width, num_classes);
    conv_norm(&s, "conv1", "bn1", 64, 3, cfg.norm);
    stack_act(&s, ACT_RELU);
    char name[32];
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 2; b++) {
            snprintf(name, sizeof name, "layer%d.%d", k + 1, b);
            basic_block(&s, name, 64 << k, k > 0 && b == 0 ? 2 : 1, &cfg);
        }
    if (!cfg.ap) {
        stack_pool(&s, POOL_AVG);
        stack_pool(&s, POOL_AVG);
    }
    stack_linear(&s, "classifier", num_classes);
    return 1;
}
