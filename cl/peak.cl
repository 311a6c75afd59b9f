/* The device's arithmetic peak, measured (host/cli/bench_peak.c): chains of fused
 * multiply-adds that touch no memory until the end. Twelve independent chains per item hide
 * the FMA latency of two pipes (a CPU with 4- to 5-cycle FMAs on two ports needs 8 to 10 in
 * flight: eight chains measured 112.7 GFLOP/s on an AVX2 EPYC whose matrix products ran at
 * 127). Three widths, since devices differ in what they run at full rate: float16
 * vectors fill an AVX-512 core's SIMD lanes from one work-item, float8 an AVX2 core's (whose
 * 16 registers cannot hold 12 float16 chains and the constants), scalars fill a GPU's lanes
 * from many. The result is stored so the compiler cannot drop the chains. */

#define PEAK_BODY(T)                                                                  \
    const T a = (T)(0.999999f), b = (T)(1e-7f);                                       \
    T x0 = (T)(seed), x1 = x0 + (T)(1.0f), x2 = x0 + (T)(2.0f), x3 = x0 + (T)(3.0f);  \
    T x4 = x0 + (T)(4.0f), x5 = x0 + (T)(5.0f), x6 = x0 + (T)(6.0f), x7 = x0 + (T)(7.0f); \
    T x8 = x0 + (T)(8.0f), x9 = x0 + (T)(9.0f), xa = x0 + (T)(10.0f), xb = x0 + (T)(11.0f); \
    for (int k = 0; k < iters; k++) {                                                 \
        x0 = fma(x0, a, b); x1 = fma(x1, a, b); x2 = fma(x2, a, b); x3 = fma(x3, a, b); \
        x4 = fma(x4, a, b); x5 = fma(x5, a, b); x6 = fma(x6, a, b); x7 = fma(x7, a, b); \
        x8 = fma(x8, a, b); x9 = fma(x9, a, b); xa = fma(xa, a, b); xb = fma(xb, a, b); \
    }                                                                                 \
    const T s = (((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7))) + ((x8 + x9) + (xa + xb));

/* 12 x 16 FMAs per iteration per item. */
__kernel void peak_fma16(__global float *out, int iters, float seed) {
    PEAK_BODY(float16)
    const float8 h = s.lo + s.hi;
    const float4 q = h.lo + h.hi;
    out[get_global_id(0)] = (q.x + q.y) + (q.z + q.w);
}

/* 12 x 8 FMAs per iteration per item. */
__kernel void peak_fma8(__global float *out, int iters, float seed) {
    PEAK_BODY(float8)
    const float4 q = s.lo + s.hi;
    out[get_global_id(0)] = (q.x + q.y) + (q.z + q.w);
}

/* 12 FMAs per iteration per item. */
__kernel void peak_fma1(__global float *out, int iters, float seed) {
    PEAK_BODY(float)
    out[get_global_id(0)] = s;
}
