#include "cli/bench_peak.h"
#include "core/runtime.h"
#include "core/tensor.h"
#include "core/util.h"

/* Work-items of one run: enough groups to fill every compute unit several times over. */
static size_t peak_items(size_t local) {
    size_t cu = RT.dev.compute_units ? RT.dev.compute_units : 1;
    return cu * 8 * local;
}

/* Seconds of one run of `kernel` over `items` items (groups of `local`) at `iters`. */
static double peak_run(const char *kernel, cl_mem out, size_t items, size_t local, int iters) {
    rt_finish();
    double t0 = now_seconds();
    LAUNCH_GROUPS(kernel, items / local, local, KM(out), KI(iters), KF(1.0f));
    rt_finish();
    return now_seconds() - t0;
}

/* Fastest GFLOP/s of `kernel` (flops_per_iter per item and iteration). */
static double peak_of(const char *kernel, double flops_per_iter, double *seconds) {
    size_t local = rt_items_local(4096, kernel);
    if (local > 256) local = 256;
    size_t items = peak_items(local);
    cl_mem out = dev_alloc(items * sizeof(float), "peak measurement output");
    /* An untimed first run: PoCL compiles a kernel for its work-group size at the first launch,
     * and a calibration run that included the compilation left the loop at 64 iterations,
     * timing launch overhead (a 2-core EPYC measured 112 GFLOP/s so, 184 without). */
    peak_run(kernel, out, items, local, 1);
    /* Calibrate: grow the loop until one run takes 50 ms. Then the fastest of 10 such runs: on
     * a shared machine (a virtual one whose cores other guests also use) a run sometimes gets
     * half the cores' time, and three quarter-second runs measured 95 to 186 GFLOP/s on one
     * 2-core EPYC within minutes, which put the products at up to 149% of "peak". */
    int iters = 64;
    double s = peak_run(kernel, out, items, local, iters);
    while (s < 0.05 && iters < (1 << 26)) {
        iters *= 4;
        s = peak_run(kernel, out, items, local, iters);
    }
    double best = 1e30;
    for (int r = 0; r < 10; r++) {
        double t = peak_run(kernel, out, items, local, iters);
        if (t < best) best = t;
    }
    dev_free(out);
    *seconds = best;
    return flops_per_iter * (double)items * iters / best * 1e-9;
}

BenchPeak bench_peak(void) {
    const struct { const char *kernel; double lanes; } widths[3] = {{"peak_fma16", 16}, {"peak_fma8", 8}, {"peak_fma1", 1}};
    BenchPeak p = {0, NULL, 0};
    for (int i = 0; i < 3; i++) {
        double s = 0, g = peak_of(widths[i].kernel, 2.0 * 12 * widths[i].lanes, &s);
        if (g > p.gflops) p = (BenchPeak){g, widths[i].kernel, s};
    }
    return p;
}
