/* Float64 references of conv2d.h, as direct loops over every output and kernel tap.
 * Input layout per s->in_nchw (NCHW or CNHW); outputs are CNHW; w is [Cout][Cin][K][K]. */
#include "layers/conv2d.h"

#include <string.h>

#include "core/util.h"

static size_t ref_in_index(const Conv2dShape *s, int n, int c, int h, int w) {
    return s->in_nchw ? (((size_t)n * s->Cin + c) * s->H + h) * s->W + w
                      : (((size_t)c * s->N + n) * s->H + h) * s->W + w;
}

static size_t ref_out_index(const Conv2dShape *s, int co, int n, int oh, int ow) {
    return (((size_t)co * s->N + n) * conv2d_out_h(s) + oh) * conv2d_out_w(s) + ow;
}

static size_t ref_w_index(const Conv2dShape *s, int co, int ci, int kh, int kw) {
    return (((size_t)co * s->Cin + ci) * s->K + kh) * s->K + kw;
}

static size_t ref_in_count(const Conv2dShape *s) { return (size_t)s->N * s->Cin * s->H * s->W; }
static size_t ref_out_count(const Conv2dShape *s) { return (size_t)s->Cout * s->N * conv2d_out_h(s) * conv2d_out_w(s); }
static size_t ref_w_count(const Conv2dShape *s) { return (size_t)s->Cout * s->Cin * s->K * s->K; }

static void ref_check(const Conv2dShape *s) {
    if (s->N <= 0 || s->Cin <= 0 || s->H <= 0 || s->W <= 0 || s->Cout <= 0 || s->K <= 0 || s->pad < 0 ||
        conv2d_out_h(s) <= 0 || conv2d_out_w(s) <= 0)
        die("conv2d reference: bad shape N=%d Cin=%d H=%d W=%d Cout=%d K=%d pad=%d", s->N, s->Cin, s->H, s->W,
            s->Cout, s->K, s->pad);
}

/* out += w * in (cross-correlation with zero padding) */
static void ref_conv_acc(const Conv2dShape *s, double *out, const double *in, const double *w) {
    const int Ho = conv2d_out_h(s), Wo = conv2d_out_w(s);
    for (int co = 0; co < s->Cout; co++)
        for (int n = 0; n < s->N; n++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double acc = 0;
                    for (int ci = 0; ci < s->Cin; ci++)
                        for (int kh = 0; kh < s->K; kh++)
                            for (int kw = 0; kw < s->K; kw++) {
                                int ih = oh + kh - s->pad, iw = ow + kw - s->pad;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                acc += w[ref_w_index(s, co, ci, kh, kw)] * in[ref_in_index(s, n, ci, ih, iw)];
                            }
                    out[ref_out_index(s, co, n, oh, ow)] += acc;
                }
}

/* din += w^T * dout (if din); dw += corr(in, dout) (if dw) */
static void ref_conv_adj_acc(const Conv2dShape *s, double *din, double *dw, const double *dout, const double *in,
                             const double *w) {
    const int Ho = conv2d_out_h(s), Wo = conv2d_out_w(s);
    for (int co = 0; co < s->Cout; co++)
        for (int n = 0; n < s->N; n++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double g = dout[ref_out_index(s, co, n, oh, ow)];
                    for (int ci = 0; ci < s->Cin; ci++)
                        for (int kh = 0; kh < s->K; kh++)
                            for (int kw = 0; kw < s->K; kw++) {
                                int ih = oh + kh - s->pad, iw = ow + kw - s->pad;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                size_t ii = ref_in_index(s, n, ci, ih, iw), wi = ref_w_index(s, co, ci, kh, kw);
                                if (din) din[ii] += w[wi] * g;
                                if (dw) dw[wi] += in[ii] * g;
                            }
                }
}

/* db[c] = sum over (n, oh, ow) of dout[c] */
static void ref_bias_sum(const Conv2dShape *s, double *db, const double *dout) {
    size_t len = ref_out_count(s) / s->Cout;
    for (int c = 0; c < s->Cout; c++) {
        double acc = 0;
        for (size_t j = 0; j < len; j++) acc += dout[(size_t)c * len + j];
        db[c] = acc;
    }
}

static void ref_bias_set(const Conv2dShape *s, double *out, const double *b) {
    size_t len = ref_out_count(s) / s->Cout;
    for (int c = 0; c < s->Cout; c++)
        for (size_t j = 0; j < len; j++) out[(size_t)c * len + j] = b ? b[c] : 0.0;
}

void conv2d_forward_ref(const Conv2dShape *s, double *out, const double *in, const double *w, const double *b) {
    ref_check(s);
    ref_bias_set(s, out, b);
    ref_conv_acc(s, out, in, w);
}

void conv2d_backward_ref(const Conv2dShape *s, double *din, double *dw, double *db, const double *dout,
                         const double *in, const double *w) {
    ref_check(s);
    if (din) memset(din, 0, ref_in_count(s) * sizeof(double));
    memset(dw, 0, ref_w_count(s) * sizeof(double));
    ref_conv_adj_acc(s, din, dw, dout, in, w);
    if (db) ref_bias_sum(s, db, dout);
}

void conv2d_tangent_ref(const Conv2dShape *s, double *out_t, const double *in, const double *in_t,
                        const double *w, const double *w_t, const double *b_t) {
    ref_check(s);
    ref_bias_set(s, out_t, b_t);
    ref_conv_acc(s, out_t, in, w_t);
    if (in_t) ref_conv_acc(s, out_t, in_t, w);
}

void conv2d_rbackward_ref(const Conv2dShape *s, double *rdin, double *rdw, double *rdb, const double *dout,
                          const double *rdout, const double *in, const double *in_t, const double *w,
                          const double *w_t) {
    ref_check(s);
    if (rdin) memset(rdin, 0, ref_in_count(s) * sizeof(double));
    memset(rdw, 0, ref_w_count(s) * sizeof(double));
    /* rdin += w^T rdout, rdw += corr(in, rdout) */
    ref_conv_adj_acc(s, rdin, rdw, rdout, in, w);
    /* rdin += w_t^T dout */
    ref_conv_adj_acc(s, rdin, NULL, dout, in, w_t);
    /* rdw += corr(in_t, dout) */
    if (in_t) ref_conv_adj_acc(s, NULL, rdw, dout, in_t, w);
    if (rdb) ref_bias_sum(s, rdb, rdout);
}
