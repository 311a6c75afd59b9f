/* GPU family of the fused normalization passes (norm_grp_*, chosen when not rt_cpu_family()
 * in host/layers/norm.c, for one-run sets of at most NORM_FUSE_MAX elements): one work-group
 * per set with tree reductions (group_sum). Kept apart from the CPU family (norm_cpu.cl) so
 * each can be read and tuned alone; the shared helpers and the partial-sum layout are in
 * norm.cl. */

/* The work-group's (sum v, sum v zhat) over x[0..len), v[0..len), returned to every item. */
static inline float2 norm_grp_dots(norm_set_t k, __global const float *x, __global const float *v, int len,
                            __local float *tmp) {
    float2 acc = (float2)(0.0f);
    for (int e = get_local_id(0); e < len; e += get_local_size(0)) acc = norm_dot_add(acc, k, x[e], v[e]);
    const float s1 = group_sum(acc.x, tmp);
    return (float2)(s1, group_sum(acc.y, tmp));
}

/* Statistics of the one-run set s (elements base .. base+setsize) for the one-group-per-set
 * kernels and, when has_t, its tangent means (every item gets them). */
static inline norm_set_t norm_grp_set(norm_map_t m, int s, int base, __global const float *stats, int nsets,
                               __global const float *in, __global const float *in_t, int has_t, __local float *tmp) {
    norm_set_t k = norm_set_at(stats, 0, nsets, s, 0, 0);
    if (has_t) norm_set_tmeans(&k, norm_grp_dots(k, in + base, in_t + base, m.setsize, tmp), m.setsize);
    return k;
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
