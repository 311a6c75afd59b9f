/* PNG: image grids (docs/formats.md#png-pictures) checked pixel by pixel against a reference that places every
 * grid pixel on its own, the single-image and clipped variants, reading every kind of PNG
 * (gray, RGB, RGBA, palette, 16-bit, 1-bit, interlaced) into RGB8, and corrupt files. */
#include <stddef.h>

#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/png.h"

static uint8_t *read_or_fail(const char *path, int *w, int *h) {
    uint8_t *px;
    char err[512];
    ck_assert_msg(png_read_rgb8(path, &px, w, h, err, sizeof err) == 0, "%s", err);
    return px;
}

/* ---------------------------------------------------------------- reference grid */

/* Global mean and unbiased std of x[0..n-1] (all finite here). */
static void mean_std(const float *x, size_t n, double *mean, double *sd) {
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = sqrt(ss / (double)(n - 1));
}

/* The grid byte at (gy, gx, ch), worked out for that pixel alone: which tile it falls in,
 * which source pixel that is, and that image's normalization. */
static uint8_t ref_pixel(const float *img, int N, int C, int H, int W, int per_row, int up, double clip, int gy, int gx,
                         int ch) {
    int hu = H * up, wu = W * up, k, ty, tx;
    if (N == 1) {
        k = 0;
        ty = gy;
        tx = gx;
    } else {
        int cols = N < per_row ? N : per_row;
        if (gy < 2 || gx < 2) return 0;
        int r = (gy - 2) / (hu + 2), c = (gx - 2) / (wu + 2);
        ty = (gy - 2) % (hu + 2);
        tx = (gx - 2) % (wu + 2);
        if (ty >= hu || tx >= wu || c >= cols) return 0;   /* padding */
        k = r * cols + c;
        if (k >= N) return 0;   /* unused slot of the last row */
    }
    size_t m = (size_t)C * H * W;
    double lo_clip = -INFINITY, hi_clip = INFINITY;
    if (clip > 0) {
        double mu, sd;
        mean_std(img, (size_t)N * m, &mu, &sd);
        lo_clip = mu - clip * sd;
        hi_clip = mu + clip * sd;
    }
    const float *x = img + (size_t)k * m;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < m; i++) {
        if (isnan(x[i])) continue;
        double v = fmin(fmax(x[i], lo_clip), hi_clip);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    float raw = x[(size_t)(C == 1 ? 0 : ch) * H * W + (size_t)(ty / up) * W + (size_t)(tx / up)];
    if (isnan(raw)) return 0;
    double v = fmin(fmax(raw, lo_clip), hi_clip);
    double t = 255.0 * (v - lo) / fmax(hi - lo, 1e-5);
    return (uint8_t)fmin(255, fmax(0, floor(t + 0.5)));
}

/* Writes the grid, reads it back and compares every pixel with ref_pixel (|diff| <= tol).
 * Returns the pixels (malloc'd) and size. */
static uint8_t *grid_vs_ref(const char *path, const float *img, int N, int C, int H, int W, int per_row, int up,
                            double clip, int want_w, int want_h, int tol) {
    png_write_grid(path, img, N, C, H, W, per_row, up, clip);
    int w, h;
    uint8_t *px = read_or_fail(path, &w, &h);
    ck_assert_int_eq(w, want_w);
    ck_assert_int_eq(h, want_h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int got = px[((size_t)y * w + x) * 3 + c];
                int want = ref_pixel(img, N, C, H, W, per_row, up, clip, y, x, c);
                ck_assert_msg(abs(got - want) <= tol, "%s: pixel (%d, %d, %d) is %d, expected %d", path, y, x, c, got,
                              want);
            }
    return px;
}

/* Image k: a ramp over (c, y, x) with an exact float scale and offset per image, so the
 * normalized values are i / (C H W - 1) exactly (never a rounding tie). */
