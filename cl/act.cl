/* Element-wise activations (host/layers/act.c), one work-item per element.
 * kind: 0 = ReLU, 1 = sigmoid, 2 = leaky ReLU with slope 0.01. */

static inline float act_sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

/* f(x); NaN inputs stay NaN so that diverging runs are detected downstream. */
static inline float act_value(int kind, float x) {
    if (kind == 0) return x <= 0.0f ? 0.0f : x;
    if (kind == 1) return act_sigmoid(x);
    return x > 0.0f ? x : 0.01f * x;
}

/* f'(x); ReLU uses the mask x > 0 (derivative 0 at 0). */
static inline float act_slope(int kind, float x) {
    if (kind == 0) return x > 0.0f ? 1.0f : 0.0f;
    if (kind == 1) { float a = act_sigmoid(x); return a * (1.0f - a); }
    return x > 0.0f ? 1.0f : 0.01f;
}

/* f''(x): zero for the piecewise-linear kinds; sigma'' = sigma' (1 - 2 sigma). */
static inline float act_curvature(int kind, float x) {
    if (kind != 1) return 0.0f;
    float a = act_sigmoid(x);
    return a * (1.0f - a) * (1.0f - 2.0f * a);
}

/* out[i] = f(in[i]), i < n */
__kernel void act_fwd(__global float *out, __global const float *in, long n, int kind) {
    const long i = get_global_id(0);
    if (i < n) out[i] = act_value(kind, in[i]);
}

/* din[i] = f'(in[i]) dout[i] */
__kernel void act_bwd(__global float *din, __global const float *dout, __global const float *in, long n, int kind) {
    const long i = get_global_id(0);
    if (i < n) din[i] = act_slope(kind, in[i]) * dout[i];
}

/* out_t[i] = f'(in[i]) in_t[i] */
__kernel void act_tan(__global float *out_t, __global const float *in, __global const float *in_t, long n, int kind) {
    const long i = get_global_id(0);
    if (i < n) out_t[i] = act_slope(kind, in[i]) * in_t[i];
}

/* rdin[i] = f'(in[i]) rdout[i] + f''(in[i]) in_t[i] dout[i] */
__kernel void act_rbwd(__global float *rdin, __global const float *dout, __global const float *rdout,
                       __global const float *in, __global const float *in_t, long n, int kind) {
    const long i = get_global_id(0);
    if (i >= n) return;
    const float x = in[i];
    float r = act_slope(kind, x) * rdout[i];
    if (kind == 1) r += act_curvature(kind, x) * in_t[i] * dout[i];
    rdin[i] = r;
}
