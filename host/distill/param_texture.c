/* Texture canvases: the stored form is the canvases; a step renders `rounds` random
 * circular crops of each canvas of its batch (offsets drawn per step and kept for the
 * reverse sweep), and the pullback is the crop's transpose (host/augment/texture.h). */
#include "distill/imageparam.h"
#include "augment/texture.h"
#include "core/util.h"

#include <stdlib.h>

typedef struct {
    int side, max_steps, max_batch;
    cl_mem offs;          /* max_steps x max_batch x rounds x 2 offsets (dh, dw) */
    int32_t *host_offs;
} Texture;

static TexShape shape_of(const ImageParam *p) {
    const Texture *t = p->impl;
    TexShape s = {p->C, p->H, p->W, t->side * p->H, t->side * p->W};
    return s;
}

/* Where step k's offsets start (two ints per crop). */
static int offs_start(const ImageParam *p, int step) {
    const Texture *t = p->impl;
    return step * t->max_batch * p->rounds * 2;
}

static void texture_draw(ImageParam *p, int step, int n, Rng *rng) {
    Texture *t = p->impl;
    if (step < 0 || step >= t->max_steps || n > t->max_batch)
        die("internal: texture step %d of %d with %d canvases (at most %d)", step, t->max_steps, n, t->max_batch);
    TexShape s = shape_of(p);
    int32_t *o = t->host_offs + offs_start(p, step);
    texture_draw_offsets(rng, n, p->rounds, s.Hc, s.Wc, o);
    /* Without waiting: host_offs is the staging, rewritten only by the next draw of this
     * step, which the distiller makes after the iteration's read. */
    dev_write_async(t->offs, (size_t)offs_start(p, step) * sizeof(int32_t),
                    (size_t)n * p->rounds * 2 * sizeof(int32_t), o);
}

static void texture_render(ImageParam *p, int step, DPtr stored, cl_mem idx, int idx_off, int n, cl_mem out) {
    Texture *t = p->impl;
    if (stored.off) die("internal: texture canvases must start their buffer");
    TexShape s = shape_of(p);
    texture_crop_forward(&s, out, stored.mem, idx, idx_off, t->offs, offs_start(p, step), n, p->rounds);
}

static void texture_pullback(ImageParam *p, int step, DPtr dstored, cl_mem idx, int idx_off, int n, cl_mem u,
                             float scale) {
    Texture *t = p->impl;
    if (dstored.off) die("internal: texture canvases must start their buffer");
    TexShape s = shape_of(p);
    texture_crop_transpose_add(&s, dstored.mem, u, 0, idx, idx_off, t->offs, offs_start(p, step), n, p->rounds, scale);
}

static void texture_destroy(ImageParam *p) {
    Texture *t = p->impl;
    dev_free(t->offs);
    free(t->host_offs);
    free(t);
}

static const ImageParamOps texture_ops = {"texture", texture_draw, texture_render, texture_pullback,
                                          imageparam_save_as_is, imageparam_load_as_is, NULL,
                                          texture_destroy};

ImageParam *imageparam_texture(int rows, int C, int H, int W, int side, int rounds, int max_steps, int max_batch) {
    if (rows < 1 || C < 1 || H < 1 || W < 1 || side < 1 || rounds < 1 || max_steps < 1 || max_batch < 1)
        die("internal: texture set of %d canvases %dx side %d, %d rounds", rows, side, side, rounds);
    if ((long long)max_batch * rounds * 2 * max_steps > 0x7fffffffLL)
        die("texture: %d steps of %d canvases x %d crops is too many", max_steps, max_batch, rounds);
    ImageParam *p = xcalloc(1, sizeof *p);
    Texture *t = xcalloc(1, sizeof *t);
    p->ops = &texture_ops;
    p->impl = t;
    p->rows = rows;
    p->C = C; p->H = H; p->W = W;
    p->fh = side * H; p->fw = side * W;
    p->rounds = rounds;
    p->stored_floats = (size_t)rows * C * p->fh * p->fw;
    t->side = side;
    t->max_steps = max_steps;
    t->max_batch = max_batch;
    size_t n = (size_t)max_steps * max_batch * rounds * 2;
    t->offs = dev_alloc(n * sizeof(int32_t), "texture crop offsets");
    t->host_offs = xcalloc(n, sizeof(int32_t));
    return p;
}

const int32_t *imageparam_texture_offsets(const ImageParam *p, int step) {
    if (p->ops != &texture_ops) die("internal: %s set has no crop offsets", p->ops->name);
    const Texture *t = p->impl;
    return t->host_offs + offs_start(p, step);
}
