/* PNG writing (atomic, 8-bit) and reading (any PNG to 8-bit RGB) through libpng,
 * and the image grids of docs/formats.md#png-pictures. */
/* png.h uses size_t without including <stddef.h>. */
#include <stddef.h>

#include "io/png.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

/* libpng reports errors here; the message is kept and control returns to setjmp. */
typedef struct {
    char msg[256];
} PngErr;

static void png_on_error(png_structp png, png_const_charp msg) {
    PngErr *e = png_get_error_ptr(png);
    if (e) snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings (e.g. about ancillary chunks) do not stop reading or writing. */
static void png_on_warning(png_structp png, png_const_charp msg) {}

/* ------------------------------------------------------------------ writing */

/* Encodes pixels (height x width x channels, channels 1 or 3) into fp.
 * Returns 0, or -1 with libpng's message in e. */
static int encode_png(FILE *fp, const uint8_t *pixels, int width, int height, int channels, PngErr *e) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, png_on_error, png_on_warning);
    if (!png) {
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng writer");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng info");
        return -1;
    }
    /* Nothing below changes a local that is read after a longjmp. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

void png_write_rgb8(const char *path, const uint8_t *pixels, int width, int height, int channels) {
    if (channels != 1 && channels != 3) die("cannot write %s: PNG channels must be 1 or 3, not %d", path, channels);
    if (width < 1 || height < 1) die("cannot write %s: empty image (%d x %d)", path, width, height);
    size_t tlen = strlen(path) + 32;
    char *tmp = xmalloc(tlen);
    snprintf(tmp, tlen, "%s.tmp.%d", path, (int)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) die("cannot write %s: cannot create %s: %s", path, tmp, strerror(errno));
    PngErr e = {{0}};
    int rc = encode_png(fp, pixels, width, height, channels, &e);
    if (rc == 0 && (fflush(fp) != 0 || fsync(fileno(fp)) != 0)) {
        rc = -1;
        snprintf(e.msg, sizeof e.msg, "%s", strerror(errno));
    }
    if (fclose(fp) != 0 && rc == 0) {
        rc = -1;
        snprintf(e.msg, sizeof e.msg, "%s", strerror(errno));
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        snprintf(e.msg, sizeof e.msg, "%s", strerror(errno));
    }
    if (rc != 0) {
        unlink(tmp);
        die("cannot write %s: %s", path, e.msg);
    }
    free(tmp);
}

/* ------------------------------------------------------------------ grids */

/* The clip range mean +- s*std (unbiased std), both over the finite values of x[0..n-1].
 * With fewer than two finite values the std is taken as 0. */
static void clip_range(const float *x, size_t n, double s, double *lo, double *hi) {
    double sum = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) {
            sum += x[i];
            cnt++;
        }
    if (cnt == 0) {
        *lo = -INFINITY;
        *hi = INFINITY;
        return;
    }
    double mean = sum / (double)cnt, ss = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    double sd = cnt > 1 ? sqrt(ss / (double)(cnt - 1)) : 0;
    *lo = mean - s * sd;
    *hi = mean + s * sd;
}

/* One image (m values, all channels), each value first clipped to [clo, chi], min-max
 * normalized to bytes: round(255 (v - min) / max(max - min, 1e-5)), clamped; min and max
 * over the non-NaN values. NaN shows as 0. */
static void normalize_image(const float *x, size_t m, double clo, double chi, uint8_t *out) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < m; i++)
        if (isfinite(x[i])) {
            double v = fmin(fmax((double)x[i], clo), chi);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (lo > hi) lo = hi = 0;   /* no finite value at all */
    double range = fmax(hi - lo, 1e-5);
    for (size_t i = 0; i < m; i++) {
        double v = 255.0 * (fmin(fmax((double)x[i], clo), chi) - lo) / range;
        if (isnan(x[i]) || !(v > 0)) out[i] = 0;
        else if (v >= 255) out[i] = 255;
        else out[i] = (uint8_t)floor(v + 0.5);
    }
}

