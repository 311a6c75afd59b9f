/* Normalization layers on CNHW activations (host/layers/norm.h, SPEC 4.1 and 7.7).
 *
 * Every kind (instance, group, layer, batch) is described by one set of integers, a
 * "map", built on the host (norm_map_of in host/layers/norm.c), so one family of kernels
 * serves all four:
 *   set -> elements: set s = n * spn + k covers `setsize` elements; element e of it is
 *     j = e / run, p = e % run (runs of `run` contiguous floats, one per channel),
 *     address k*kch*nhw + n*hw + j*nhw + p, affine index k*kch + j*ajs + p*aps;
 *   element -> set: CNHW index i = (c*N + n)*hw + p lies in set n*snst + c/cps and
 *     uses affine index c*acst + p*ahst.
 * Per-set kernels run one work-group per set; element-wise kernels one item per element.
 * Per-set sums (scratch `sums`, 6 rows of nsets floats):
 *   row 0 mean(in_t)            row 1 mean(zhat * in_t)          (forward tangent)
 *   row 2 mean(dzhat)           row 3 mean(dzhat * zhat)         (backward, dzhat = gamma*dout)
 *   row 4 mean(R dzhat)         row 5 mean(R dzhat * zhat + dzhat * zhat_t)   (R-backward) */

#define NORM_EPS 1e-5f

#define NORM_MAP_ARGS int nhw, int hw, int setsize, int run, int spn, int kch, int ajs, int aps, \
                      int snst, int cps, int acst, int ahst
typedef struct { int nhw, hw, setsize, run, spn, kch, ajs, aps, snst, cps, acst, ahst; } norm_map_t;
#define NORM_MAP_MAKE ((norm_map_t){nhw, hw, setsize, run, spn, kch, ajs, aps, snst, cps, acst, ahst})

/* Element e of set s: returns its CNHW address, writes its affine index. */
inline int norm_set_elem(norm_map_t m, int s, int e, int *aidx) {
    const int k = s % m.spn, n = s / m.spn;
    const int j = e / m.run, p = e - j * m.run;
    *aidx = k * m.kch + j * m.ajs + p * m.aps;
    return k * m.kch * m.nhw + n * m.hw + j * m.nhw + p;
}

/* CNHW element i: returns its set, writes its affine index. */
inline int norm_elem_set(norm_map_t m, int i, int *aidx) {
    const int c = i / m.nhw, r = i - c * m.nhw;
    const int n = r / m.hw, p = r - n * m.hw;
    *aidx = c * m.acst + p * m.ahst;
    return n * m.snst + c / m.cps;
}

/* Per-set constants of the passes after the forward: the statistics (mean, r = 1/std), the
 * tangent means mt1 = mean(in_t), mt2 = mean(zhat in_t) (0 without an input tangent) and the
 * gradient means d1 = mean(dzhat), d2 = mean(dzhat zhat), r1 = mean(R dzhat),
 * r2 = mean(R dzhat zhat + dzhat zhat_t) (the sums rows 0-5 above). Both kernel families
 * compute every element's value from these through the norm_*_at helpers below. */
typedef struct { float mean, r, mt1, mt2, d1, d2, r1, r2; } norm_set_t;

/* Set s from stats and the sums rows: rows 0-1 when has_t, rows 2-3 when nd >= 2, rows 4-5
 * when nd >= 4 (rows not read stay 0). */
inline norm_set_t norm_set_at(__global const float *stats, __global const float *sums, int nsets, int s, int has_t,
                              int nd) {
    norm_set_t k = {.mean = stats[s], .r = stats[nsets + s]};
    if (has_t) { k.mt1 = sums[s]; k.mt2 = sums[nsets + s]; }
    if (nd >= 2) { k.d1 = sums[2 * nsets + s]; k.d2 = sums[3 * nsets + s]; }
    if (nd >= 4) { k.r1 = sums[4 * nsets + s]; k.r2 = sums[5 * nsets + s]; }
    return k;
}

/* r = 1 / sqrt(var + eps) from the sum of squared deviations over n elements (biased variance). */
inline float norm_rstd(float sqdev, int n) { return 1.0f / sqrt(sqdev / (float)n + NORM_EPS); }

/* zhat = (x - mean) r. */
inline float norm_zh(norm_set_t k, float x) { return (x - k.mean) * k.r; }

/* zhat_t = r ((x_t - mt1) - zhat mt2), the tangent of zhat. */
inline float norm_zht(norm_set_t k, float t, float zh) { return k.r * ((t - k.mt1) - zh * k.mt2); }

/* out = gamma zhat + beta. */
inline float norm_fwd_at(norm_set_t k, float x, float g, float b) { return mad(g, norm_zh(k, x), b); }

