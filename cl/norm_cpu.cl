/* CPU family of the fused normalization passes (norm_cpu_*, chosen when rt_cpu_family() in
 * host/layers/norm.c): one work-item per set, plain loops over its runs with 16-lane vector
 * sums in blocks of NORM_BLOCK (no barriers, which cost much on CPU OpenCL; bounded rounding
 * growth). Kept apart from the GPU family (norm_gpu.cl) so each can be read and tuned alone;
 * the shared helpers and the partial-sum layout are in norm.cl. */

#define NORM_BLOCK 1024

/* sum x[0..len) in 16 lanes, block by block. */
static inline float norm_run_sum(__global const float *x, int len) {
    float tot = 0.0f;
    for (int b = 0; b < len; b += NORM_BLOCK) {
        const int e = min(len, b + NORM_BLOCK), e16 = b + ((e - b) & ~15);
        float16 acc = (float16)(0.0f);
        for (int p = b; p < e16; p += 16) acc += vload16(0, x + p);
        float s = hsum16(acc);
        for (int p = e16; p < e; p++) s += x[p];
        tot += s;
    }
    return tot;
}

/* sum (x - mean)^2 over x[0..len). */
static inline float norm_run_sqdev(__global const float *x, int len, float mean) {
    float tot = 0.0f;
    for (int b = 0; b < len; b += NORM_BLOCK) {
        const int e = min(len, b + NORM_BLOCK), e16 = b + ((e - b) & ~15);
        float16 acc = (float16)(0.0f);
        for (int p = b; p < e16; p += 16) {
            const float16 d = vload16(0, x + p) - mean;
            acc = mad(d, d, acc);
        }
        float s = hsum16(acc);
        for (int p = e16; p < e; p++) { const float d = x[p] - mean; s = mad(d, d, s); }
        tot += s;
    }
    return tot;
}

/* (sum v, sum v * zhat) over a run x[0..len), v[0..len). */
static inline float2 norm_run_dots(norm_set_t k, __global const float *x, __global const float *v, int len) {
    float2 tot = (float2)(0.0f);
    for (int b = 0; b < len; b += NORM_BLOCK) {
        const int e = min(len, b + NORM_BLOCK), e16 = b + ((e - b) & ~15);
        float16 a1 = (float16)(0.0f), a2 = (float16)(0.0f);
        for (int p = b; p < e16; p += 16) {
            const float16 vv = vload16(0, v + p);
            a1 += vv;
            a2 = mad(vv, (vload16(0, x + p) - k.mean) * k.r, a2);
        }
        float2 s = (float2)(hsum16(a1), hsum16(a2));
        for (int p = e16; p < e; p++) s = norm_dot_add(s, k, x[p], v[p]);
        tot += s;
    }
    return tot;
}

/* Statistics of set s (first element base) for the one-item-per-set kernels and, when
 * has_t, its tangent means from norm_run_dots over every run. */
static inline norm_set_t norm_cpu_set(norm_map_t m, int s, int base, __global const float *stats, int nsets,
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
static inline void norm_run_rsums(norm_set_t k, __global const float *x, __global const float *d, __global const float *rd,
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
        float s[5] = {hsum16(a0), hsum16(a1), hsum16(a2), hsum16(a3), hsum16(a4)};
        for (int p = e16; p < e; p++) norm_rsum_add(s, k, x[p], d[p], rd[p], t, p);
        for (int u = 0; u < 5; u++) q[u] += s[u];
    }
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
