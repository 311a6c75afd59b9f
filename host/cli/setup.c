#include "cli/setup.h"
#include "net/registry.h"
#include "core/dist.h"
#include "core/rng.h"
#include "core/runtime.h"

#include <stdio.h>

void command_load_data(const DatasetInfo *ds, const char *data_path, const ZcaSetup *zca, Dataset *data) {
    int whiten = zca && zca->on;
    /* Refuse oversized transforms before spending time on loading. */
    if (whiten) zca_check_size(ds->name, ds->channels, ds->height, ds->width);
    dataset_load(ds, data_path, !whiten, data);
    if (whiten) zca_prepare(zca->cache_dir, zca->write_cache, data, zca->keep);
}

void command_prepare(const DatasetInfo *ds, const char *data_path, const char *model, const ZcaSetup *zca,
                     Dataset *data, Net *net) {
    printf("Device: %s (%s)\n", RT.dev.name, RT.dev.platform_name);
    command_load_data(ds, data_path, zca, data);
    dataset_print_summary(data);
    net_build(net, model, ds->channels, ds->height, ds->width, ds->num_classes);
    net_print(net);
}

uint64_t command_seed(int flag_seed) {
    uint64_t seed = flag_seed >= 0 ? (uint64_t)flag_seed : rng_fresh_seed();
    dist_bcast(&seed, sizeof seed, 0);
    return seed;
}