/* out_t = gamma zhat_t + gamma_t zhat + beta_t at element i (g, gt, bt: gamma, gamma_t, beta_t
 * there; has_t = 0: zero input tangent, in_t not read). */
inline float norm_tan_at(norm_set_t k, float x, __global const float *in_t, int i, int has_t, float g, float gt,
                         float bt) {
    const float zh = norm_zh(k, x), v = mad(gt, zh, bt);
    return has_t ? mad(g, norm_zht(k, in_t[i], zh), v) : v;
}

/* din = r (gamma dout - d1 - zhat d2). */
inline float norm_bwd_at(norm_set_t k, float x, float d, float g) {
    return k.r * (g * d - k.d1 - norm_zh(k, x) * k.d2);
}

/* rdin = r_t Q + r R{Q} with r_t = -r^2 mt2, Q = dzhat - d1 - zhat d2,
 * R{Q} = R{dzhat} - r1 - zhat_t d2 - zhat r2, dzhat = gamma dout, R{dzhat} = gamma rdout + gamma_t dout
 * (d, rd: dout, rdout at element i; has_t = 0: zero input tangent, in_t not read). */
inline float norm_rbwd_at(norm_set_t k, float x, float d, float rd, __global const float *in_t, int i, int has_t,
                          float g, float gt) {
    const float zh = norm_zh(k, x), rdz = mad(gt, d, g * rd);
    float v = k.r * (rdz - k.r1 - zh * k.r2);
    if (has_t) {
        const float q = g * d - k.d1 - zh * k.d2;
        v += k.r * (-norm_zht(k, in_t[i], zh) * k.d2) - k.r * k.r * k.mt2 * q;
    }
    return v;
}

/* Forward statistics, one work-group per set: mean, then the biased variance as the
 * mean of squared deviations (two passes: no cancellation for large means).
 * stats[nsets*2] = mean[nsets], rstd[nsets]. */
__kernel void norm_set_stats(__global const float *in, __global float *stats, int nsets, NORM_MAP_ARGS,
                             __local float *tmp) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    int a;
    float acc = 0.0f;
    for (int e = lid; e < m.setsize; e += ls) acc += in[norm_set_elem(m, s, e, &a)];
    const float mean = group_sum(acc, tmp) / (float)m.setsize;
    acc = 0.0f;
    for (int e = lid; e < m.setsize; e += ls) {
        const float d = in[norm_set_elem(m, s, e, &a)] - mean;
        acc += d * d;
    }
    const float r = norm_rstd(group_sum(acc, tmp), m.setsize);
    if (lid == 0) {
        stats[s] = mean;
        stats[nsets + s] = r;
    }
}

/* out = gamma * zhat + beta, one item per element (out, in: [C][N][HW]). */
__kernel void norm_fwd_apply(__global float *out, __global const float *in, __global const float *stats,
                             int nsets, __global const float *gamma, long goff, __global const float *beta,
                             long boff, int total, NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int i = get_global_id(0);
    if (i >= total) return;
    int a;
    const norm_set_t k = norm_set_at(stats, 0, nsets, norm_elem_set(m, i, &a), 0, 0);
    out[i] = norm_fwd_at(k, in[i], gamma[goff + a], beta[boff + a]);
}

/* Per-set sums for the tangent, backward and R-backward passes, one work-group per set.
 * has_t: rows 0-1 (needs in_t); has_d: rows 2-3 (needs dout); has_r: rows 4-5 (needs
 * rdout; in_t and gamma_t enter when has_t / has_gt). */
