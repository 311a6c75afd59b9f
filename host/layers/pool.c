/* 2x2 pooling on the device (cl/pool.cl): forward and tangent one work-item per output,
 * backward one work-item per input (a gather, so no atomics and every element is written). */
#include "layers/pool.h"
#include "util.h"

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
    LAUNCH("pool_fwd", no, KM(out), KM(in), KL(no), KI(s->H), KI(s->W), KI(s->kind));
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
    LAUNCH("pool_bwd", ni, KM(din), KM(dout), KM(in), KL(ni), KI(s->H), KI(s->W), KI(s->kind));
}

/* out_t [planes][H/2][W/2] = pool of in_t [planes][H][W], max position from in */
void pool_tangent(const PoolShape *s, cl_mem out_t, cl_mem in, cl_mem in_t) {
    pool_check(s);
    size_t no = pool_nout(s);
    if (no == 0) return;
    pool_need(out_t, no, "out_t"); pool_need(in_t, pool_nin(s), "in_t");
    if (s->kind == POOL_MAX) pool_need(in, pool_nin(s), "in");
    LAUNCH("pool_tan", no, KM(out_t), KM(in), KM(in_t), KL(no), KI(s->H), KI(s->W), KI(s->kind));
}
