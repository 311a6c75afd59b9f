/* The device's measured arithmetic peak in float32 (cl/peak.cl): what clmtt bench sets the
 * matrix products' GFLOP/s against. Devices do not report their lanes per compute unit, so
 * an estimate from CL_DEVICE_MAX_CLOCK_FREQUENCY and vector widths can be off by the lanes
 * of a GPU core or by a CPU's AVX clock; a measurement is not. */
#ifndef CLMTT_BENCH_PEAK_H
#define CLMTT_BENCH_PEAK_H

typedef struct {
    double gflops;       /* the faster kernel's rate, fastest of its timed runs */
    const char *kernel;  /* which: "peak_fma16", "peak_fma8" (float16, float8 vectors) or "peak_fma1" (scalars) */
    double seconds;      /* one timed run of that kernel */
} BenchPeak;

/* Runs the three FMA kernels on the current runtime, each sized to take about 50 ms, ten
 * times; returns the fastest rate. */
BenchPeak bench_peak(void);

#endif