static float *ramp_images(int N, int C, int H, int W) {
    static const float scale[] = {0.5f, -2.0f, 0.25f, 4.0f}, offset[] = {-3.0f, 100.0f, 7.0f, -1.0f};
    size_t m = (size_t)C * H * W;
    float *x = xmalloc((size_t)N * m * sizeof *x);
    for (int k = 0; k < N; k++)
        for (size_t i = 0; i < m; i++) x[k * m + i] = scale[k % 4] * (float)i + offset[k % 4];
    return x;
}

static int px_at(const uint8_t *px, int w, int y, int x, int c) { return px[((size_t)y * w + x) * 3 + c]; }

/* N = 3 tiles, 2 per row, upsampled x2: a 2 x 2 grid with an empty last slot. */
static void check_grid_3(int C) {
    const int N = 3, H = 3, W = 4, up = 2, hu = 6, wu = 8;
    char *path = tu_temp_file("png", C == 1 ? "grid1.png" : "grid3.png");
    float *img = ramp_images(N, C, H, W);
    int gh = 2 * (hu + 2) + 2, gw = 2 * (wu + 2) + 2;   /* 18 x 22 */
    uint8_t *px = grid_vs_ref(path, img, N, C, H, W, 2, up, 0, gw, gh, 0);

    /* Padding: outer border, the gaps between tiles, and the unused fourth slot are 0. */
    for (int c = 0; c < 3; c++) {
        for (int x = 0; x < gw; x++) {
            ck_assert_int_eq(px_at(px, gw, 0, x, c), 0);
            ck_assert_int_eq(px_at(px, gw, 1, x, c), 0);
            ck_assert_int_eq(px_at(px, gw, 2 + hu, x, c), 0);
            ck_assert_int_eq(px_at(px, gw, 3 + hu, x, c), 0);
            ck_assert_int_eq(px_at(px, gw, gh - 1, x, c), 0);
            ck_assert_int_eq(px_at(px, gw, gh - 2, x, c), 0);
        }
        for (int y = 0; y < gh; y++) {
            ck_assert_int_eq(px_at(px, gw, y, 1, c), 0);
            ck_assert_int_eq(px_at(px, gw, y, 2 + wu, c), 0);
            ck_assert_int_eq(px_at(px, gw, y, 3 + wu, c), 0);
            ck_assert_int_eq(px_at(px, gw, y, gw - 1, c), 0);
        }
        for (int y = 0; y < hu; y++)
            for (int x = 0; x < wu; x++) ck_assert_int_eq(px_at(px, gw, 2 + hu + 2 + y, 2 + wu + 2 + x, c), 0);
    }
    /* Tile corners. The ramp of image 0 rises: its first value (channel 0, top-left) is the
     * minimum, its last (last channel, bottom-right) the maximum. Image 1 falls (scale -2). */
    int last = C - 1, oy1 = 2, ox1 = 2 + wu + 2, oy2 = 2 + hu + 2, ox2 = 2;
    ck_assert_int_eq(px_at(px, gw, 2, 2, 0), 0);
    ck_assert_int_eq(px_at(px, gw, 2 + hu - 1, 2 + wu - 1, last), 255);
    ck_assert_int_eq(px_at(px, gw, 2 + hu - 1, 2 + wu - 1, 2), 255);
    ck_assert_int_eq(px_at(px, gw, oy1, ox1, 0), 255);
    ck_assert_int_eq(px_at(px, gw, oy1 + hu - 1, ox1 + wu - 1, 2), 0);
    ck_assert_int_eq(px_at(px, gw, oy2, ox2, 0), 0);
    ck_assert_int_eq(px_at(px, gw, oy2 + hu - 1, ox2 + wu - 1, 2), 255);
    /* Nearest upsampling: each source pixel is a 2 x 2 block. */
    for (int c = 0; c < 3; c++) {
        ck_assert_int_eq(px_at(px, gw, 2, 2 + 2, c), px_at(px, gw, 3, 2 + 3, c));
        ck_assert_int_ne(px_at(px, gw, 2, 2 + 1, c), px_at(px, gw, 2, 2 + 2, c));
    }
    /* Channel replication for one-channel images; for three channels the 2nd value of
     * image 0 (x = 1, i = 1 of 35 or 11) is round(255 / 35) = 7 or round(255 / 11) = 23. */
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw && C == 1; x++) {
            ck_assert_int_eq(px_at(px, gw, y, x, 0), px_at(px, gw, y, x, 1));
            ck_assert_int_eq(px_at(px, gw, y, x, 0), px_at(px, gw, y, x, 2));
        }
    ck_assert_int_eq(px_at(px, gw, 2, 2 + 2, 0), C == 3 ? 7 : 23);
    free(px);
    free(img);
    tu_temp_file_free(path);
}

