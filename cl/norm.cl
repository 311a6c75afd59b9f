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
