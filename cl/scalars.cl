/* The iteration's scalars (host/distill/scalars.h): a small device buffer of 8-byte slots
 * that the reductions of one distillation iteration write, and the decisions read, so the
 * host reads it once at the iteration's end. A slot holds a double where the device has
 * fp64; otherwise a float pair (hi, lo) whose sum is the value (sums compensated with
 * TwoSum, so the fallback keeps about 48 bits). Slot 0 names the format for the host.
 * Slot numbers and outcome codes match host/distill/scalars.h. */

#if defined(cl_khr_fp64) && !defined(CLMTT_SCALARS_FLOAT)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define SC_FP64 1
#endif

#define SC_FORMAT 0
#define SC_D 1
#define SC_NUM 2
#define SC_DLR 3
#define SC_MATCHED 4
#define SC_GRAD_BAD 5
#define SC_SET_BAD 6
#define SC_OUTCOME 7
#define SC_LR 8

#define SC_UPDATED 0
#define SC_SKIPPED 1
#define SC_DIVERGED 2
#define SC_NOT_FINITE 3

#ifdef SC_FP64
typedef double scv;
#define SC_TAG 64u
static inline scv sc_get(__global const uint2 *sc, int i) { return as_double(sc[i]); }
static inline void sc_set(__global uint2 *sc, int i, scv v) { sc[i] = as_uint2(v); }
static inline scv sc_of(float x) { return (double)x; }
static inline float sc_float(scv v) { return (float)v; }
static inline scv sc_add(scv a, scv b) { return a + b; }
static inline scv sc_neg(scv a) { return -a; }
static inline int sc_finite(scv a) { return isfinite(a); }
static inline int sc_less(scv a, scv b) { return a < b; }
static inline int sc_le(scv a, scv b) { return a <= b; }
static inline scv sc_div(scv a, scv b) { return a / b; }
static inline scv sc_threshold(long bits, float f) { return as_double(bits); }
/* (float)(2 / D), as the host's float argument of the same quotient would be. */
static inline float sc_two_over(scv d) { return (float)(2.0 / d); }
#else
/* (hi, lo): value hi + lo with |lo| <= half an ulp of hi. */
typedef float2 scv;
#define SC_TAG 32u
static inline scv sc_get(__global const uint2 *sc, int i) { return as_float2(sc[i]); }
static inline void sc_set(__global uint2 *sc, int i, scv v) { sc[i] = as_uint2(v); }
static inline scv sc_of(float x) { return (float2)(x, 0.0f); }
static inline float sc_float(scv v) { return v.x + v.y; }
/* Knuth's TwoSum of a + b, then the low parts added and the pair renormalized. */
static inline scv sc_add(scv a, scv b) {
    float s = a.x + b.x, bb = s - a.x, e = (a.x - (s - bb)) + (b.x - bb);
    e += a.y + b.y;
    float hi = s + e;
    return (float2)(hi, e - (hi - s));
}
static inline scv sc_neg(scv a) { return -a; }
static inline int sc_finite(scv a) { return isfinite(a.x) && isfinite(a.y); }
static inline int sc_less(scv a, scv b) { return a.x < b.x || (a.x == b.x && a.y < b.y); }
static inline int sc_le(scv a, scv b) { return !sc_less(b, a); }
/* One float quotient and one correction step. */
static inline scv sc_div(scv a, scv b) {
    float q = a.x / b.x;
    float r = fma(-q, b.x, a.x) + a.y - q * b.y;
    float c = r / b.x, hi = q + c;
    return (float2)(hi, c - (hi - q));
}
static inline scv sc_threshold(long bits, float f) { return (float2)(f, 0.0f); }
static inline float sc_two_over(scv d) { return 2.0f / (d.x + d.y); }
#endif

static inline int sc_int(__global const uint2 *sc, int i) { return (int)sc_float(sc_get(sc, i)); }

/* Zeros slots [0, nslots), writes the format tag and the plain matched step K. */
__kernel void scalars_reset(__global uint2 *sc, int nslots, int K) {
    int i = get_global_id(0);
    if (i >= nslots) return;
    if (i == SC_FORMAT) sc[i] = (uint2)(SC_TAG, 0u);
    else if (i == SC_MATCHED) sc_set(sc, i, sc_of((float)K));
    else sc_set(sc, i, sc_of(0.0f));
}

/* One item: s = the `groups` partial sums added in index order; mode 0: slot = s,
 * mode 1: slot = slot - s (dL/dlr accumulated over the reverse steps). */
