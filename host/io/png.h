/* PNG pictures through libpng: image grids of a synthetic set, as the original shows
 * them (docs/formats.md#png-pictures): each image min-max normalized on its own, optional nearest-neighbour
 * upsampling, tiles row-major with 2 pixels of black padding around and between,
 * one-channel images replicated to RGB. */
#ifndef CLMTT_PNG_H
#define CLMTT_PNG_H

#include <stddef.h>
#include <stdint.h>

/* images: N x C x H x W floats (C = 1 or 3). per_row: tiles per row (N if N < per_row).
 * upsample: integer factor >= 1. clip_sigma > 0: first clip the whole tensor to
 * mean +- clip_sigma * std (unbiased), as the original's "clipped" variant (2.5).
 * Written atomically; dies naming the path on failure. A single image gets no padding. */
void png_write_grid(const char *path, const float *images, int N, int C, int H, int W, int per_row, int upsample,
                    double clip_sigma);
/* The same grid as RGB bytes (height x width x 3, malloc'd); NULL (errno set) for a bad batch
 * or a grid too large. */
uint8_t *image_grid_rgb8(const float *images, int N, int C, int H, int W, int per_row, int upsample, double clip_sigma,
                         int *width, int *height);
/* Writes an 8-bit RGB (channels 3) or gray (1) image. */
void png_write_rgb8(const char *path, const uint8_t *pixels, int width, int height, int channels);
/* Reads a PNG into 8-bit RGB (malloc'd, width*height*3). Returns 0, or -1 with err. */
int png_read_rgb8(const char *path, uint8_t **pixels, int *width, int *height, char *err, size_t errlen);

#endif
