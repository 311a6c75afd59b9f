/* 2x2 pooling on the device (cl/pool.cl). GPUs run one work-item per output window (the
 * backward item writes its window's 2x2 block of din, so no atomics and no two items
 * write one element); CPU devices run one work-item per plane with plain loops.
 * CLMTT_KERNEL_FAMILY=cpu|gpu forces one family on any device (for tests). */
#include "layers/pool.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>


/* Per-plane kernels of the CPU family, in groups small enough that every compute unit
 * gets several. */
static int planes_launch(const char *name, const PoolShape *s, cl_mem out, cl_mem a, cl_mem b) {
    if (!rt_cpu_family()) return 0;
    LAUNCH_ITEMS(name, (size_t)s->planes, KM(out), KM(a), KM(b), KI(s->planes), KI(s->H), KI(s->W), KI(s->kind));
    return 1;
}

static void pool_need(cl_mem m, size_t n, const char *what) {
    size_t bytes = 0;
    CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (bytes < n * sizeof(float))
        die("pooling: buffer '%s' holds %zu floats, needs %zu", what, bytes / sizeof(float), n);
}

static void pool_check(const PoolShape *s) {
    if (s->kind != POOL_AVG && s->kind != POOL_MAX) die("pooling: unknown kind %d", (int)s->kind);
    if (s->planes < 0 || s->H < 1 || s->W < 1)
        die("pooling: bad shape planes=%d H=%d W=%d", s->planes, s->H, s->W);
}

static size_t pool_nin(const PoolShape *s) { return (size_t)s->planes * s->H * s->W; }
static size_t pool_nout(const PoolShape *s) { return (size_t)s->planes * pool_out(s->H) * pool_out(s->W); }

/* out [planes][H/2][W/2] from in [planes][H][W] */
void pool_forward(const PoolShape *s, cl_mem out, cl_mem in) {
    pool_check(s);
    size_t no = pool_nout(s);
    if (no == 0) return;
    pool_need(out, no, "out"); pool_need(in, pool_nin(s), "in");
    if (planes_launch("pool_fwd_planes", s, out, in, in)) return;
    LAUNCH("pool_fwd_win", no, KM(out), KM(in), KM(in), KL(no), KI(s->H), KI(s->W), KI(s->kind));
}

/* din [planes][H][W] (fully overwritten) from dout [planes][H/2][W/2]; in picks the max */
void pool_backward(const PoolShape *s, cl_mem din, cl_mem dout, cl_mem in) {
    pool_check(s);
    size_t ni = pool_nin(s), no = pool_nout(s);
    if (ni == 0) return;
    pool_need(din, ni, "din");
    if (no == 0) { dev_fill(din, 0, ni, 0.0f); return; }
    pool_need(dout, no, "dout");
    if (s->kind == POOL_MAX) pool_need(in, ni, "in");
    if (planes_launch("pool_bwd_planes", s, din, dout, in)) return;
    LAUNCH("pool_bwd_win", no, KM(din), KM(dout), KM(in), KL(no), KI(s->H), KI(s->W), KI(s->kind));
}

/* out_t [planes][H/2][W/2] = pool of in_t [planes][H][W], max position from in */
void pool_tangent(const PoolShape *s, cl_mem out_t, cl_mem in, cl_mem in_t) {
    pool_check(s);
    size_t no = pool_nout(s);
    if (no == 0) return;
    pool_need(out_t, no, "out_t"); pool_need(in_t, pool_nin(s), "in_t");
    if (s->kind == POOL_MAX) pool_need(in, pool_nin(s), "in");
    if (planes_launch("pool_fwd_planes", s, out_t, in, in_t)) return;
    LAUNCH("pool_fwd_win", no, KM(out_t), KM(in), KM(in_t), KL(no), KI(s->H), KI(s->W), KI(s->kind));
}

static void subsample_check(const PoolShape *s) {
    if (s->planes < 0 || s->H < 1 || s->W < 1)
        die("subsampling: bad shape planes=%d H=%d W=%d", s->planes, s->H, s->W);
}

void subsample_forward(const PoolShape *s, cl_mem out, cl_mem in) {
    subsample_check(s);
    size_t no = (size_t)s->planes * subsample_out(s->H) * subsample_out(s->W);
    if (no == 0) return;
    pool_need(out, no, "out"); pool_need(in, pool_nin(s), "in");
    LAUNCH("subsample_fwd", no, KM(out), KM(in), KL(no), KI(s->H), KI(s->W));
}

void subsample_backward(const PoolShape *s, cl_mem din, cl_mem dout) {
    subsample_check(s);
    size_t ni = pool_nin(s);
    if (ni == 0) return;
    pool_need(din, ni, "din"); pool_need(dout, (size_t)s->planes * subsample_out(s->H) * subsample_out(s->W), "dout");
    LAUNCH("subsample_bwd", ni, KM(din), KM(dout), KL(ni), KI(s->H), KI(s->W));
}
