/* The fused "norm + activation + pool" block (host/layers/block.c): the layers that follow a
 * convolution in the ConvNet family, run as one kernel per pass instead of three to five
 * (norm, its parameter-gradient collection, activation, pooling, the conv's bias gradient).
 * Placed after norm.cl (its name sorts later) so it uses the normalization helpers there and
 * the activation helpers of act.cl; pooling is redone here on values held in registers.
 *
 * Activations are CNHW, so one channel c is one contiguous run of N planes of H x W, and
 * every quantity a channel needs (its sets' statistics, its gamma, beta, bias gradients)
 * is its own: one channel per work-group (GPU family, block_grp_*, items stride over a
 * plane and reduce with group_sum) or per work-item (CPU family, block_cpu_*, the same
 * bodies with one item: plain loops and no barriers). Both families share every line of
 * arithmetic below; they differ only in lid/ls and in whether sums cross items.
 *
 * The input x is the convolution's output without its bias; the block adds the bias b (and
 * its tangent b_t) itself, saving the convolution a pass. With norm both are per-channel
 * constants that cancel in zhat and its tangent, so they only move batch norm's running mean;
 * without norm z = x + b and z_t = x_t + b_t. The output is CNHW, or NCHW when onchw (the
 * block then also does the flatten before a linear layer: NCHW is the flattened [N][C*H*W]).
 *
 * Sets: ns per channel (0: no normalization; N: instance norm, set k = sample k;
 * 1: batch norm, the whole channel), each of pps = N / max(ns, 1) planes; set k of channel c
 * has statistics index k*C + c (norm.h's set numbering for instance and batch norm).
 * Chain per element (x: the conv output, bias included):
 *   z = gamma zhat + beta (or x without norm), a = act(z), out = pool(a) (2x2, or a itself).
 * Only the block's output and the statistics are stored; the other passes recompute z and a
 * from x. */

/* xb, tb: this channel's bias and bias tangent (0 when absent), set by each pass. */
typedef struct { int C, N, H, W, Ho, Wo, ns, pps, act, pool, onchw; float xb, tb; } blk_t;

#define BLOCK_ARGS int C, int N, int H, int W, int ns, int act, int pool, int onchw
#define BLOCK_MAKE ((blk_t){C, N, H, W, pool ? H / 2 : H, pool ? W / 2 : W, ns, N / max(ns, 1), act, pool, onchw, \
                            0.0f, 0.0f})

/* Output plane of channel c, sample n: CNHW or NCHW. */
static inline long blk_oplane(blk_t b, int c, int n) { return b.onchw ? (long)n * b.C + c : (long)c * b.N + n; }

/* Channel c's entry of an optional per-channel vector (0 when absent). */
static inline float blk_chan(__global const float *v, long off, int has, int c) { return has ? v[off + c] : 0.0f; }

/* Sum over the items of the work-group (ls == 1: the item's own value, no barrier). */
static inline float blk_sum(float v, int ls, __local float *tmp) { return ls == 1 ? v : group_sum(v, tmp); }

/* Statistics of set `set` of channel c (mean, r; the rest 0). */
static inline norm_set_t blk_stats(blk_t b, __global const float *stats, int c, int set) {
    return norm_set_at(stats, stats, b.ns * b.C, set * b.C + c, 0, 0);
}

/* a = act(z) at element i of plane xp. */
static inline float blk_a(blk_t b, norm_set_t k, float g, float be, __global const float *xp, int i) {
    const float z = b.ns ? norm_fwd_at(k, xp[i], g, be) : xp[i] + b.xb;
    return act_value(b.act, z);
}

/* Window position 0..3 of the first maximum of a over the window at i (pool_argmax's order
 * and NaN rule, on recomputed values). */