__kernel void scalars_sum(__global const float *partial, int groups, __global uint2 *sc, int slot, int mode) {
    if (get_global_id(0) != 0) return;
    scv s = sc_of(0.0f);
    for (int i = 0; i < groups; i++) s = sc_add(s, sc_of(partial[i]));
    sc_set(sc, slot, mode == 0 ? s : sc_add(sc_get(sc, slot), sc_neg(s)));
}

/* One item: the first minimum of the K distances in slots first .. first + K - 1 (steps
 * 1 .. K): its step into SC_MATCHED, its distance into SC_NUM. */
__kernel void scalars_argmin(__global uint2 *sc, int first, int K) {
    if (get_global_id(0) != 0) return;
    int best = 1;
    scv bd = sc_get(sc, first);
    for (int k = 2; k <= K; k++) {
        scv dk = sc_get(sc, first + k - 1);
        if (sc_less(dk, bd)) { best = k; bd = dk; }
    }
    sc_set(sc, SC_MATCHED, sc_of((float)best));
    sc_set(sc, SC_NUM, bd);
}

/* dst[off] = (float) slot */
__kernel void scalars_put_float(__global float *dst, long off, __global const uint2 *sc, int slot) {
    if (get_global_id(0) != 0) return;
    dst[off] = sc_float(sc_get(sc, slot));
}

/* The adjoint's seed at the matched step, where it is `step`: lam = (2 / D) (theta_step - target);
 * a no-op at any other step. */
__kernel void distill_lambda_seed(__global float *lam, __global const float *thetas, __global const float *target,
                                  __global const uint2 *sc, int step, long off, long n) {
    long i = get_global_id(0);
    if (i >= n || sc_int(sc, SC_MATCHED) != step) return;
    float scale = sc_two_over(sc_get(sc, SC_D));
    lam[i] = scale * (thetas[off + i] - target[i]);
}

/* One item: whether the set may take this iteration's step. Not finite (the loss NUM / D,
 * dL/dlr or a gradient entry): SC_NOT_FINITE; loss above the threshold: SC_SKIPPED; else
 * SC_UPDATED (later turned into SC_DIVERGED by scalars_settle when the step is not finite).
 * The threshold comes as a double's bits (fp64) and as a float (fallback). */
__kernel void scalars_gate(__global uint2 *sc, long threshold_bits, float threshold_f) {
    if (get_global_id(0) != 0) return;
    scv loss = sc_div(sc_get(sc, SC_NUM), sc_get(sc, SC_D));
    int finite = sc_finite(loss) && sc_finite(sc_get(sc, SC_DLR)) && sc_float(sc_get(sc, SC_GRAD_BAD)) == 0.0f;
    int out = !finite ? SC_NOT_FINITE : sc_le(loss, sc_threshold(threshold_bits, threshold_f)) ? SC_UPDATED : SC_SKIPPED;
    sc_set(sc, SC_OUTCOME, sc_of((float)out));
}

/* The set after its step: kept when the gate let it through and the step is finite (slot
 * SC_SET_BAD holds the count of non-finite entries), else restored from the copies taken
 * before the step (theta, momentum and, when has_ema, the moving average). */
__kernel void learnset_keep_or_undo(__global float *theta, __global float *vel, __global float *ema,
                                    __global const float *saved, __global const float *saved_vel,
                                    __global const float *saved_ema, long n, int has_ema, __global const uint2 *sc) {
    long i = get_global_id(0);
    if (i >= n) return;
    if (sc_int(sc, SC_OUTCOME) == SC_UPDATED && sc_float(sc_get(sc, SC_SET_BAD)) == 0.0f) return;
    theta[i] = saved[i];
    vel[i] = saved_vel[i];
    if (has_ema) ema[i] = saved_ema[i];
}

/* One item, after learnset_keep_or_undo: a step that made the set non-finite becomes
 * SC_DIVERGED; the step size the set now holds goes to SC_LR. */
__kernel void scalars_settle(__global uint2 *sc, __global const float *theta, long off_lr) {
    if (get_global_id(0) != 0) return;
    if (sc_int(sc, SC_OUTCOME) == SC_UPDATED && sc_float(sc_get(sc, SC_SET_BAD)) != 0.0f)
        sc_set(sc, SC_OUTCOME, sc_of((float)SC_DIVERGED));
    sc_set(sc, SC_LR, sc_of(theta[off_lr]));
}
