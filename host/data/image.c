/* Picture decoding by content and the bilinear resize (see image.h). */
#include "data/image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/jpeg.h"
#include "io/png.h"
#include "core/util.h"

/* Names the format of a file that is neither JPEG nor PNG, from its first n bytes. */
static const char *image_other_format(const unsigned char *b, size_t n) {
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return "BMP";
    if (n >= 6 && memcmp(b, "GIF8", 4) == 0) return "GIF";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) return "WebP";
    if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0)) return "TIFF";
    if (n >= 12 && memcmp(b + 4, "ftyp", 4) == 0) return "HEIF/AVIF";
    if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') return "PNM";
    return NULL;
}

int image_read_rgb8(const char *path, uint8_t **pixels, int *width, int *height, char *err, size_t errlen) {
    *pixels = NULL;
    *width = *height = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char head[16];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
        return jpeg_read_rgb8(path, pixels, width, height, err, errlen);
    if (n >= 8 && memcmp(head, png_sig, 8) == 0) return png_read_rgb8(path, pixels, width, height, err, errlen);
    if (n == 0) {
        snprintf(err, errlen, "%s: empty file", path);
        return -1;
    }
    const char *other = image_other_format(head, n);
    if (other)
        snprintf(err, errlen, "%s: %s pictures are not supported (clmtt reads JPEG and PNG)", path, other);
    else
        snprintf(err, errlen, "%s: not a JPEG or PNG file (first bytes %02x %02x %02x %02x)", path, head[0],
                 n > 1 ? head[1] : 0, n > 2 ? head[2] : 0, n > 3 ? head[3] : 0);
    return -1;
}

/* The two source positions and the weight of the second for each of nout outputs along
 * an axis of nin inputs (docs/algorithm.md#imagenet-subsets-and-resizing). */
static void image_axis(int nin, int nout, int *i0, int *i1, double *t) {
    double scale = (double)nin / nout;
    for (int i = 0; i < nout; i++) {
        double s = scale * (i + 0.5) - 0.5;
        if (s < 0) s = 0;
        int a = (int)floor(s);
        if (a > nin - 1) a = nin - 1;
        i0[i] = a;
        i1[i] = a + 1 < nin ? a + 1 : nin - 1;
        t[i] = s - a;
    }
}

void image_resize_bilinear(const float *in, int C, int hin, int win, float *out, int hout, int wout) {
    if (hin == hout && win == wout) {
        memcpy(out, in, (size_t)C * hin * win * sizeof(float));
        return;
    }
    int *y0 = xmalloc((size_t)hout * sizeof(int)), *y1 = xmalloc((size_t)hout * sizeof(int));
    int *x0 = xmalloc((size_t)wout * sizeof(int)), *x1 = xmalloc((size_t)wout * sizeof(int));
    double *ty = xmalloc((size_t)hout * sizeof(double)), *tx = xmalloc((size_t)wout * sizeof(double));
    image_axis(hin, hout, y0, y1, ty);
    image_axis(win, wout, x0, x1, tx);
    for (int c = 0; c < C; c++) {
        const float *p = in + (size_t)c * hin * win;
        float *q = out + (size_t)c * hout * wout;
        for (int i = 0; i < hout; i++) {
            const float *ra = p + (size_t)y0[i] * win, *rb = p + (size_t)y1[i] * win;
            double wy = ty[i];
            for (int j = 0; j < wout; j++) {
                double wx = tx[j];
                double v = (1 - wy) * ((1 - wx) * ra[x0[j]] + wx * ra[x1[j]]) + wy * ((1 - wx) * rb[x0[j]] + wx * rb[x1[j]]);
                q[(size_t)i * wout + j] = (float)v;
            }
        }
    }
    free(y0); free(y1); free(x0); free(x1); free(ty); free(tx);
}
