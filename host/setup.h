/* What every training command does after parsing its flags: name the device, load and
 * summarize the dataset, build the network. */
#ifndef CLMTT_SETUP_H
#define CLMTT_SETUP_H

#include "data/dataset.h"
#include "net.h"

/* Expects the device opened (rt_init). Prints as the original scripts do at start-up. */
void command_prepare(const DatasetInfo *ds, const char *data_path, const char *model, Dataset *data, Net *net);

#endif