__kernel void norm_set_sums(__global const float *in, __global const float *stats, int nsets,
                            __global const float *gamma, long goff, __global const float *dout,
                            __global const float *rdout, __global const float *in_t,
                            __global const float *gamma_t, long gtoff, int has_t, int has_d, int has_r,
                            int has_gt, __global float *sums, NORM_MAP_ARGS, __local float *tmp) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    const float inv_n = 1.0f / (float)m.setsize;
    norm_set_t k = norm_set_at(stats, 0, nsets, s, 0, 0);
    int a;
    if (has_t) {
        float a1 = 0.0f, a2 = 0.0f;
        for (int e = lid; e < m.setsize; e += ls) {
            const int i = norm_set_elem(m, s, e, &a);
            const float zt = in_t[i];
            a1 += zt;
            a2 += norm_zh(k, in[i]) * zt;
        }
        k.mt1 = group_sum(a1, tmp) * inv_n;
        k.mt2 = group_sum(a2, tmp) * inv_n;
        if (lid == 0) { sums[s] = k.mt1; sums[nsets + s] = k.mt2; }
    }
    if (!has_d) return;
    float d1 = 0.0f, d2 = 0.0f, r1 = 0.0f, r2 = 0.0f;
    for (int e = lid; e < m.setsize; e += ls) {
        const int i = norm_set_elem(m, s, e, &a);
        const float zh = norm_zh(k, in[i]), g = gamma[goff + a];
        const float dz = g * dout[i];
        d1 += dz;
        d2 += dz * zh;
        if (has_r) {
            float rdz = g * rdout[i];
            if (has_gt) rdz += gamma_t[gtoff + a] * dout[i];
            const float zht = has_t ? norm_zht(k, in_t[i], zh) : 0.0f;
            r1 += rdz;
            r2 += rdz * zh + dz * zht;
        }
    }
    d1 = group_sum(d1, tmp) * inv_n;
    d2 = group_sum(d2, tmp) * inv_n;
    if (has_r) {
        r1 = group_sum(r1, tmp) * inv_n;
        r2 = group_sum(r2, tmp) * inv_n;
    }
    if (lid == 0) {
        sums[2 * nsets + s] = d1;
        sums[3 * nsets + s] = d2;
        if (has_r) { sums[4 * nsets + s] = r1; sums[5 * nsets + s] = r2; }
    }
}

/* out_t = gamma * zhat_t + gamma_t * zhat + beta_t, zhat_t = r[(in_t - mean in_t) - zhat mean(zhat in_t)];
 * has_t = 0: zero input tangent; has_gt / has_bt = 0: zero gamma_t / beta_t. */
__kernel void norm_tan_apply(__global float *out_t, __global const float *in, __global const float *in_t,
                             __global const float *stats, __global const float *sums, int nsets,
                             __global const float *gamma, long goff, __global const float *gamma_t, long gtoff,
                             __global const float *beta_t, long btoff, int has_t, int has_gt, int has_bt,
                             int total, NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int i = get_global_id(0);
    if (i >= total) return;
    int a;
    const norm_set_t k = norm_set_at(stats, sums, nsets, norm_elem_set(m, i, &a), has_t, 0);
    const float gt = has_gt ? gamma_t[gtoff + a] : 0.0f, bt = has_bt ? beta_t[btoff + a] : 0.0f;
    out_t[i] = norm_tan_at(k, in[i], in_t, i, has_t, gamma[goff + a], gt, bt);
}

/* din = r (gamma dout - mean(dzhat) - zhat mean(dzhat zhat)). */
__kernel void norm_bwd_apply(__global float *din, __global const float *dout, __global const float *in,
                             __global const float *stats, __global const float *sums, int nsets,
                             __global const float *gamma, long goff, int total, NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int i = get_global_id(0);
    if (i >= total) return;
    int a;
    const norm_set_t k = norm_set_at(stats, sums, nsets, norm_elem_set(m, i, &a), 0, 2);
    din[i] = norm_bwd_at(k, in[i], dout[i], gamma[goff + a]);
}

/* rdin as norm_rbwd_at, from the sums rows 0-5 (rows 0-1 only when has_t). */
__kernel void norm_rbwd_apply(__global float *rdin, __global const float *dout, __global const float *rdout,
                              __global const float *in, __global const float *in_t, __global const float *stats,
                              __global const float *sums, int nsets, __global const float *gamma, long goff,
                              __global const float *gamma_t, long gtoff, int has_t, int has_gt, int total,
                              NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int i = get_global_id(0);
    if (i >= total) return;
    int a;
    const norm_set_t k = norm_set_at(stats, sums, nsets, norm_elem_set(m, i, &a), has_t, 4);
    const float gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
    rdin[i] = norm_rbwd_at(k, in[i], dout[i], rdout[i], in_t, i, has_t, gamma[goff + a], gt);
}

/* The terms of CNHW element i in the parameter gradients below: (g1 zhat + g2 zhat_t, g1),
 * the g2 term only when has_t (sums rows 0-1 then hold the tangent means). */
inline float2 norm_pgrad_at(norm_map_t m, int i, __global const float *g1, __global const float *g2,
                            __global const float *in, __global const float *in_t, __global const float *stats,
                            __global const float *sums, int nsets, int has_t) {
    int a;
    const norm_set_t k = norm_set_at(stats, sums, nsets, norm_elem_set(m, i, &a), has_t, 0);
    const float zh = norm_zh(k, in[i]);
    float ag = g1[i] * zh;
    if (has_t) ag = mad(g2[i], norm_zht(k, in_t[i], zh), ag);
    return (float2)(ag, g1[i]);
}