static inline int blk_argmax(blk_t b, norm_set_t k, float g, float be, __global const float *xp, int i) {
    const float v1 = blk_a(b, k, g, be, xp, i + 1), v2 = blk_a(b, k, g, be, xp, i + b.W);
    const float v3 = blk_a(b, k, g, be, xp, i + b.W + 1);
    float best = blk_a(b, k, g, be, xp, i);
    int pos = 0;
    if (v1 > best || isnan(v1)) { best = v1; pos = 1; }
    if (v2 > best || isnan(v2)) { best = v2; pos = 2; }
    if (v3 > best || isnan(v3)) pos = 3;
    return pos;
}

/* Pooling's backward weight of element (y, x) of a plane: the output element o it feeds
 * and dL/da = weight * dL/dout[o] (0 where no window covers it, or not the window's max). */
static inline float blk_share(blk_t b, norm_set_t k, float g, float be, __global const float *xp, int y, int x, int *o) {
    if (!b.pool) { *o = y * b.W + x; return 1.0f; }
    const int oy = y >> 1, ox = x >> 1;
    *o = 0;
    if (oy >= b.Ho || ox >= b.Wo) return 0.0f;
    *o = oy * b.Wo + ox;
    if (b.pool == 1) return 0.25f;
    return blk_argmax(b, k, g, be, xp, 2 * oy * b.W + 2 * ox) == (((y & 1) << 1) | (x & 1)) ? 1.0f : 0.0f;
}

/* Tangent of a at element i: act'(z) z_t (z_t from norm_tan_at, or x_t without norm). */
static inline float blk_at(blk_t b, norm_set_t k, float g, float be, float gt, float bt, __global const float *xp,
                           __global const float *tp, int i) {
    const float x = xp[i];
    const float z = b.ns ? norm_fwd_at(k, x, g, be) : x + b.xb;
    const float zt = b.ns ? norm_tan_at(k, x, tp, i, 1, g, gt, bt) : tp[i] + b.tb;
    return act_slope(b.act, z) * zt;
}

/* (sum, sum of squared deviations from `mean`) ... of the set's elements, per item; the
 * set is pps contiguous planes at xs. op 0: sum x; op 1: sum (x - mean)^2. Sums are per
 * plane first, then over planes (bounded rounding growth for batch norm's long sets). */
static inline float blk_set_moment(blk_t b, __global const float *xs, int op, float mean, int lid, int ls) {
    const int hw = b.H * b.W;
    float tot = 0.0f;
    for (int n = 0; n < b.pps; n++) {
        float acc = 0.0f;
        for (int e = lid; e < hw; e += ls) {
            const float v = xs[n * hw + e];
            if (op == 0) acc += v;
            else { const float d = v - mean; acc = mad(d, d, acc); }
        }
        tot += acc;
    }
    return tot;
}

/* Tangent means of set k (mean(x_t), mean(zhat x_t)) into k; xs, ts: the set's first plane. */
static inline void blk_set_tmeans(blk_t b, norm_set_t *k, __global const float *xs, __global const float *ts, int lid,
                                  int ls, __local float *tmp) {
    const int hw = b.H * b.W;
    float2 tot = (float2)(0.0f);
    for (int n = 0; n < b.pps; n++) {
        float2 acc = (float2)(0.0f);
        for (int e = lid; e < hw; e += ls) acc = norm_dot_add(acc, *k, xs[n * hw + e], ts[n * hw + e]);
        tot += acc;
    }
    const float s1 = blk_sum(tot.x, ls, tmp);
    norm_set_tmeans(k, (float2)(s1, blk_sum(tot.y, ls, tmp)), b.pps * hw);
}

