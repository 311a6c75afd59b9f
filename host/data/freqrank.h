/* Which DCT coefficients a frequency-parameterized set keeps: positions ranked, per
 * channel, by the variance of the training images' orthonormal 2-D DCT coefficients (as
 * the networks see the images: standardized, or ZCA-whitened), largest first
 * (docs/algorithm.md#frequency-domain-images).
 *
 * Cached in <cache_dir>/freq_rank.safetensors (format mtt-freqrank/1), next to the ZCA
 * transform: tensors variance F32 [C, H*W] and order I64 [C, H*W] (flat positions h*W + w,
 * largest variance first); metadata format, dataset, channel, height, width, zca,
 * num_train and train_crc32 (zlib crc32 of the float32 training pixels it was fitted on).
 * A cache of other data is refused with a message naming the file. */
#ifndef CLMTT_FREQRANK_H
#define CLMTT_FREQRANK_H

#include "data/dataset.h"

#include <stddef.h>
#include <stdint.h>

#define FREQRANK_FORMAT "mtt-freqrank/1"
#define FREQRANK_FILE "freq_rank.safetensors"

typedef struct {
    int c, h, w;
    float *variance;    /* [c][h*w] */
    int64_t *order;     /* [c][h*w] */
} FreqRank;

/* Fits on the training images (float64 DCT of every image). */
void freqrank_fit(const ImageSet *train, FreqRank *out);
void freqrank_free(FreqRank *r);
/* Reads the cache at path: 1 when it matches this data (out filled), 0 when there is none,
 * -1 with the reason (naming the file) in err when it is unreadable, damaged or of other data. */
int freqrank_load(const char *path, const char *dataset, int zca, const ImageSet *train, FreqRank *out, char *err,
                  size_t errlen);
/* Reuses <cache_dir>/freq_rank.safetensors when it matches this data (dies naming the file
 * when it exists but does not match or is damaged), else fits and writes it (cache_dir
 * NULL: fits, writes nothing). Prints what it did. */
void freqrank_prepare(const char *cache_dir, const char *dataset, int zca, const ImageSet *train, FreqRank *out);

#endif
