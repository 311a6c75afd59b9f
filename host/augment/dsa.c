/* Differentiable Siamese Augmentation on the device (docs/algorithm.md#dsa-augmentation-and-its-adjoint): strategy parsing,
 * host-side draws, and the forward map and its VJP (kernels in cl/dsa.cl). */
#include "augment/dsa.h"

#include <math.h>
#include <string.h>

#include "core/util.h"

static const char *const dsa_names[DSA_NGROUPS] = {"color", "crop", "cutout", "flip", "scale", "rotate"};

/* text: '_'-separated group names, e.g. "color_crop_cutout_flip_scale_rotate". */
void dsa_strategy_parse(const char *text, DsaStrategy *out) {
    memset(out, 0, sizeof *out);
    if (!text || !*text || !strcmp(text, "none") || !strcmp(text, "None")) return;
    const char *s = text;
    for (;;) {
        const char *end = strchr(s, '_');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == 0) die("--dsa_strategy: empty augmentation name in '%s'", text);
        int g = -1;
        for (int i = 0; i < DSA_NGROUPS; i++)
            if (strlen(dsa_names[i]) == len && !strncmp(s, dsa_names[i], len)) g = i;
        if (g < 0)
            die("--dsa_strategy: unknown augmentation '%.*s' (known: color, crop, cutout, flip, scale, rotate)",
                (int)len, s);
        if (out->ngroups == DSA_NGROUPS) die("--dsa_strategy: at most %d augmentations in '%s'", DSA_NGROUPS, text);
        out->groups[out->ngroups++] = (DsaGroup)g;
        if (!end) break;
        s = end + 1;
    }
}

/* Float copy of a draw from U[lo, hi) that stays inside [lo, hi) after rounding. */
static float dsa_in_range(double v, double lo, double hi) {
    float f = (float)v;
    if ((double)f >= hi) f = nextafterf(f, -INFINITY);
    if ((double)f < lo) f = nextafterf(f, INFINITY);
    return f;
}

/* out must be zero-initialised or hold an earlier draw: its parameter array is reused. */
void dsa_draw(const DsaStrategy *st, Rng *rng, int N, int H, int W, DsaDraw *out) {
    if (N < 0 || H < 1 || W < 1) die("dsa: bad draw shape N=%d H=%d W=%d", N, H, W);
    out->group = st->ngroups > 0 ? (int)st->groups[rng_int(rng, 0, st->ngroups - 1)] : -1;
    out->N = N;
    out->p = xrealloc(out->p, (size_t)(N > 0 ? N : 1) * DSA_NPARAM * sizeof(float));
    memset(out->p, 0, (size_t)N * DSA_NPARAM * sizeof(float));
    const int sh = (int)(H * 0.125 + 0.5), sw = (int)(W * 0.125 + 0.5);
    const int ch = (int)(H * 0.5 + 0.5), cw = (int)(W * 0.5 + 0.5);
    const double smin = 1.0 / 1.2, smax = 1.2;
    for (int n = 0; n < N; n++) {
        float *q = out->p + (size_t)n * DSA_NPARAM;
        switch (out->group) {
        case DSA_COLOR:
            q[0] = (float)(rng_uniform(rng) - 0.5);          /* brightness shift */
            q[1] = (float)(2.0 * rng_uniform(rng));          /* saturation factor */
            q[2] = (float)(rng_uniform(rng) + 0.5);          /* contrast factor */
            break;
        case DSA_CROP:
            q[0] = (float)rng_int(rng, -sh, sh);
            q[1] = (float)rng_int(rng, -sw, sw);
            break;
        case DSA_CUTOUT: {
            int ox = rng_int(rng, 0, H - ch % 2), oy = rng_int(rng, 0, W - cw % 2);
            int r0 = ox - ch / 2, c0 = oy - cw / 2;
            q[0] = (float)(r0 > 0 ? r0 : 0);
            q[1] = (float)(r0 + ch - 1 < H - 1 ? r0 + ch - 1 : H - 1);
            q[2] = (float)(c0 > 0 ? c0 : 0);
            q[3] = (float)(c0 + cw - 1 < W - 1 ? c0 + cw - 1 : W - 1);
            break;
        }
        case DSA_FLIP:
            q[0] = rng_uniform(rng) < 0.5 ? 1.0f : 0.0f;
            break;
        case DSA_SCALE: {
            double sx = rng_uniform(rng) * (smax - smin) + smin;
            double sy = rng_uniform(rng) * (smax - smin) + smin;
            q[0] = dsa_in_range(sx, smin, smax);
            q[3] = dsa_in_range(sy, smin, smax);
            break;
        }
        case DSA_ROTATE: {
            double th = (rng_uniform(rng) - 0.5) * 2.0 * 15.0 / 180.0 * M_PI;
            q[0] = (float)cos(th); q[1] = (float)-sin(th);
            q[2] = (float)sin(th); q[3] = (float)cos(th);
            break;
        }
        default:
            break;
        }
    }
}