/* Output element o of a plane: the pooled a (fwd) or pooled a_t (tan, tp given). */
static inline float blk_out_at(blk_t b, norm_set_t k, float g, float be, float gt, float bt, __global const float *xp,
                               __global const float *tp, int tan, int o) {
    if (!b.pool) return tan ? blk_at(b, k, g, be, gt, bt, xp, tp, o) : blk_a(b, k, g, be, xp, o);
    const int oy = o / b.Wo, ox = o - oy * b.Wo, i = 2 * oy * b.W + 2 * ox;
    if (b.pool == 2) {
        const int pos = blk_argmax(b, k, g, be, xp, i), at = i + (pos >> 1) * b.W + (pos & 1);
        return tan ? blk_at(b, k, g, be, gt, bt, xp, tp, at) : blk_a(b, k, g, be, xp, at);
    }
    if (tan)
        return 0.25f * ((blk_at(b, k, g, be, gt, bt, xp, tp, i) + blk_at(b, k, g, be, gt, bt, xp, tp, i + 1)) +
                        (blk_at(b, k, g, be, gt, bt, xp, tp, i + b.W) +
                         blk_at(b, k, g, be, gt, bt, xp, tp, i + b.W + 1)));
    return 0.25f * ((blk_a(b, k, g, be, xp, i) + blk_a(b, k, g, be, xp, i + 1)) +
                    (blk_a(b, k, g, be, xp, i + b.W) + blk_a(b, k, g, be, xp, i + b.W + 1)));
}

/* Forward of channel c: each set's statistics (two passes, written to stats; batch norm
 * also updates the running statistics when upd), then the block's output. */
static inline void blk_fwd(blk_t b, int c, int lid, int ls, __local float *tmp, __global float *out,
                           __global const float *in, __global float *stats, __global const float *gamma, long goff,
                           __global const float *beta, long boff, __global float *run_mean, __global float *run_var,
                           int upd, __global const float *xbias, long xboff, int has_xb) {
    b.xb = blk_chan(xbias, xboff, has_xb, c);
    const int hw = b.H * b.W, ohw = b.Ho * b.Wo, sets = max(b.ns, 1), setsize = b.pps * hw;
    const float g = b.ns ? gamma[goff + c] : 1.0f, be = b.ns ? beta[boff + c] : 0.0f;
    for (int s = 0; s < sets; s++) {
        const int n0 = s * b.pps;
        __global const float *xs = in + ((long)c * b.N + n0) * hw;
        norm_set_t k = {0};
        if (b.ns) {
            k.mean = blk_sum(blk_set_moment(b, xs, 0, 0.0f, lid, ls), ls, tmp) / (float)setsize;
            k.r = norm_rstd(blk_sum(blk_set_moment(b, xs, 1, k.mean, lid, ls), ls, tmp), setsize);
            const int idx = s * b.C + c;
            if (lid == 0) {
                stats[idx] = k.mean;
                stats[b.ns * b.C + idx] = k.r;
                if (upd) {   /* as norm_bn_running */
                    const float var = 1.0f / (k.r * k.r) - NORM_EPS;
                    const float unbiased = var * (float)setsize / (float)(setsize - 1);
                    run_mean[c] = 0.9f * run_mean[c] + 0.1f * (k.mean + b.xb);
                    run_var[c] = 0.9f * run_var[c] + 0.1f * unbiased;
                }
            }
        }
        for (int n = 0; n < b.pps; n++) {
            __global const float *xp = xs + n * hw;
            __global float *op = out + blk_oplane(b, c, n0 + n) * ohw;
            for (int o = lid; o < ohw; o += ls) op[o] = blk_out_at(b, k, g, be, 0.0f, 0.0f, xp, xp, 0, o);
        }
    }
}

/* Tangent of channel c: out_t = pool(act'(z) z_t) with the input tangent in_t and the
 * parameter tangents gamma_t, beta_t (statistics from the forward). */
