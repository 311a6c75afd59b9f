/* Shared helpers, placed first in the program. Every kernel checks its bounds:
 * the host rounds global sizes up to a multiple of the work-group size. */

/* a * b + c for the matrix products' inner loops: one fused multiply-add where the device
 * has one (the host defines CLMTT_FMA when the device reports CL_FP_FMA; FP_FAST_FMAF where
 * the compiler says so), else mad. PoCL compiles mad as a multiply and an add, and does not
 * define FP_FAST_FMAF on CPUs with FMA units: the register-tiled products ran at 40% of an
 * AVX-512 CPU's FMA peak with mad, 57-61% with fma (clmtt bench --what=gemm). */
#if defined(CLMTT_FMA) || defined(FP_FAST_FMAF)
#define mad_fast(a, b, c) fma((a), (b), (c))
#else
#define mad_fast(a, b, c) mad((a), (b), (c))
#endif

/* Sum of the 16 lanes as a tree: lane i + lane i+8, then the halves again, as
 * `v.lo + v.hi` three times would add them. Written with single lanes because Oclgrind's
 * uninitialized-value checker loses a lane's state through the sum of two half-vector
 * shuffles (tools/oclgrind.md); the additions and their order are the same. */
static inline float hsum16(float16 v) {
    const float a0 = v.s0 + v.s8, a1 = v.s1 + v.s9, a2 = v.s2 + v.sa, a3 = v.s3 + v.sb;
    const float a4 = v.s4 + v.sc, a5 = v.s5 + v.sd, a6 = v.s6 + v.se, a7 = v.s7 + v.sf;
    const float b0 = a0 + a4, b1 = a1 + a5, b2 = a2 + a6, b3 = a3 + a7;
    return (b0 + b2) + (b1 + b3);
}

/* Float atomic add through compare-and-swap (OpenCL 1.2 has no float atomics). */
static inline void atomic_add_f(volatile __global float *addr, float v) {
    union { unsigned int u; float f; } old, upd;
    do {
        old.f = *addr;
        upd.f = old.f + v;
    } while (atomic_cmpxchg((volatile __global unsigned int *)addr, old.u, upd.u) != old.u);
}

/* Work-group tree reduction of `v` in local memory `tmp`; the sum is returned to all items. */
static inline float group_sum(float v, __local float *tmp) {
    const int lid = get_local_id(0), ls = get_local_size(0);
    tmp[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = ls / 2; s > 0; s >>= 1) {
        if (lid < s) tmp[lid] += tmp[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = tmp[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* One partial sum per work-group: op 0 = x.y, 1 = sum x, 2 = sum (x-y)^2, 3 = count of
 * non-finite x, 4 = x.y and then x += alpha z (each item reads its x before it writes it:
 * a reduction and the update that follows it in one pass). */
__kernel void reduce_partials(__global float *x, long xoff, __global const float *y, long yoff,
                              __global const float *z, long zoff, float alpha, long n, int op,
                              __global float *partial, __local float *tmp) {
    const long stride = (long)get_global_size(0);
    float acc = 0.0f;
    for (long i = get_global_id(0); i < n; i += stride) {
        float a = x[xoff + i];
        if (op == 0 || op == 4) acc += a * y[yoff + i];
        else if (op == 1) acc += a;
        else if (op == 2) { float d = a - y[yoff + i]; acc += d * d; }
        else acc += isfinite(a) ? 0.0f : 1.0f;
        if (op == 4) x[xoff + i] = a + alpha * z[zoff + i];
    }
    float s = group_sum(acc, tmp);
    if (get_local_id(0) == 0) partial[get_group_id(0)] = s;
}
