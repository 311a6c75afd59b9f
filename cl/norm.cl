/* Normalization layers on CNHW activations (host/layers/norm.h, docs/algorithm.md#normalization): the helpers
 * every normalization kernel shares, whichever kernel family the host picks (host/layers/norm.c,
 * rt_cpu_family()). The kernels are split by family, so each file stays small:
 *   norm.cl          this file: the set map, per-element formulas and the per-set sum terms;
 *   norm_cpu.cl      CPU family (norm_cpu_*): one work-item per set, 16-lane vector loops;
 *   norm_generic.cl  kernels either family launches: the generic path (layer norm; on the GPU
 *                    family also sets that are not one short contiguous run), norm_collect_chan
 *                    and the batch-norm eval / running-statistics kernels;
 *   norm_gpu.cl      GPU family (norm_grp_*): one work-group per one-run set.
 * The kernel files are built as one program, common.cl first, then by file name, so this file
 * (its name sorts before norm_cpu.cl etc.) comes before every kernel that uses it.
 *
 * Every kind (instance, group, layer, batch) is described by one set of integers, a
 * "map", built on the host (norm_map_of in host/layers/norm.c), so one family of kernels
 * serves all four:
 *   set -> elements: set s = n * spn + k covers `setsize` elements; element e of it is
 *     j = e / run, p = e % run (runs of `run` contiguous floats, one per channel),
 *     address k*kch*nhw + n*hw + j*nhw + p, affine index k*kch + j*ajs + p*aps;
 *   element -> set: CNHW index i = (c*N + n)*hw + p lies in set n*snst + c/cps and
 *     uses affine index c*acst + p*ahst.
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
static inline int norm_set_elem(norm_map_t m, int s, int e, int *aidx) {
    const int k = s % m.spn, n = s / m.spn;
    const int j = e / m.run, p = e - j * m.run;
    *aidx = k * m.kch + j * m.ajs + p * m.aps;
    return k * m.kch * m.nhw + n * m.hw + j * m.nhw + p;
}

/* CNHW element i: returns its set, writes its affine index. */
static inline int norm_elem_set(norm_map_t m, int i, int *aidx) {
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
static inline norm_set_t norm_set_at(__global const float *stats, __global const float *sums, int nsets, int s, int has_t,
                              int nd) {
    norm_set_t k = {.mean = stats[s], .r = stats[nsets + s]};
    if (has_t) { k.mt1 = sums[s]; k.mt2 = sums[nsets + s]; }
    if (nd >= 2) { k.d1 = sums[2 * nsets + s]; k.d2 = sums[3 * nsets + s]; }
    if (nd >= 4) { k.r1 = sums[4 * nsets + s]; k.r2 = sums[5 * nsets + s]; }
    return k;
}

/* r = 1 / sqrt(var + eps) from the sum of squared deviations over n elements (biased variance). */
static inline float norm_rstd(float sqdev, int n) { return 1.0f / sqrt(sqdev / (float)n + NORM_EPS); }

/* zhat = (x - mean) r. */
static inline float norm_zh(norm_set_t k, float x) { return (x - k.mean) * k.r; }

/* zhat_t = r ((x_t - mt1) - zhat mt2), the tangent of zhat. */
static inline float norm_zht(norm_set_t k, float t, float zh) { return k.r * ((t - k.mt1) - zh * k.mt2); }

/* out = gamma zhat + beta. */
static inline float norm_fwd_at(norm_set_t k, float x, float g, float b) { return mad(g, norm_zh(k, x), b); }

/* out_t = gamma zhat_t + gamma_t zhat + beta_t at element i (g, gt, bt: gamma, gamma_t, beta_t
 * there; has_t = 0: zero input tangent, in_t not read). */
static inline float norm_tan_at(norm_set_t k, float x, __global const float *in_t, int i, int has_t, float g, float gt,
                         float bt) {
    const float zh = norm_zh(k, x), v = mad(gt, zh, bt);
    return has_t ? mad(g, norm_zht(k, in_t[i], zh), v) : v;
}

/* din = r (gamma dout - d1 - zhat d2). */
static inline float norm_bwd_at(norm_set_t k, float x, float d, float g) {
    return k.r * (g * d - k.d1 - norm_zh(k, x) * k.d2);
}

/* rdin = r_t Q + r R{Q} with r_t = -r^2 mt2, Q = dzhat - d1 - zhat d2,
 * R{Q} = R{dzhat} - r1 - zhat_t d2 - zhat r2, dzhat = gamma dout, R{dzhat} = gamma rdout + gamma_t dout
 * (d, rd: dout, rdout at element i; has_t = 0: zero input tangent, in_t not read). */
static inline float norm_rbwd_at(norm_set_t k, float x, float d, float rd, __global const float *in_t, int i, int has_t,
                          float g, float gt) {
    const float zh = norm_zh(k, x), rdz = mad(gt, d, g * rd);
    float v = k.r * (rdz - k.r1 - zh * k.r2);
    if (has_t) {
        const float q = g * d - k.d1 - zh * k.d2;
        v += k.r * (-norm_zht(k, in_t[i], zh) * k.d2) - k.r * k.r * k.mt2 * q;
    }
    return v;
}

/* ---- Shared by the fused per-set passes (norm_cpu.cl, norm_gpu.cl) ----
 * The generic kernels (norm_generic.cl) read a set once for its sums and again in a separate
 * element-wise kernel, plus once more per channel for the parameter gradients. The fused
 * kernels do each pass in one kernel per set and leave per-(set, run) sums from
 * which the per-channel parameter gradients follow by a short sum over samples
 * (norm_collect_chan). They serve the kinds with one affine value per channel (every
 * run of a set lies in one channel, so gamma is constant along a run): instance, group
 * and batch norm. Partial sums for the run j of set s sit at index s*kch + j = n*C + c,
 * gradient-of-gamma part in part[0 .. P), gradient-of-beta part in part[P .. 2P).
 *
 * Two families, picked by the host from the device type:
 *   norm_grp_*  GPU (norm_gpu.cl): one work-group per set with tree reductions, for sets that
 *               are one contiguous run (instance norm; small batch norm);
 *   norm_cpu_*  CPU (norm_cpu.cl): one work-item per set, plain loops over its runs with
 *               16-lane vector sums in blocks (no barriers; bounded rounding growth).
 * Both differ only in how a set's work is split: the per-element values come from the
 * norm_*_at helpers above and the per-element sum terms from norm_dot_add / norm_rsum_add. */

/* First element of set s and its first affine (channel) index. */
static inline int norm_set_base(norm_map_t m, int s, int *chan) {
    const int k = s % m.spn, n = s / m.spn;
    *chan = k * m.kch;
    return k * m.kch * m.nhw + n * m.hw;
}

/* Tangent means of k from (sum in_t, sum zhat in_t) over its n elements. */
static inline void norm_set_tmeans(norm_set_t *k, float2 sums, int n) {
    k->mt1 = sums.x / (float)n;
    k->mt2 = sums.y / (float)n;
}

/* Adds a run's backward sums (sum dout, sum dout zhat) with gamma g to d1, d2. */
static inline void norm_add_dsums(norm_set_t *k, float g, float sd, float sdz) {
    k->d1 = mad(g, sd, k->d1);
    k->d2 = mad(g, sdz, k->d2);
}

/* Adds a run's R-backward sums q (as norm_rsum_add leaves them) with gamma g and gamma_t gt
 * to d1, d2, r1, r2. */
static inline void norm_add_rsums(norm_set_t *k, float g, float gt, const float *q) {
    norm_add_dsums(k, g, q[0], q[1]);
    k->r1 += g * q[2] + gt * q[0];
    k->r2 += g * (q[3] + q[4]) + gt * q[1];
}

/* d1, d2, r1, r2 from sums over the set's n elements to means. */
static inline void norm_mean_dsums(norm_set_t *k, int n) {
    const float inv_n = 1.0f / (float)n;
    k->d1 *= inv_n; k->d2 *= inv_n; k->r1 *= inv_n; k->r2 *= inv_n;
}

/* acc + (v, v zhat): one element of the sums (sum v, sum v zhat). */
static inline float2 norm_dot_add(float2 acc, norm_set_t k, float x, float v) {
    return (float2)(acc.x + v, mad(v, norm_zh(k, x), acc.y));
}

/* Adds one element's terms to the five R-backward sums q: sum d, sum d zhat, sum rd,
 * sum rd zhat, sum d zhat_t (d, rd: dout, rdout; t == 0: no input tangent, the last stays). */
static inline void norm_rsum_add(float *q, norm_set_t k, float x, float d, float rd, __global const float *t, int i) {
    const float zh = norm_zh(k, x);
    q[0] += d;
    q[1] = mad(d, zh, q[1]);
    q[2] += rd;
    q[3] = mad(rd, zh, q[3]);
    if (t) q[4] = mad(d, norm_zht(k, t[i], zh), q[4]);
}
