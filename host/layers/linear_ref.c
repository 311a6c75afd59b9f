/* Float64 references of linear.h as direct loops. in[N][In], w[Out][In], out[N][Out]. */
#include "layers/linear.h"

#include <string.h>

#include "core/util.h"

static void ref_check(const LinearShape *s) {
    if (s->N <= 0 || s->In <= 0 || s->Out <= 0)
        die("linear reference: bad shape N=%d In=%d Out=%d", s->N, s->In, s->Out);
}

/* out[n][o] += sum_i x[n][i] * v[o][i] */
static void ref_rows_times_wt_acc(const LinearShape *s, double *out, const double *x, const double *v) {
    for (int n = 0; n < s->N; n++)
        for (int o = 0; o < s->Out; o++) {
            double acc = 0;
            for (int i = 0; i < s->In; i++) acc += x[(size_t)n * s->In + i] * v[(size_t)o * s->In + i];
            out[(size_t)n * s->Out + o] += acc;
        }
}

/* d[n][i] += sum_o g[n][o] * v[o][i] (if d); dv[o][i] += sum_n g[n][o] * x[n][i] (if dv) */
static void ref_adj_acc(const LinearShape *s, double *d, double *dv, const double *g, const double *x,
                        const double *v) {
    for (int n = 0; n < s->N; n++)
        for (int o = 0; o < s->Out; o++) {
            double gv = g[(size_t)n * s->Out + o];
            for (int i = 0; i < s->In; i++) {
                if (d) d[(size_t)n * s->In + i] += gv * v[(size_t)o * s->In + i];
                if (dv) dv[(size_t)o * s->In + i] += gv * x[(size_t)n * s->In + i];
            }
        }
}

static void ref_bias_set(const LinearShape *s, double *out, const double *b) {
    for (int n = 0; n < s->N; n++)
        for (int o = 0; o < s->Out; o++) out[(size_t)n * s->Out + o] = b ? b[o] : 0.0;
}

static void ref_bias_sum(const LinearShape *s, double *db, const double *g) {
    for (int o = 0; o < s->Out; o++) {
        double acc = 0;
        for (int n = 0; n < s->N; n++) acc += g[(size_t)n * s->Out + o];
        db[o] = acc;
    }
}

void linear_forward_ref(const LinearShape *s, double *out, const double *in, const double *w, const double *b) {
    ref_check(s);
    ref_bias_set(s, out, b);
    ref_rows_times_wt_acc(s, out, in, w);
}

void linear_backward_ref(const LinearShape *s, double *din, double *dw, double *db, const double *dout,
                         const double *in, const double *w) {
    ref_check(s);
    if (din) memset(din, 0, (size_t)s->N * s->In * sizeof(double));
    memset(dw, 0, (size_t)s->Out * s->In * sizeof(double));
    ref_adj_acc(s, din, dw, dout, in, w);
    if (db) ref_bias_sum(s, db, dout);
}

void linear_tangent_ref(const LinearShape *s, double *out_t, const double *in, const double *in_t,
                        const double *w, const double *w_t, const double *b_t) {
    ref_check(s);
    ref_bias_set(s, out_t, b_t);
    ref_rows_times_wt_acc(s, out_t, in, w_t);
    if (in_t) ref_rows_times_wt_acc(s, out_t, in_t, w);
}

void linear_rbackward_ref(const LinearShape *s, double *rdin, double *rdw, double *rdb, const double *dout,
                          const double *rdout, const double *in, const double *in_t, const double *w,
                          const double *w_t) {
    ref_check(s);
    if (rdin) memset(rdin, 0, (size_t)s->N * s->In * sizeof(double));
    memset(rdw, 0, (size_t)s->Out * s->In * sizeof(double));
    ref_adj_acc(s, rdin, rdw, rdout, in, w);   /* rdin += rdout w, rdw += rdout^T in */
    ref_adj_acc(s, rdin, NULL, dout, in, w_t); /* rdin += dout w_t */
    if (in_t) ref_adj_acc(s, NULL, rdw, dout, in_t, w); /* rdw += dout^T in_t */
    if (rdb) ref_bias_sum(s, rdb, rdout);
}

void flatten_forward_ref(int C, int N, int HW, double *out, const double *in) {
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) out[(size_t)n * C * HW + (size_t)c * HW + p] = in[((size_t)c * N + n) * HW + p];
}

void flatten_backward_ref(int C, int N, int HW, double *din, const double *dout) {
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) din[((size_t)c * N + n) * HW + p] = dout[(size_t)n * C * HW + (size_t)c * HW + p];
}
