/* Softmax cross-entropy over rows of logits [N][K] (host/layers/loss.c).
 * Row kernels run one work-group per row; the local size is a power of two. */

/* Work-group maximum of v (NaN-free inputs; fmax skips NaN). */
static inline float loss_group_max(float v, __local float *tmp) {
    const int lid = get_local_id(0), ls = get_local_size(0);
    tmp[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = ls / 2; s > 0; s >>= 1) {
        if (lid < s) tmp[lid] = fmax(tmp[lid], tmp[lid + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = tmp[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* Work-group minimum of v. */
static inline int loss_group_min(int v, __local int *tmp) {
    const int lid = get_local_id(0), ls = get_local_size(0);
    tmp[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = ls / 2; s > 0; s >>= 1) {
        if (lid < s) tmp[lid] = min(tmp[lid], tmp[lid + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    int r = tmp[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* The row's maximum (NaN-free part) into *m and the index of its first occurrence (K when
 * there is none: a row of NaN). */
static inline int loss_row_first_max(__global const float *row, int K, float *m, __local float *ftmp,
                                     __local int *itmp) {
    const int lid = get_local_id(0), ls = get_local_size(0);
    float v = -INFINITY;
    for (int k = lid; k < K; k += ls) v = fmax(v, row[k]);
    v = loss_group_max(v, ftmp);
    /* Each item's first hit is its smallest index, so the group minimum is the first maximum. */
    int first = K;
    for (int k = lid; k < K; k += ls)
        if (row[k] == v) { first = k; break; }
    *m = v;
    return loss_group_min(first, itmp);
}

/* Row n = group id, targets t [N][K] (a distribution per row; one-hot for a hard label):
 * probs = softmax(o), rowloss = logsumexp(o) - <t, o> written as log(s) + sum_k t_k (m - o_k)
 * so a one-hot row gives exactly log(s) + (m - o_y); correct = 1 when the first maximum of o
 * is the first maximum of t. flags: 1 = write rowloss, 2 = write correct, 4 = write the
 * gradient d = (p - t) / N, 8 = write its tangent along the logits' tangent o_t,
 * rd = p (o_t - <p, o_t>) / N (the host passes a dummy buffer for an output it does not
 * want). One pass for what used to be three launches: the backward and R-backward read the
 * probabilities this work-group has just written. */
__kernel void loss_ce_fwd(__global float *probs, __global float *rowloss, __global float *correct,
                          __global float *dlogits, __global float *rdlogits, __global const float *logits,
                          __global const float *logits_t, __global const float *targets, int N, int K, int flags,
                          __local float *ftmp, __local int *itmp) {
    const int n = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    const long row = (long)n * K;
    __global const float *o = logits + row;
    __global const float *t = targets + row;
    __global float *p = probs + row;
    float m;
    const int first = loss_row_first_max(o, K, &m, ftmp, itmp);
    float s = 0.0f;
    for (int k = lid; k < K; k += ls) s += exp(o[k] - m);
    s = group_sum(s, ftmp);
    const float inv = 1.0f / s;
    /* Each item writes and later reads only its own k, so no barrier is needed between. */
    for (int k = lid; k < K; k += ls) {
        const float pk = exp(o[k] - m) * inv;
        p[k] = pk;
        if (flags & 4) dlogits[row + k] = (pk - t[k]) / (float)N;
    }
    /* The reductions run whatever the flags say, only the stores depend on them: a barrier
     * under a condition makes PoCL's compiler duplicate the code after it, and with four
     * such regions the kernel took minutes to build. */
    /* Zero weights add exact zeros, so the order of the sum does not matter for one-hot rows. */
    float to = 0.0f;
    for (int k = lid; k < K; k += ls) to += t[k] == 0.0f ? 0.0f : t[k] * (m - o[k]);
    to = group_sum(to, ftmp);
    if ((flags & 1) && lid == 0) rowloss[n] = log(s) + to;
    float tm;
    const int tfirst = loss_row_first_max(t, K, &tm, ftmp, itmp);
    if ((flags & 2) && lid == 0) correct[n] = first == tfirst && first < K ? 1.0f : 0.0f;
    __global const float *ot = logits_t + row;
    float d = 0.0f;
    for (int k = lid; k < K; k += ls) d += p[k] * ot[k];
    d = group_sum(d, ftmp);
    if (flags & 8)
        for (int k = lid; k < K; k += ls) rdlogits[row + k] = p[k] * (ot[k] - d) / (float)N;
}
