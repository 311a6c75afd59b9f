/* Frequency-domain images: each image stored as K orthonormal DCT coefficients per channel
 * at the positions a ranking keeps (docs/algorithm.md#frequency-domain-images). render is
 * IDCT(scatter(coefficients)), so its pullback is gather(DCT(u)): exact, as the DCT is
 * orthonormal. */
#include "distill/imageparam.h"
#include "core/runtime.h"
#include "core/util.h"
#include "layers/dct2d.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int K, max_batch;
    int32_t *host_index;   /* [C][K] */
    cl_mem index, slot;    /* [C][K] positions, [C][H*W] coefficient numbers (-1: not kept) */
    cl_mem full;           /* [max_batch][C][H][W]: the scattered coefficients, or DCT(u) */
    cl_mem all_rows;       /* 0 .. rows-1, for save and load */
    Dct2d dct;
} Freq;

static size_t plane(const ImageParam *p) { return (size_t)p->H * p->W; }

static void freq_draw(ImageParam *p, int step, int n, Rng *rng) { (void)p; (void)step; (void)n; (void)rng; }

/* out [n][C][H][W] = IDCT(scatter(stored rows rows[off .. off+n))); full holds n planes. */
static void decode(ImageParam *p, DPtr stored, cl_mem rows, int off, int n, cl_mem full, cl_mem out) {
    Freq *f = p->impl;
    LAUNCH("freq_scatter", (size_t)n * p->C * plane(p), KM(full), KM(stored.mem), KL(stored.off), KM(rows), KI(off),
           KI(n), KI(p->C), KI(f->K), KI((int)plane(p)), KM(f->slot));
    dct2d(&f->dct, 1, out, full, n * p->C);
}

/* dst rows (=|+=) scale x gather(DCT(images [n][C][H][W])); full holds n planes. */
static void encode(ImageParam *p, DPtr dst, cl_mem rows, int off, int n, cl_mem images, cl_mem full, float scale,
                   int acc) {
    Freq *f = p->impl;
    dct2d(&f->dct, 0, full, images, n * p->C);
    LAUNCH("freq_gather", (size_t)n * p->C * f->K, KM(dst.mem), KL(dst.off), KM(full), KM(rows), KI(off), KI(n),
           KI(p->C), KI(f->K), KI((int)plane(p)), KM(f->index), KF(scale), KI(acc));
}

static void check_batch(const ImageParam *p, int n) {
    const Freq *f = p->impl;
    if (n < 0 || n > f->max_batch) die("internal: frequency set batch of %d rows (at most %d)", n, f->max_batch);
}

static void freq_render(ImageParam *p, int step, DPtr stored, cl_mem idx, int idx_off, int n, cl_mem out) {
    (void)step;
    check_batch(p, n);
    decode(p, stored, idx, idx_off, n, ((Freq *)p->impl)->full, out);
}

static void freq_pullback(ImageParam *p, int step, DPtr dstored, cl_mem idx, int idx_off, int n, cl_mem u,
                          float scale) {
    (void)step;
    check_batch(p, n);
    encode(p, dstored, idx, idx_off, n, u, ((Freq *)p->impl)->full, scale, 1);
}

static void freq_save(ImageParam *p, DPtr stored, float *images) {
    Freq *f = p->impl;
    size_t n = (size_t)p->rows * p->C * plane(p);
    cl_mem full = dev_alloc(n * 4, "frequency set planes"), out = dev_alloc(n * 4, "frequency set images");
    decode(p, stored, f->all_rows, 0, p->rows, full, out);
    dev_read_f32(out, 0, n, images);
    dev_free(full);
    dev_free(out);
}

static void freq_load(ImageParam *p, const float *images, DPtr stored) {
    Freq *f = p->impl;
    size_t n = (size_t)p->rows * p->C * plane(p);
    cl_mem in = dev_alloc(n * 4, "images to encode"), full = dev_alloc(n * 4, "frequency set planes");
    dev_write_f32(in, 0, n, images);
    encode(p, stored, f->all_rows, 0, p->rows, in, full, 1.0f, 0);
    dev_free(in);
    dev_free(full);
}

