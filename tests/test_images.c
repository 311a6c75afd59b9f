/* Picture datasets (Tiny ImageNet, ImageNet subsets): JPEG and PNG decoding of every
 * colour kind (files written here with libturbojpeg and libpng), the bilinear resize of
 * docs/algorithm.md#imagenet-subsets-and-resizing against a hand computation and a plain reference, the subset lists (built-in,
 * user files, lookup order, faults), both Tiny layouts, ImageNet train/val folders,
 * unreadable pictures with and without --skip_bad_images, the decoded cache (reuse,
 * bit-identity, invalidation), the expert folder names, and `clmtt buffer` on a custom
 * subset. No device is needed except by the clmtt run. */
#include "testutil.h"

#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <png.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "data/dataset.h"
#include "data/image.h"
#include "data/subset.h"
#include "io/jpeg.h"
#include "io/png.h"
#include "io/trajectory.h"

extern const int clmtt_subset_count;
extern const char *const clmtt_subset_names[];
extern const char *const clmtt_subset_texts[];

static char *g_root;       /* the test's temporary folder */
static char g_data_dir[600];   /* $CLMTT_DATA_DIR: holds subsets/ */
static char g_cache[600];      /* $CLMTT_CACHE_DIR of most tests */

/* ---- files ---- */

static char *pfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pfmt(const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return xstrdup(buf);
}

static void put_text(const char *path, const char *text) { tu_write_file(path, text, strlen(text)); }

/* Rewrites the JPEG at path cut halfway through its entropy-coded data (after the SOS
 * marker), so that the headers are whole and the pixels end early. */
static void cut_jpeg(const char *path) {
    size_t len;
    unsigned char *b = read_file(path, &len);
    ck_assert_ptr_nonnull(b);
    size_t sos = 0;
    for (size_t i = 2; i + 1 < len && !sos; i++)
        if (b[i] == 0xff && b[i + 1] == 0xda) sos = i;
    ck_assert_msg(sos > 0, "%s has no SOS marker", path);
    tu_write_file(path, b, sos + (len - sos) / 2);
    free(b);
}

/* A PNG of any colour type and depth; rows are packed as PNG stores them (16-bit big-endian). */
static void put_png(const char *path, int w, int h, int color_type, int depth, int interlace, const uint8_t *data,
                    const png_color *pal, int npal) {
    tu_make_parent(path);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) ck_abort_msg("libpng failed writing %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    png_write_info(png, info);
    size_t stride = png_get_rowbytes(png, info);
    rows = xmalloc((size_t)h * sizeof(png_bytep));
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)(data + (size_t)y * stride);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
}

/* ---- pictures with known content ---- */

/* Deterministic byte (all 256 levels appear). */
static uint8_t rbyte(uint32_t tag, uint32_t k) {
    uint32_t x = tag * 0x9E3779B9u ^ (k * 0x85EBCA6Bu + 0x165667B1u);
    x ^= x >> 15; x *= 0x2C1B3C6Du; x ^= x >> 12; x *= 0x297A2D39u; x ^= x >> 15;
    return (uint8_t)(x >> 8);
}

/* Smooth values (JPEG keeps them within a few levels): a gentle gradient per channel. */
static uint8_t smooth(uint32_t tag, int x, int y, int c) { return (uint8_t)(20 + (tag * 29) % 60 + x + y + 20 * c); }

enum { PK_PNG, PK_PNG_GRAY, PK_JPEG, PK_JPEG_GRAY };

/* Writes a w x h picture of the given kind to path; returns the RGB bytes (h x w x 3) the
 * loader should see, within *tol levels (0 for PNG, JPEG's loss otherwise). w, h < 100. */
static uint8_t *make_pic(const char *path, int kind, int w, int h, uint32_t tag, int *tol) {
    uint8_t *rgb = xmalloc((size_t)w * h * 3), *gray = xmalloc((size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t k = (size_t)y * w + x;
            int g = kind == PK_PNG_GRAY || kind == PK_JPEG_GRAY;
            for (int c = 0; c < 3; c++) {
                uint8_t v = kind <= PK_PNG_GRAY ? rbyte(tag, (uint32_t)(g ? k : 3 * k + c))
                                                : smooth(tag, x, y, g ? 0 : c);
                rgb[3 * k + c] = v;
            }
            gray[k] = rgb[3 * k];
        }
    tu_make_parent(path);
    switch (kind) {
    case PK_PNG: png_write_rgb8(path, rgb, w, h, 3); break;
    case PK_PNG_GRAY: png_write_rgb8(path, gray, w, h, 1); break;
    case PK_JPEG: tu_write_jpeg(path, rgb, w, h, TJPF_RGB, 100); break;
    default: tu_write_jpeg(path, gray, w, h, TJPF_GRAY, 100); break;
    }
    free(gray);
    *tol = kind <= PK_PNG_GRAY ? 0 : 3;
    return rgb;
}

/* ---- references ---- */

/* docs/algorithm.md#imagenet-subsets-and-resizing written out directly for one output value: channel c, row i, column j. */
static double ref_sample(const double *in, int hin, int win, int hout, int wout, int c, int i, int j) {
    double sy = (double)hin / hout * (i + 0.5) - 0.5, sx = (double)win / wout * (j + 0.5) - 0.5;
    if (sy < 0) sy = 0;
    if (sx < 0) sx = 0;
    int y0 = (int)floor(sy), x0 = (int)floor(sx);
    int y1 = y0 + 1 < hin ? y0 + 1 : hin - 1, x1 = x0 + 1 < win ? x0 + 1 : win - 1;
    double ty = sy - y0, tx = sx - x0;
    const double *p = in + (size_t)c * hin * win;
    return (1 - ty) * (1 - tx) * p[y0 * win + x0] + (1 - ty) * tx * p[y0 * win + x1] + ty * (1 - tx) * p[y1 * win + x0] +
           ty * tx * p[y1 * win + x1];
}

/* Image i of s (CHW) against the picture rgb (sh x sw x 3): resized by the reference when
 * the sizes differ (then rounded to a byte level, which moves a value by up to 0.5/255),
 * else directly. tol: the decoder's allowance in levels. */
static void check_pic(const ImageSet *s, int i, const uint8_t *rgb, int sw, int sh, int tol, const char *what) {
    int H = s->h, W = s->w;
    const float *img = s->images + (size_t)i * 3 * H * W;
    double *src = xmalloc((size_t)3 * sw * sh * sizeof(double));
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < sw * sh; k++) src[(size_t)c * sw * sh + k] = rgb[3 * k + c] / 255.0;
    int same = sw == W && sh == H;
    double allow = (tol + (same ? 0 : 0.5)) / 255.0 + 1e-6;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double want = same ? src[((size_t)c * sh + y) * sw + x] : ref_sample(src, sh, sw, H, W, c, y, x);
                float got = img[((size_t)c * H + y) * W + x];
                if (same && tol == 0)
                    ck_assert_msg(got == (float)rgb[3 * (y * sw + x) + c] / 255.0f, "%s: image %d c%d (%d,%d): %.9g vs %.9g",
                                  what, i, c, y, x, got, want);
                else
                    ck_assert_msg(fabs(got - want) <= allow, "%s: image %d c%d (%d,%d): got %.6f, want %.6f (+-%.6f)", what,
                                  i, c, y, x, got, want, allow);
                /* Every value is a byte level (the pipeline rounds after resizing). */
                double lv = got * 255.0;
                ck_assert_msg(fabs(lv - round(lv)) < 1e-3, "%s: image %d holds %.9g, not a byte level", what, i, got);
            }
    free(src);
}