static inline void blk_tan(blk_t b, int c, int lid, int ls, __local float *tmp, __global float *out_t,
                           __global const float *in, __global const float *in_t, __global const float *stats,
                           __global const float *gamma, long goff, __global const float *beta, long boff,
                           __global const float *gamma_t, long gtoff, __global const float *beta_t, long btoff,
                           __global const float *xbias, long xboff, int has_xb, __global const float *tbias, long tboff, int has_tb) {
    b.xb = blk_chan(xbias, xboff, has_xb, c);
    b.tb = blk_chan(tbias, tboff, has_tb, c);
    const int hw = b.H * b.W, ohw = b.Ho * b.Wo, sets = max(b.ns, 1);
    const float g = b.ns ? gamma[goff + c] : 1.0f, be = b.ns ? beta[boff + c] : 0.0f;
    const float gt = b.ns ? gamma_t[gtoff + c] : 0.0f, bt = b.ns ? beta_t[btoff + c] : 0.0f;
    for (int s = 0; s < sets; s++) {
        const int n0 = s * b.pps;
        const long base = ((long)c * b.N + n0) * hw;
        norm_set_t k = {0};
        if (b.ns) {
            k = blk_stats(b, stats, c, s);
            blk_set_tmeans(b, &k, in + base, in_t + base, lid, ls, tmp);
        }
        for (int n = 0; n < b.pps; n++) {
            __global float *op = out_t + blk_oplane(b, c, n0 + n) * ohw;
            for (int o = lid; o < ohw; o += ls)
                op[o] = blk_out_at(b, k, g, be, gt, bt, in + base + n * hw, in_t + base + n * hw, 1, o);
        }
    }
}

/* Backward of channel c: dL/dz = act'(z) * pooling's share of dout is written to din, with
 * the set's sums (sum dz, sum dz zhat); then, with norm, din = the normalization's input
 * gradient in place. Writes dgamma[c], dbeta[c] (want_gb) and the conv bias gradient
 * dbias[c] = sum din (want_bias). */
static inline void blk_bwd(blk_t b, int c, int lid, int ls, __local float *tmp, __global float *din,
                           __global const float *dout, __global const float *in, __global const float *stats,
                           __global const float *gamma, long goff, __global const float *beta, long boff,
                           __global float *dgamma, long dgoff, __global float *dbeta, long dboff, int want_gb,
                           __global float *dbias, long dbioff, int want_bias, __global const float *xbias, long xboff, int has_xb) {
    b.xb = blk_chan(xbias, xboff, has_xb, c);
    const int hw = b.H * b.W, ohw = b.Ho * b.Wo, sets = max(b.ns, 1);
    const float g = b.ns ? gamma[goff + c] : 1.0f, be = b.ns ? beta[boff + c] : 0.0f;
    float sum_dg = 0.0f, sum_db = 0.0f, sum_bias = 0.0f;
    for (int s = 0; s < sets; s++) {
        const int n0 = s * b.pps;
        norm_set_t k = b.ns ? blk_stats(b, stats, c, s) : (norm_set_t){0};
        float2 sd = (float2)(0.0f);
        for (int n = 0; n < b.pps; n++) {
            const long pl = (long)c * b.N + n0 + n;
            __global const float *xp = in + pl * hw, *dp = dout + blk_oplane(b, c, n0 + n) * ohw;
            __global float *gp = din + pl * hw;
            float2 acc = (float2)(0.0f);
            for (int e = lid; e < hw; e += ls) {
                const int y = e / b.W, x = e - y * b.W;
                int o;
                const float w = blk_share(b, k, g, be, xp, y, x, &o);
                const float z = b.ns ? norm_fwd_at(k, xp[e], g, be) : xp[e] + b.xb;
                const float dz = act_slope(b.act, z) * (w != 0.0f ? w * dp[o] : 0.0f);
                gp[e] = dz;
                acc = norm_dot_add(acc, k, xp[e], dz);
            }
            sd += acc;
        }
        if (!b.ns) { sum_bias += sd.x; continue; }
        sd.x = blk_sum(sd.x, ls, tmp);
        sd.y = blk_sum(sd.y, ls, tmp);
        sum_db += sd.x;
        sum_dg += sd.y;
        norm_add_dsums(&k, g, sd.x, sd.y);
        norm_mean_dsums(&k, b.pps * hw);
        for (int n = 0; n < b.pps; n++) {
            const long pl = (long)c * b.N + n0 + n;
            __global const float *xp = in + pl * hw;
            __global float *gp = din + pl * hw;
            float acc = 0.0f;
            for (int e = lid; e < hw; e += ls) {
                const float v = norm_bwd_at(k, xp[e], gp[e], g);
                gp[e] = v;
                acc += v;
            }
            sum_bias += acc;
        }
    }
    sum_bias = blk_sum(sum_bias, ls, tmp);
    if (lid != 0) return;
    if (want_gb) { dgamma[dgoff + c] = sum_dg; dbeta[dboff + c] = sum_db; }
    if (want_bias) dbias[dbioff + c] = sum_bias;
}

