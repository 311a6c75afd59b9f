/* JPEG to 8-bit RGB through libturbojpeg (see jpeg.h). */
#include "io/jpeg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "core/util.h"

/* Larger pictures are refused rather than allocated (4 x 2^28 bytes of CMYK at most). */
#define JPEG_MAX_PIXELS (1L << 28)

/* round(a * b / 255) for bytes, in the integer form the original's image library uses. */
static unsigned jpeg_muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

/* n pixels of decoded CMYK (4 bytes each) -> RGB (3 bytes each). The decoder hands back
 * the values as stored, and CMYK JPEGs store them inverted (Adobe's convention, which the
 * original's loader assumes for every CMYK JPEG): stored c = 255 - cyan, k = 255 - black.
 * Then red = (255 - black) - (255 - black) * cyan / 255 = k - k (255 - c) / 255. */
static void jpeg_cmyk_to_rgb(const uint8_t *cmyk, size_t n, uint8_t *rgb) {
    for (size_t i = 0; i < n; i++) {
        unsigned k = cmyk[4 * i + 3];
        for (int ch = 0; ch < 3; ch++) rgb[3 * i + ch] = (uint8_t)(k - jpeg_muldiv255(255u - cmyk[4 * i + ch], k));
    }
}

/* 0 when the decoder's complaint may be ignored: only warnings, and not the one about the
 * data ending early. */
static int jpeg_failed(tjhandle h, int rc) {
    if (rc == 0) return 0;
    if (tjGetErrorCode(h) != TJERR_WARNING) return 1;
    return strstr(tjGetErrorStr2(h), "Premature end") != NULL;
}

int jpeg_decode_rgb8(const uint8_t *buf, size_t len, const char *name, uint8_t **pixels, int *width, int *height,
                     char *err, size_t errlen) {
    *pixels = NULL;
    *width = *height = 0;
    if (len > (size_t)0xffffffffUL) {
        snprintf(err, errlen, "%s: JPEG file too large (%zu bytes)", name, len);
        return -1;
    }
    tjhandle h = tjInitDecompress();
    if (!h) {
        snprintf(err, errlen, "%s: cannot start the JPEG decoder: %s", name, tjGetErrorStr2(NULL));
        return -1;
    }
    int w = 0, ht = 0, subsamp = 0, cs = 0;
    if (tjDecompressHeader3(h, buf, (unsigned long)len, &w, &ht, &subsamp, &cs) != 0) {
        snprintf(err, errlen, "%s: cannot read JPEG header: %s", name, tjGetErrorStr2(h));
        tjDestroy(h);
        return -1;
    }
    if (w < 1 || ht < 1 || (long)w * ht > JPEG_MAX_PIXELS) {
        snprintf(err, errlen, "%s: JPEG of %d x %d pixels is empty or too large", name, w, ht);
        tjDestroy(h);
        return -1;
    }
    size_t n = (size_t)w * (size_t)ht;
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    uint8_t *rgb = malloc(n * 3);
    uint8_t *tmp = cmyk ? malloc(n * 4) : NULL;
    if (!rgb || (cmyk && !tmp)) {
        snprintf(err, errlen, "%s: out of memory for a %d x %d JPEG", name, w, ht);
        free(rgb);
        free(tmp);
        tjDestroy(h);
        return -1;
    }
    /* Grayscale and YCbCr come out as RGB directly; CMYK only as CMYK. */
    int rc = cmyk ? tjDecompress2(h, buf, (unsigned long)len, tmp, w, 0, ht, TJPF_CMYK, 0)
                  : tjDecompress2(h, buf, (unsigned long)len, rgb, w, 0, ht, TJPF_RGB, 0);
    if (jpeg_failed(h, rc)) {
        snprintf(err, errlen, "%s: cannot decode JPEG: %s", name, tjGetErrorStr2(h));
        free(rgb);
        free(tmp);
        tjDestroy(h);
        return -1;
    }
    if (cmyk) jpeg_cmyk_to_rgb(tmp, n, rgb);
    free(tmp);
    tjDestroy(h);
    *pixels = rgb;
    *width = w;
    *height = ht;
    return 0;
}

int jpeg_read_rgb8(const char *path, uint8_t **pixels, int *width, int *height, char *err, size_t errlen) {
    size_t len = 0;
    errno = 0;
    unsigned char *buf = read_file(path, &len);
    if (!buf) {
        *pixels = NULL;
        *width = *height = 0;
        snprintf(err, errlen, "%s: cannot read: %s", path, errno ? strerror(errno) : "read error");
        return -1;
    }
    int rc = jpeg_decode_rgb8(buf, len, path, pixels, width, height, err, errlen);
    free(buf);
    return rc;
}