/* Parameter gradients for per-channel affine (instance, group, batch), one work-group per
 * channel c, summing over its N*HW elements (contiguous in CNHW):
 *   dgamma[c] = sum g1 zhat (+ g2 zhat_t when has_t),  dbeta[c] = sum g1.
 * backward: g1 = dout; R-backward: g1 = rdout, g2 = dout. */
__kernel void norm_pgrad_chan(__global const float *g1, __global const float *g2, __global const float *in,
                              __global const float *in_t, __global const float *stats,
                              __global const float *sums, int nsets, int has_t, __global float *dgamma,
                              long dgoff, __global float *dbeta, long dboff, NORM_MAP_ARGS,
                              __local float *tmp) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int c = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    float2 acc = (float2)(0.0f);
    for (int e = lid; e < m.nhw; e += ls)
        acc += norm_pgrad_at(m, c * m.nhw + e, g1, g2, in, in_t, stats, sums, nsets, has_t);
    const float ag = group_sum(acc.x, tmp), ab = group_sum(acc.y, tmp);
    if (lid == 0) {
        dgamma[dgoff + c] = ag;
        dbeta[dboff + c] = ab;
    }
}

/* The same sums for per-element affine (layer norm): one item per affine index
 * a = c*HW + p, looping over the N samples (consecutive items read consecutive floats). */
__kernel void norm_pgrad_elem(__global const float *g1, __global const float *g2, __global const float *in,
                              __global const float *in_t, __global const float *stats,
                              __global const float *sums, int nsets, int has_t, __global float *dgamma,
                              long dgoff, __global float *dbeta, long dboff, int asize, NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int ai = get_global_id(0);
    if (ai >= asize) return;
    const int c = ai / m.hw, p = ai - c * m.hw, nn = m.nhw / m.hw;
    float2 acc = (float2)(0.0f);
    for (int n = 0; n < nn; n++)
        acc += norm_pgrad_at(m, c * m.nhw + n * m.hw + p, g1, g2, in, in_t, stats, sums, nsets, has_t);
    dgamma[dgoff + ai] = acc.x;
    dbeta[dboff + ai] = acc.y;
}

/* BatchNorm eval: out = gamma (in - run_mean) / sqrt(run_var + eps) + beta, per channel c. */
__kernel void norm_bn_eval(__global float *out, __global const float *in, __global const float *run_mean,
                           __global const float *run_var, __global const float *gamma, long goff,
                           __global const float *beta, long boff, int nhw, int total) {
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = i / nhw;
    out[i] = gamma[goff + c] * (in[i] - run_mean[c]) / sqrt(run_var[c] + NORM_EPS) + beta[boff + c];
}

/* Running statistics after a training forward (momentum 0.1); the biased batch variance
 * comes back from rstd as 1/rstd^2 - eps and is made unbiased with n/(n-1), n = N*HW. */
__kernel void norm_bn_running(__global float *run_mean, __global float *run_var, __global const float *stats,
                              int C, int nhw) {
    const int c = get_global_id(0);
    if (c >= C) return;
    const float r = stats[C + c];
    const float var = 1.0f / (r * r) - NORM_EPS;
    const float unbiased = var * (float)nhw / (float)(nhw - 1);
    run_mean[c] = 0.9f * run_mean[c] + 0.1f * stats[c];
    run_var[c] = 0.9f * run_var[c] + 0.1f * unbiased;
}

/* ---- Fused per-set passes ----
 * The generic kernels above read a set once for its sums and again in a separate
 * element-wise kernel, plus once more per channel for the parameter gradients. The
 * kernels below do each pass in one kernel per set and leave per-(set, run) sums from
 * which the per-channel parameter gradients follow by a short sum over samples
 * (norm_collect_chan). They serve the kinds with one affine value per channel (every
 * run of a set lies in one channel, so gamma is constant along a run): instance, group
 * and batch norm. Partial sums for the run j of set s sit at index s*kch + j = n*C + c,
 * gradient-of-gamma part in part[0 .. P), gradient-of-beta part in part[P .. 2P).
 *
 * Two families, picked by the host from the device type:
 *   norm_grp_*  GPU: one work-group per set with tree reductions, for sets that are one
 *               contiguous run (instance norm; small batch norm);
 *   norm_cpu_*  CPU: one work-item per set, plain loops over its runs with 16-lane
 *               vector sums in blocks (no barriers; bounded rounding growth).
 * Both differ only in how a set's work is split: the per-element values come from the
 * norm_*_at helpers above and the per-element sum terms from norm_dot_add / norm_rsum_add. */

#define NORM_BLOCK 1024

inline float norm_hsum16(float16 v) {
    const float8 h8 = v.lo + v.hi;
    const float4 h4 = h8.lo + h8.hi;
    const float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}