START_TEST(grid_rgb_tiles) { check_grid_3(3); }
END_TEST

START_TEST(grid_gray_tiles) { check_grid_3(1); }
END_TEST

START_TEST(grid_single_and_short_row) {
    char *path = tu_temp_file("png", "one.png");
    /* One image: no padding at all, 5 x 3 upsampled x3 to 15 x 9. */
    float *img = ramp_images(4, 3, 5, 3);
    uint8_t *px = grid_vs_ref(path, img, 1, 3, 5, 3, 10, 3, 0, 9, 15, 0);
    ck_assert_int_eq(px_at(px, 9, 0, 0, 0), 0);
    ck_assert_int_eq(px_at(px, 9, 14, 8, 2), 255);
    free(px);
    /* Fewer images than per_row: one row of N tiles. 4 images of 5 x 3, no upsampling. */
    px = grid_vs_ref(path, img, 4, 3, 5, 3, 10, 1, 0, 4 * (3 + 2) + 2, 5 + 2 + 2, 0);
    ck_assert_int_eq(px_at(px, 22, 2, 2 + 1 * 5, 0), 255);   /* image 1 falls: top-left is its max */
    ck_assert_int_eq(px_at(px, 22, 2, 2 + 3 * 5, 0), 0);     /* image 3 rises */
    ck_assert_int_eq(px_at(px, 22, 2 + 4, 2 + 3 * 5 + 2, 2), 255);
    free(px);
    /* Exactly per_row images and one more: the extra one starts a second row. */
    px = grid_vs_ref(path, img, 3, 1, 5, 3, 2, 1, 0, 2 * 5 + 2, 2 * 7 + 2, 0);
    free(px);
    free(img);
    tu_temp_file_free(path);
}
END_TEST

/* An outlier squeezes the rest of its image towards 0; clipping at mean +- s std brings
 * the other values back up. */
START_TEST(grid_clip_outlier) {
    const int N = 2, H = 8, W = 8, m = H * W;
    char *path = tu_temp_file("png", "clip.png");
    float *img = xmalloc((size_t)N * m * sizeof *img);
    for (int k = 0; k < N; k++)
        for (int i = 0; i < m; i++) img[k * m + i] = (float)i;
    img[m + 5] = 1000.0f;
    int gw = 2 * (W + 2) + 2, gh = H + 4;
    uint8_t *plain = grid_vs_ref(path, img, N, 1, H, W, 10, 1, 0, gw, gh, 0);
    uint8_t *clipped = grid_vs_ref(path, img, N, 1, H, W, 10, 1, 2.5, gw, gh, 1);
    double mu, sd;
    mean_std(img, (size_t)N * m, &mu, &sd);
    ck_assert(mu + 2.5 * sd < 1000 && mu + 2.5 * sd > 63 && mu - 2.5 * sd < 0);
    /* Image 1's value 63 (bottom-right): tiny unclipped, near 255 * 63 / (mu + 2.5 sd) clipped. */
    int oy = 2, ox = 2 + W + 2;
    int v_plain = px_at(plain, gw, oy + H - 1, ox + W - 1, 0), v_clip = px_at(clipped, gw, oy + H - 1, ox + W - 1, 0);
    ck_assert_int_eq(v_plain, (int)floor(255.0 * 63 / 1000 + 0.5));
    ck_assert_int_eq(v_clip, (int)floor(255.0 * 63 / (mu + 2.5 * sd) + 0.5));
    ck_assert_int_gt(v_clip, 3 * v_plain);
    /* The outlier stays the image maximum; image 0 lies inside the clip range and is unchanged. */
    ck_assert_int_eq(px_at(plain, gw, oy, ox + 5, 0), 255);
    ck_assert_int_eq(px_at(clipped, gw, oy, ox + 5, 0), 255);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            ck_assert_int_eq(px_at(plain, gw, oy + y, 2 + x, 1), px_at(clipped, gw, oy + y, 2 + x, 1));
    free(plain);
    free(clipped);
    free(img);
    tu_temp_file_free(path);
}
END_TEST