/* ---- running code that dies ---- */

typedef struct {
    const char *dataset, *subset, *root;
    int res, skip;
} LoadArgs;

/* Child: resolves and loads; exits with 16 * skipped + training images (small sets). */
static void load_in_child(void *p) {
    LoadArgs *a = p;
    DatasetInfo info;
    dataset_resolve(a->dataset, a->subset, a->res, &info);
    info.skip_bad_images = a->skip;
    Dataset d;
    dataset_load(&info, a->root, 0, &d);
    _exit(16 * d.skipped + d.train.n);
}

static int load_dies(const char *dataset, const char *subset, const char *root, int res, int skip, char *err, size_t n) {
    LoadArgs a = {dataset, subset, root, res, skip};
    return tu_in_child(load_in_child, &a, err, n);
}

/* For tu_stdout_of. */
static void print_summary(void *d) { dataset_print_summary(d); }

/* Writes $CLMTT_DATA_DIR/subsets/<name>.txt. */
static void put_subset(const char *name, const char *text) {
    char *p = pfmt("%s/subsets/%s.txt", g_data_dir, name);
    put_text(p, text);
    free(p);
}

static int count_cache_files(const char *dir) {
    char *pat = tu_path(dir, "*.pixels");
    glob_t g;
    int n = glob(pat, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
    if (n) globfree(&g);
    free(pat);
    return n;
}

/* ================================================================ resize */

START_TEST(resize_by_hand_and_reference) {
    /* x[r][c] = 10 r + c: bilinear interpolation of a linear ramp is the ramp at the sample
     * point, so 4x6 -> 3x3 gives 10 sy + sx with sy = (4/3)(i + 1/2) - 1/2 = 1/6, 3/2, 17/6
     * and sx = 2 (j + 1/2) - 1/2 = 1/2, 5/2, 9/2. */
    float ramp[24], out[9];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 6; c++) ramp[r * 6 + c] = (float)(10 * r + c);
    image_resize_bilinear(ramp, 1, 4, 6, out, 3, 3);
    const double sy[3] = {1.0 / 6, 1.5, 17.0 / 6}, sx[3] = {0.5, 2.5, 4.5};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            ck_assert_msg(fabs(out[i * 3 + j] - (10 * sy[i] + sx[j])) < 1e-5, "ramp (%d,%d): %.7g vs %.7g", i, j,
                          out[i * 3 + j], 10 * sy[i] + sx[j]);
    /* Upsampling clamps at the borders: 2x2 -> 4x4 of [[0, 1], [2, 3]] gives rows sampled at
     * 0 (clamped from -1/4), 1/4, 3/4, 1 (the last pair clamps to row 1), columns alike. */
    float sq[4] = {0, 1, 2, 3}, up[16];
    image_resize_bilinear(sq, 1, 2, 2, up, 4, 4);
    const double t[4] = {0, 0.25, 0.75, 1};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            ck_assert_msg(fabs(up[i * 4 + j] - (2 * t[i] + t[j])) < 1e-6, "2x2 up (%d,%d): %.7g", i, j, up[i * 4 + j]);

    /* Random planes against the reference, down and up, odd ratios, two channels. */
    const int sizes[][4] = {{4, 6, 3, 3}, {4, 6, 7, 9}, {5, 5, 1, 1}, {13, 7, 8, 16}, {64, 48, 32, 32}, {3, 9, 9, 3}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int hin = sizes[s][0], win = sizes[s][1], hout = sizes[s][2], wout = sizes[s][3];
        size_t nin = (size_t)2 * hin * win, nout = (size_t)2 * hout * wout;
        float *in = xmalloc(nin * sizeof(float)), *o = xmalloc(nout * sizeof(float));
        tu_rand(in, nin, 100 + s, -1, 2);
        double *ind = tu_to_double(in, nin), *want = xmalloc(nout * sizeof(double));
        image_resize_bilinear(in, 2, hin, win, o, hout, wout);
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < hout; i++)
                for (int j = 0; j < wout; j++)
                    want[((size_t)c * hout + i) * wout + j] = ref_sample(ind, hin, win, hout, wout, c, i, j);
        tu_check_close("resize", o, want, nout, 1e-6, 1e-6);
        free(in); free(o); free(ind); free(want);
    }
    /* Equal sizes: a copy, bit for bit. */
    float a[2 * 5 * 7], b[2 * 5 * 7];
    tu_rand(a, 70, 9, -3, 3);
    image_resize_bilinear(a, 2, 5, 7, b, 5, 7);
    ck_assert(memcmp(a, b, sizeof a) == 0);
}
END_TEST

/* ================================================================ decoding */

