/* The decoded cache of a picture folder (docs/formats.md#datasets-read): one file holding the
 * labels and the 8-bit pixels of both splits, so later runs skip the decoding. folder.c
 * decides which file and key belong to a source; this module reads and writes the file.
 * Reading never trusts the file: anything damaged, stale or of another version reads as
 * "no cache" and the caller decodes again. */
#ifndef CLMTT_FOLDER_CACHE_H
#define CLMTT_FOLDER_CACHE_H

#include <stdint.h>

/* Bump when decoding, resizing or the file layout changes: old caches then rebuild. */
#define FOLDER_CACHE_VERSION 1u

/* A decoded split: bytes [n][3][h][w] and labels [n] of the readable pictures, in list
 * order; skipped: unreadable pictures left out (--skip_bad_images). */
typedef struct {
    uint8_t *pix;
    int32_t *labels;
    int n, skipped;
} Decoded;

/* 1 with both splits filled (malloc'd) when path holds the cache of key for 3 x h x w pictures
 * labelled 0..nclasses-1; 0 when it is absent, and 0 with a line saying why (then the caller
 * rebuilds it) when it is stale, truncated or damaged. */
int folder_cache_read(const char *path, uint64_t key, int h, int w, int nclasses, Decoded *tr, Decoded *te);

/* Writes both splits as the cache of key at path (creating dir), through a temporary file
 * and rename; a failure only warns: a cache that cannot be written costs time, not the run. */
void folder_cache_write(const char *dir, const char *path, uint64_t key, int h, int w, const Decoded *tr,
                        const Decoded *te);

#endif
