/* Texture mode: crop offsets, the crop and its transpose on the device (cl/texture.cl)
 * with float64 references, canvas initialization from real images, and the tiled preview. */
#include "augment/texture.h"
#include "core/util.h"

#include <string.h>

void texture_draw_offsets(Rng *rng, int n, int rounds, int Hc, int Wc, int32_t *offs) {
    for (int b = 0; b < n * rounds; b++) {
        offs[2 * b] = rng_int(rng, 0, Hc - 1);
        offs[2 * b + 1] = rng_int(rng, 0, Wc - 1);
    }
}

/* Dies unless `m` holds at least `bytes`. */
static void tex_need(cl_mem m, size_t bytes, const char *fn, const char *what) {
    size_t have = 0;
    CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof have, &have, NULL));
    if (have < bytes) die("texture: %s: buffer '%s' holds %zu bytes, needs %zu", fn, what, have, bytes);
}

static void tex_check_shape(const TexShape *s, int n, int rounds, const char *fn) {
    if (s->C < 1 || s->H < 1 || s->W < 1 || s->Hc < s->H || s->Wc < s->W || n < 0 || rounds < 1)
        die("texture: %s: bad shape C=%d crop %dx%d canvas %dx%d n=%d rounds=%d", fn, s->C, s->H, s->W, s->Hc, s->Wc,
            n, rounds);
    /* The kernels index canvases and crops with 64-bit element numbers but take rows,
     * offsets and per-axis sizes as 32-bit ints. */
    if ((long long)n * rounds * 2 > 0x7fffffffLL) die("texture: %s: %d x %d crops is too many", fn, n, rounds);
}

void texture_crop_forward(const TexShape *s, cl_mem out, cl_mem X, cl_mem rows, int row_off, cl_mem offs,
                          int offs_off, int n, int rounds) {
    tex_check_shape(s, n, rounds, "crop");
    if (n == 0) return;
    size_t total = (size_t)rounds * n * s->C * s->H * s->W;
    tex_need(out, total * sizeof(float), "crop", "output");
    tex_need(rows, (size_t)(row_off + n) * sizeof(int32_t), "crop", "rows");
    tex_need(offs, ((size_t)offs_off + 2 * (size_t)n * rounds) * sizeof(int32_t), "crop", "offsets");
    LAUNCH("texture_crop_forward", total, KM(out), KM(X), KM(rows), KI(row_off), KM(offs), KI(offs_off), KI(n),
           KI(rounds), KI(s->C), KI(s->H), KI(s->W), KI(s->Hc), KI(s->Wc));
}

void texture_crop_transpose_add(const TexShape *s, cl_mem dX, cl_mem R, size_t r_off, cl_mem rows, int row_off,
                                cl_mem offs, int offs_off, int n, int rounds, float scale) {
    tex_check_shape(s, n, rounds, "crop transpose");
    if (n == 0) return;
    size_t crops = (size_t)rounds * n * s->C * s->H * s->W;
    tex_need(R, (r_off + crops) * sizeof(float), "crop transpose", "crop gradient");
    tex_need(rows, (size_t)(row_off + n) * sizeof(int32_t), "crop transpose", "rows");
    tex_need(offs, ((size_t)offs_off + 2 * (size_t)n * rounds) * sizeof(int32_t), "crop transpose", "offsets");
    LAUNCH("texture_crop_transpose_add", (size_t)n * s->C * s->Hc * s->Wc, KM(dX), KM(R), KL(r_off), KM(rows),
           KI(row_off), KM(offs), KI(offs_off), KI(n), KI(rounds), KI(s->C), KI(s->H), KI(s->W), KI(s->Hc), KI(s->Wc),
           KF(scale));
}

/* v mod m in [0, m) for any sign of v. */
static int tex_mod(int v, int m) {
    int r = v % m;
    return r < 0 ? r + m : r;
}

/* Index into the canvases X of the source of element o of the crops (b, c, y, x), b = r*n + i:
 * canvas rows[i], pixel ((y - dh) mod Hc, (x - dw) mod Wc) with (dh, dw) = offs[2b], offs[2b + 1]. */
static size_t tex_crop_source(const TexShape *s, const int32_t *rows, const int32_t *offs, int n, size_t o) {
    int x = (int)(o % s->W), y = (int)(o / s->W % s->H), c = (int)(o / ((size_t)s->H * s->W) % s->C);
    int b = (int)(o / ((size_t)s->H * s->W * s->C));
    int sy = tex_mod(y - offs[2 * b], s->Hc), sx = tex_mod(x - offs[2 * b + 1], s->Wc);
    return (((size_t)rows[b % n] * s->C + c) * s->Hc + sy) * s->Wc + sx;
}

void texture_crop_forward_ref(const TexShape *s, double *out, const double *X, const int32_t *rows,
                              const int32_t *offs, int n, int rounds) {
    size_t total = (size_t)n * rounds * s->C * s->H * s->W;
    for (size_t o = 0; o < total; o++) out[o] = X[tex_crop_source(s, rows, offs, n, o)];
}

void texture_crop_transpose_add_ref(const TexShape *s, double *dX, const double *R, const int32_t *rows,
                                    const int32_t *offs, int n, int rounds, double scale) {
    size_t total = (size_t)n * rounds * s->C * s->H * s->W;
    for (size_t o = 0; o < total; o++) dX[tex_crop_source(s, rows, offs, n, o)] += scale * R[o];
}

void texture_init_real(const ImageSet *train, int num_classes, int ipc, int canvas_size, Rng *rng, ImageSet *out) {
    if (canvas_size < 1) die("texture: canvas_size must be at least 1, got %d", canvas_size);
    ClassIndex ci;
    class_index_build(train, num_classes, &ci);
    int C = train->c, H = train->h, W = train->w, Hc = canvas_size * H, Wc = canvas_size * W;
    size_t canvas = (size_t)C * Hc * Wc;
    imageset_alloc(out, num_classes * ipc, C, Hc, Wc);
    for (int c = 0; c < num_classes; c++) {
        if (ci.count[c] < 1) die("class %d has no training images to initialize its textures from", c);
        for (int j = 0; j < ipc; j++) out->labels[c * ipc + j] = c;
        for (int a = 0; a < canvas_size; a++)
            for (int b = 0; b < canvas_size; b++)
                for (int j = 0; j < ipc; j++) {
                    const float *src = train->images + (size_t)ci.idx[c][rng_int(rng, 0, ci.count[c] - 1)] * C * H * W;
                    float *dst = out->images + (size_t)(c * ipc + j) * canvas;
                    for (int ch = 0; ch < C; ch++)
                        for (int y = 0; y < H; y++)
                            memcpy(dst + ((size_t)ch * Hc + a * H + y) * Wc + (size_t)b * W,
                                   src + ((size_t)ch * H + y) * W, (size_t)W * sizeof(float));
                }
    }
    class_index_free(&ci);
}

float *texture_tile(const float *canvases, int N, int C, int Hc, int Wc, int reps) {
    if (reps < 1) die("texture: tile repetitions must be at least 1, got %d", reps);
    size_t Ht = (size_t)reps * Hc, Wt = (size_t)reps * Wc;
    float *out = xmalloc((size_t)N * C * Ht * Wt * sizeof(float));
    for (size_t p = 0; p < (size_t)N * C; p++)
        for (size_t y = 0; y < Ht; y++)
            for (int r = 0; r < reps; r++)
                memcpy(out + (p * Ht + y) * Wt + (size_t)r * Wc, canvases + (p * Hc + y % Hc) * Wc,
                       (size_t)Wc * sizeof(float));
    return out;
}
