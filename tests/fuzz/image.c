/* A picture of an image folder: image_read_rgb8 (JPEG or PNG by content, anything else
 * refused), then the bilinear resize to 16 x 16 that follows it in host/data/folder.c. */
#include "fuzz_common.h"

#include "data/image.h"

/* Pictures up to this many pixels are resized too (the resize holds 24 bytes a pixel,
 * and the fuzzer's memory is limited). */
#define RESIZE_MAX_PIXELS (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    uint8_t *pix = NULL;
    int w = -1, h = -1;
    char err[512];
    err[0] = 0;
    if (image_read_rgb8(path, &pix, &w, &h, err, sizeof err) != 0) {
        if (pix || w != 0 || h != 0 || !err[0]) abort();
        return 0;
    }
    if (!pix || w < 1 || h < 1) abort();
    size_t n = (size_t)w * (size_t)h;
    fuzz_touch(pix, n * 3);
    if (n <= RESIZE_MAX_PIXELS) {
        float *in = malloc(3 * n * sizeof(float)), out[3 * 16 * 16];
        for (size_t k = 0; k < n; k++)
            for (int c = 0; c < 3; c++) in[c * n + k] = (float)pix[3 * k + c] / 255.0f;
        image_resize_bilinear(in, 3, h, w, out, 16, 16);
        for (int k = 0; k < 3 * 16 * 16; k++)
            if (!(out[k] >= 0.0f && out[k] <= 1.0f)) abort();
        free(in);
    }
    free(pix);
    return 0;
}
