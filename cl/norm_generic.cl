/* Normalization kernels launched whichever family the host picks (host/layers/norm.c): the
 * generic path, which serves every kind (always layer norm; on the GPU family also the sets
 * that are not one contiguous run of at most NORM_FUSE_MAX elements), norm_collect_chan, which
 * closes the fused passes of both families, and batch norm's eval / running statistics.
 * Helpers and the set map: norm.cl.
 *
 * Generic path: per-set kernels run one work-group per set; element-wise kernels one item per
 * element. */

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
static inline float2 norm_pgrad_at(norm_map_t m, int i, __global const float *g1, __global const float *g2,
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