/* First element of set s and its first affine (channel) index. */
inline int norm_set_base(norm_map_t m, int s, int *chan) {
    const int k = s % m.spn, n = s / m.spn;
    *chan = k * m.kch;
    return k * m.kch * m.nhw + n * m.hw;
}

/* Tangent means of k from (sum in_t, sum zhat in_t) over its n elements. */
inline void norm_set_tmeans(norm_set_t *k, float2 sums, int n) {
    k->mt1 = sums.x / (float)n;
    k->mt2 = sums.y / (float)n;
}

/* Adds a run's backward sums (sum dout, sum dout zhat) with gamma g to d1, d2. */
inline void norm_add_dsums(norm_set_t *k, float g, float sd, float sdz) {
    k->d1 = mad(g, sd, k->d1);
    k->d2 = mad(g, sdz, k->d2);
}

/* Adds a run's R-backward sums q (as norm_rsum_add leaves them) with gamma g and gamma_t gt
 * to d1, d2, r1, r2. */
inline void norm_add_rsums(norm_set_t *k, float g, float gt, const float *q) {
    norm_add_dsums(k, g, q[0], q[1]);
    k->r1 += g * q[2] + gt * q[0];
    k->r2 += g * (q[3] + q[4]) + gt * q[1];
}

/* d1, d2, r1, r2 from sums over the set's n elements to means. */
inline void norm_mean_dsums(norm_set_t *k, int n) {
    const float inv_n = 1.0f / (float)n;
    k->d1 *= inv_n; k->d2 *= inv_n; k->r1 *= inv_n; k->r2 *= inv_n;
}

/* acc + (v, v zhat): one element of the sums (sum v, sum v zhat). */
inline float2 norm_dot_add(float2 acc, norm_set_t k, float x, float v) {
    return (float2)(acc.x + v, mad(v, norm_zh(k, x), acc.y));
}

/* Adds one element's terms to the five R-backward sums q: sum d, sum d zhat, sum rd,
 * sum rd zhat, sum d zhat_t (d, rd: dout, rdout; t == 0: no input tangent, the last stays). */
inline void norm_rsum_add(float *q, norm_set_t k, float x, float d, float rd, __global const float *t, int i) {
    const float zh = norm_zh(k, x);
    q[0] += d;
    q[1] = mad(d, zh, q[1]);
    q[2] += rd;
    q[3] = mad(rd, zh, q[3]);
    if (t) q[4] = mad(d, norm_zht(k, t[i], zh), q[4]);
}

/* sum x[0..len) in 16 lanes, block by block. */
inline float norm_run_sum(__global const float *x, int len) {
    float tot = 0.0f;
    for (int b = 0; b < len; b += NORM_BLOCK) {
        const int e = min(len, b + NORM_BLOCK), e16 = b + ((e - b) & ~15);
        float16 acc = (float16)(0.0f);
        for (int p = b; p < e16; p += 16) acc += vload16(0, x + p);
        float s = norm_hsum16(acc);
        for (int p = e16; p < e; p++) s += x[p];
        tot += s;
    }
    return tot;
}

/* sum (x - mean)^2 over x[0..len). */
inline float norm_run_sqdev(__global const float *x, int len, float mean) {
    float tot = 0.0f;
    for (int b = 0; b < len; b += NORM_BLOCK) {
        const int e = min(len, b + NORM_BLOCK), e16 = b + ((e - b) & ~15);
        float16 acc = (float16)(0.0f);
        for (int p = b; p < e16; p += 16) {
            const float16 d = vload16(0, x + p) - mean;
            acc = mad(d, d, acc);
        }
        float s = norm_hsum16(acc);
        for (int p = e16; p < e; p++) { const float d = x[p] - mean; s = mad(d, d, s); }
        tot += s;
    }
    return tot;
}

/* (sum v, sum v * zhat) over a run x[0..len), v[0..len). */
inline float2 norm_run_dots(norm_set_t k, __global const float *x, __global const float *v, int len) {
    float2 tot = (float2)(0.0f);
    for (int b = 0; b < len; b += NORM_BLOCK) {
        const int e = min(len, b + NORM_BLOCK), e16 = b + ((e - b) & ~15);
        float16 a1 = (float16)(0.0f), a2 = (float16)(0.0f);
        for (int p = b; p < e16; p += 16) {
            const float16 vv = vload16(0, v + p);
            a1 += vv;
            a2 = mad(vv, (vload16(0, x + p) - k.mean) * k.r, a2);
        }
        float2 s = (float2)(norm_hsum16(a1), norm_hsum16(a2));
        for (int p = e16; p < e; p++) s = norm_dot_add(s, k, x[p], v[p]);
        tot += s;
    }
    return tot;
}

