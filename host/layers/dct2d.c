/* The 2-D DCT on the device: two 1-D passes, each a reorder or twiddle kernel around one
 * batched clFFT transform (cl/dct.cl). */
#include "layers/dct2d.h"
#include "core/util.h"

#include <string.h>

/* clFFT keeps one library state per process, which caches programs of the contexts it
 * served: it is set up when the first Dct2d is made and torn down when the last one is
 * freed, so it never outlives a runtime its owners used. */
static int fft_users;

static void fft_check(clfftStatus st, const char *call) {
    if (st != CLFFT_SUCCESS) die("clFFT: %s failed with status %d", call, (int)st);
}

void dct2d_init(Dct2d *d, int H, int W) {
    memset(d, 0, sizeof *d);
    if (H < 1 || W < 1) die("dct2d: bad plane %d x %d", H, W);
    if (fft_users++ == 0) {
        clfftSetupData setup;
        fft_check(clfftInitSetupData(&setup), "clfftInitSetupData");
        fft_check(clfftSetup(&setup), "clfftSetup");
    }
    d->rt = rt_current;
    d->H = H;
    d->W = W;
}

void dct2d_free(Dct2d *d) {
    if (!d->rt) return;
    for (int i = 0; i < d->nplans; i++) clfftDestroyPlan(&d->plans[i].plan);
    memset(d, 0, sizeof *d);
    if (--fft_users == 0) clfftTeardown();
}

/* The complex plan of `batch` transforms of length len (backward unscaled): in place, or
 * out of place under CLMTT_OCLGRIND, where the simulator reports clFFT's in-place kernels
 * as racing and gets wrong values from them (tools/oclgrind.md). */
static clfftPlanHandle plan_for(Dct2d *d, int len, size_t batch) {
    for (int i = 0; i < d->nplans; i++)
        if (d->plans[i].len == len && d->plans[i].batch == batch) return d->plans[i].plan;
    if (d->nplans == DCT_MAX_PLANS) {   /* drop the oldest */
        clfftDestroyPlan(&d->plans[0].plan);
        memmove(d->plans, d->plans + 1, (DCT_MAX_PLANS - 1) * sizeof d->plans[0]);
        d->nplans--;
    }
    clfftPlanHandle p;
    size_t lengths[1] = {(size_t)len};
    fft_check(clfftCreateDefaultPlan(&p, RT.ctx, CLFFT_1D, lengths), "clfftCreateDefaultPlan");
    fft_check(clfftSetPlanPrecision(p, CLFFT_SINGLE), "clfftSetPlanPrecision");
    fft_check(clfftSetLayout(p, CLFFT_COMPLEX_INTERLEAVED, CLFFT_COMPLEX_INTERLEAVED), "clfftSetLayout");
    fft_check(clfftSetResultLocation(p, RT.oclgrind ? CLFFT_OUTOFPLACE : CLFFT_INPLACE), "clfftSetResultLocation");
    fft_check(clfftSetPlanBatchSize(p, batch), "clfftSetPlanBatchSize");
    fft_check(clfftSetPlanDistance(p, (size_t)len, (size_t)len), "clfftSetPlanDistance");
    fft_check(clfftSetPlanScale(p, CLFFT_BACKWARD, 1.0f), "clfftSetPlanScale");
    fft_check(clfftBakePlan(p, 1, &RT.queue, NULL, NULL), "clfftBakePlan");
    d->plans[d->nplans].len = len;
    d->plans[d->nplans].batch = batch;
    d->plans[d->nplans].plan = p;
    d->nplans++;
    return p;
}

/* One 1-D pass along rows of length L (rows = blocks x M): out[b][k][i] = T(in[b*M + i])[k]. */
static void pass(Dct2d *d, int inverse, cl_mem out, cl_mem in, size_t rows, int L, int M) {
    size_t n = rows * (size_t)L;
    cl_mem v = rt_scratch(RT_SCRATCH_FFT, 2 * n);
    LAUNCH(inverse ? "dct_inv_pre" : "dct_fwd_pre", n, KM(v), KM(in), KI((int)rows), KI(L));
    clfftPlanHandle p = plan_for(d, L, rows);
    cl_event ev = NULL;   /* CLMTT_PROFILE: the FFT's device time, under "clfft_transform" */
    cl_mem w = RT.oclgrind ? rt_scratch(RT_SCRATCH_FFT_OUT, 2 * n) : NULL;   /* NULL: in place */
    RT.counts.other_enqueues++;
    fft_check(clfftEnqueueTransform(p, inverse ? CLFFT_BACKWARD : CLFFT_FORWARD, 1, &RT.queue, 0, NULL,
                                    RT.profile ? &ev : NULL, &v, w ? &w : NULL, NULL),
              "clfftEnqueueTransform");
    rt_profile_event("clfft_transform", ev);
    LAUNCH(inverse ? "dct_inv_post" : "dct_fwd_post", n, KM(out), KM(w ? w : v), KI((int)rows), KI(L), KI(M));
}

void dct2d(Dct2d *d, int inverse, cl_mem out, cl_mem in, int B) {
    if (d->rt != rt_current) die("internal: a DCT planned on one runtime used on another");
    if (B < 0 || out == in) die("internal: dct2d of %d planes (in and out must differ)", B);
    if (B == 0) return;
    size_t planes = (size_t)B, HW = (size_t)d->H * d->W;
    if (planes * HW * 2 > 0x7fffffff) die("dct2d: %d planes of %d x %d is too many for one transform", B, d->H, d->W);
    cl_mem t = rt_scratch(RT_SCRATCH_DCT_T, planes * HW);
    pass(d, inverse, t, in, planes * d->H, d->W, d->H);     /* along W: [B][H][W] -> [B][W][H] */
    pass(d, inverse, out, t, planes * d->W, d->H, d->W);    /* along H: [B][W][H] -> [B][H][W] */
}