/* images: N x C x H x W. The grid is H_g x W_g x 3 bytes, zero (black) padding. */
uint8_t *image_grid_rgb8(const float *images, int N, int C, int H, int W, int per_row, int upsample, double clip_sigma,
                         int *width, int *height) {
    if (N < 1 || (C != 1 && C != 3) || H < 1 || W < 1) {
        errno = EINVAL;
        return NULL;
    }
    if (per_row < 1 || upsample < 1 || !(clip_sigma >= 0)) {
        errno = EINVAL;
        return NULL;
    }
    size_t per_img = (size_t)C * H * W, total = (size_t)N * per_img;
    long hu = (long)H * upsample, wu = (long)W * upsample;
    int single = N == 1;
    int cols = N < per_row ? N : per_row, rows = (N + cols - 1) / cols, pad = single ? 0 : 2;
    long gh = single ? hu : rows * (hu + 2) + 2, gw = single ? wu : cols * (wu + 2) + 2;
    if (gh > PNG_UINT_31_MAX || gw > PNG_UINT_31_MAX || (double)gh * (double)gw * 3 > 1e12) {
        errno = EFBIG;
        return NULL;
    }
    double clo = -INFINITY, chi = INFINITY;
    if (clip_sigma > 0) clip_range(images, total, clip_sigma, &clo, &chi);
    uint8_t *bytes = xmalloc(total);
    for (int k = 0; k < N; k++)
        normalize_image(images + (size_t)k * per_img, per_img, clo, chi, bytes + (size_t)k * per_img);
    uint8_t *grid = xcalloc((size_t)gh * (size_t)gw * 3, 1);
    for (int k = 0; k < N; k++) {
        long oy = pad + (k / cols) * (hu + pad), ox = pad + (k % cols) * (wu + pad);
        const uint8_t *b = bytes + (size_t)k * per_img;
        for (long y = 0; y < hu; y++) {
            uint8_t *row = grid + ((size_t)(oy + y) * (size_t)gw + (size_t)ox) * 3;
            size_t sy = (size_t)(y / upsample) * (size_t)W;
            for (long xx = 0; xx < wu; xx++)
                for (int c = 0; c < 3; c++)
                    row[xx * 3 + c] = b[(size_t)(C == 3 ? c : 0) * H * W + sy + (size_t)(xx / upsample)];
        }
    }
    free(bytes);
    *width = (int)gw;
    *height = (int)gh;
    return grid;
}

void png_write_grid(const char *path, const float *images, int N, int C, int H, int W, int per_row, int upsample,
                    double clip_sigma) {
    if (N < 1 || (C != 1 && C != 3) || H < 1 || W < 1)
        die("cannot write %s: bad image batch %d x %d x %d x %d (need N >= 1, C = 1 or 3, H, W >= 1)", path, N, C, H,
            W);
    if (per_row < 1 || upsample < 1)
        die("cannot write %s: per_row (%d) and upsample (%d) must be >= 1", path, per_row, upsample);
    if (!(clip_sigma >= 0)) die("cannot write %s: clip_sigma must be >= 0, not %g", path, clip_sigma);
    int gw, gh;
    uint8_t *grid = image_grid_rgb8(images, N, C, H, W, per_row, upsample, clip_sigma, &gw, &gh);
    if (!grid) die("cannot write %s: the grid of %d images of %dx%d (x%d) is too large", path, N, H, W, upsample);
    png_write_rgb8(path, grid, gw, gh, 3);
    free(grid);
}

/* ------------------------------------------------------------------ reading */

/* Decodes fp (signature already checked and consumed) to RGB8 in *out.
 * Returns 0, or -1 with the reason in e. */
static int decode_png(FILE *fp, uint8_t **out, int *width, int *height, PngErr *e) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, e, png_on_error, png_on_warning);
    if (!png) {
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng reader");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng info");
        return -1;
    }
    /* Changed after setjmp and freed on the error path, hence volatile. */
    uint8_t *volatile pix = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pix);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_init_io(png, fp);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    /* Palette -> RGB, low-bit gray -> 8 bits, 16 bits -> 8 (rounded), alpha dropped, gray -> RGB. */
    png_set_expand(png);
    png_set_scale_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t stride = (size_t)w * 3;
    if (png_get_rowbytes(png, info) != stride) png_error(png, "unexpected row size after conversion to RGB8");
    if ((double)w * (double)h * 3 > 1e11) png_error(png, "image too large to hold in memory");
    pix = malloc(stride * h);
    rows = malloc(h * sizeof(png_bytep));
    if (!pix || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pix + (size_t)y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    *out = pix;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

int png_read_rgb8(const char *path, uint8_t **pixels, int *width, int *height, char *err, size_t errlen) {
    *pixels = NULL;
    *width = *height = 0;
    if (err && errlen) err[0] = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (err) snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char sig[8];
    if (fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(fp);
        if (err) snprintf(err, errlen, "%s: not a PNG file (bad signature)", path);
        return -1;
    }
    PngErr e = {{0}};
    int rc = decode_png(fp, pixels, width, height, &e);
    fclose(fp);
    if (rc != 0 && err) snprintf(err, errlen, "%s: cannot read PNG: %s", path, e.msg);
    return rc;
}