/* Statistics of set s (first element base) for the one-item-per-set kernels and, when
 * has_t, its tangent means from norm_run_dots over every run. */
inline norm_set_t norm_cpu_set(norm_map_t m, int s, int base, __global const float *stats, int nsets,
                               __global const float *in, __global const float *in_t, int has_t) {
    norm_set_t k = norm_set_at(stats, 0, nsets, s, 0, 0);
    if (!has_t) return k;
    float2 acc = (float2)(0.0f);
    for (int j = 0; j < m.setsize / m.run; j++)
        acc += norm_run_dots(k, in + base + j * m.nhw, in_t + base + j * m.nhw, m.run);
    norm_set_tmeans(&k, acc, m.setsize);
    return k;
}

/* The five R-backward sums of norm_rsum_add over one run, into q[5]; t == 0: no input tangent. */
inline void norm_run_rsums(norm_set_t k, __global const float *x, __global const float *d, __global const float *rd,
                           __global const float *t, int len, float *q) {
    for (int u = 0; u < 5; u++) q[u] = 0.0f;
    for (int b = 0; b < len; b += NORM_BLOCK) {
        const int e = min(len, b + NORM_BLOCK), e16 = b + ((e - b) & ~15);
        float16 a0 = (float16)(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0;
        for (int p = b; p < e16; p += 16) {
            const float16 zh = (vload16(0, x + p) - k.mean) * k.r, dv = vload16(0, d + p), rv = vload16(0, rd + p);
            a0 += dv;
            a1 = mad(dv, zh, a1);
            a2 += rv;
            a3 = mad(rv, zh, a3);
            if (t) a4 = mad(dv, k.r * ((vload16(0, t + p) - k.mt1) - zh * k.mt2), a4);
        }
        float s[5] = {norm_hsum16(a0), norm_hsum16(a1), norm_hsum16(a2), norm_hsum16(a3), norm_hsum16(a4)};
        for (int p = e16; p < e; p++) norm_rsum_add(s, k, x[p], d[p], rd[p], t, p);
        for (int u = 0; u < 5; u++) q[u] += s[u];
    }
}

/* The work-group's (sum v, sum v zhat) over x[0..len), v[0..len), returned to every item. */
inline float2 norm_grp_dots(norm_set_t k, __global const float *x, __global const float *v, int len,
                            __local float *tmp) {
    float2 acc = (float2)(0.0f);
    for (int e = get_local_id(0); e < len; e += get_local_size(0)) acc = norm_dot_add(acc, k, x[e], v[e]);
    const float s1 = group_sum(acc.x, tmp);
    return (float2)(s1, group_sum(acc.y, tmp));
}

/* Statistics of the one-run set s (elements base .. base+setsize) for the one-group-per-set
 * kernels and, when has_t, its tangent means (every item gets them). */
inline norm_set_t norm_grp_set(norm_map_t m, int s, int base, __global const float *stats, int nsets,
                               __global const float *in, __global const float *in_t, int has_t, __local float *tmp) {
    norm_set_t k = norm_set_at(stats, 0, nsets, s, 0, 0);
    if (has_t) norm_set_tmeans(&k, norm_grp_dots(k, in + base, in_t + base, m.setsize, tmp), m.setsize);
    return k;
}

/* Forward, one item per set: statistics (two passes, as norm_set_stats) and the output. */
__kernel void norm_cpu_fwd(__global float *out, __global const float *in, __global float *stats, int nsets,
                           __global const float *gamma, long goff, __global const float *beta, long boff,
                           NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_global_id(0);
    if (s >= nsets) return;
    int a0;
    const int base = norm_set_base(m, s, &a0), runs = m.setsize / m.run;
    float acc = 0.0f;
    for (int j = 0; j < runs; j++) acc += norm_run_sum(in + base + j * m.nhw, m.run);
    const float mean = acc / (float)m.setsize;
    acc = 0.0f;
    for (int j = 0; j < runs; j++) acc += norm_run_sqdev(in + base + j * m.nhw, m.run, mean);
    const norm_set_t k = {.mean = mean, .r = norm_rstd(acc, m.setsize)};
    stats[s] = k.mean;
    stats[nsets + s] = k.r;
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw, a = a0 + j * m.ajs;
        const float g = gamma[goff + a], b = beta[boff + a];
        for (int p = 0; p < m.run; p++) out[o + p] = norm_fwd_at(k, in[o + p], g, b);
    }
}

