#include "setup.h"
#include "runtime.h"

#include <stdio.h>

void command_prepare(const DatasetInfo *ds, const char *data_path, const char *model, Dataset *data, Net *net) {
    printf("Device: %s (%s)\n", RT.dev.name, RT.dev.platform_name);
    dataset_load(ds, data_path, 1, data);
    dataset_print_summary(data);
    net_build(net, model, ds->channels, ds->height, ds->width, ds->num_classes);
    net_print(net);
}
