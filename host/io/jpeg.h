/* JPEG decoding through libturbojpeg into 8-bit RGB, whatever the file's colour space:
 * grayscale is replicated into three channels, CMYK and YCCK are converted as the
 * original's image loader does (Adobe's inverted CMYK convention, see jpeg.c). */
#ifndef CLMTT_JPEG_H
#define CLMTT_JPEG_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the JPEG bytes buf[0..len) into *pixels (malloc'd, height x width x 3, row-major).
 * `name` only labels messages (usually the path). Returns 0, or -1 with "name: reason" in err.
 * A file cut short is an error (the original's loader refuses truncated images); the
 * decoder's other warnings (extraneous bytes between markers and the like) are not. */
int jpeg_decode_rgb8(const uint8_t *buf, size_t len, const char *name, uint8_t **pixels, int *width, int *height,
                     char *err, size_t errlen);
/* The same from a file. */
int jpeg_read_rgb8(const char *path, uint8_t **pixels, int *width, int *height, char *err, size_t errlen);

#endif
