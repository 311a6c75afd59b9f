/* MLP (docs/algorithm.md#other-architectures): flatten -> Linear(C*H*W -> 128) -> ReLU -> Linear(128 -> 128) -> ReLU ->
 * Linear(128 -> K). PyTorch names fc_1, fc_2, fc_3. The original sizes the first layer
 * for 28x28x1 or 32x32x3 inputs; here it takes the true input size (the same there). */
#include "stack.h"
#include "net/registry.h"

#include <string.h>

int mlp_build(Net *net, const char *model, int channels, int height, int width, int num_classes) {
    if (strcmp(model, "MLP") != 0) return 0;
    Stack s;
    stack_begin(&s, net, model, channels, height, width, num_classes);
    stack_linear(&s, "fc_1", 128);
    stack_act(&s, ACT_RELU);
    stack_linear(&s, "fc_2", 128);
    stack_act(&s, ACT_RELU);
    stack_linear(&s, "fc_3", num_classes);
    return 1;
}