/* Tangent, one item per set: mean(in_t), mean(zhat in_t) when has_t, then out_t. */
__kernel void norm_cpu_tan(__global float *out_t, __global const float *in, __global const float *in_t,
                           __global const float *stats, int nsets, __global const float *gamma, long goff,
                           __global const float *gamma_t, long gtoff, __global const float *beta_t, long btoff,
                           int has_t, int has_gt, int has_bt, NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_global_id(0);
    if (s >= nsets) return;
    int a0;
    const int base = norm_set_base(m, s, &a0), runs = m.setsize / m.run;
    norm_set_t k = norm_cpu_set(m, s, base, stats, nsets, in, in_t, has_t);
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw, a = a0 + j * m.ajs;
        const float g = gamma[goff + a], gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
        const float bt = has_bt ? beta_t[btoff + a] : 0.0f;
        for (int p = 0; p < m.run; p++) out_t[o + p] = norm_tan_at(k, in[o + p], in_t, o + p, has_t, g, gt, bt);
    }
}

/* Backward, one item per set: per-run sums of dout and dout zhat give mean(dzhat) and
 * mean(dzhat zhat) (dzhat = gamma dout) and the parameter-gradient partials (when
 * want_part); then din (when has_din). */
__kernel void norm_cpu_bwd(__global float *din, __global const float *dout, __global const float *in,
                           __global const float *stats, int nsets, __global const float *gamma, long goff,
                           __global float *part, int npart, int want_part, int has_din, NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_global_id(0);
    if (s >= nsets) return;
    int a0;
    const int base = norm_set_base(m, s, &a0), runs = m.setsize / m.run;
    norm_set_t k = norm_set_at(stats, 0, nsets, s, 0, 0);
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw;
        const float2 sd = norm_run_dots(k, in + o, dout + o, m.run);
        norm_add_dsums(&k, gamma[goff + a0 + j * m.ajs], sd.x, sd.y);
        if (want_part) { part[s * m.kch + j] = sd.y; part[npart + s * m.kch + j] = sd.x; }
    }
    if (!has_din) return;
    norm_mean_dsums(&k, m.setsize);
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw;
        const float g = gamma[goff + a0 + j * m.ajs];
        for (int p = 0; p < m.run; p++) din[o + p] = norm_bwd_at(k, in[o + p], dout[o + p], g);
    }
}

/* R-backward, one item per set: mean(in_t), mean(zhat in_t) (has_t), then the sums of
 * norm_set_sums rows 2-5 and the parameter-gradient partials (sum rdout zhat + dout zhat_t,
 * sum rdout), then rdin as norm_rbwd_apply (has_rdin). */
__kernel void norm_cpu_rbwd(__global float *rdin, __global const float *dout, __global const float *rdout,
                            __global const float *in, __global const float *in_t, __global const float *stats,
                            int nsets, __global const float *gamma, long goff, __global const float *gamma_t,
                            long gtoff, int has_t, int has_gt, __global float *part, int npart, int want_part,
                            int has_rdin, NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_global_id(0);
    if (s >= nsets) return;
    int a0;
    const int base = norm_set_base(m, s, &a0), runs = m.setsize / m.run;
    norm_set_t k = norm_cpu_set(m, s, base, stats, nsets, in, in_t, has_t);
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw, a = a0 + j * m.ajs;
        float q[5];
        norm_run_rsums(k, in + o, dout + o, rdout + o, has_t ? in_t + o : 0, m.run, q);
        norm_add_rsums(&k, gamma[goff + a], has_gt ? gamma_t[gtoff + a] : 0.0f, q);
        if (want_part) { part[s * m.kch + j] = q[3] + q[4]; part[npart + s * m.kch + j] = q[2]; }
    }
    if (!has_rdin) return;
    norm_mean_dsums(&k, m.setsize);
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw, a = a0 + j * m.ajs;
        const float g = gamma[goff + a], gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
        for (int p = 0; p < m.run; p++)
            rdin[o + p] = norm_rbwd_at(k, in[o + p], dout[o + p], rdout[o + p], in_t, o + p, has_t, g, gt);
    }
}

/* GPU forward for one-run sets (elements base .. base+setsize), one work-group per set. */
__kernel void norm_grp_fwd(__global float *out, __global const float *in, __global float *stats, int nsets,
                           __global const float *gamma, long goff, __global const float *beta, long boff,
                           NORM_MAP_ARGS, __local float *tmp) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    int a;
    const int base = norm_set_base(m, s, &a);
    __global const float *x = in + base;
    float acc = 0.0f;
    for (int e = lid; e < m.setsize; e += ls) acc += x[e];
    const float mean = group_sum(acc, tmp) / (float)m.setsize;
    acc = 0.0f;
    for (int e = lid; e < m.setsize; e += ls) { const float d = x[e] - mean; acc = mad(d, d, acc); }
    const norm_set_t k = {.mean = mean, .r = norm_rstd(group_sum(acc, tmp), m.setsize)};
    if (lid == 0) { stats[s] = k.mean; stats[nsets + s] = k.r; }
    const float g = gamma[goff + a], b = beta[boff + a];
    for (int e = lid; e < m.setsize; e += ls) out[base + e] = norm_fwd_at(k, x[e], g, b);
}