/* freq_coeffs F32 [N, C, K], freq_index I64 [C, K]; metadata param, freq_dims. */
static void freq_extras(ImageParam *p, DPtr stored, SynExtras *out) {
    Freq *f = p->impl;
    SynTensor *c = &out->t[out->ntensors++], *ix = &out->t[out->ntensors++];
    snprintf(c->name, sizeof c->name, "freq_coeffs");
    c->dtype = DT_F32;
    c->ndim = 3;
    c->shape[0] = p->rows; c->shape[1] = p->C; c->shape[2] = f->K;
    c->data = xmalloc(p->stored_floats * sizeof(float));
    dev_read_f32(stored.mem, stored.off, p->stored_floats, c->data);
    snprintf(ix->name, sizeof ix->name, "freq_index");
    ix->dtype = DT_I64;
    ix->ndim = 2;
    ix->shape[0] = p->C; ix->shape[1] = f->K;
    int64_t *q = xmalloc((size_t)p->C * f->K * sizeof(int64_t));
    for (size_t i = 0; i < (size_t)p->C * f->K; i++) q[i] = f->host_index[i];
    ix->data = q;
    snprintf(out->meta[out->nmeta][0], 64, "param");
    snprintf(out->meta[out->nmeta++][1], 64, "freq");
    snprintf(out->meta[out->nmeta][0], 64, "freq_dims");
    snprintf(out->meta[out->nmeta++][1], 64, "%d", f->K);
}

static void freq_destroy(ImageParam *p) {
    Freq *f = p->impl;
    dct2d_free(&f->dct);
    dev_free(f->index);
    dev_free(f->slot);
    dev_free(f->full);
    dev_free(f->all_rows);
    free(f->host_index);
    free(f);
}

static const ImageParamOps freq_ops = {"freq", freq_draw, freq_render, freq_pullback, freq_save, freq_load,
                                       freq_extras, freq_destroy};

ImageParam *imageparam_freq(int rows, int C, int H, int W, int K, const int64_t *order, int max_batch) {
    size_t hw = (size_t)H * W;
    if (rows < 1 || C < 1 || H < 1 || W < 1 || max_batch < 1) die("internal: frequency set of %d rows", rows);
    if (K < 1 || (size_t)K > hw) die("--freq_dims %d: must be between 1 and %zu (H x W) coefficients", K, hw);
    ImageParam *p = xcalloc(1, sizeof *p);
    Freq *f = xcalloc(1, sizeof *f);
    p->ops = &freq_ops;
    p->impl = f;
    p->rows = rows;
    p->C = C; p->H = H; p->W = W;
    p->fh = H; p->fw = W;
    p->rounds = 1;
    p->stored_floats = (size_t)rows * C * K;
    f->K = K;
    f->max_batch = max_batch;
    f->host_index = xmalloc((size_t)C * K * sizeof(int32_t));
    int32_t *slot = xmalloc((size_t)C * hw * sizeof(int32_t));
    for (size_t i = 0; i < (size_t)C * hw; i++) slot[i] = -1;
    for (int c = 0; c < C; c++)
        for (int j = 0; j < K; j++) {
            int64_t q = order[(size_t)c * hw + j];
            if (q < 0 || (size_t)q >= hw || slot[c * hw + q] >= 0)
                die("internal: frequency ranking of channel %d is not a permutation", c);
            f->host_index[c * K + j] = (int32_t)q;
            slot[c * hw + q] = j;
        }
    f->index = dev_alloc((size_t)C * K * sizeof(int32_t), "kept DCT positions");
    dev_write(f->index, 0, (size_t)C * K * sizeof(int32_t), f->host_index);
    f->slot = dev_alloc((size_t)C * hw * sizeof(int32_t), "DCT position slots");
    dev_write(f->slot, 0, (size_t)C * hw * sizeof(int32_t), slot);
    free(slot);
    int32_t *ids = xmalloc((size_t)rows * sizeof(int32_t));
    for (int i = 0; i < rows; i++) ids[i] = i;
    f->all_rows = dev_alloc((size_t)rows * sizeof(int32_t), "set rows");
    dev_write(f->all_rows, 0, (size_t)rows * sizeof(int32_t), ids);
    free(ids);
    f->full = dev_alloc((size_t)max_batch * C * hw * 4, "frequency planes of a batch");
    dct2d_init(&f->dct, H, W);
    return p;
}

const int32_t *imageparam_freq_index(const ImageParam *p, int *K) {
    if (p->ops != &freq_ops) die("internal: %s set has no frequency index", p->ops->name);
    const Freq *f = p->impl;
    *K = f->K;
    return f->host_index;
}
