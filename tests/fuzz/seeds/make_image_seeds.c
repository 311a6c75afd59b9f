/* Writes the picture seeds of tests/fuzz/corpus/image/: small JPEGs (gray, 4:2:0, 4:4:4,
 * progressive, CMYK) and PNGs (1-bit gray, 16-bit gray + alpha, RGB, palette, interlaced
 * RGBA). Build and run from tests/fuzz:
 *   cc seeds/make_image_seeds.c -o /tmp/mis -lturbojpeg -lpng && /tmp/mis */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <turbojpeg.h>

static unsigned char px[64 * 64 * 4];

static void jpeg(const char *path, int w, int h, int pf, int samp, int flags) {
    tjhandle t = tjInitCompress();
    unsigned char *out = NULL;
    unsigned long len = 0;
    if (tjCompress2(t, px, w, 0, h, pf, &out, &len, samp, 75, flags) != 0) {
        fprintf(stderr, "%s: %s\n", path, tjGetErrorStr2(t));
        exit(1);
    }
    FILE *f = fopen(path, "wb");
    fwrite(out, 1, len, f);
    fclose(f);
    tjFree(out);
    tjDestroy(t);
}

static void png(const char *path, int w, int h, int color, int depth, int interlace) {
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    png_init_io(p, f);
    png_set_IHDR(p, i, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
        png_set_PLTE(p, i, pal, 4);
    }
    png_write_info(p, i);
    int ch = color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_PALETTE ? 1
           : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : color == PNG_COLOR_TYPE_RGB ? 3 : 4;
    size_t stride = ((size_t)w * ch * depth + 7) / 8;
    png_bytep rows[64];
    for (int y = 0; y < h; y++) rows[y] = px + y * stride;
    png_write_image(p, rows);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &i);
    fclose(f);
}

int main(void) {
    for (size_t k = 0; k < sizeof px; k++) px[k] = (unsigned char)((k * 37) ^ (k >> 3));
    jpeg("corpus/image/gray.jpg", 9, 7, TJPF_GRAY, TJSAMP_GRAY, 0);
    jpeg("corpus/image/ycc420.jpg", 17, 11, TJPF_RGB, TJSAMP_420, 0);
    jpeg("corpus/image/ycc444_progressive.jpg", 8, 8, TJPF_RGB, TJSAMP_444, TJFLAG_PROGRESSIVE);
    jpeg("corpus/image/cmyk.jpg", 6, 5, TJPF_CMYK, TJSAMP_444, 0);
    for (size_t k = 0; k < sizeof px; k++) px[k] &= 3; /* palette indices below 4 */
    png("corpus/image/palette.png", 5, 4, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE);
    png("corpus/image/gray1.png", 13, 3, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE);
    png("corpus/image/gray_alpha16.png", 4, 4, PNG_COLOR_TYPE_GRAY_ALPHA, 16, PNG_INTERLACE_NONE);
    png("corpus/image/rgb.png", 6, 3, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE);
    png("corpus/image/rgba_interlaced.png", 9, 9, PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_ADAM7);
    return 0;
}