/* NaN shows as 0 and does not disturb the normalization of the other values; a constant
 * image (range below 1e-5) maps to 0. */
START_TEST(grid_nan_and_constant) {
    const int H = 2, W = 3;
    char *path = tu_temp_file("png", "nan.png");
    float img[2 * 6] = {1, NAN, 3, 4, 5, 6, 7, 7, 7, 7, 7, 7};
    int gw = 2 * (W + 2) + 2, gh = H + 4;
    uint8_t *px = grid_vs_ref(path, img, 2, 1, H, W, 4, 1, 0, gw, gh, 0);
    ck_assert_int_eq(px_at(px, gw, 2, 3, 0), 0);                                  /* NaN */
    ck_assert_int_eq(px_at(px, gw, 2, 4, 0), (int)floor(255.0 * 2 / 5 + 0.5));   /* 3 of 1..6 */
    ck_assert_int_eq(px_at(px, gw, 3, 4, 0), 255);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) ck_assert_int_eq(px_at(px, gw, 2 + y, 2 + W + 2 + x, 0), 0);
    free(px);
    tu_temp_file_free(path);
}
END_TEST

/* ---------------------------------------------------------------- writing and reading */

START_TEST(write_rgb8_roundtrip) {
    char *dir = tu_tempdir("png");
    char *path = tu_path(dir, "raw.png");
    const int w = 7, h = 5;
    uint8_t rgb[7 * 5 * 3], gray[7 * 5];
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < w * h; i++) gray[i] = (uint8_t)(i * 53 + 1);
    png_write_rgb8(path, rgb, w, h, 3);
    int gw, gh;
    uint8_t *px = read_or_fail(path, &gw, &gh);
    ck_assert_int_eq(gw, w);
    ck_assert_int_eq(gh, h);
    ck_assert_int_eq(memcmp(px, rgb, sizeof rgb), 0);
    free(px);
    png_write_rgb8(path, gray, w, h, 1);   /* replaces the file */
    px = read_or_fail(path, &gw, &gh);
    for (int i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++) ck_assert_int_eq(px[i * 3 + c], gray[i]);
    free(px);
    /* Nothing but the picture is left in the folder. */
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            n++;
            ck_assert_str_eq(e->d_name, "raw.png");
        }
    closedir(d);
    ck_assert_int_eq(n, 1);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}
END_TEST

/* Writes a PNG with libpng directly: rows are already packed for color type and depth. */
static void write_png_raw(const char *path, int w, int h, int color, int depth, int interlace,
                          const uint8_t *data, size_t stride, const png_color *pal, int npal) {
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png && info);
    if (setjmp(png_jmpbuf(png))) ck_abort_msg("libpng failed writing %s", path);
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    png_bytep *rows = xmalloc((size_t)h * sizeof *rows);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)(data + (size_t)y * stride);
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    free(rows);
}

/* Reads path and expects want[] (w x h x 3). */
static void expect_rgb(const char *path, int w, int h, const uint8_t *want) {
    int gw, gh;
    uint8_t *px = read_or_fail(path, &gw, &gh);
    ck_assert_int_eq(gw, w);
    ck_assert_int_eq(gh, h);
    for (int i = 0; i < w * h * 3; i++)
        ck_assert_msg(px[i] == want[i], "%s: byte %d is %d, expected %d", path, i, px[i], want[i]);
    free(px);
}

