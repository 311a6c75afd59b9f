/* LeNet (docs/algorithm.md#other-architectures): Conv(C -> 6, 5x5, padding 2 for one channel, else 0) -> ReLU -> MaxPool
 * -> Conv(6 -> 16, 5x5) -> ReLU -> MaxPool -> Linear(400 -> 120) -> ReLU -> Linear(120 -> 84)
 * -> ReLU -> Linear(84 -> K). Names: features.0, features.3, fc_1, fc_2, fc_3. */
#include "stack.h"
#include "net/registry.h"

#include <string.h>

int lenet_build(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    if (strcmp(model, "LeNet") != 0) return 0;
    Stack s;
    stack_begin(&s, net, model, channels, height, width, num_classes);
    stack_conv(&s, "features.0", 6, 5, channels == 1 ? 2 : 0, 1);
    stack_act(&s, ACT_RELU);
    stack_pool(&s, POOL_MAX);
    stack_conv(&s, "features.3", 16, 5, 0, 1);
    stack_act(&s, ACT_RELU);
    stack_pool(&s, POOL_MAX);
    stack_linear(&s, "fc_1", 120);
    stack_act(&s, ACT_RELU);
    stack_linear(&s, "fc_2", 84);
    stack_act(&s, ACT_RELU);
    stack_linear(&s, "fc_3", num_classes);
    return 1;
}
