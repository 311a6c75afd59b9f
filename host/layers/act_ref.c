/* float64 references of the activations (same formulas as cl/act.cl). */
#include "layers/act.h"
#include "core/util.h"

#include <math.h>

static double act_ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double act_ref_value(ActKind k, double x) {
    switch (k) {
    case ACT_RELU: return x <= 0.0 ? 0.0 : x;
    case ACT_SIGMOID: return act_ref_sigmoid(x);
    case ACT_LEAKYRELU: return x > 0.0 ? x : 0.01 * x;
    }
    die("activation: unknown kind %d", (int)k);
}

static double act_ref_slope(ActKind k, double x) {
    switch (k) {
    case ACT_RELU: return x > 0.0 ? 1.0 : 0.0;
    case ACT_SIGMOID: { double a = act_ref_sigmoid(x); return a * (1.0 - a); }
    case ACT_LEAKYRELU: return x > 0.0 ? 1.0 : 0.01;
    }
    die("activation: unknown kind %d", (int)k);
}

static double act_ref_curvature(ActKind k, double x) {
    if (k != ACT_SIGMOID) return 0.0;
    double a = act_ref_sigmoid(x);
    return a * (1.0 - a) * (1.0 - 2.0 * a);
}

void act_forward_ref(ActKind k, size_t n, double *out, const double *in) {
    for (size_t i = 0; i < n; i++) out[i] = act_ref_value(k, in[i]);
}

void act_backward_ref(ActKind k, size_t n, double *din, const double *dout, const double *in) {
    for (size_t i = 0; i < n; i++) din[i] = act_ref_slope(k, in[i]) * dout[i];
}

void act_tangent_ref(ActKind k, size_t n, double *out_t, const double *in, const double *in_t) {
    for (size_t i = 0; i < n; i++) out_t[i] = act_ref_slope(k, in[i]) * in_t[i];
}

void act_rbackward_ref(ActKind k, size_t n, double *rdin, const double *dout, const double *rdout,
                       const double *in, const double *in_t) {
    for (size_t i = 0; i < n; i++)
        rdin[i] = act_ref_slope(k, in[i]) * rdout[i] + act_ref_curvature(k, in[i]) * in_t[i] * dout[i];
}