START_TEST(read_all_formats) {
    enum { W = 5, H = 3, P = W * H };
    char *path = tu_temp_file("png", "fmt.png");
    uint8_t want[P * 3], buf[P * 8];

    /* 8-bit gray, also interlaced. */
    for (int i = 0; i < P; i++) {
        buf[i] = (uint8_t)(i * 17);
        want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = buf[i];
    }
    write_png_raw(path, W, H, PNG_COLOR_TYPE_GRAY, 8, 0, buf, W, NULL, 0);
    expect_rgb(path, W, H, want);
    write_png_raw(path, W, H, PNG_COLOR_TYPE_GRAY, 8, 1, buf, W, NULL, 0);
    expect_rgb(path, W, H, want);

    /* 16-bit gray: v * 257 is exactly v after scaling to 8 bits (big-endian samples). */
    for (int i = 0; i < P; i++) {
        unsigned v = (unsigned)(i * 17) * 257u;
        buf[2 * i] = (uint8_t)(v >> 8);
        buf[2 * i + 1] = (uint8_t)v;
    }
    write_png_raw(path, W, H, PNG_COLOR_TYPE_GRAY, 16, 0, buf, 2 * W, NULL, 0);
    expect_rgb(path, W, H, want);

    /* 1-bit gray: a checkerboard of 0 and 255, bits packed from the high end. */
    memset(buf, 0, sizeof buf);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int on = (x + y) % 2;
            /* one byte per row: W <= 8 */
            if (on) buf[y] |= (uint8_t)(0x80 >> x);
            int i = y * W + x;
            want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = on ? 255 : 0;
        }
    write_png_raw(path, W, H, PNG_COLOR_TYPE_GRAY, 1, 0, buf, 1, NULL, 0);
    expect_rgb(path, W, H, want);

    /* RGB 8-bit and RGBA 8-bit (alpha dropped, colour kept). */
    for (int i = 0; i < P * 3; i++) want[i] = (uint8_t)(i * 29 + 3);
    write_png_raw(path, W, H, PNG_COLOR_TYPE_RGB, 8, 0, want, 3 * W, NULL, 0);
    expect_rgb(path, W, H, want);
    for (int i = 0; i < P; i++) {
        memcpy(buf + 4 * i, want + 3 * i, 3);
        buf[4 * i + 3] = (uint8_t)(i * 7);
    }
    write_png_raw(path, W, H, PNG_COLOR_TYPE_RGB_ALPHA, 8, 1, buf, 4 * W, NULL, 0);
    expect_rgb(path, W, H, want);

    /* RGB 16-bit, off the exact v * 257 grid by -120 (< 257 / 2): scaling rounds back to v
     * where dropping the low byte would give v - 1 for v < 120. */
    for (int i = 0; i < P * 3; i++) {
        unsigned v = want[i] ? want[i] * 257u - 120u : 0u;
        buf[2 * i] = (uint8_t)(v >> 8);
        buf[2 * i + 1] = (uint8_t)v;
    }
    write_png_raw(path, W, H, PNG_COLOR_TYPE_RGB, 16, 0, buf, 6 * W, NULL, 0);
    expect_rgb(path, W, H, want);

    /* Gray + alpha. */
    for (int i = 0; i < P; i++) {
        buf[2 * i] = (uint8_t)(250 - i * 9);
        buf[2 * i + 1] = (uint8_t)(i * 11);
        want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = buf[2 * i];
    }
    write_png_raw(path, W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, buf, 2 * W, NULL, 0);
    expect_rgb(path, W, H, want);

    /* Palette, 8-bit indices into 4 colours. */
    const png_color pal[4] = {{255, 0, 0}, {0, 200, 0}, {1, 2, 3}, {90, 80, 70}};
    for (int i = 0; i < P; i++) {
        buf[i] = (uint8_t)(i % 4);
        want[3 * i] = pal[i % 4].red;
        want[3 * i + 1] = pal[i % 4].green;
        want[3 * i + 2] = pal[i % 4].blue;
    }
    write_png_raw(path, W, H, PNG_COLOR_TYPE_PALETTE, 8, 0, buf, W, pal, 4);
    expect_rgb(path, W, H, want);
    tu_temp_file_free(path);
}
END_TEST