/* dL/dz and its tangent at element e of a plane (xp, tp: x and x_t; dp, rp: dout and rdout):
 * dz = act'(z) da, rdz = act'(z) rda + act''(z) z_t da (da, rda: pooling's shares). */
static inline float2 blk_dz(blk_t b, norm_set_t k, float g, float be, float gt, float bt, __global const float *xp,
                            __global const float *tp, __global const float *dp, __global const float *rp, int e) {
    const int y = e / b.W, x = e - y * b.W;
    int o;
    const float w = blk_share(b, k, g, be, xp, y, x, &o);
    const float da = w != 0.0f ? w * dp[o] : 0.0f, rda = w != 0.0f ? w * rp[o] : 0.0f;
    const float z = b.ns ? norm_fwd_at(k, xp[e], g, be) : xp[e] + b.xb, sl = act_slope(b.act, z);
    float rdz = sl * rda;
    if (b.act == 1) {
        const float zt = b.ns ? norm_tan_at(k, xp[e], tp, e, 1, g, gt, bt) : tp[e] + b.tb;
        rdz += act_curvature(b.act, z) * zt * da;
    }
    return (float2)(sl * da, rdz);
}

/* R-backward of channel c (the tangent of blk_bwd along in_t, gamma_t, beta_t): rdin and,
 * when wanted, rdgamma[c], rdbeta[c] and the conv's rdbias[c] = sum rdin. */
static inline void blk_rbwd(blk_t b, int c, int lid, int ls, __local float *tmp, __global float *rdin,
                            __global const float *dout, __global const float *rdout, __global const float *in,
                            __global const float *in_t, __global const float *stats, __global const float *gamma,
                            long goff, __global const float *beta, long boff, __global const float *gamma_t,
                            long gtoff, __global const float *beta_t, long btoff, __global float *rdgamma, long rgoff,
                            __global float *rdbeta, long rboff, int want_gb, __global float *rdbias, long rbioff,
                            int want_bias, __global const float *xbias, long xboff, int has_xb, __global const float *tbias, long tboff, int has_tb) {
    b.xb = blk_chan(xbias, xboff, has_xb, c);
    b.tb = blk_chan(tbias, tboff, has_tb, c);
    const int hw = b.H * b.W, ohw = b.Ho * b.Wo, sets = max(b.ns, 1);
    const float g = b.ns ? gamma[goff + c] : 1.0f, be = b.ns ? beta[boff + c] : 0.0f;
    const float gt = b.ns ? gamma_t[gtoff + c] : 0.0f, bt = b.ns ? beta_t[btoff + c] : 0.0f;
    float sum_dg = 0.0f, sum_db = 0.0f, sum_bias = 0.0f;
    for (int s = 0; s < sets; s++) {
        const int n0 = s * b.pps;
        norm_set_t k = {0};
        if (b.ns) {
            const long base = ((long)c * b.N + n0) * hw;
            k = blk_stats(b, stats, c, s);
            blk_set_tmeans(b, &k, in + base, in_t + base, lid, ls, tmp);
        }
        float q[5] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        for (int n = 0; n < b.pps; n++) {
            const long pl = (long)c * b.N + n0 + n;
            __global const float *xp = in + pl * hw, *tp = in_t + pl * hw;
            __global const float *dp = dout + blk_oplane(b, c, n0 + n) * ohw, *rp = rdout + blk_oplane(b, c, n0 + n) * ohw;
            float qa[5] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
            for (int e = lid; e < hw; e += ls) {
                const float2 d = blk_dz(b, k, g, be, gt, bt, xp, tp, dp, rp, e);
                if (b.ns) norm_rsum_add(qa, k, xp[e], d.x, d.y, tp, e);
                else { rdin[pl * hw + e] = d.y; qa[0] += d.y; }
            }
            for (int u = 0; u < 5; u++) q[u] += qa[u];
        }
        if (!b.ns) { sum_bias += q[0]; continue; }
        for (int u = 0; u < 5; u++) q[u] = blk_sum(q[u], ls, tmp);
        sum_dg += q[3] + q[4];
        sum_db += q[2];
        norm_add_rsums(&k, g, gt, q);
        norm_mean_dsums(&k, b.pps * hw);
        for (int n = 0; n < b.pps; n++) {
            const long pl = (long)c * b.N + n0 + n;
            __global const float *xp = in + pl * hw, *tp = in_t + pl * hw;
            __global const float *dp = dout + blk_oplane(b, c, n0 + n) * ohw, *rp = rdout + blk_oplane(b, c, n0 + n) * ohw;
            float acc = 0.0f;
            for (int e = lid; e < hw; e += ls) {
                const float2 d = blk_dz(b, k, g, be, gt, bt, xp, tp, dp, rp, e);
                const float v = norm_rbwd_at(k, xp[e], d.x, d.y, tp, e, 1, g, gt);
                rdin[pl * hw + e] = v;
                acc += v;
            }
            sum_bias += acc;
        }
    }
    sum_bias = blk_sum(sum_bias, ls, tmp);
    if (lid != 0) return;
    if (want_gb) { rdgamma[rgoff + c] = sum_dg; rdbeta[rboff + c] = sum_db; }
    if (want_bias) rdbias[rbioff + c] = sum_bias;
}

