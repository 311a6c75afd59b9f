/* Picture-folder datasets (docs/formats.md#datasets-read): Tiny ImageNet and ImageNet subsets, read from JPEG
 * and PNG files, with a decoded cache so that later runs skip the decoding. Called by
 * dataset_load, which then checks the splits and standardizes. */
#ifndef CLMTT_FOLDER_H
#define CLMTT_FOLDER_H

#include "data/dataset.h"

/* <root> is tiny-imagenet-200/ or its parent. Training pictures: train/<wnid>/images/<name>.JPEG
 * (any picture below train/<wnid>/), class = rank of <wnid> among the sorted train/
 * folders; test pictures: val/images/<name>.JPEG labelled by val/val_annotations.txt, or
 * val/images/<wnid>/<name>. Every picture must be 64 x 64 (the original does not resize them).
 * Fewer than 200 class folders only warn, so reduced copies load. */
void folder_load_tiny(const DatasetInfo *info, const char *root, Dataset *out);
/* <root>/train/<wnid>/<name> and <root>/val/<wnid>/<name> for the subset's classes only (info from
 * dataset_resolve); every picture resized to info->height x info->width. */
void folder_load_imagenet(const DatasetInfo *info, const char *root, Dataset *out);

/* The folder of decoded caches: $CLMTT_CACHE_DIR, else $XDG_CACHE_HOME/clmtt/datasets, else
 * ~/.cache/clmtt/datasets. NULL (no caching) when CLMTT_CACHE_DIR is "off" or no home is
 * known. malloc'd. */
char *folder_cache_dir(void);

#endif