void dsa_draw_free(DsaDraw *d) {
    free(d->p);
    d->p = NULL;
    d->N = 0;
    d->group = -1;
}

/* dst must be zero-initialised or hold an earlier draw. */
void dsa_draw_copy(DsaDraw *dst, const DsaDraw *src) {
    dst->group = src->group;
    dst->N = src->N;
    dst->p = xrealloc(dst->p, (size_t)(src->N > 0 ? src->N : 1) * DSA_NPARAM * sizeof(float));
    if (src->N > 0) memcpy(dst->p, src->p, (size_t)src->N * DSA_NPARAM * sizeof(float));
}

/* Dies unless `m` holds at least n floats. */
static void dsa_need(cl_mem m, size_t n, const char *what) {
    size_t bytes = 0;
    CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (bytes < n * sizeof(float))
        die("dsa: buffer '%s' holds %zu floats, needs %zu", what, bytes / sizeof(float), n);
}

/* Shared argument checks of forward and backward. */
static void dsa_check(const DsaDraw *d, int C, int H, int W, cl_mem out, cl_mem in, const char *fn) {
    if (d->group < -1 || d->group >= DSA_NGROUPS) die("dsa: %s: bad group %d", fn, d->group);
    if (d->N < 0 || C < 1 || H < 1 || W < 1) die("dsa: %s: bad shape N=%d C=%d H=%d W=%d", fn, d->N, C, H, W);
    if ((d->group == DSA_SCALE || d->group == DSA_ROTATE) && (H < 2 || W < 2))
        die("dsa: %s: scale and rotate need images of at least 2 x 2 pixels, got %d x %d", fn, H, W);
    if (d->N > 0 && !d->p) die("dsa: %s: draw has no parameters", fn);
    if (out == in) die("dsa: %s: output and input must be distinct buffers", fn);
    size_t total = (size_t)d->N * C * H * W;
    dsa_need(out, total, "output");
    dsa_need(in, total, "input");
}

/* dst = A(src) (transpose 0) or A^T src (transpose 1), both N x C x H x W; dst is
 * overwritten. The colour group needs each sample's mean of src: for the forward the
 * contrast works around the mean of the saturated image, which is mean(in) + brightness
 * since saturation keeps every pixel's channel mean (the kernel adds the shift); for the
 * VJP the contrast VJP needs the mean of the output gradient. */
static void dsa_apply(const DsaDraw *d, const DPtr *params, int C, int H, int W, cl_mem dst, cl_mem src,
                      int transpose) {
    dsa_check(d, C, H, W, dst, src, transpose ? "backward" : "forward");
    size_t total = (size_t)d->N * C * H * W;
    if (total == 0) return;
    if (d->group < 0) { dev_copy(dst, 0, src, 0, total); return; }
    /* The draw goes up without waiting for the device (the runtime's staged upload), or is
     * copied on the device from where the caller put it. */
    size_t np = (size_t)d->N * DSA_NPARAM;
    cl_mem p;
    if (params) {
        p = rt_scratch(RT_SCRATCH_DSA_PARAMS, np);
        dev_copy(p, 0, params->mem, params->off, np);
    } else {
        p = rt_scratch_upload(RT_SCRATCH_DSA_PARAMS, d->p, np);
    }
    cl_mem means = rt_scratch(RT_SCRATCH_DSA_MEANS, (size_t)d->N);
    if (d->group == DSA_COLOR)
        LAUNCH_GROUPS("dsa_sample_mean", (size_t)d->N, rt_reduce_local("dsa_sample_mean"), KM(src), KL((size_t)C * H * W),
                      KM(means), KLOCAL(rt_reduce_local("dsa_sample_mean") * sizeof(float)));
    LAUNCH("dsa_map", total, KM(dst), KM(src), KM(p), KM(means), KI(d->N), KI(C), KI(H), KI(W), KI(d->group),
           KI(transpose));
}

/* out = A(in), both N x C x H x W. */
void dsa_forward(const DsaDraw *d, int C, int H, int W, cl_mem out, cl_mem in) {
    dsa_apply(d, NULL, C, H, W, out, in, 0);
}

/* din = A^T dout, both N x C x H x W; din is overwritten. */
void dsa_backward(const DsaDraw *d, int C, int H, int W, cl_mem din, cl_mem dout) {
    dsa_apply(d, NULL, C, H, W, din, dout, 1);
}

void dsa_forward_at(const DsaDraw *d, DPtr params, int C, int H, int W, cl_mem out, cl_mem in) {
    dsa_apply(d, &params, C, H, W, out, in, 0);
}

void dsa_backward_at(const DsaDraw *d, DPtr params, int C, int H, int W, cl_mem din, cl_mem dout) {
    dsa_apply(d, &params, C, H, W, din, dout, 1);
}
