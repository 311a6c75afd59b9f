/* What every training command does after parsing its flags: name the device, load and
 * summarize the dataset, build the network. */
#ifndef CLMTT_SETUP_H
#define CLMTT_SETUP_H

#include "data/dataset.h"
#include "net/net.h"
#include "data/zca.h"

#include <stdint.h>

/* The --zca choice of a command (docs/algorithm.md#pixel-pipeline, docs/algorithm.md#zca-whitening). */
typedef struct {
    int on;                 /* --zca: pixels stay in [0, 1], then whitened */
    const char *cache_dir;  /* folder of zca.safetensors (zca_cache_dir); NULL: no cache */
    int write_cache;        /* write the cache when it is absent */
    Zca *keep;              /* receives the transform (NULL: freed after whitening) */
} ZcaSetup;

/* Loads both splits: standardized without ZCA (zca NULL or off), else in [0, 1] and
 * whitened through zca_prepare. Expects the device opened (rt_init). */
void command_load_data(const DatasetInfo *ds, const char *data_path, const ZcaSetup *zca, Dataset *data);
/* Expects the device opened (rt_init). Prints as the original scripts do at start-up. */
void command_prepare(const DatasetInfo *ds, const char *data_path, const char *model, const ZcaSetup *zca,
                     Dataset *data, Net *net);

/* --seed, or a fresh one when it is None (-1); under MPI rank 0's, so all ranks agree. */
uint64_t command_seed(int flag_seed);

#endif
