/* Element-wise activations on the device: one work-item per element (cl/act.cl). */
#include "layers/act.h"
#include "core/util.h"

/* Dies unless `m` holds at least n floats: a short buffer would be read out of bounds. */
static void act_need(cl_mem m, size_t n, const char *what) {
    size_t bytes = 0;
    CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (bytes < n * sizeof(float))
        die("activation: buffer '%s' holds %zu floats, needs %zu", what, bytes / sizeof(float), n);
}

static void act_check_kind(ActKind k) {
    if (k != ACT_RELU && k != ACT_SIGMOID && k != ACT_LEAKYRELU) die("activation: unknown kind %d", (int)k);
}

/* out[n] = f(in[n]) */
void act_forward(ActKind k, size_t n, cl_mem out, cl_mem in) {
    act_check_kind(k);
    if (n == 0) return;
    act_need(out, n, "out"); act_need(in, n, "in");
    LAUNCH("act_fwd", n, KM(out), KM(in), KL(n), KI(k));
}

/* din[n] = f'(in) dout */
void act_backward(ActKind k, size_t n, cl_mem din, cl_mem dout, cl_mem in) {
    act_check_kind(k);
    if (n == 0) return;
    act_need(din, n, "din"); act_need(dout, n, "dout"); act_need(in, n, "in");
    LAUNCH("act_bwd", n, KM(din), KM(dout), KM(in), KL(n), KI(k));
}

/* out_t[n] = f'(in) in_t */
void act_tangent(ActKind k, size_t n, cl_mem out_t, cl_mem in, cl_mem in_t) {
    act_check_kind(k);
    if (n == 0) return;
    act_need(out_t, n, "out_t"); act_need(in, n, "in"); act_need(in_t, n, "in_t");
    LAUNCH("act_tan", n, KM(out_t), KM(in), KM(in_t), KL(n), KI(k));
}

/* rdin[n] = f'(in) rdout + f''(in) in_t dout */
void act_rbackward(ActKind k, size_t n, cl_mem rdin, cl_mem dout, cl_mem rdout, cl_mem in, cl_mem in_t) {
    act_check_kind(k);
    if (n == 0) return;
    act_need(rdin, n, "rdin"); act_need(rdout, n, "rdout"); act_need(in, n, "in");
    if (k == ACT_SIGMOID) { act_need(dout, n, "dout"); act_need(in_t, n, "in_t"); }
    LAUNCH("act_rbwd", n, KM(rdin), KM(dout), KM(rdout), KM(in), KM(in_t), KL(n), KI(k));
}