/* GPU tangent for one-run sets, one work-group per set. */
__kernel void norm_grp_tan(__global float *out_t, __global const float *in, __global const float *in_t,
                           __global const float *stats, int nsets, __global const float *gamma, long goff,
                           __global const float *gamma_t, long gtoff, __global const float *beta_t, long btoff,
                           int has_t, int has_gt, int has_bt, NORM_MAP_ARGS, __local float *tmp) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    int a;
    const int base = norm_set_base(m, s, &a);
    norm_set_t k = norm_grp_set(m, s, base, stats, nsets, in, in_t, has_t, tmp);
    const float g = gamma[goff + a], gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
    const float bt = has_bt ? beta_t[btoff + a] : 0.0f;
    for (int e = base + lid; e < base + m.setsize; e += ls)
        out_t[e] = norm_tan_at(k, in[e], in_t, e, has_t, g, gt, bt);
}

/* GPU backward for one-run sets, one work-group per set (see norm_cpu_bwd). */
__kernel void norm_grp_bwd(__global float *din, __global const float *dout, __global const float *in,
                           __global const float *stats, int nsets, __global const float *gamma, long goff,
                           __global float *part, int npart, int want_part, int has_din, NORM_MAP_ARGS,
                           __local float *tmp) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    int a;
    const int base = norm_set_base(m, s, &a);
    norm_set_t k = norm_set_at(stats, 0, nsets, s, 0, 0);
    const float2 sd = norm_grp_dots(k, in + base, dout + base, m.setsize, tmp);
    if (want_part && lid == 0) { part[s] = sd.y; part[npart + s] = sd.x; }
    if (!has_din) return;
    const float g = gamma[goff + a];
    norm_add_dsums(&k, g, sd.x, sd.y);
    norm_mean_dsums(&k, m.setsize);
    for (int e = base + lid; e < base + m.setsize; e += ls) din[e] = norm_bwd_at(k, in[e], dout[e], g);
}

/* GPU R-backward for one-run sets, one work-group per set (see norm_cpu_rbwd). */
__kernel void norm_grp_rbwd(__global float *rdin, __global const float *dout, __global const float *rdout,
                            __global const float *in, __global const float *in_t, __global const float *stats,
                            int nsets, __global const float *gamma, long goff, __global const float *gamma_t,
                            long gtoff, int has_t, int has_gt, __global float *part, int npart, int want_part,
                            int has_rdin, NORM_MAP_ARGS, __local float *tmp) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int s = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    int a;
    const int base = norm_set_base(m, s, &a);
    norm_set_t k = norm_grp_set(m, s, base, stats, nsets, in, in_t, has_t, tmp);
    float q[5] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int e = base + lid; e < base + m.setsize; e += ls)
        norm_rsum_add(q, k, in[e], dout[e], rdout[e], has_t ? in_t : 0, e);
    q[0] = group_sum(q[0], tmp);
    q[1] = group_sum(q[1], tmp);
    q[2] = group_sum(q[2], tmp);
    q[3] = group_sum(q[3], tmp);
    if (has_t) q[4] = group_sum(q[4], tmp);
    if (want_part && lid == 0) { part[s] = q[3] + q[4]; part[npart + s] = q[2]; }
    if (!has_rdin) return;
    const float g = gamma[goff + a], gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
    norm_add_rsums(&k, g, gt, q);
    norm_mean_dsums(&k, m.setsize);
    for (int e = base + lid; e < base + m.setsize; e += ls)
        rdin[e] = norm_rbwd_at(k, in[e], dout[e], rdout[e], in_t, e, has_t, g, gt);
}

/* dgamma[c] = sum_n part[n*C + c], dbeta[c] = sum_n part[npart + n*C + c], one item per
 * channel (nn = samples that hold partials: N, or 1 for batch norm). */
__kernel void norm_collect_chan(__global const float *part, int npart, int C, int nn, __global float *dgamma,
                                long dgoff, __global float *dbeta, long dboff) {
    const int c = get_global_id(0);
    if (c >= C) return;
    float g = 0.0f, b = 0.0f;
    for (int n = 0; n < nn; n++) {
        g += part[n * C + c];
        b += part[npart + n * C + c];
    }
    dgamma[dgoff + c] = g;
    dbeta[dboff + c] = b;
}