/* Kernel arguments shared by the passes: the conv's bias (xbias) and its tangent (tbias). */
#define BLOCK_XB __global const float *xbias, long xboff, int has_xb
#define BLOCK_TB __global const float *tbias, long tboff, int has_tb

/* ---- CPU family: one work-item per channel ---- */

__kernel void block_cpu_fwd(__global float *out, __global const float *in, __global float *stats,
                            __global const float *gamma, long goff, __global const float *beta, long boff,
                            __global float *run_mean, __global float *run_var, int upd, BLOCK_XB, BLOCK_ARGS) {
    __local float none[1];
    const int c = get_global_id(0);
    if (c < C)
        blk_fwd(BLOCK_MAKE, c, 0, 1, none, out, in, stats, gamma, goff, beta, boff, run_mean, run_var, upd, xbias, xboff,
                has_xb);
}

__kernel void block_cpu_tan(__global float *out_t, __global const float *in, __global const float *in_t,
                            __global const float *stats, __global const float *gamma, long goff,
                            __global const float *beta, long boff, __global const float *gamma_t, long gtoff,
                            __global const float *beta_t, long btoff, BLOCK_XB, BLOCK_TB, BLOCK_ARGS) {
    __local float none[1];
    const int c = get_global_id(0);
    if (c < C)
        blk_tan(BLOCK_MAKE, c, 0, 1, none, out_t, in, in_t, stats, gamma, goff, beta, boff, gamma_t, gtoff, beta_t,
                btoff, xbias, xboff, has_xb, tbias, tboff, has_tb);
}

__kernel void block_cpu_bwd(__global float *din, __global const float *dout, __global const float *in,
                            __global const float *stats, __global const float *gamma, long goff,
                            __global const float *beta, long boff, __global float *dgamma, long dgoff,
                            __global float *dbeta, long dboff, int want_gb, __global float *dbias, long dbioff,
                            int want_bias, BLOCK_XB, BLOCK_ARGS) {
    __local float none[1];
    const int c = get_global_id(0);
    if (c < C)
        blk_bwd(BLOCK_MAKE, c, 0, 1, none, din, dout, in, stats, gamma, goff, beta, boff, dgamma, dgoff, dbeta, dboff,
                want_gb, dbias, dbioff, want_bias, xbias, xboff, has_xb);
}

