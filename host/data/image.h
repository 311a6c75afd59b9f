/* Single pictures of the image-folder datasets (Tiny ImageNet, ImageNet subsets):
 * decoding any JPEG or PNG to 8-bit RGB, chosen by the file's content, and the
 * bilinear resize of docs/algorithm.md#imagenet-subsets-and-resizing. */
#ifndef CLMTT_IMAGE_H
#define CLMTT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Decodes path to *pixels (malloc'd, height x width x 3 bytes, RGB, row-major). The
 * format comes from the first bytes, not the name (ImageNet holds PNGs named .JPEG).
 * Returns 0, or -1 with "path: reason" in err (unreadable, empty, not JPEG/PNG with the
 * format named when known, or the decoder's message). */
int image_read_rgb8(const char *path, uint8_t **pixels, int *width, int *height, char *err, size_t errlen);

/* Bilinear resize of C planes hin x win (CHW floats) to hout x wout, half-pixel centres,
 * no antialiasing (docs/algorithm.md#imagenet-subsets-and-resizing): output row i samples s = (hin/hout)(i + 0.5) - 0.5, clamped
 * at 0, between rows floor(s) and min(floor(s) + 1, hin - 1) with weight s - floor(s);
 * columns alike. Equal sizes copy the input. in and out must not overlap. */
void image_resize_bilinear(const float *in, int C, int hin, int win, float *out, int hout, int wout);

#endif