static uint8_t *decode_ok(const char *path, int w, int h) {
    uint8_t *pix;
    int pw, ph;
    char err[1024] = "";
    ck_assert_msg(image_read_rgb8(path, &pix, &pw, &ph, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(pw, w);
    ck_assert_int_eq(ph, h);
    return pix;
}

START_TEST(decode_png_kinds) {
    char *dir = tu_path(g_root, "png");
    enum { W = 5, H = 3 };
    /* 8-bit RGB and gray through the library's writer; the RGB one named .JPEG (content decides). */
    int tol;
    char *p = tu_path(dir, "rgb.JPEG");
    uint8_t *want = make_pic(p, PK_PNG, W, H, 1, &tol);
    uint8_t *got = decode_ok(p, W, H);
    ck_assert(memcmp(got, want, W * H * 3) == 0);
    free(got); free(want); free(p);
    p = tu_path(dir, "gray.png");
    want = make_pic(p, PK_PNG_GRAY, W, H, 2, &tol);
    got = decode_ok(p, W, H);
    ck_assert(memcmp(got, want, W * H * 3) == 0);
    free(got); free(want); free(p);

    /* Palette, RGBA (alpha dropped, not blended), gray + alpha, 16-bit RGB, 1-bit gray, interlaced. */
    png_color pal[4] = {{10, 20, 30}, {200, 100, 0}, {0, 255, 7}, {255, 255, 255}};
    uint8_t idx[W * H], rgba[W * H * 4], ga[W * H * 2], rgb16[W * H * 6], bits[H], rgbi[W * H * 3];
    for (int k = 0; k < W * H; k++) {
        idx[k] = (uint8_t)(k % 4);
        for (int c = 0; c < 4; c++) rgba[4 * k + c] = rbyte(3, (uint32_t)(4 * k + c));
        ga[2 * k] = rbyte(4, (uint32_t)k);
        ga[2 * k + 1] = (uint8_t)(k * 17);
        for (int c = 0; c < 3; c++) {
            /* v * 257 scales back to exactly v; a few odd values round. */
            unsigned v16 = k == 7 ? 1000u : rbyte(5, (uint32_t)(3 * k + c)) * 257u;
            rgb16[6 * k + 2 * c] = (uint8_t)(v16 >> 8);
            rgb16[6 * k + 2 * c + 1] = (uint8_t)v16;
            rgbi[3 * k + c] = rbyte(6, (uint32_t)(3 * k + c));
        }
    }
    for (int y = 0; y < H; y++) bits[y] = (uint8_t)(y == 1 ? 0xA8 : 0x50);   /* 5 pixels MSB first */
    p = tu_path(dir, "pal.png");
    put_png(p, W, H, PNG_COLOR_TYPE_PALETTE, 8, 0, idx, pal, 4);
    got = decode_ok(p, W, H);
    for (int k = 0; k < W * H; k++) {
        ck_assert_int_eq(got[3 * k], pal[k % 4].red);
        ck_assert_int_eq(got[3 * k + 1], pal[k % 4].green);
        ck_assert_int_eq(got[3 * k + 2], pal[k % 4].blue);
    }
    free(got); free(p);
    p = tu_path(dir, "rgba.png");
    put_png(p, W, H, PNG_COLOR_TYPE_RGBA, 8, 0, rgba, NULL, 0);
    got = decode_ok(p, W, H);
    for (int k = 0; k < W * H; k++)
        for (int c = 0; c < 3; c++) ck_assert_int_eq(got[3 * k + c], rgba[4 * k + c]);
    free(got); free(p);
    p = tu_path(dir, "ga.png");
    put_png(p, W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, ga, NULL, 0);
    got = decode_ok(p, W, H);
    for (int k = 0; k < W * H; k++)
        for (int c = 0; c < 3; c++) ck_assert_int_eq(got[3 * k + c], ga[2 * k]);
    free(got); free(p);
    p = tu_path(dir, "rgb16.png");
    put_png(p, W, H, PNG_COLOR_TYPE_RGB, 16, 0, rgb16, NULL, 0);
    got = decode_ok(p, W, H);
    for (int k = 0; k < W * H; k++)
        for (int c = 0; c < 3; c++) {
            unsigned v16 = (unsigned)rgb16[6 * k + 2 * c] << 8 | rgb16[6 * k + 2 * c + 1];
            ck_assert_msg(abs((int)got[3 * k + c] - (int)lround(v16 * 255.0 / 65535.0)) <= (k == 7 ? 1 : 0),
                          "16-bit %u -> %u", v16, got[3 * k + c]);
        }
    free(got); free(p);
    p = tu_path(dir, "bits.png");
    put_png(p, W, H, PNG_COLOR_TYPE_GRAY, 1, 0, bits, NULL, 0);
    got = decode_ok(p, W, H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int on = bits[y] >> (7 - x) & 1;
            for (int c = 0; c < 3; c++) ck_assert_int_eq(got[3 * (y * W + x) + c], on ? 255 : 0);
        }
    free(got); free(p);
    p = tu_path(dir, "interlaced.png");
    put_png(p, W, H, PNG_COLOR_TYPE_RGB, 8, 1, rgbi, NULL, 0);
    got = decode_ok(p, W, H);
    ck_assert(memcmp(got, rgbi, sizeof rgbi) == 0);
    free(got); free(p);
    free(dir);
}
END_TEST

/* The original's image library turns CMYK JPEGs (stored inverted, Adobe style) into RGB as
 * k - k (255 - c) / 255 with rounding, per channel. */
static int cmyk_red(int c, int k) { return k - (int)lround((255 - c) * k / 255.0); }

START_TEST(decode_jpeg_kinds) {
    char *dir = tu_path(g_root, "jpeg");
    int tol;
    /* Colour, 4:4:4 at quality 100, w != h so a transposition would show; named .png. */
    char *p = tu_path(dir, "colour.png");
    uint8_t *want = make_pic(p, PK_JPEG, 24, 16, 7, &tol);
    uint8_t *got = decode_ok(p, 24, 16);
    for (int k = 0; k < 24 * 16 * 3; k++)
        ck_assert_msg(abs(got[k] - want[k]) <= tol, "colour JPEG byte %d: %d vs %d", k, got[k], want[k]);
    free(got); free(want); free(p);
    /* Grayscale: three equal channels. */
    p = tu_path(dir, "gray.JPEG");
    want = make_pic(p, PK_JPEG_GRAY, 20, 12, 8, &tol);
    got = decode_ok(p, 20, 12);
    for (int k = 0; k < 20 * 12; k++) {
        ck_assert_int_eq(got[3 * k], got[3 * k + 1]);
        ck_assert_int_eq(got[3 * k], got[3 * k + 2]);
        ck_assert_msg(abs(got[3 * k] - want[3 * k]) <= tol, "gray JPEG %d: %d vs %d", k, got[3 * k], want[3 * k]);
    }
    free(got); free(want); free(p);
    /* CMYK: four flat 8x8 blocks (JPEG keeps flat blocks nearly exact). */
    const uint8_t blocks[4][4] = {{255, 255, 255, 255}, {200, 100, 50, 150}, {0, 128, 255, 200}, {30, 60, 90, 0}};
    uint8_t cmyk[16 * 16 * 4];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            memcpy(cmyk + 4 * (y * 16 + x), blocks[(y / 8) * 2 + x / 8], 4);
    p = tu_path(dir, "cmyk.jpg");
    tu_write_jpeg(p, cmyk, 16, 16, TJPF_CMYK, 100);
    got = decode_ok(p, 16, 16);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            const uint8_t *b = blocks[(y / 8) * 2 + x / 8];
            for (int c = 0; c < 3; c++) {
                int w = cmyk_red(b[c], b[3]);
                ck_assert_msg(abs(got[3 * (y * 16 + x) + c] - w) <= 3, "CMYK (%d,%d) ch %d: %d vs %d", y, x, c,
                              got[3 * (y * 16 + x) + c], w);
            }
        }
    free(got); free(p);
    free(dir);
}
END_TEST

static void expect_decode_error(const char *path, const char *part) {
    uint8_t *pix = (uint8_t *)1;
    int w = 1, h = 1;
    char err[1024] = "";
    ck_assert_int_eq(image_read_rgb8(path, &pix, &w, &h, err, sizeof err), -1);
    ck_assert_ptr_null(pix);
    TU_ASSERT_HAS(err, path);
    TU_ASSERT_HAS(err, part);
}

START_TEST(decode_errors) {
    char *dir = tu_path(g_root, "bad");
    int tol;
    char *good = tu_path(dir, "good.JPEG");
    free(make_pic(good, PK_JPEG, 32, 32, 9, &tol));
    size_t len;
    unsigned char *b = read_file(good, &len);
    char *p = tu_path(dir, "cut.JPEG");
    tu_write_file(p, b, len);
    cut_jpeg(p);
    expect_decode_error(p, "Premature end");
    free(p);
    /* A JPEG header followed by junk. */
    memset(b + 20, 0x5a, len - 20);
    p = tu_path(dir, "junk.JPEG");
    tu_write_file(p, b, len);
    expect_decode_error(p, "JPEG");
    free(p);
    free(b);
    p = tu_path(dir, "empty.JPEG");
    tu_write_file(p, "", 0);
    expect_decode_error(p, "empty file");
    free(p);
    p = tu_path(dir, "anim.JPEG");
    put_text(p, "GIF89a\x01\x00\x01\x00");
    expect_decode_error(p, "GIF pictures are not supported");
    free(p);
    p = tu_path(dir, "text.png");
    put_text(p, "hello there");
    expect_decode_error(p, "not a JPEG or PNG file");
    free(p);
    /* A PNG cut short. */
    char *gp = tu_path(dir, "good.png");
    free(make_pic(gp, PK_PNG, 16, 16, 10, &tol));
    b = read_file(gp, &len);
    p = tu_path(dir, "cut.png");
    tu_write_file(p, b, len - 30);
    expect_decode_error(p, "cannot read PNG");
    free(p); free(b); free(gp);
    p = tu_path(dir, "absent.JPEG");
    expect_decode_error(p, "cannot open");
    free(p);
    free(good);
    free(dir);
}
END_TEST

/* ================================================================ subsets */

START_TEST(subset_lists) {
    /* The six built-in lists: compiled in, the same as the source files, 10 classes each. */
    ck_assert_int_eq(clmtt_subset_count, 6);
    const char *src = getenv("CLMTT_SOURCE_DIR");
    for (int i = 0; i < 6; i++) {
        Subset s;
        char err[1024];
        ck_assert_msg(subset_parse(clmtt_subset_texts[i], "built-in", clmtt_subset_names[i], &s, err, sizeof err) == 0, "%s",
                      err);
        ck_assert_int_eq(s.num_classes, 10);
        for (int k = 0; k < 10; k++) {
            ck_assert_ptr_nonnull(s.wnids[k]);
            ck_assert_int_ge(s.index[k], 0);
        }
        subset_free(&s);
        if (src && *src) {
            char *p = pfmt("%s/data/subsets/%s.txt", src, clmtt_subset_names[i]);
            size_t len;
            char *text = (char *)read_file(p, &len);
            ck_assert_msg(text != NULL, "cannot read %s", p);
            ck_assert_str_eq(text, clmtt_subset_texts[i]);
            free(text); free(p);
        }
    }
    /* Indices are positions in the sorted wnid list, so across all lists index order and
     * wnid order agree. */
    const char *names[6] = {"imagenette", "imagewoof", "imagemeow", "imagesquawk", "imagefruit", "imageyellow"};
    DatasetInfo all[6];
    for (int i = 0; i < 6; i++) {
        dataset_resolve("ImageNet", names[i], 128, &all[i]);
        ck_assert_int_eq(all[i].num_classes, 10);
        ck_assert_str_eq(all[i].subset, names[i]);
    }
    for (int a = 0; a < 60; a++)
        for (int b = 0; b < 60; b++) {
            const DatasetInfo *x = &all[a / 10], *y = &all[b / 10];
            int ia = x->imagenet_index[a % 10], ib = y->imagenet_index[b % 10];
            int cmp = strcmp(x->wnids[a % 10], y->wnids[b % 10]);
            ck_assert_msg((ia < ib) == (cmp < 0) && (ia == ib) == (cmp == 0), "%s %d vs %s %d", x->wnids[a % 10], ia,
                          y->wnids[b % 10], ib);
        }
    /* Entries of docs/algorithm.md#imagenet-subsets-and-resizing. */
    ck_assert_str_eq(all[0].wnids[0], "n01440764"); ck_assert_int_eq(all[0].imagenet_index[0], 0);
    ck_assert_str_eq(all[0].class_names[0], "tench");
    ck_assert_str_eq(all[0].wnids[9], "n03888257"); ck_assert_int_eq(all[0].imagenet_index[9], 701);
    ck_assert_str_eq(all[1].wnids[3], "n02088364"); ck_assert_int_eq(all[1].imagenet_index[3], 162);
    ck_assert_str_eq(all[1].class_names[3], "beagle");
    ck_assert_str_eq(all[2].class_names[1], "tiger cat"); ck_assert_int_eq(all[2].imagenet_index[1], 282);
    ck_assert_str_eq(all[3].class_names[9], "sulphur-crested cockatoo"); ck_assert_int_eq(all[3].imagenet_index[7], 9);
    ck_assert_str_eq(all[4].wnids[9], "n07742313"); ck_assert_str_eq(all[4].class_names[9], "Granny Smith");
    ck_assert_str_eq(all[5].class_names[1], "yellow lady's slipper"); ck_assert_int_eq(all[5].imagenet_index[1], 986);
    ck_assert_int_eq(all[5].imagenet_index[9], 11);
    ck_assert_int_eq(all[0].height, 128); ck_assert_int_eq(all[0].width, 128); ck_assert_int_eq(all[0].channels, 3);
    ck_assert_int_eq(all[0].no_zca_suffix, 0);
    for (int i = 0; i < 6; i++) dataset_info_free(&all[i]);

    /* Parsing: comments, blank lines, CRLF, index-only and wnid-only lines, names with spaces. */
    Subset s;
    char err[1024];
    ck_assert_msg(subset_parse("# head\r\n\r\nn01 12 first one # tail\r\n  n02\r\n7\r\n8 eight\n", "t.txt", "t", &s, err,
                               sizeof err) == 0, "%s", err);
    ck_assert_int_eq(s.num_classes, 4);
    ck_assert_str_eq(s.wnids[0], "n01"); ck_assert_int_eq(s.index[0], 12); ck_assert_str_eq(s.names[0], "first one");
    ck_assert_str_eq(s.wnids[1], "n02"); ck_assert_int_eq(s.index[1], -1); ck_assert_str_eq(s.names[1], "n02");
    ck_assert_ptr_null(s.wnids[2]); ck_assert_int_eq(s.index[2], 7); ck_assert_str_eq(s.names[2], "index 7");
    ck_assert_int_eq(s.index[3], 8); ck_assert_str_eq(s.names[3], "eight");
    ck_assert_int_eq(s.line[3], 6);
    subset_free(&s);
    const struct { const char *text, *msg; } bad[] = {
        {"n1\nn2\nn1 x\n", "t.txt:3: class n1 is listed twice (also on line 1)"},
        {"5 a\n6\n5 b\n", "t.txt:3: ImageNet index 5 is listed twice (also on line 1)"},
        {"n1 1000\nn2\n", "t.txt:1: ImageNet index 1000 is out of range 0..999"},
        {"12345678901\nn2\n", "out of range"},
        {"# only\nn1\n", "t.txt: a subset needs at least 2 classes, this one lists 1"},
        {"a/b\nn2\n", "t.txt:1: 'a/b' is not a class folder name"},
        {"..\nn2\n", "not a class folder name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(subset_parse(bad[i].text, "t.txt", "t", &s, err, sizeof err), -1);
        TU_ASSERT_HAS(err, bad[i].msg);
    }
    ck_assert_int_eq(subset_find("../etc", &s, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "not a subset name");
    ck_assert_int_eq(subset_find("no_such_subset", &s, err, sizeof err), 1);

    /* $CLMTT_DATA_DIR/subsets comes first: it may even replace a built-in. */
    put_subset("imagenette", "n01 first\nn02 second\n");
    DatasetInfo o;
    dataset_resolve("ImageNet", "imagenette", 64, &o);
    ck_assert_int_eq(o.num_classes, 2);
    ck_assert_str_eq(o.class_names[1], "second");
    ck_assert_int_eq(o.height, 64);
    dataset_info_free(&o);
    char *ov = pfmt("%s/subsets/imagenette.txt", g_data_dir);
    unlink(ov);
    free(ov);
    dataset_resolve("ImageNet", "imagenette", 64, &o);
    ck_assert_int_eq(o.num_classes, 10);
    dataset_info_free(&o);
    /* Other datasets ignore subset and res. */
    dataset_resolve("CIFAR10", "whatever", 3, &o);
    ck_assert_int_eq(o.height, 32);
    ck_assert_int_eq(o.num_classes, 10);
    ck_assert_ptr_eq(o.class_names, dataset_find("CIFAR10")->class_names);
}
END_TEST

typedef struct { const char *subset; int res; } ResolveArgs;
static void resolve_in_child(void *p) {
    ResolveArgs *a = p;
    DatasetInfo d;
    dataset_resolve("ImageNet", a->subset, a->res, &d);
    dataset_info_free(&d);
}

START_TEST(subset_faults) {
    char msg[8192];
    put_subset("listed", "n01\nn02\n");
    ResolveArgs a = {"nosuch", 128};
    ck_assert_int_eq(tu_in_child(resolve_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "--subset: unknown ImageNet subset 'nosuch' (known: ");
    TU_ASSERT_HAS(msg, "imagenette");
    TU_ASSERT_HAS(msg, "imageyellow");
    TU_ASSERT_HAS(msg, "listed");
    TU_ASSERT_HAS(msg, "subsets/nosuch.txt");
    a = (ResolveArgs){"imagenette", 4};
    ck_assert_int_eq(tu_in_child(resolve_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "--res: must be between 8 and 1024 pixels, got 4");
    a = (ResolveArgs){"imagenette", 2048};
    ck_assert_int_eq(tu_in_child(resolve_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "got 2048");
    put_subset("dup", "n01\nn01\n");
    a = (ResolveArgs){"dup", 32};
    ck_assert_int_eq(tu_in_child(resolve_in_child, &a, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "--subset: ");
    TU_ASSERT_HAS(msg, "subsets/dup.txt:2: class n01 is listed twice");
}
END_TEST

/* ================================================================ Tiny ImageNet */

typedef struct {
    char *path;
    uint8_t *rgb;
    int w, h, tol, label;
} Made;

/* Tiny folder under base: 3 of the 200 classes (made out of order), two training pictures
 * each (a PNG and a JPEG, or a gray JPEG, all named .JPEG) plus the ignored boxes file,
 * and 4 test pictures in the flat (per_class = 0) or per-class layout. train[] and test[]
 * receive the pictures in the order the loader should produce. */
static void make_tiny(const char *base, int per_class, Made train[6], Made test[4]) {
    const char *wn[3] = {"n0300", "n0100", "n0200"};   /* sorted: n0100 (0), n0200 (1), n0300 (2) */
    const int lab[3] = {2, 0, 1};
    for (int i = 0; i < 3; i++) {
        char *d = pfmt("%s/train/%s", base, wn[i]);
        char *boxes = pfmt("%s/%s_boxes.txt", d, wn[i]);
        put_text(boxes, "x 1 2 3 4\n");
        free(boxes);
        for (int k = 0; k < 2; k++) {
            Made *m = &train[2 * lab[i] + k];
            m->path = pfmt("%s/images/%s_%d.JPEG", d, wn[i], k);
            int kind = k == 0 ? PK_PNG : (i == 1 ? PK_JPEG_GRAY : PK_JPEG);
            m->w = m->h = 64;
            m->label = lab[i];
            m->rgb = make_pic(m->path, kind, 64, 64, (uint32_t)(10 * i + k), &m->tol);
        }
        free(d);
    }
    /* Test pictures val_0..val_3 of classes 2, 0, 2, 1: loaded by (class, name). */
    const int vlab[4] = {2, 0, 2, 1};
    const int order[4] = {2, 0, 3, 1};   /* position of val_k in the loaded order */
    char ann[1024] = "";
    for (int k = 0; k < 4; k++) {
        Made *m = &test[order[k]];
        const char *w = vlab[k] == 0 ? "n0100" : vlab[k] == 1 ? "n0200" : "n0300";
        m->path = per_class ? pfmt("%s/val/images/%s/val_%d.JPEG", base, w, k) : pfmt("%s/val/images/val_%d.JPEG", base, k);
        m->w = m->h = 64;
        m->label = vlab[k];
        m->rgb = make_pic(m->path, k % 2 ? PK_JPEG : PK_PNG, 64, 64, (uint32_t)(50 + k), &m->tol);
        char line[128];
        snprintf(line, sizeof line, "val_%d.JPEG\t%s\t0\t0\t63\t63\n", k, w);
        strcat(ann, line);
    }
    if (!per_class) {
        char *p = pfmt("%s/val/val_annotations.txt", base);
        put_text(p, ann);
        free(p);
    }
}

static void free_made(Made *m, int n) {
    for (int i = 0; i < n; i++) { free(m[i].path); free(m[i].rgb); }
}

static void check_split(const ImageSet *s, const Made *m, int n, const char *what) {
    ck_assert_int_eq(s->n, n);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(s->labels[i] == m[i].label, "%s %d: label %d, want %d", what, i, s->labels[i], m[i].label);
        check_pic(s, i, m[i].rgb, m[i].w, m[i].h, m[i].tol, what);
    }
}

START_TEST(tiny_both_layouts) {
    const DatasetInfo *tiny = dataset_find("Tiny");
    for (int per_class = 0; per_class < 2; per_class++) {
        char *root = pfmt("%s/tiny%d", g_root, per_class);
        char *base = tu_path(root, "tiny-imagenet-200");
        Made tr[6], te[4];
        make_tiny(base, per_class, tr, te);
        Dataset d;
        /* The flat copy is given through its parent folder, the other directly. */
        dataset_load(tiny, per_class ? base : root, 0, &d);
        check_split(&d.train, tr, 6, "Tiny train");
        check_split(&d.test, te, 4, "Tiny test");
        ck_assert_int_eq(d.train.c, 3); ck_assert_int_eq(d.train.h, 64); ck_assert_int_eq(d.train.w, 64);
        ck_assert_str_eq(d.class_names[0], "n0100");
        ck_assert_str_eq(d.class_names[2], "n0300");
        ck_assert_ptr_null(d.class_names[3]);
        char *text = tu_stdout_of(print_summary, &d);
        TU_ASSERT_HAS(text, "Tiny: 6 training and 4 test images of 3x64x64, 200 classes\n");
        TU_ASSERT_HAS(text, "class c = 1: 2 real images (n0200)\n");
        TU_ASSERT_HAS(text, "class c = 199: 0 real images (no folder)\n");
        free(text);
        dataset_free(&d);
        /* Standardized with Tiny's statistics (docs/algorithm.md#dataset-catalog), float32 subtract then divide. */
        dataset_load(tiny, per_class ? base : root, 1, &d);
        for (int k = 0; k < 3 * 64 * 64; k += 97) {
            int c = k / 4096, px = k % 4096;
            float want = ((float)tr[0].rgb[3 * px + c] / 255.0f - tiny->mean[c]) / tiny->std[c];
            ck_assert_float_eq(d.train.images[k], want);
        }
        dataset_free(&d);
        free_made(tr, 6);
        free_made(te, 4);
        free(base);
        free(root);
    }
}
END_TEST

START_TEST(tiny_faults) {
    char msg[8192];
    /* A picture that is not 64 x 64. */
    char *root = tu_path(g_root, "tiny_size");
    Made tr[6], te[4];
    make_tiny(root, 0, tr, te);
    int tol;
    char *odd = pfmt("%s/train/n0200/images/odd.JPEG", root);
    free(make_pic(odd, PK_PNG, 32, 48, 3, &tol));
    ck_assert_int_eq(load_dies("Tiny", NULL, root, 0, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, odd);
    TU_ASSERT_HAS(msg, "the picture is 32 x 48 pixels (width x height), expected 64 x 64");
    free(odd);
    free_made(tr, 6);
    free_made(te, 4);
    /* Annotations missing; a val picture without a line; nothing there at all. */
    char *ann = pfmt("%s/val/val_annotations.txt", root);
    char *keep = pfmt("%s.keep", ann);
    rename(ann, keep);
    char *odd2 = pfmt("%s/train/n0200/images/odd.JPEG", root);
    unlink(odd2);
    free(odd2);
    ck_assert_int_eq(load_dies("Tiny", NULL, root, 0, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "val_annotations.txt is missing");
    rename(keep, ann);
    char *extra = pfmt("%s/val/images/val_9.JPEG", root);
    free(make_pic(extra, PK_PNG, 64, 64, 3, &tol));
    ck_assert_int_eq(load_dies("Tiny", NULL, root, 0, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "val_9.JPEG has no line in");
    unlink(extra);
    ck_assert_int_eq(load_dies("Tiny", NULL, root, 0, 0, msg, sizeof msg), 6);
    char *none = tu_path(g_root, "tiny_none");
    mkdir_p(none);
    ck_assert_int_eq(load_dies("Tiny", NULL, none, 0, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "cannot find Tiny ImageNet");
    TU_ASSERT_HAS(msg, "tiny-imagenet-200/train");
    free(none); free(extra); free(keep); free(ann); free(root);
}
END_TEST

/* ================================================================ ImageNet subsets */

/* The "trio" subset (3 classes in list order, a nested folder, mixed sizes, PNG and JPEG)
 * under root; pictures in loader order into tr[5], te[3]. An extra class folder not in the
 * subset holds an unreadable file that must never be opened. */
static void make_trio(const char *root, Made tr[5], Made te[3]) {
    put_subset("trio", "# three classes, not in wnid order\nn0003 7 third class   # a comment\nn0001\nn0002 cat\n");
    struct { const char *rel; int kind, w, h, label; } spec[5] = {
        {"train/n0003/a.png", PK_PNG, 16, 16, 0},      /* already 16 x 16: exact */
        {"train/n0003/b.JPEG", PK_JPEG, 40, 30, 0},    /* JPEG, downscaled */
        {"train/n0001/c.png", PK_PNG, 24, 20, 1},      /* downscaled */
        {"train/n0001/sub/d.PNG", PK_PNG_GRAY, 9, 12, 1},   /* nested, gray, upscaled */
        {"train/n0002/e.jpeg", PK_JPEG_GRAY, 8, 8, 2},      /* upscaled */
    };
    for (int i = 0; i < 5; i++) {
        tr[i].path = pfmt("%s/%s", root, spec[i].rel);
        tr[i].w = spec[i].w;
        tr[i].h = spec[i].h;
        tr[i].label = spec[i].label;
        tr[i].rgb = make_pic(tr[i].path, spec[i].kind, spec[i].w, spec[i].h, (uint32_t)(100 + i), &tr[i].tol);
    }
    char *notes = pfmt("%s/train/n0002/notes.txt", root);
    put_text(notes, "not a picture\n");
    free(notes);
    const char *vw[3] = {"n0003", "n0001", "n0002"};
    for (int k = 0; k < 3; k++) {
        te[k].path = pfmt("%s/val/%s/v%d.png", root, vw[k], k);
        te[k].w = 20 + k;
        te[k].h = 18;
        te[k].label = k;
        te[k].rgb = make_pic(te[k].path, PK_PNG, te[k].w, te[k].h, (uint32_t)(200 + k), &te[k].tol);
    }
    char *junk = pfmt("%s/train/n0009/broken.JPEG", root);
    put_text(junk, "\xff\xd8\xff junk");
    free(junk);
}

START_TEST(imagenet_subset_load) {
    char *root = tu_path(g_root, "inet");
    Made tr[5], te[3];
    make_trio(root, tr, te);
    DatasetInfo info;
    dataset_resolve("ImageNet", "trio", 16, &info);
    ck_assert_int_eq(info.num_classes, 3);
    ck_assert_int_eq(info.height, 16);
    ck_assert_str_eq(info.class_names[0], "third class");
    ck_assert_str_eq(info.class_names[1], "n0001");
    ck_assert_str_eq(info.class_names[2], "cat");
    ck_assert_str_eq(info.wnids[0], "n0003");
    ck_assert_int_eq(info.imagenet_index[0], 7);
    ck_assert_int_eq(info.imagenet_index[1], -1);
    Dataset d;
    dataset_load(&info, root, 0, &d);
    check_split(&d.train, tr, 5, "ImageNet train");
    check_split(&d.test, te, 3, "ImageNet val");
    char *text = tu_stdout_of(print_summary, &d);
    TU_ASSERT_HAS(text, "ImageNet: 5 training and 3 test images of 3x16x16, 3 classes\n");
    TU_ASSERT_HAS(text, "class c = 0: 2 real images (third class)\n");
    TU_ASSERT_HAS(text, "class c = 2: 1 real images (cat)\n");
    free(text);
    dataset_free(&d);

    /* A missing class folder is named. */
    char msg[8192];
    put_subset("gone", "n0001\nn0004 four\n");
    ck_assert_int_eq(load_dies("ImageNet", "gone", root, 16, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "the class folder ");
    TU_ASSERT_HAS(msg, "/train/n0004 is missing (class 1, four, of subset 'gone')");
    char *vgone = pfmt("%s/val/n0002", root);
    char *vaway = pfmt("%s/val/away", root);
    rename(vgone, vaway);
    ck_assert_int_eq(load_dies("ImageNet", "trio", root, 16, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "/val/n0002 is missing");
    rename(vaway, vgone);
    free(vgone); free(vaway);
    /* Index-only lines need all 1000 class folders. */
    put_subset("byindex", "0\n5 five\n");
    ck_assert_int_eq(load_dies("ImageNet", "byindex", root, 16, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "needs all 1000 ImageNet classes there, but it holds 4");
    char *empty = tu_path(g_root, "inet_none");
    mkdir_p(empty);
    ck_assert_int_eq(load_dies("ImageNet", "trio", empty, 16, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, "clmtt expects");
    TU_ASSERT_HAS(msg, "/train/<wnid>/");
    free(empty);
    dataset_info_free(&info);
    free_made(tr, 5);
    free_made(te, 3);
    free(root);
}
END_TEST

START_TEST(imagenet_index_only_lines) {
    /* 1000 class folders c000..c999 (sorted = numeric order); index k names folder c<k>. */
    char *root = tu_path(g_root, "inet1000");
    for (int k = 0; k < 1000; k++) {
        char *p = pfmt("%s/train/c%03d", root, k);
        mkdir_p(p);
        free(p);
    }
    put_subset("byindex3", "999 last\n0\nc005 5 five\n");
    const int cls[3] = {999, 0, 5};
    Made tr[3], te[3];
    for (int i = 0; i < 3; i++) {
        tr[i].path = pfmt("%s/train/c%03d/x.png", root, cls[i]);
        te[i].path = pfmt("%s/val/c%03d/y.png", root, cls[i]);
        tr[i].w = tr[i].h = te[i].w = te[i].h = 8;
        tr[i].label = te[i].label = i;
        tr[i].rgb = make_pic(tr[i].path, PK_PNG, 8, 8, (uint32_t)(300 + i), &tr[i].tol);
        te[i].rgb = make_pic(te[i].path, PK_PNG, 8, 8, (uint32_t)(400 + i), &te[i].tol);
    }
    DatasetInfo info;
    dataset_resolve("ImageNet", "byindex3", 8, &info);
    ck_assert_str_eq(info.class_names[0], "last");
    ck_assert_str_eq(info.class_names[1], "index 0");
    Dataset d;
    dataset_load(&info, root, 0, &d);
    check_split(&d.train, tr, 3, "by index train");
    check_split(&d.test, te, 3, "by index val");
    dataset_free(&d);
    dataset_info_free(&info);
    free_made(tr, 3);
    free_made(te, 3);
    free(root);
}
END_TEST

START_TEST(unreadable_pictures) {
    char *root = tu_path(g_root, "inet_bad");
    Made tr[5], te[3];
    make_trio(root, tr, te);
    int tol;
    /* A truncated JPEG in training class 1, a text file named .JPEG in val class 0. */
    char *whole = pfmt("%s/train/n0001/z.JPEG", root);
    free(make_pic(whole, PK_JPEG, 32, 32, 77, &tol));
    cut_jpeg(whole);
    char *fake = pfmt("%s/val/n0003/fake.JPEG", root);
    put_text(fake, "<html>not found</html>");
    char msg[16384];
    ck_assert_int_eq(load_dies("ImageNet", "trio", root, 16, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, whole);
    TU_ASSERT_HAS(msg, "Premature end of JPEG file");
    TU_ASSERT_HAS(msg, "--skip_bad_images");
    /* With skip: both reported on stderr, left out, and counted (exit = 16 * 2 + 5). */
    ck_assert_int_eq(load_dies("ImageNet", "trio", root, 16, 1, msg, sizeof msg), 16 * 2 + 5);
    TU_ASSERT_HAS(msg, whole);
    TU_ASSERT_HAS(msg, fake);
    TU_ASSERT_HAS(msg, "not a JPEG or PNG file");
    TU_ASSERT_HAS(msg, "1 of 6 pictures could not be read and were left out");
    TU_ASSERT_HAS(msg, "1 of 4 pictures could not be read and were left out");
    /* The readable pictures load as before. */
    DatasetInfo info;
    dataset_resolve("ImageNet", "trio", 16, &info);
    info.skip_bad_images = 1;
    Dataset d;
    dataset_load(&info, root, 0, &d);
    ck_assert_int_eq(d.skipped, 2);
    check_split(&d.train, tr, 5, "skip train");
    check_split(&d.test, te, 3, "skip val");
    dataset_free(&d);
    /* Loaded again from the cache, the skip is still reported. */
    ck_assert_int_eq(load_dies("ImageNet", "trio", root, 16, 1, msg, sizeof msg), 16 * 2 + 5);
    TU_ASSERT_HAS(msg, "2 unreadable pictures were left out when the cache was built");
    /* And without the flag the bad picture still stops the run (the key holds the flag). */
    ck_assert_int_eq(load_dies("ImageNet", "trio", root, 16, 0, msg, sizeof msg), 1);
    TU_ASSERT_HAS(msg, whole);
    free(whole); free(fake);
    dataset_info_free(&info);
    free_made(tr, 5);
    free_made(te, 3);
    free(root);
}
END_TEST

/* ================================================================ decoded cache */

/* Loads and checks that the cache was (from_cache = 1) or was not used. */
static void load_expect(const DatasetInfo *info, const char *root, int from_cache, int expect_decoded, Dataset *d) {
    dataset_load(info, root, 0, d);
    ck_assert_int_eq(d->from_cache, from_cache);
    ck_assert_int_eq(d->decoded, expect_decoded);
}

static void same_sets(const Dataset *a, const Dataset *b) {
    const ImageSet *x[2] = {&a->train, &a->test}, *y[2] = {&b->train, &b->test};
    for (int s = 0; s < 2; s++) {
        ck_assert_int_eq(x[s]->n, y[s]->n);
        size_t n = (size_t)x[s]->n * 3 * x[s]->h * x[s]->w;
        ck_assert_msg(memcmp(x[s]->images, y[s]->images, n * sizeof(float)) == 0, "cached images differ");
        ck_assert(memcmp(x[s]->labels, y[s]->labels, (size_t)x[s]->n * sizeof(int32_t)) == 0);
    }
}

START_TEST(decoded_cache) {
    char *cache = tu_path(g_root, "cache_own");
    setenv("CLMTT_CACHE_DIR", cache, 1);
    char *root = tu_path(g_root, "inet_cache");
    Made tr[5], te[3];
    make_trio(root, tr, te);
    DatasetInfo info;
    dataset_resolve("ImageNet", "trio", 16, &info);
    Dataset d1, d2;
    load_expect(&info, root, 0, 8, &d1);
    ck_assert_int_eq(count_cache_files(cache), 1);
    load_expect(&info, root, 1, 0, &d2);
    same_sets(&d1, &d2);   /* resized pictures come back bit for bit */
    dataset_free(&d2);
    /* Another resolution is another cache; a changed picture rebuilds its own. */
    DatasetInfo info24;
    dataset_resolve("ImageNet", "trio", 24, &info24);
    load_expect(&info24, root, 0, 8, &d2);
    dataset_free(&d2);
    ck_assert_int_eq(count_cache_files(cache), 2);
    int tol;
    free(tr[2].rgb);
    tr[2].rgb = make_pic(tr[2].path, PK_PNG, tr[2].w, tr[2].h, 999, &tol);
    struct timespec later[2] = {{0, UTIME_OMIT}, {time(NULL) + 100, 0}};
    utimensat(AT_FDCWD, tr[2].path, later, 0);
    load_expect(&info, root, 0, 8, &d2);
    check_split(&d2.train, tr, 5, "after a change");
    dataset_free(&d2);
    ck_assert_int_eq(count_cache_files(cache), 2);
    load_expect(&info, root, 1, 0, &d2);
    check_split(&d2.train, tr, 5, "cached after a change");
    dataset_free(&d2);
    /* A new picture, or a removed one, is a change too. */
    char *more = pfmt("%s/train/n0002/f.png", root);
    free(make_pic(more, PK_PNG, 16, 16, 5, &tol));
    load_expect(&info, root, 0, 9, &d2);
    ck_assert_int_eq(d2.train.n, 6);
    dataset_free(&d2);
    unlink(more);
    load_expect(&info, root, 0, 8, &d2);
    dataset_free(&d2);
    /* A damaged cache file is rebuilt, not trusted: a label out of range under a matching
     * key (found by tests/fuzz/cache.c's checks), then a truncated file. */
    glob_t g;
    char *pat = tu_path(cache, "ImageNet-trio-16-*.pixels");
    ck_assert_int_eq(glob(pat, 0, NULL, &g), 0);
    FILE *cf = fopen(g.gl_pathv[0], "r+b");
    ck_assert_ptr_nonnull(cf);
    const int32_t bad_label = 1000;
    ck_assert_int_eq(fseek(cf, 48, SEEK_SET), 0);   /* the first training label */
    ck_assert_int_eq(fwrite(&bad_label, sizeof bad_label, 1, cf), 1);
    ck_assert_int_eq(fclose(cf), 0);
    load_expect(&info, root, 0, 8, &d2);
    for (int i = 0; i < d2.train.n; i++) ck_assert_int_lt(d2.train.labels[i], info.num_classes);
    dataset_free(&d2);
    ck_assert_int_eq(truncate(g.gl_pathv[0], 100), 0);
    globfree(&g);
    free(pat);
    load_expect(&info, root, 0, 8, &d2);
    dataset_free(&d2);
    load_expect(&info, root, 1, 0, &d2);
    dataset_free(&d2);
    /* Tiny is cached too, and its pictures come back bit for bit. */
    char *troot = tu_path(g_root, "tiny_cache");
    Made ttr[6], tte[4];
    make_tiny(troot, 0, ttr, tte);
    const DatasetInfo *tiny = dataset_find("Tiny");
    load_expect(tiny, troot, 0, 10, &d2);
    Dataset d3;
    load_expect(tiny, troot, 1, 0, &d3);
    same_sets(&d2, &d3);
    ck_assert_str_eq(d3.class_names[1], "n0200");
    dataset_free(&d2);
    dataset_free(&d3);
    /* CLMTT_CACHE_DIR=off: no cache read or written (and no folder called "off"). */
    setenv("CLMTT_CACHE_DIR", "off", 1);
    load_expect(&info, root, 0, 8, &d2);
    dataset_free(&d2);
    load_expect(&info, root, 0, 8, &d2);
    dataset_free(&d2);
    ck_assert(!dir_exists("off"));
    setenv("CLMTT_CACHE_DIR", g_cache, 1);
    dataset_free(&d1);
    dataset_info_free(&info);
    dataset_info_free(&info24);
    free_made(tr, 5);
    free_made(te, 3);
    free_made(ttr, 6);
    free_made(tte, 4);
    free(more); free(troot); free(root); free(cache);
}
END_TEST

/* ================================================================ expert folders */

START_TEST(expert_folders) {
    char out[512];
    DatasetInfo d;
    dataset_resolve("Tiny", "imagenette", 128, &d);
    expert_dir(out, sizeof out, "B", &d, "imagenette", 128, 0, "ConvNetD4");
    ck_assert_str_eq(out, "B/Tiny/ConvNetD4");
    expert_dir(out, sizeof out, "B", &d, "imagenette", 128, 1, "ConvNetD4");
    ck_assert_str_eq(out, "B/Tiny/ConvNetD4");
    dataset_resolve("ImageNet", "imagefruit", 128, &d);
    expert_dir(out, sizeof out, "./buffers", &d, d.subset, 128, 0, "ConvNetD5");
    ck_assert_str_eq(out, "./buffers/ImageNet/imagefruit/128/ConvNetD5");
    dataset_info_free(&d);
    dataset_resolve("CIFAR10", "imagenette", 128, &d);
    expert_dir(out, sizeof out, "B", &d, "imagenette", 128, 0, "ConvNet");
    ck_assert_str_eq(out, "B/CIFAR10_NO_ZCA/ConvNet");
    /* Any id starting with CIFAR100 reads CIFAR-100; the folder keeps the spelling, unsuffixed. */
    dataset_resolve("CIFAR100xyz", "imagenette", 128, &d);
    ck_assert_str_eq(d.name, "CIFAR100");
    expert_dir(out, sizeof out, "B", &d, "imagenette", 128, 0, "ConvNet");
    ck_assert_str_eq(out, "B/CIFAR100xyz/ConvNet");
    dataset_resolve("CIFAR100", "imagenette", 128, &d);
    expert_dir(out, sizeof out, "B", &d, "imagenette", 128, 0, "ConvNet");
    ck_assert_str_eq(out, "B/CIFAR100_NO_ZCA/ConvNet");
}
END_TEST

/* ================================================================ the clmtt binary */

START_TEST(cli_buffer_on_a_custom_subset) {
    char *root = tu_path(g_root, "inet_cli"), *buf = tu_path(g_root, "buffers");
    Made tr[5], te[3];
    make_trio(root, tr, te);
    TuRun r = tu_clmtt(g_root, "buffer --dataset=ImageNet --subset=trio --res=32 --model=ConvNetW32 --num_experts=1 "
                       "--train_epochs=1 --data_path=%s --buffer_path=%s --seed=3 --batch_train=4", root, buf);
    TU_EXPECT_OK(r);
    char *traj = pfmt("%s/ImageNet/trio/32/ConvNetW32/replay_buffer_0.safetensors", buf);
    ck_assert_msg(file_exists(traj), "no %s\nstdout: %.3000s", traj, r.out);
    TU_ASSERT_HAS(r.out, "ImageNet: 5 training and 3 test images of 3x32x32, 3 classes");
    TU_ASSERT_HAS(r.out, "class c = 0: 2 real images (third class)");
    tu_run_free(&r);
    /* Unknown subsets and bad sizes are refused before any work, naming the choices. */
    r = tu_clmtt(g_root, "buffer --dataset=ImageNet --subset=nosuch --data_path=%s --buffer_path=%s", root, buf);
    ck_assert_int_eq(r.status, 1);
    TU_ASSERT_HAS(r.err, "unknown ImageNet subset 'nosuch'");
    TU_ASSERT_HAS(r.err, "trio");
    tu_run_free(&r);
    r = tu_clmtt(g_root, "eval --dataset=ImageNet --subset=trio --res=7 --random_real=1 --data_path=%s", root);
    ck_assert_int_eq(r.status, 1);
    TU_ASSERT_HAS(r.err, "--res: must be between 8 and 1024");
    tu_run_free(&r);
    const char *cmds[3] = {"buffer", "distill", "eval"};
    for (int i = 0; i < 3; i++) {
        r = tu_clmtt(g_root, "%s --help", cmds[i]);
        TU_EXPECT_OK(r);
        TU_ASSERT_HAS(r.out, "skip_bad_images");
        TU_ASSERT_HAS(r.out, "subset");
        TU_ASSERT_HAS(r.out, "Tiny, ImageNet");
        tu_run_free(&r);
    }
    free(traj);
    free_made(tr, 5);
    free_made(te, 3);
    free(root); free(buf);
}
END_TEST

int main(void) {
    g_root = tu_tempdir("images");
    snprintf(g_data_dir, sizeof g_data_dir, "%s/datadir", g_root);
    snprintf(g_cache, sizeof g_cache, "%s/cache", g_root);
    setenv("CLMTT_DATA_DIR", g_data_dir, 1);
    setenv("CLMTT_CACHE_DIR", g_cache, 1);
    Suite *s = suite_create("images");
    TCase *tc = tcase_create("images");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, resize_by_hand_and_reference);
    tcase_add_test(tc, decode_png_kinds);
    tcase_add_test(tc, decode_jpeg_kinds);
    tcase_add_test(tc, decode_errors);
    tcase_add_test(tc, subset_lists);
    tcase_add_test(tc, subset_faults);
    tcase_add_test(tc, tiny_both_layouts);
    tcase_add_test(tc, tiny_faults);
    tcase_add_test(tc, imagenet_subset_load);
    tcase_add_test(tc, imagenet_index_only_lines);
    tcase_add_test(tc, unreadable_pictures);
    tcase_add_test(tc, decoded_cache);
    tcase_add_test(tc, expert_folders);
    tcase_add_test(tc, cli_buffer_on_a_custom_subset);
    suite_add_tcase(s, tc);
    int rc = tu_run(s);
    if (rc == 0) tu_rm_tree(g_root);
    return rc;
}