__kernel void block_cpu_rbwd(__global float *rdin, __global const float *dout, __global const float *rdout,
                             __global const float *in, __global const float *in_t, __global const float *stats,
                             __global const float *gamma, long goff, __global const float *beta, long boff,
                             __global const float *gamma_t, long gtoff, __global const float *beta_t, long btoff,
                             __global float *rdgamma, long rgoff, __global float *rdbeta, long rboff, int want_gb,
                             __global float *rdbias, long rbioff, int want_bias, BLOCK_XB, BLOCK_TB, BLOCK_ARGS) {
    __local float none[1];
    const int c = get_global_id(0);
    if (c < C)
        blk_rbwd(BLOCK_MAKE, c, 0, 1, none, rdin, dout, rdout, in, in_t, stats, gamma, goff, beta, boff, gamma_t, gtoff,
                 beta_t, btoff, rdgamma, rgoff, rdbeta, rboff, want_gb, rdbias, rbioff, want_bias, xbias, xboff, has_xb,
                 tbias, tboff, has_tb);
}

/* ---- GPU family: one work-group per channel (tmp: local_size floats) ---- */

__kernel void block_grp_fwd(__global float *out, __global const float *in, __global float *stats,
                            __global const float *gamma, long goff, __global const float *beta, long boff,
                            __global float *run_mean, __global float *run_var, int upd, BLOCK_XB, BLOCK_ARGS,
                            __local float *tmp) {
    blk_fwd(BLOCK_MAKE, get_group_id(0), get_local_id(0), get_local_size(0), tmp, out, in, stats, gamma, goff, beta,
            boff, run_mean, run_var, upd, xbias, xboff, has_xb);
}

__kernel void block_grp_tan(__global float *out_t, __global const float *in, __global const float *in_t,
                            __global const float *stats, __global const float *gamma, long goff,
                            __global const float *beta, long boff, __global const float *gamma_t, long gtoff,
                            __global const float *beta_t, long btoff, BLOCK_XB, BLOCK_TB, BLOCK_ARGS,
                            __local float *tmp) {
    blk_tan(BLOCK_MAKE, get_group_id(0), get_local_id(0), get_local_size(0), tmp, out_t, in, in_t, stats, gamma, goff,
            beta, boff, gamma_t, gtoff, beta_t, btoff, xbias, xboff, has_xb, tbias, tboff, has_tb);
}

__kernel void block_grp_bwd(__global float *din, __global const float *dout, __global const float *in,
                            __global const float *stats, __global const float *gamma, long goff,
                            __global const float *beta, long boff, __global float *dgamma, long dgoff,
                            __global float *dbeta, long dboff, int want_gb, __global float *dbias, long dbioff,
                            int want_bias, BLOCK_XB, BLOCK_ARGS, __local float *tmp) {
    blk_bwd(BLOCK_MAKE, get_group_id(0), get_local_id(0), get_local_size(0), tmp, din, dout, in, stats, gamma, goff,
            beta, boff, dgamma, dgoff, dbeta, dboff, want_gb, dbias, dbioff, want_bias, xbias, xboff, has_xb);
}

__kernel void block_grp_rbwd(__global float *rdin, __global const float *dout, __global const float *rdout,
                             __global const float *in, __global const float *in_t, __global const float *stats,
                             __global const float *gamma, long goff, __global const float *beta, long boff,
                             __global const float *gamma_t, long gtoff, __global const float *beta_t, long btoff,
                             __global float *rdgamma, long rgoff, __global float *rdbeta, long rboff, int want_gb,
                             __global float *rdbias, long rbioff, int want_bias, BLOCK_XB, BLOCK_TB, BLOCK_ARGS,
                             __local float *tmp) {
    blk_rbwd(BLOCK_MAKE, get_group_id(0), get_local_id(0), get_local_size(0), tmp, rdin, dout, rdout, in, in_t, stats,
             gamma, goff, beta, boff, gamma_t, gtoff, beta_t, btoff, rdgamma, rgoff, rdbeta, rboff, want_gb, rdbias,
             rbioff, want_bias, xbias, xboff, has_xb, tbias, tboff, has_tb);
}
