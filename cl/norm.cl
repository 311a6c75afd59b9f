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
    const float var = group_sum(acc, tmp) / (float)m.setsize;
    if (lid == 0) {
        stats[s] = mean;
        stats[nsets + s] = 1.0f / sqrt(var + NORM_EPS);
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
    const int s = norm_elem_set(m, i, &a);
    const float zh = (in[i] - stats[s]) * stats[nsets + s];
    out[i] = gamma[goff + a] * zh + beta[boff + a];
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
    const float mean = stats[s], r = stats[nsets + s], inv_n = 1.0f / (float)m.setsize;
    int a;
    float mt1 = 0.0f, mt2 = 0.0f;
    if (has_t) {
        float a1 = 0.0f, a2 = 0.0f;
        for (int e = lid; e < m.setsize; e += ls) {
            const int i = norm_set_elem(m, s, e, &a);
            const float zt = in_t[i];
            a1 += zt;
            a2 += (in[i] - mean) * r * zt;
        }
        mt1 = group_sum(a1, tmp) * inv_n;
        mt2 = group_sum(a2, tmp) * inv_n;
        if (lid == 0) { sums[s] = mt1; sums[nsets + s] = mt2; }
    }
    if (!has_d) return;
    float d1 = 0.0f, d2 = 0.0f, r1 = 0.0f, r2 = 0.0f;
    for (int e = lid; e < m.setsize; e += ls) {
        const int i = norm_set_elem(m, s, e, &a);
        const float zh = (in[i] - mean) * r, g = gamma[goff + a];
        const float dz = g * dout[i];
        d1 += dz;
        d2 += dz * zh;
        if (has_r) {
            float rdz = g * rdout[i];
            if (has_gt) rdz += gamma_t[gtoff + a] * dout[i];
            const float zht = has_t ? r * ((in_t[i] - mt1) - zh * mt2) : 0.0f;
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
    const int s = norm_elem_set(m, i, &a);
    const float r = stats[nsets + s], zh = (in[i] - stats[s]) * r;
    float v = 0.0f;
    if (has_t) v = gamma[goff + a] * r * ((in_t[i] - sums[s]) - zh * sums[nsets + s]);
    if (has_gt) v += gamma_t[gtoff + a] * zh;
    if (has_bt) v += beta_t[btoff + a];
    out_t[i] = v;
}

/* din = r (gamma dout - mean(dzhat) - zhat mean(dzhat zhat)). */
__kernel void norm_bwd_apply(__global float *din, __global const float *dout, __global const float *in,
                             __global const float *stats, __global const float *sums, int nsets,
                             __global const float *gamma, long goff, int total, NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int i = get_global_id(0);
    if (i >= total) return;
    int a;
    const int s = norm_elem_set(m, i, &a);
    const float r = stats[nsets + s], zh = (in[i] - stats[s]) * r;
    din[i] = r * (gamma[goff + a] * dout[i] - sums[2 * nsets + s] - zh * sums[3 * nsets + s]);
}

/* rdin = r_t Q + r R{Q} with r_t = -r^2 mean(zhat in_t), Q = dzhat - mean dzhat - zhat mean(dzhat zhat),
 * R{Q} = R{dzhat} - mean R{dzhat} - zhat_t mean(dzhat zhat) - zhat mean(R{dzhat} zhat + dzhat zhat_t). */
__kernel void norm_rbwd_apply(__global float *rdin, __global const float *dout, __global const float *rdout,
                              __global const float *in, __global const float *in_t, __global const float *stats,
                              __global const float *sums, int nsets, __global const float *gamma, long goff,
                              __global const float *gamma_t, long gtoff, int has_t, int has_gt, int total,
                              NORM_MAP_ARGS) {
    const norm_map_t m = NORM_MAP_MAKE;
    const int i = get_global_id(0);
    if (i >= total) return;
    int a;
    const int s = norm_elem_set(m, i, &a);
    const float r = stats[nsets + s], zh = (in[i] - stats[s]) * r;
    const float d1 = sums[2 * nsets + s], d2 = sums[3 * nsets + s];
    const float dz = gamma[goff + a] * dout[i];
    float rdz = gamma[goff + a] * rdout[i];
    if (has_gt) rdz += gamma_t[gtoff + a] * dout[i];
    const float q = dz - d1 - zh * d2;
    float rq = rdz - sums[4 * nsets + s] - zh * sums[5 * nsets + s];
    float v = r * rq;
    if (has_t) {
        const float mt2 = sums[nsets + s];
        const float zht = r * ((in_t[i] - sums[s]) - zh * mt2);
        v += r * (-zht * d2) - r * r * mt2 * q;
    }
    rdin[i] = v;
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
    float ag = 0.0f, ab = 0.0f;
    int a;
    for (int e = lid; e < m.nhw; e += ls) {
        const int i = c * m.nhw + e;
        const int s = norm_elem_set(m, i, &a);
        const float r = stats[nsets + s], zh = (in[i] - stats[s]) * r;
        ag += g1[i] * zh;
        ab += g1[i];
        if (has_t) ag += g2[i] * r * ((in_t[i] - sums[s]) - zh * sums[nsets + s]);
    }
    ag = group_sum(ag, tmp);
    ab = group_sum(ab, tmp);
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
    float ag = 0.0f, ab = 0.0f;
    int a;
    for (int n = 0; n < nn; n++) {
        const int i = c * m.nhw + n * m.hw + p;
        const int s = norm_elem_set(m, i, &a);
        const float r = stats[nsets + s], zh = (in[i] - stats[s]) * r;
        ag += g1[i] * zh;
        ab += g1[i];
        if (has_t) ag += g2[i] * r * ((in_t[i] - sums[s]) - zh * sums[nsets + s]);
    }
    dgamma[dgoff + ai] = ag;
    dbeta[dboff + ai] = ab;
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
 *               vector sums in blocks (no barriers; bounded rounding growth). */

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

/* (sum v, sum v * zhat) over a run, zhat = (x - mean) * r. */
inline float2 norm_run_dots(__global const float *x, __global const float *v, int len, float mean, float r) {
    float2 tot = (float2)(0.0f);
    for (int b = 0; b < len; b += NORM_BLOCK) {
        const int e = min(len, b + NORM_BLOCK), e16 = b + ((e - b) & ~15);
        float16 a1 = (float16)(0.0f), a2 = (float16)(0.0f);
        for (int p = b; p < e16; p += 16) {
            const float16 vv = vload16(0, v + p);
            a1 += vv;
            a2 = mad(vv, (vload16(0, x + p) - mean) * r, a2);
        }
        float s1 = norm_hsum16(a1), s2 = norm_hsum16(a2);
        for (int p = e16; p < e; p++) { s1 += v[p]; s2 = mad(v[p], (x[p] - mean) * r, s2); }
        tot += (float2)(s1, s2);
    }
    return tot;
}

/* The R-backward sums of one run: sum d, sum d zhat, sum rd, sum rd zhat, sum d zhat_t,
 * zhat_t = r ((t - mt1) - zhat mt2); t == 0 (no input tangent): the last is 0. */
inline void norm_run_rsums(__global const float *x, __global const float *d, __global const float *rd,
                           __global const float *t, int len, float mean, float r, float mt1, float mt2,
                           float *out5) {
    float o0 = 0.0f, o1 = 0.0f, o2 = 0.0f, o3 = 0.0f, o4 = 0.0f;
    for (int b = 0; b < len; b += NORM_BLOCK) {
        const int e = min(len, b + NORM_BLOCK), e16 = b + ((e - b) & ~15);
        float16 a0 = (float16)(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0;
        for (int p = b; p < e16; p += 16) {
            const float16 zh = (vload16(0, x + p) - mean) * r, dv = vload16(0, d + p), rv = vload16(0, rd + p);
            a0 += dv;
            a1 = mad(dv, zh, a1);
            a2 += rv;
            a3 = mad(rv, zh, a3);
            if (t) a4 = mad(dv, r * ((vload16(0, t + p) - mt1) - zh * mt2), a4);
        }
        float s0 = norm_hsum16(a0), s1 = norm_hsum16(a1), s2 = norm_hsum16(a2), s3 = norm_hsum16(a3);
        float s4 = norm_hsum16(a4);
        for (int p = e16; p < e; p++) {
            const float zh = (x[p] - mean) * r;
            s0 += d[p];
            s1 = mad(d[p], zh, s1);
            s2 += rd[p];
            s3 = mad(rd[p], zh, s3);
            if (t) s4 = mad(d[p], r * ((t[p] - mt1) - zh * mt2), s4);
        }
        o0 += s0; o1 += s1; o2 += s2; o3 += s3; o4 += s4;
    }
    out5[0] = o0; out5[1] = o1; out5[2] = o2; out5[3] = o3; out5[4] = o4;
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
    const float r = 1.0f / sqrt(acc / (float)m.setsize + NORM_EPS);
    stats[s] = mean;
    stats[nsets + s] = r;
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw, a = a0 + j * m.ajs;
        const float g = gamma[goff + a], b = beta[boff + a];
        for (int p = 0; p < m.run; p++) out[o + p] = mad(g, (in[o + p] - mean) * r, b);
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
    const float mean = stats[s], r = stats[nsets + s];
    float mt1 = 0.0f, mt2 = 0.0f;
    if (has_t) {
        float2 acc = (float2)(0.0f);
        for (int j = 0; j < runs; j++) acc += norm_run_dots(in + base + j * m.nhw, in_t + base + j * m.nhw, m.run, mean, r);
        mt1 = acc.x / (float)m.setsize;
        mt2 = acc.y / (float)m.setsize;
    }
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw, a = a0 + j * m.ajs;
        const float gr = has_t ? gamma[goff + a] * r : 0.0f, gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
        const float bt = has_bt ? beta_t[btoff + a] : 0.0f;
        for (int p = 0; p < m.run; p++) {
            const float zh = (in[o + p] - mean) * r;
            float v = mad(gt, zh, bt);
            if (has_t) v = mad(gr, (in_t[o + p] - mt1) - zh * mt2, v);
            out_t[o + p] = v;
        }
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
    const float mean = stats[s], r = stats[nsets + s];
    float d1 = 0.0f, d2 = 0.0f;
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw;
        const float2 sd = norm_run_dots(in + o, dout + o, m.run, mean, r);
        const float g = gamma[goff + a0 + j * m.ajs];
        d1 = mad(g, sd.x, d1);
        d2 = mad(g, sd.y, d2);
        if (want_part) { part[s * m.kch + j] = sd.y; part[npart + s * m.kch + j] = sd.x; }
    }
    if (!has_din) return;
    d1 /= (float)m.setsize;
    d2 /= (float)m.setsize;
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw;
        const float g = gamma[goff + a0 + j * m.ajs];
        for (int p = 0; p < m.run; p++) din[o + p] = r * (g * dout[o + p] - d1 - (in[o + p] - mean) * r * d2);
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
    const float mean = stats[s], r = stats[nsets + s], inv_n = 1.0f / (float)m.setsize;
    float mt1 = 0.0f, mt2 = 0.0f;
    if (has_t) {
        float2 acc = (float2)(0.0f);
        for (int j = 0; j < runs; j++) acc += norm_run_dots(in + base + j * m.nhw, in_t + base + j * m.nhw, m.run, mean, r);
        mt1 = acc.x * inv_n;
        mt2 = acc.y * inv_n;
    }
    float d1 = 0.0f, d2 = 0.0f, r1 = 0.0f, r2 = 0.0f;
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw, a = a0 + j * m.ajs;
        float q[5];
        norm_run_rsums(in + o, dout + o, rdout + o, has_t ? in_t + o : 0, m.run, mean, r, mt1, mt2, q);
        const float g = gamma[goff + a], gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
        d1 = mad(g, q[0], d1);
        d2 = mad(g, q[1], d2);
        r1 += g * q[2] + gt * q[0];
        r2 += g * (q[3] + q[4]) + gt * q[1];
        if (want_part) { part[s * m.kch + j] = q[3] + q[4]; part[npart + s * m.kch + j] = q[2]; }
    }
    if (!has_rdin) return;
    d1 *= inv_n; d2 *= inv_n; r1 *= inv_n; r2 *= inv_n;
    for (int j = 0; j < runs; j++) {
        const int o = base + j * m.nhw, a = a0 + j * m.ajs;
        const float g = gamma[goff + a], gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
        for (int p = 0; p < m.run; p++) {
            const float zh = (in[o + p] - mean) * r, dz = g * dout[o + p];
            const float rdz = g * rdout[o + p] + gt * dout[o + p];
            const float q = dz - d1 - zh * d2;
            float v = r * (rdz - r1 - zh * r2);
            if (has_t) {
                const float zht = r * ((in_t[o + p] - mt1) - zh * mt2);
                v += r * (-zht * d2) - r * r * mt2 * q;
            }
            rdin[o + p] = v;
        }
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
    const float r = 1.0f / sqrt(group_sum(acc, tmp) / (float)m.setsize + NORM_EPS);
    if (lid == 0) { stats[s] = mean; stats[nsets + s] = r; }
    const float g = gamma[goff + a], b = beta[boff + a];
    for (int e = lid; e < m.setsize; e += ls) out[base + e] = mad(g, (x[e] - mean) * r, b);
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
    const float mean = stats[s], r = stats[nsets + s], inv_n = 1.0f / (float)m.setsize;
    float mt1 = 0.0f, mt2 = 0.0f;
    if (has_t) {
        float a1 = 0.0f, a2 = 0.0f;
        for (int e = lid; e < m.setsize; e += ls) {
            const float t = in_t[base + e];
            a1 += t;
            a2 = mad((in[base + e] - mean) * r, t, a2);
        }
        mt1 = group_sum(a1, tmp) * inv_n;
        mt2 = group_sum(a2, tmp) * inv_n;
    }
    const float gr = has_t ? gamma[goff + a] * r : 0.0f, gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
    const float bt = has_bt ? beta_t[btoff + a] : 0.0f;
    for (int e = lid; e < m.setsize; e += ls) {
        const float zh = (in[base + e] - mean) * r;
        float v = mad(gt, zh, bt);
        if (has_t) v = mad(gr, (in_t[base + e] - mt1) - zh * mt2, v);
        out_t[base + e] = v;
    }
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
    const float mean = stats[s], r = stats[nsets + s], inv_n = 1.0f / (float)m.setsize;
    float sb = 0.0f, sg = 0.0f;
    for (int e = lid; e < m.setsize; e += ls) {
        const float d = dout[base + e];
        sb += d;
        sg = mad(d, (in[base + e] - mean) * r, sg);
    }
    sb = group_sum(sb, tmp);
    sg = group_sum(sg, tmp);
    if (want_part && lid == 0) { part[s] = sg; part[npart + s] = sb; }
    if (!has_din) return;
    const float g = gamma[goff + a], d1 = g * sb * inv_n, d2 = g * sg * inv_n;
    for (int e = lid; e < m.setsize; e += ls)
        din[base + e] = r * (g * dout[base + e] - d1 - (in[base + e] - mean) * r * d2);
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
    const float mean = stats[s], r = stats[nsets + s], inv_n = 1.0f / (float)m.setsize;
    float mt1 = 0.0f, mt2 = 0.0f;
    if (has_t) {
        float a1 = 0.0f, a2 = 0.0f;
        for (int e = lid; e < m.setsize; e += ls) {
            const float t = in_t[base + e];
            a1 += t;
            a2 = mad((in[base + e] - mean) * r, t, a2);
        }
        mt1 = group_sum(a1, tmp) * inv_n;
        mt2 = group_sum(a2, tmp) * inv_n;
    }
    float q0 = 0.0f, q1 = 0.0f, q2 = 0.0f, q3 = 0.0f, q4 = 0.0f;
    for (int e = lid; e < m.setsize; e += ls) {
        const int i = base + e;
        const float zh = (in[i] - mean) * r, d = dout[i], rd = rdout[i];
        q0 += d;
        q1 = mad(d, zh, q1);
        q2 += rd;
        q3 = mad(rd, zh, q3);
        if (has_t) q4 = mad(d, r * ((in_t[i] - mt1) - zh * mt2), q4);
    }
    q0 = group_sum(q0, tmp);
    q1 = group_sum(q1, tmp);
    q2 = group_sum(q2, tmp);
    q3 = group_sum(q3, tmp);
    if (has_t) q4 = group_sum(q4, tmp);
    if (want_part && lid == 0) { part[s] = q3 + q4; part[npart + s] = q2; }
    if (!has_rdin) return;
    const float g = gamma[goff + a], gt = has_gt ? gamma_t[gtoff + a] : 0.0f;
    const float d1 = g * q0 * inv_n, d2 = g * q1 * inv_n;
    const float r1 = (g * q2 + gt * q0) * inv_n, r2 = (g * (q3 + q4) + gt * q1) * inv_n;
    for (int e = lid; e < m.setsize; e += ls) {
        const int i = base + e;
        const float zh = (in[i] - mean) * r, dz = g * dout[i], rdz = g * rdout[i] + gt * dout[i];
        const float q = dz - d1 - zh * d2;
        float v = r * (rdz - r1 - zh * r2);
        if (has_t) {
            const float zht = r * ((in_t[i] - mt1) - zh * mt2);
            v += r * (-zht * d2) - r * r * mt2 * q;
        }
        rdin[i] = v;
    }
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
