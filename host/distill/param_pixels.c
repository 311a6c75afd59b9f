/* Pixels: the stored form is the images; render gathers a batch's rows, pullback adds the
 * meta-gradient back into them. */
#include "distill/imageparam.h"
#include "core/runtime.h"
#include "core/util.h"

#include <stdlib.h>

static size_t row_floats(const ImageParam *p) { return (size_t)p->C * p->H * p->W; }

static void pixels_draw(ImageParam *p, int step, int n, Rng *rng) { (void)p; (void)step; (void)n; (void)rng; }

static void pixels_render(ImageParam *p, int step, DPtr stored, cl_mem idx, int idx_off, int n, cl_mem out) {
    (void)step;
    size_t len = row_floats(p);
    LAUNCH("distill_gather_rows", (size_t)n * len, KM(out), KM(stored.mem), KL(stored.off), KM(idx), KI(idx_off),
           KI(n), KI(1), KI((int)len));
}

static void pixels_pullback(ImageParam *p, int step, DPtr dstored, cl_mem idx, int idx_off, int n, cl_mem u,
                            float scale) {
    (void)step;
    size_t len = row_floats(p);
    LAUNCH("distill_scatter_add_rows", (size_t)n * len, KM(dstored.mem), KL(dstored.off), KM(u), KM(idx),
           KI(idx_off), KI(n), KI((int)len), KF(scale));
}

void imageparam_save_as_is(ImageParam *p, DPtr stored, float *images) {
    dev_read_f32(stored.mem, stored.off, p->stored_floats, images);
}

void imageparam_load_as_is(ImageParam *p, const float *images, DPtr stored) {
    dev_write_f32(stored.mem, stored.off, p->stored_floats, images);
}

static void pixels_destroy(ImageParam *p) { (void)p; }

static const ImageParamOps pixels_ops = {"pixels", pixels_draw, pixels_render, pixels_pullback,
                                         imageparam_save_as_is, imageparam_load_as_is, NULL, pixels_destroy};

ImageParam *imageparam_pixels(int rows, int C, int H, int W) {
    if (rows < 1 || C < 1 || H < 1 || W < 1) die("internal: pixel set of %d x %d x %d x %d", rows, C, H, W);
    ImageParam *p = xcalloc(1, sizeof *p);
    p->ops = &pixels_ops;
    p->rows = rows;
    p->C = C; p->H = H; p->W = W;
    p->fh = H; p->fw = W;
    p->rounds = 1;
    p->stored_floats = (size_t)rows * row_floats(p);
    if (row_floats(p) > 0x7fffffff) die("pixel set: one image of %zu floats is too large", row_floats(p));
    return p;
}

void imageparam_free(ImageParam *p) {
    if (!p) return;
    p->ops->destroy(p);
    free(p);
}