/* png_read_rgb8 must fail with the path in the message and leave *pixels NULL. */
static void expect_read_fail(const char *path, const char *phrase) {
    uint8_t *px = (uint8_t *)1;
    int w = -1, h = -1;
    char err[512];
    ck_assert_int_eq(png_read_rgb8(path, &px, &w, &h, err, sizeof err), -1);
    ck_assert_ptr_null(px);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "message lacks the path: %s", err);
    ck_assert_msg(strstr(err, phrase) != NULL, "expected '%s' in: %s", phrase, err);
}

START_TEST(read_corrupt) {
    char *dir = tu_tempdir("png");
    char *good = tu_path(dir, "good.png"), *bad = tu_path(dir, "bad.png");
    const int w = 40, h = 30;
    uint8_t *rgb = xmalloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (uint8_t)((i * 2654435761u) >> 13);   /* poorly compressible */
    png_write_rgb8(good, rgb, w, h, 3);
    size_t len;
    unsigned char *bytes = read_file(good, &len);
    ck_assert_ptr_nonnull(bytes);
    ck_assert_uint_gt(len, 200);

    write_file_atomic(bad, bytes, len / 2);   /* truncated inside the image data */
    expect_read_fail(bad, "cannot read PNG");
    write_file_atomic(bad, bytes, 20);        /* truncated inside IHDR */
    expect_read_fail(bad, "cannot read PNG");
    bytes[len / 2] ^= 0x5a;                   /* a flipped byte: CRC mismatch */
    write_file_atomic(bad, bytes, len);
    expect_read_fail(bad, "cannot read PNG");
    write_file_atomic(bad, "GIF89a, not a png", 17);
    expect_read_fail(bad, "not a PNG file");
    write_file_atomic(bad, "", 0);
    expect_read_fail(bad, "not a PNG file");
    char *missing = tu_path(dir, "missing.png");
    expect_read_fail(missing, "cannot open: No such file or directory");

    free(missing);
    free(bytes);
    free(rgb);
    unlink(bad);
    unlink(good);
    rmdir(dir);
    free(bad);
    free(good);
    free(dir);
}
END_TEST

/* Bad arguments end the program with a message naming the file (run by tu_in_child):
 * a grid into a missing folder, or one with 2 channels. */
static void grid_into_missing_folder(void *path) {
    float x[4] = {1, 2, 3, 4};
    png_write_grid(path, x, 1, 1, 2, 2, 10, 1, 0);
}
static void grid_bad_channels(void *path) {
    float x[2 * 4] = {0};
    png_write_grid(path, x, 1, 2, 2, 2, 10, 1, 0);
}

START_TEST(write_errors_name_path) {
    char *dir = tu_tempdir("png");
    char *nodir = tu_path(dir, "missing/grid.png"), *bad = tu_path(dir, "c2.png");
    char *paths[2] = {nodir, bad};
    void (*writers[2])(void *) = {grid_into_missing_folder, grid_bad_channels};
    for (int t = 0; t < 2; t++) {
        char msg[1024];
        ck_assert_int_eq(tu_in_child(writers[t], paths[t], msg, sizeof msg), 1);
        ck_assert_msg(strstr(msg, paths[t]) != NULL, "message lacks the path: %s", msg);
    }
    ck_assert(!file_exists(bad));
    rmdir(dir);
    free(nodir);
    free(bad);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("png");
    TCase *tc = tcase_create("png");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, grid_rgb_tiles);
    tcase_add_test(tc, grid_gray_tiles);
    tcase_add_test(tc, grid_single_and_short_row);
    tcase_add_test(tc, grid_clip_outlier);
    tcase_add_test(tc, grid_nan_and_constant);
    tcase_add_test(tc, write_rgb8_roundtrip);
    tcase_add_test(tc, read_all_formats);
    tcase_add_test(tc, read_corrupt);
    tcase_add_test(tc, write_errors_name_path);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
