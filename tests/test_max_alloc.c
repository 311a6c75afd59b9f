/* The per-buffer cap (CL_DEVICE_MAX_MEM_ALLOC_SIZE, lowered by CLMTT_MAX_ALLOC_BYTES):
 * dev_alloc refuses a larger buffer, naming it and the cap; a bad CLMTT_MAX_ALLOC_BYTES is
 * named and a larger one never raises the device's cap; the places that size big buffers
 * choose pieces under it: the distiller's unrolled steps go into several buffers (the
 * meta-gradient equals the one-buffer run bit for bit and matches float64 central
 * differences), and training passes take no more rows than one activation buffer holds. */
#include "distill/distill.h"
#include "train/train.h"
#include "fdcheck.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void alloc_over_cap(void *arg) {
    (void)arg;
    setenv("CLMTT_MAX_ALLOC_BYTES", "65536", 1);
    rt_use(rt_open(-1));
    dev_free(dev_alloc(65536, "a buffer at the cap"));   /* the cap itself is allowed */
    dev_alloc(65537, "a buffer over the cap");
}

static void open_runtime(void *arg) {
    (void)arg;
    rt_use(rt_open(-1));
}

START_TEST(cap_refuses_and_is_checked) {
    tu_init();
    char err[1024];
    int st = tu_in_child(alloc_over_cap, NULL, err, sizeof err);
    ck_assert_msg(st != 0, "a buffer over CLMTT_MAX_ALLOC_BYTES was allocated");
    TU_ASSERT_HAS(err, "cannot allocate a buffer over the cap (64.0 KiB)");
    TU_ASSERT_HAS(err, "the device allows at most 64.0 KiB per buffer");
    const char *bad[] = {"12x", "-5", "100"};
    for (int i = 0; i < 3; i++) {
        setenv("CLMTT_MAX_ALLOC_BYTES", bad[i], 1);
        st = tu_in_child(open_runtime, NULL, err, sizeof err);
        ck_assert_msg(st != 0, "CLMTT_MAX_ALLOC_BYTES=%s was accepted", bad[i]);
        TU_ASSERT_HAS(err, "CLMTT_MAX_ALLOC_BYTES must be a whole number of bytes");
    }
    /* Above the device's own cap it changes nothing. */
    cl_ulong device_cap = RT.dev.max_alloc;
    setenv("CLMTT_MAX_ALLOC_BYTES", "4611686018427387904", 1);
    Runtime *r = rt_open(-1);
    unsetenv("CLMTT_MAX_ALLOC_BYTES");
    Runtime *prev = rt_use(r);
    ck_assert_uint_eq(RT.dev.max_alloc, device_cap);
    rt_use(prev);
    rt_close(r);
}
END_TEST

/* 1 x 6 x 6 images, as in test_distill. */
static const FdMetaShape plain = {6, 0, 1, 5.0f, 0, 0};

/* The meta-gradient (dL/dX, dL/dlr) and loss of one distiller step on m. */
static float *meta_grad(const FdMeta *m, FdMetaRun *run, double *loss, double *dalpha) {
    Rng r;
    rng_init(&r, 5, 0);
    *loss = distiller_meta_grad(&run->d, &run->set, m->theta0, m->target, &r, dalpha);
    return tu_download(run->set.grad, 0, run->set.total);
}

START_TEST(steps_split_over_buffers) {
    tu_init();
    FdMeta m;
    const int K = 5;
    fd_meta_make(&m, &plain, "ConvNetAS", K, 21);
    size_t P = m.net.nparams;
    FdMetaRun one, split;
    fd_meta_distiller(&m, "none", &one);
    ck_assert_int_eq(one.d.thetas.nbufs, 1);
    double loss1, loss2, da1, da2;
    float *g1 = meta_grad(&m, &one, &loss1, &da1);
    /* Two steps per buffer: steps 0-1, 1-2, ..., 4-5, five buffers sharing a step each. */
    cl_ulong device_cap = RT.dev.max_alloc;
    RT.dev.max_alloc = 2 * rt_align_up(P) * sizeof(float) + 4;   /* steps lie rt_align_up(P) floats apart */
    fd_meta_distiller(&m, "none", &split);
    ck_assert_int_eq(split.d.thetas.nbufs, K);
    ck_assert_int_eq(split.d.thetas.per, 2);
    float *g2 = meta_grad(&m, &split, &loss2, &da2);
    ck_assert_msg(loss1 == loss2, "loss %.9g with one buffer, %.9g split", loss1, loss2);
    ck_assert_msg(da1 == da2, "dL/dlr %.9g with one buffer, %.9g split", da1, da2);
    ck_assert_msg(memcmp(g1, g2, one.set.total * sizeof(float)) == 0, "the split meta-gradient differs");
    /* Every step as the float64 trajectory has it. */
    double *want = xmalloc((size_t)(K + 1) * P * sizeof(double));
    size_t nx = split.set.img->stored_floats;
    float *xs = tu_download(split.set.theta, 0, nx);
    double *X = tu_to_double(xs, nx);
    free(xs);
    fd_meta_ref_thetas(&m, &split, X, m.alpha, K, want);
    for (int k = 0; k <= K; k++) {
        DPtr at = step_vectors_at(&split.d.thetas, k);
        float *got = tu_download(at.mem, at.off, P);
        char what[64];
        snprintf(what, sizeof what, "split step %d", k);
        tu_check_close(what, got, want + (size_t)k * P, P, 1e-4, 1e-6);
        free(got);
    }
    fd_check_meta_gradient(&m, &split, "split steps ConvNetAS/none", 1e-4, 21, 3, 7, 64, 3e-3, NULL);
    RT.dev.max_alloc = device_cap;
    free(want); free(X); free(g1); free(g2);
    fd_meta_run_free(&one);
    fd_meta_run_free(&split);
    fd_meta_free(&m);
}
END_TEST

START_TEST(training_rows_under_cap) {
    tu_init();
    FdMeta m;
    fd_meta_make(&m, &plain, "ConvNetAS", 1, 3);
    size_t amax = net_max_activation(&m.net) * sizeof(float);
    int free_rows = net_rows_that_fit(&m.net);
    cl_ulong device_cap = RT.dev.max_alloc;
    /* The parameters (one buffer) must still fit; the rows are what the cap cuts. */
    size_t params = m.net.nparams * sizeof(float), cap = params > 5 * amax ? params : 5 * amax;
    RT.dev.max_alloc = cap + 3;
    int want = (int)(cap / amax) < free_rows ? (int)(cap / amax) : free_rows;
    ck_assert_int_eq(net_rows_that_fit(&m.net), want);
    ck_assert_uint_le((size_t)want * amax, RT.dev.max_alloc);
    Trainer t;
    trainer_init(&t, &m.net, want + 7);   /* every buffer it sizes by rows now fits the cap */
    ck_assert_int_eq(t.chunk, want);
    trainer_free(&t);
    RT.dev.max_alloc = device_cap;
    fd_meta_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("max_alloc");
    TCase *tc = tcase_create("max_alloc");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, cap_refuses_and_is_checked);
    tcase_add_test(tc, steps_split_over_buffers);
    tcase_add_test(tc, training_rows_under_cap);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
