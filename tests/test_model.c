/* Networks: parameter counts and order (docs/algorithm.md#other-architectures, 4.5), and whole-network
 * gradients: the float64 reference against central finite differences (gradient,
 * Hessian-vector product, mixed input derivative), and the device against the reference. */
#include "net/exec.h"
#include "train/step.h"
#include "net/registry.h"
#include "net/net_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(parameter_counts) {
    struct { const char *model; int c, h, w, k; size_t p; } cases[] = {
        {"ConvNet", 1, 28, 28, 10, 317706},   {"ConvNet", 3, 32, 32, 10, 320010},
        {"ConvNet", 3, 32, 32, 100, 504420},  {"ConvNetD4", 3, 64, 64, 200, 857160},
        {"ConvNetD5", 3, 128, 128, 10, 615690}, {"ConvNetD3", 3, 64, 64, 200, 1938120},
        /* the table in docs/algorithm.md#other-architectures: CIFAR-10, CIFAR-100, Fashion-MNIST */
        {"MLP", 3, 32, 32, 10, 411146},        {"MLP", 3, 32, 32, 100, 422756},        {"MLP", 1, 28, 28, 10, 118282},
        {"LeNet", 3, 32, 32, 10, 62006},       {"LeNet", 3, 32, 32, 100, 69656},       {"LeNet", 1, 28, 28, 10, 61706},
        {"AlexNet", 3, 32, 32, 10, 1872202},   {"AlexNet", 3, 32, 32, 100, 2148772},   {"AlexNet", 1, 28, 28, 10, 1865802},
        {"VGG11", 3, 32, 32, 10, 9231114},     {"VGG11", 3, 32, 32, 100, 9277284},     {"VGG11", 1, 28, 28, 10, 9229962},
        {"VGG11BN", 3, 32, 32, 10, 9231114},   {"VGG11BN", 1, 28, 28, 10, 9229962},
        {"ResNet18", 3, 32, 32, 10, 11173962}, {"ResNet18", 3, 32, 32, 100, 11220132}, {"ResNet18", 1, 28, 28, 10, 11172810},
        {"ResNet18_AP", 3, 32, 32, 10, 11250762}, {"ResNet18_AP", 3, 32, 32, 100, 11988132},
        {"ResNet18_AP", 1, 28, 28, 10, 11213770}, {"ResNet18BN_AP", 3, 32, 32, 10, 11250762},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Net net;
        net_build(&net, cases[i].model, cases[i].c, cases[i].h, cases[i].w, cases[i].k);
        ck_assert_msg(net.ndense == cases[i].p, "%s %dx%dx%d: %zu parameters, want %zu", cases[i].model, cases[i].c,
                      cases[i].h, cases[i].w, net.ndense, cases[i].p);
    }
}
END_TEST

/* docs/formats.md#flat-parameter-vector worked example B: ConvNet on Fashion-MNIST. */
START_TEST(parameter_layout_fashion_mnist) {
    Net net;
    net_build(&net, "ConvNet", 1, 28, 28, 10);
    const char *names[] = {"features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                           "features.4.weight", "features.4.bias", "features.5.weight", "features.5.bias",
                           "features.8.weight", "features.8.bias", "features.9.weight", "features.9.bias",
                           "classifier.weight", "classifier.bias"};
    const size_t offs[] = {0, 1152, 1280, 1408, 1536, 148992, 149120, 149248, 149376, 296832, 296960, 297088, 297216, 317696};
    ck_assert_int_eq(net.ntensors, 14);
    for (int i = 0; i < 14; i++) {
        ck_assert_str_eq(net.tensors[i].name, names[i]);
        ck_assert_uint_eq(net.tensors[i].offset, offs[i]);
    }
    ck_assert_int_eq(net.tensors[12].shape[0], 10);
    ck_assert_int_eq(net.tensors[12].shape[1], 2048);
    char *js = net_param_layout_json(&net);
    ck_assert(strncmp(js, "[[\"features.0.weight\", [128, 1, 3, 3]], [\"features.0.bias\", [128]]", 62) == 0);
    ck_assert(strstr(js, "[\"classifier.weight\", [10, 2048]], [\"classifier.bias\", [10]]]") != NULL);
    free(js);
    /* Names the original does not accept are refused by a clear error (tested via the CLI). */
}
END_TEST

/* clmtt's parameter vectors: every tensor at a multiple of NET_PARAM_ALIGN floats, in file
 * order, each gap shorter than the alignment; pack and unpack invert each other and unpack
 * zeroes the gaps; initialization leaves the gaps zero. */
static void check_memory_layout(const Net *net) {
    size_t end = 0;
    for (int k = 0; k < net->ntensors; k++) {
        const ParamTensor *t = &net->tensors[k];
        ck_assert_msg(t->mem_offset % NET_PARAM_ALIGN == 0, "%s %s at %zu", net->model, t->name, t->mem_offset);
        ck_assert(t->mem_offset >= end && t->mem_offset - end < NET_PARAM_ALIGN);
        end = t->mem_offset + t->numel;
    }
    ck_assert_uint_eq(net->nparams, end);
    const ParamTensor *last = &net->tensors[net->ntensors - 1];
    ck_assert_uint_eq(net->ndense, last->offset + last->numel);
    float *dense = tu_new_rand(net->ndense, 61), *mem = xmalloc(net->nparams * 4), *back = xmalloc(net->ndense * 4);
    for (size_t i = 0; i < net->nparams; i++) mem[i] = NAN;
    net_unpack(net, dense, mem);
    char *in_tensor = xcalloc(net->nparams, 1);
    for (int k = 0; k < net->ntensors; k++) {
        const ParamTensor *t = &net->tensors[k];
        ck_assert(memcmp(mem + t->mem_offset, dense + t->offset, t->numel * 4) == 0);
        memset(in_tensor + t->mem_offset, 1, t->numel);
    }
    /* (one assertion per loop: Check marks every assertion it passes) */
    size_t bad = 0;
    for (size_t i = 0; i < net->nparams; i++) bad += !in_tensor[i] && mem[i] != 0.0f;
    ck_assert_msg(bad == 0, "%s: %zu gap entries not zeroed by unpack", net->model, bad);
    net_pack(net, mem, back);
    ck_assert(memcmp(back, dense, net->ndense * 4) == 0);
    for (size_t i = 0; i < net->nparams; i++) mem[i] = NAN;
    Rng r;
    rng_init(&r, 62, 0);
    net_init_params(net, &r, mem);
    for (size_t i = 0; i < net->nparams; i++) bad += !in_tensor[i] && mem[i] != 0.0f;
    ck_assert_msg(bad == 0, "%s: %zu gap entries not zeroed by initialization", net->model, bad);
    free(dense); free(mem); free(back); free(in_tensor);
}

/* The other architectures: PyTorch names in parameters() order (a few per model) and the
 * classifier input each one computes. */
START_TEST(parameter_layout_other_models) {
    struct { const char *model; int c, h, w; int t; const char *name; int64_t d0, d1; } cases[] = {
        {"MLP", 1, 28, 28, 0, "fc_1.weight", 128, 784},         {"MLP", 3, 32, 32, 5, "fc_3.bias", 10, 0},
        {"LeNet", 1, 28, 28, 2, "features.3.weight", 16, 6},    {"LeNet", 3, 32, 32, 4, "fc_1.weight", 120, 400},
        {"LeNet", 3, 32, 32, 9, "fc_3.bias", 10, 0},            {"AlexNet", 1, 28, 28, 0, "features.0.weight", 128, 1},
        {"AlexNet", 3, 32, 32, 2, "features.3.weight", 192, 128}, {"AlexNet", 3, 32, 32, 8, "features.10.weight", 192, 192},
        {"AlexNet", 1, 28, 28, 10, "fc.weight", 10, 3072},      {"VGG11", 1, 28, 28, 0, "features.0.weight", 64, 1},
        {"VGG11", 3, 32, 32, 2, "features.1.weight", 64, 0},    {"VGG11", 3, 32, 32, 4, "features.4.weight", 128, 64},
        {"VGG11", 3, 32, 32, 28, "features.25.weight", 512, 512}, {"VGG11BN", 3, 32, 32, 32, "classifier.weight", 10, 512},
        {"ResNet18", 3, 32, 32, 0, "conv1.weight", 64, 3},      {"ResNet18", 3, 32, 32, 2, "bn1.bias", 64, 0},
        {"ResNet18", 3, 32, 32, 3, "layer1.0.conv1.weight", 64, 64}, {"ResNet18", 3, 32, 32, 6, "layer1.0.conv2.weight", 64, 64},
        {"ResNet18", 3, 32, 32, 15, "layer2.0.conv1.weight", 128, 64}, {"ResNet18", 3, 32, 32, 21, "layer2.0.shortcut.0.weight", 128, 64},
        {"ResNet18", 3, 32, 32, 22, "layer2.0.shortcut.1.weight", 128, 0}, {"ResNet18", 3, 32, 32, 60, "classifier.weight", 10, 512},
        {"ResNet18_AP", 3, 32, 32, 22, "layer2.0.shortcut.2.weight", 128, 0}, {"ResNet18_AP", 3, 32, 32, 60, "classifier.weight", 10, 8192},
        {"ResNet18_AP", 1, 28, 28, 60, "classifier.weight", 10, 4608},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Net net;
        net_build(&net, cases[i].model, cases[i].c, cases[i].h, cases[i].w, 10);
        ck_assert_int_gt(net.ntensors, cases[i].t);
        const ParamTensor *t = &net.tensors[cases[i].t];
        ck_assert_msg(strcmp(t->name, cases[i].name) == 0, "%s tensor %d: %s, want %s", cases[i].model, cases[i].t,
                      t->name, cases[i].name);
        ck_assert_int_eq(t->shape[0], cases[i].d0);
        if (cases[i].d1) ck_assert_int_eq(t->shape[1], cases[i].d1);
        /* file offsets are consecutive: each tensor starts where the one before ends */
        for (int k = 1; k < net.ntensors; k++)
            ck_assert_uint_eq(net.tensors[k].offset, net.tensors[k - 1].offset + net.tensors[k - 1].numel);
        check_memory_layout(&net);
    }
    Net vgg;
    net_build(&vgg, "VGG11BN", 3, 32, 32, 10);
    ck_assert_int_eq(vgg.nbatchnorm, 8);
    ck_assert_int_eq(vgg.ntensors, 34);
}
END_TEST

START_TEST(init_follows_pytorch_defaults) {
    Net net;
    net_build(&net, "ConvNet", 3, 32, 32, 10);
    float *p = xmalloc(net.nparams * 4);
    Rng r;
    rng_init(&r, 5, 0);
    net_init_params(&net, &r, p);
    /* conv0 weight bound 1/sqrt(27); norm gamma 1, beta 0; classifier bound 1/sqrt(2048). */
    double b0 = 1 / sqrt(27.0), bf = 1 / sqrt(2048.0), mx0 = 0, mxf = 0;
    for (size_t i = 0; i < 3456; i++) mx0 = fmax(mx0, fabs(p[i]));
    for (size_t i = 299520; i < 320000; i++) mxf = fmax(mxf, fabs(p[i]));
    ck_assert(mx0 <= b0 && mx0 > 0.95 * b0);
    ck_assert(mxf <= bf && mxf > 0.95 * bf);
    ck_assert_float_eq(p[3584], 1.0f);
    ck_assert_float_eq(p[3712], 0.0f);
    free(p);
}
END_TEST

/* probes: parameters probed per tensor by finite differences (0: 3; -1: the network is
 * only compared with the device); step: the step of those probes (0: 1e-8); tol: the
 * device's relative error bound (0: 1e-4). */
typedef struct { const char *model; int c, h, w, k, n, probes; double step, tol; } Small;
static const Small smalls[] = {
    {"ConvNetW32", 1, 6, 6, 4, 3, 0, 0, 0},   /* padding-3 first conv, instance norm, ReLU, avg pool */
    {"ConvNetAS", 3, 8, 8, 3, 2, 0, 0, 0},    /* sigmoid */
    {"ConvNetAL", 2, 8, 9, 3, 2, 0, 0, 0},    /* leaky ReLU, odd width */
    {"ConvNetLN", 3, 8, 8, 3, 2, 0, 0, 0},    /* layer norm */
    {"ConvNetGN", 3, 8, 8, 3, 2, 0, 0, 0},    /* group norm */
    {"ConvNetBN", 3, 8, 8, 3, 3, 0, 0, 0},    /* batch norm (batch statistics) */
    {"ConvNetMP", 3, 8, 8, 3, 2, 0, 0, 0},    /* max pool */
    {"ConvNetD1", 3, 5, 5, 3, 2, 0, 0, 0},    /* depth 1, odd pool input */
    {"MLP", 2, 5, 6, 4, 3, 0, 0, 0},          /* linear first layer on NCHW rows, linear -> ReLU -> linear */
    {"LeNet", 1, 13, 12, 3, 2, 0, 0, 0},      /* 5x5 kernels with and without padding, max pool, odd sizes */
    {"AlexNet", 1, 4, 4, 3, 2, 0, 0, 0},      /* padding 4, three kernel widths, 1.8M parameters */
    /* ResNets: layer4 must see more than one pixel (instance norm of a 1x1 map is constant).
     * Their float64 loss sums enough terms that a step of 1e-8 drowns in rounding; 1e-6
     * agrees with 1e-5 to 1e-9 relative. One probe per tensor keeps the test short. In
     * float32, 20 convolutions and norms over maps of 2x2 pixels lose about 1e-4. */
    {"ResNet18_AP", 3, 16, 16, 3, 1, 1, 1e-6, 5e-4},   /* residual adds, pooled 1x1 shortcuts, 11M parameters */
    {"ResNet18BN_AP", 2, 16, 16, 3, 2, 1, 1e-6, 5e-4}, /* the same with batch norm */
    {"ResNet18", 1, 25, 25, 3, 1, -1, 0, 5e-4},        /* stride-2 convs and shortcuts (odd sizes), 4x4 average pool */
};

typedef struct {
    Net net;
    int n;
    double *p, *x, *lam;
    double *y;   /* target rows [n][k]: even rows one-hot, odd rows soft (float-representable) */
} Problem;

static void problem_make(Problem *pr, const Small *s, uint64_t seed) {
    net_build(&pr->net, s->model, s->c, s->h, s->w, s->k);
    pr->n = s->n;
    size_t P = pr->net.nparams, X = (size_t)s->n * s->c * s->h * s->w;
    float *pf = xmalloc(P * 4);
    Rng r;
    rng_init(&r, seed, 1);
    net_init_params(&pr->net, &r, pf);
    pr->p = tu_to_double(pf, P);
    free(pf);
    /* Norm affine parameters away from their init values exercise every term. */
    double *noise = xmalloc(P * 8);
    tu_rand_d(noise, P, seed + 1, -0.2, 0.2);
    for (size_t i = 0; i < P; i++) pr->p[i] += noise[i] * 0.5;
    free(noise);
    pr->x = xmalloc(X * 8);
    tu_rand_d(pr->x, X, seed + 2, -1.5, 1.5);
    pr->lam = xmalloc(P * 8);
    tu_rand_d(pr->lam, P, seed + 3, -1, 1);
    pr->y = xmalloc((size_t)s->n * s->k * sizeof(double));
    for (int i = 0; i < s->n; i++) {
        double z = 0;
        for (int c = 0; c < s->k; c++) z += exp(0.3 * ((i + 2 * c) % 5));
        for (int c = 0; c < s->k; c++)
            pr->y[i * s->k + c] = i % 2 == 0 ? (c == (i * 7 + 1) % s->k) : (double)(float)(exp(0.3 * ((i + 2 * c) % 5)) / z);
    }
}

static void problem_free(Problem *pr) { free(pr->p); free(pr->x); free(pr->lam); free(pr->y); }

static double loss_at(Problem *pr, const double *p, const double *x) {
    RefExec r;
    ref_exec_init(&r, &pr->net, pr->n);
    double l = ref_forward(&r, p, x, pr->y);
    ref_exec_free(&r);
    return l;
}

static void grad_at(Problem *pr, const double *p, const double *x, double *g, double *dx) {
    RefExec r;
    ref_exec_init(&r, &pr->net, pr->n);
    ref_forward(&r, p, x, pr->y);
    ref_backward(&r, p, pr->y, g, dx);
    ref_exec_free(&r);
}

/* Indices spread over every parameter tensor, so each layer is probed. */
static int probe_indices(const Net *net, size_t *idx, int per_tensor) {
    int k = 0;
    for (int t = 0; t < net->ntensors; t++)
        for (int j = 0; j < per_tensor; j++)
            idx[k++] = net->tensors[t].mem_offset + (net->tensors[t].numel * (2 * j + 1)) / (2 * per_tensor);
    return k;
}

START_TEST(reference_gradients_vs_finite_differences) {
    for (size_t m = 0; m < sizeof smalls / sizeof smalls[0]; m++) {
        if (smalls[m].probes < 0) continue;
        Problem pr;
        problem_make(&pr, &smalls[m], 100 + m);
        size_t P = pr.net.nparams, X = (size_t)pr.n * smalls[m].c * smalls[m].h * smalls[m].w;
        double *g = xcalloc(P, 8), *dx = xcalloc(X, 8), *hvp = xcalloc(P, 8), *u = xcalloc(X, 8), *g2 = xcalloc(P, 8);
        grad_at(&pr, pr.p, pr.x, g, dx);
        RefExec r;
        ref_exec_init(&r, &pr.net, pr.n);
        ref_grad_hvp(&r, pr.p, pr.lam, pr.x, pr.y, g2, hvp, u);
        ref_exec_free(&r);
        tu_check_close_d("grad from the R pass", g2, g, P, 1e-12, 1e-14);
        const double h = smalls[m].step > 0 ? smalls[m].step : 1e-8; /* small: ReLU kinks must not fall inside */
        size_t idx[3 * NET_MAX_TENSORS];
        int k = probe_indices(&pr.net, idx, smalls[m].probes > 0 ? smalls[m].probes : 3);
        double *pp = xmalloc(P * 8), *gp = xcalloc(P, 8), *gm = xcalloc(P, 8);
        for (int j = 0; j < k; j++) {
            memcpy(pp, pr.p, P * 8);
            pp[idx[j]] += h;
            double lp = loss_at(&pr, pp, pr.x);
            pp[idx[j]] -= 2 * h;
            double lm = loss_at(&pr, pp, pr.x);
            double fd = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(fd - g[idx[j]]) <= 1e-6 + 1e-5 * fabs(fd), "%s: dL/dp[%zu] = %.10g, FD %.10g",
                          smalls[m].model, idx[j], g[idx[j]], fd);
        }
        /* Hessian-vector product: directional difference of the gradient along lam (every
         * parameter moves, so the step stays at 1e-8 to cross no ReLU kink). */
        const double hl = 1e-8;
        for (size_t i = 0; i < P; i++) pp[i] = pr.p[i] + hl * pr.lam[i];
        grad_at(&pr, pp, pr.x, gp, NULL);
        for (size_t i = 0; i < P; i++) pp[i] = pr.p[i] - hl * pr.lam[i];
        grad_at(&pr, pp, pr.x, gm, NULL);
        double *fdh = xmalloc(P * 8);
        for (size_t i = 0; i < P; i++) fdh[i] = (gp[i] - gm[i]) / (2 * hl);
        double e = tu_rel_err(hvp, fdh, P);
        ck_assert_msg(e < 1e-5, "%s: H lam vs finite differences: relative error %g", smalls[m].model, e);
        /* Input gradient and mixed derivative u_j = d<lam, grad>/dx_j. */
        double *xx = xmalloc(X * 8);
        const size_t xstep = X / (smalls[m].probes == 1 ? 3 : 9) + 1; /* input coordinates probed */
        for (size_t j = 0; j < X; j += xstep) {
            memcpy(xx, pr.x, X * 8);
            /* u sums P rounded differences: a larger step keeps their rounding small. */
            const double hx = 1e-7;
            xx[j] += hx;
            double lp = loss_at(&pr, pr.p, xx);
            grad_at(&pr, pr.p, xx, gp, NULL);
            xx[j] -= 2 * hx;
            double lm = loss_at(&pr, pr.p, xx);
            grad_at(&pr, pr.p, xx, gm, NULL);
            double fdx = (lp - lm) / (2 * hx), fdu = 0;
            for (size_t i = 0; i < P; i++) fdu += pr.lam[i] * (gp[i] - gm[i]) / (2 * hx);
            ck_assert_msg(fabs(fdx - dx[j]) <= 1e-7 + 1e-5 * fabs(fdx), "%s: dL/dx[%zu] = %.10g, FD %.10g",
                          smalls[m].model, j, dx[j], fdx);
            ck_assert_msg(fabs(fdu - u[j]) <= 1e-6 + 1e-5 * fabs(fdu), "%s: u[%zu] = %.10g, FD %.10g",
                          smalls[m].model, j, u[j], fdu);
        }
        free(xx); free(fdh); free(pp); free(gp); free(gm);
        free(g); free(dx); free(hvp); free(u); free(g2);
        problem_free(&pr);
    }
}
END_TEST

/* float32 and float64 may disagree on the side of a ReLU kink for a pre-activation within
 * rounding of 0; such inputs say nothing about the code, so the comparison uses inputs
 * whose ReLU inputs are all at least 1e-5 away from it. */
static int well_conditioned(const RefExec *r) {
    for (int i = 0; i < r->net->nlayers; i++) {
        const Layer *l = &r->net->layers[i];
        if (l->kind != LAYER_ACT || l->act == ACT_SIGMOID) continue;
        size_t n = (size_t)r->n * l->cin * l->h * l->w;
        for (size_t j = 0; j < n; j++)
            if (fabs(r->act[i][j]) < 1e-5) return 0;
    }
    return 1;
}

START_TEST(device_matches_reference) {
    tu_init();
    for (size_t m = 0; m < sizeof smalls / sizeof smalls[0]; m++) {
        /* tu_small: AlexNet and the ResNets are left out (millions of parameters; the
         * ResNets' buffers outgrow a simulator's memory); their kernels all run in the
         * other networks too. */
        if (tu_small()) {
            Net probe;
            net_build(&probe, smalls[m].model, smalls[m].c, smalls[m].h, smalls[m].w, smalls[m].k);
            if (probe.nparams > 200000) continue;
        }
        Problem pr;
        int tries = 0;
        for (;;) {
            problem_make(&pr, &smalls[m], 200 + m + 1000 * (size_t)tries);
            RefExec probe;
            ref_exec_init(&probe, &pr.net, pr.n);
            ref_forward(&probe, pr.p, pr.x, pr.y);
            int ok = well_conditioned(&probe);
            ref_exec_free(&probe);
            if (ok) break;
            problem_free(&pr);
            ck_assert_msg(++tries < 20, "%s: no well-conditioned input in 20 draws", smalls[m].model);
        }
        size_t P = pr.net.nparams, X = (size_t)pr.n * smalls[m].c * smalls[m].h * smalls[m].w;
        double *g = xcalloc(P, 8), *hvp = xcalloc(P, 8), *u = xcalloc(X, 8), *dx = xcalloc(X, 8);
        RefExec r;
        ref_exec_init(&r, &pr.net, pr.n);
        double loss = ref_forward(&r, pr.p, pr.x, pr.y);
        ref_backward(&r, pr.p, pr.y, g, dx);
        ref_grad_hvp(&r, pr.p, pr.lam, pr.x, pr.y, g, hvp, u);
        float *pf = tu_to_float(pr.p, P), *xf = tu_to_float(pr.x, X), *lf = tu_to_float(pr.lam, P);
        cl_mem dP = tu_upload(pf, P), dX = tu_upload(xf, X), dL = tu_upload(lf, P);
        cl_mem dG = tu_poisoned(P), dH = tu_poisoned(P), dU = tu_poisoned(X), dDX = tu_poisoned(X), dG2 = tu_poisoned(P);
        float *yf = tu_to_float(pr.y, (size_t)pr.n * pr.net.num_classes);
        cl_mem dY = tu_upload(yf, (size_t)pr.n * pr.net.num_classes);
        free(yf);
        Exec e;
        exec_init(&e, &pr.net, pr.n + 1, 1);
        RtCounts c0 = rt_counts();
        exec_forward(&e, dptr(dP, 0), dX, pr.n, 1);
        exec_loss(&e, dY, pr.n);
        double ls, hits, rows;
        exec_take_sums(&e, &ls, &hits, &rows);
        ck_assert_double_eq_tol(ls / rows, loss, 1e-4 * fabs(loss) + 1e-5);
        ck_assert_double_eq(rows, pr.n);
        exec_backward(&e, dptr(dP, 0), dptr(dG2, 0), dX, pr.n, dDX);
        exec_grad_hvp(&e, dptr(dP, 0), dptr(dL, 0), dX, pr.n, dY, dptr(dG, 0), dptr(dH, 0), dU);
        /* every weight starts aligned in the parameter vector (net.h), and so every product's operands */
        long unaligned = rt_counts_sub(rt_counts(), c0).gemm_unaligned;
        ck_assert_msg(unaligned == 0, "%s: %ld products with an operand off %zu floats", smalls[m].model, unaligned,
                      rt_align_floats());
        float *gg = tu_download(dG, 0, P), *gh = tu_download(dH, 0, P), *gu = tu_download(dU, 0, X),
              *gg2 = tu_download(dG2, 0, P), *gdx = tu_download(dDX, 0, X);
        /* the passes leave the gaps between tensors unwritten: poison there */
        tu_zero_gaps(&pr.net, gg);
        tu_zero_gaps(&pr.net, gh);
        tu_zero_gaps(&pr.net, gg2);
        double *ggd = tu_to_double(gg, P), *ghd = tu_to_double(gh, P), *gud = tu_to_double(gu, X),
               *gg2d = tu_to_double(gg2, P), *gdxd = tu_to_double(gdx, X);
        double eg = tu_rel_err(ggd, g, P), eh = tu_rel_err(ghd, hvp, P), eu = tu_rel_err(gud, u, X),
               eg2 = tu_rel_err(gg2d, g, P), edx = tu_rel_err(gdxd, dx, X);
        const double tol = smalls[m].tol > 0 ? smalls[m].tol : 1e-4;
        ck_assert_msg(eg < tol && eg2 < tol && edx < tol, "%s: gradient rel err %g / %g, input %g", smalls[m].model, eg, eg2, edx);
        ck_assert_msg(eh < tol, "%s: H lam rel err %g", smalls[m].model, eh);
        ck_assert_msg(eu < tol, "%s: u rel err %g", smalls[m].model, eu);
        exec_free(&e);
        dev_free(dP); dev_free(dX); dev_free(dL); dev_free(dG); dev_free(dH); dev_free(dU); dev_free(dDX);
        dev_free(dG2); dev_free(dY);
        free(gg); free(gh); free(gu); free(gg2); free(gdx); free(ggd); free(ghd); free(gud); free(gg2d); free(gdxd);
        free(pf); free(xf); free(lf);
        ref_exec_free(&r);
        free(g); free(hvp); free(u); free(dx);
        problem_free(&pr);
    }
}
END_TEST

/* im2col columns kept across the passes of a reverse step (layers/conv_cols.h): with
 * keeping off, on, and under a cap too small for all of them with several chunks per
 * layer, exec_grad_hvp gives the same bits; with it on every convolution that
 * builds columns saves three im2col launches of its input per chunk (tangent, R-backward,
 * backward read the forward's) and one of its input tangent (R-backward reads the
 * tangent pass's). */
static void grad_hvp_run(const Problem *pr, float **out, size_t P, size_t X, long *saved) {
    float *pf = tu_to_float(pr->p, P), *xf = tu_to_float(pr->x, X), *lf = tu_to_float(pr->lam, P);
    float *yf = tu_to_float(pr->y, (size_t)pr->n * pr->net.num_classes);
    cl_mem dP = tu_upload(pf, P), dX = tu_upload(xf, X), dL = tu_upload(lf, P),
           dY = tu_upload(yf, (size_t)pr->n * pr->net.num_classes);
    cl_mem dG = tu_poisoned(P), dH = tu_poisoned(P), dU = tu_poisoned(X);
    Exec e;
    exec_init(&e, &pr->net, pr->n, 1);
    RtCounts c0 = rt_counts();
    exec_grad_hvp(&e, dptr(dP, 0), dptr(dL, 0), dX, pr->n, dY, dptr(dG, 0), dptr(dH, 0), dU);
    *saved = rt_counts_sub(rt_counts(), c0).im2col_saved;
    out[0] = tu_download(dG, 0, P);
    out[1] = tu_download(dH, 0, P);
    tu_zero_gaps(&pr->net, out[0]);   /* unwritten gaps between tensors: poison */
    tu_zero_gaps(&pr->net, out[1]);
    out[2] = tu_download(dU, 0, X);
    exec_free(&e);
    dev_free(dP); dev_free(dX); dev_free(dL); dev_free(dY); dev_free(dG); dev_free(dH); dev_free(dU);
    free(pf); free(xf); free(lf); free(yf);
}

/* Logits of a training-mode forward (which moves batch norm's running statistics), then of an
 * eval-mode one (which reads them), with fusion on or off (CLMTT_FUSE, read by exec_init). */
static void train_then_eval(const Problem *pr, const char *fuse, float **train_logits, float **eval_logits) {
    setenv("CLMTT_FUSE", fuse, 1);
    size_t P = pr->net.nparams, X = (size_t)pr->n * pr->net.channels * pr->net.height * pr->net.width;
    size_t L = (size_t)pr->n * pr->net.num_classes;
    float *pf = tu_to_float(pr->p, P), *xf = tu_to_float(pr->x, X);
    cl_mem dP = tu_upload(pf, P), dX = tu_upload(xf, X);
    Exec e;
    exec_init(&e, &pr->net, pr->n, 0);
    unsetenv("CLMTT_FUSE");
    exec_forward(&e, dptr(dP, 0), dX, pr->n, 1);
    *train_logits = tu_download(exec_logits(&e), 0, L);
    exec_forward(&e, dptr(dP, 0), dX, pr->n, 0);
    *eval_logits = tu_download(exec_logits(&e), 0, L);
    exec_free(&e);
    dev_free(dP); dev_free(dX);
    free(pf); free(xf);
}

/* Batch norm in eval mode runs layer by layer even where fusion is on, and the convolution
 * before it then adds its own bias (the fused block adds it otherwise): fused and unfused
 * executors agree in both modes. */
START_TEST(batchnorm_eval_with_fusion) {
    tu_init();
    const Small bn = {"ConvNetBN", 3, 8, 8, 3, 3, 0, 0, 0};
    Problem pr;
    problem_make(&pr, &bn, 321);
    float *t_on, *e_on, *t_off, *e_off;
    train_then_eval(&pr, "1", &t_on, &e_on);
    train_then_eval(&pr, "0", &t_off, &e_off);
    size_t L = (size_t)pr.n * pr.net.num_classes;
    double *t_ref = tu_to_double(t_off, L), *e_ref = tu_to_double(e_off, L);
    tu_check_close("ConvNetBN training-mode logits, fused vs not", t_on, t_ref, L, 1e-4, 1e-5);
    tu_check_close("ConvNetBN eval-mode logits, fused vs not", e_on, e_ref, L, 1e-4, 1e-5);
    int differs = 0;   /* eval mode really read other statistics */
    for (size_t i = 0; i < L; i++) differs |= fabsf(e_off[i] - t_off[i]) > 1e-3f;
    ck_assert_msg(differs, "eval-mode logits equal the training-mode ones");
    free(t_on); free(e_on); free(t_off); free(e_off); free(t_ref); free(e_ref);
    problem_free(&pr);
}
END_TEST

/* A plain gradient step (step_grad: forward, loss, backward) on the problem; *saved: the
 * im2col launches kept columns saved. */
static float *grad_run(const Problem *pr, size_t P, size_t X, long *saved) {
    float *pf = tu_to_float(pr->p, P), *xf = tu_to_float(pr->x, X);
    float *yf = tu_to_float(pr->y, (size_t)pr->n * pr->net.num_classes);
    cl_mem dP = tu_upload(pf, P), dX = tu_upload(xf, X), dY = tu_upload(yf, (size_t)pr->n * pr->net.num_classes);
    cl_mem dG = tu_poisoned(P);
    StepEngine st;
    step_init(&st, &pr->net, pr->n, 0, 0);
    RtCounts c0 = rt_counts();
    step_grad(&st, dptr(dP, 0), dX, dY, pr->n, pr->n, 0, dptr(dG, 0));
    *saved = rt_counts_sub(rt_counts(), c0).im2col_saved;
    float *g = tu_download(dG, 0, P);
    tu_zero_gaps(&pr->net, g);   /* unwritten gaps between tensors: poison */
    step_free(&st);
    dev_free(dP); dev_free(dX); dev_free(dY); dev_free(dG);
    free(pf); free(xf); free(yf);
    return g;
}

/* im2col launches kept columns save in one step: `per` for every chunk of each convolution
 * that builds columns (all but direct 1x1 layers), and `per_tangent` more where its input is
 * not the network's (it has a tangent). */
static long kept_saves(const Net *net, int n, int per, int per_tangent) {
    long saves = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        if (l->kind != LAYER_CONV) continue;
        Conv2dShape s = layer_conv_shape(l, n, l->src == 0);
        if (s.K == 1 && s.pad == 0 && !s.in_nchw) continue;   /* no im2col */
        int nc = conv2d_chunk_samples(&s), chunks = (n + nc - 1) / nc;
        saves += (long)chunks * (per + per_tangent * (l->src != 0));
    }
    return saves;
}

/* The networks of the kept-columns checks. */
static const Small kept_cases[] = {{"LeNet", 1, 13, 12, 3, 3, 0, 0, 0}, {"ConvNetW32", 1, 6, 6, 4, 3, 0, 0, 0}};

/* A reverse step: the forward pass's columns serve the tangent, R-backward and backward
 * passes (3), the tangent's serve the R-backward (1). A plain gradient step: its backward
 * pass reads the forward's (1). The same bits either way. */
START_TEST(kept_columns_change_nothing) {
    tu_init();
    const Small *cases = kept_cases;
    for (size_t m = 0; m < sizeof kept_cases / sizeof kept_cases[0]; m++) {
        Problem pr;
        problem_make(&pr, &cases[m], 77 + m);
        size_t P = pr.net.nparams, X = (size_t)pr.n * cases[m].c * cases[m].h * cases[m].w;
        size_t sizes[3] = {P, P, X};
        float *off[3], *on[3], *coff[3], *tight[3];
        long s_off, s_on, s_coff, s_tight;
        setenv("CLMTT_CONV_COLS_FLOATS", "0", 1);
        grad_hvp_run(&pr, off, P, X, &s_off);
        setenv("CLMTT_CONV_COLS_FLOATS", "100000000", 1);   /* on, in either kernel family */
        grad_hvp_run(&pr, on, P, X, &s_on);
        long want = kept_saves(&pr.net, pr.n, 3, 1);
        /* One sample per chunk, without kept columns and with room for only a few chunks'. */
        setenv("CLMTT_CONV_CHUNK_FLOATS", "1", 1);
        setenv("CLMTT_CONV_COLS_FLOATS", "0", 1);
        grad_hvp_run(&pr, coff, P, X, &s_coff);
        setenv("CLMTT_CONV_COLS_FLOATS", "3000", 1);
        grad_hvp_run(&pr, tight, P, X, &s_tight);
        long want_chunked = kept_saves(&pr.net, pr.n, 3, 1);
        unsetenv("CLMTT_CONV_CHUNK_FLOATS");
        unsetenv("CLMTT_CONV_COLS_FLOATS");
        ck_assert_int_eq(s_off, 0);
        ck_assert_int_eq(s_coff, 0);
        long g_off, g_on;
        setenv("CLMTT_CONV_COLS_FLOATS", "0", 1);
        float *grad_off = grad_run(&pr, P, X, &g_off);
        setenv("CLMTT_CONV_COLS_FLOATS", "100000000", 1);
        float *grad_on = grad_run(&pr, P, X, &g_on);
        unsetenv("CLMTT_CONV_COLS_FLOATS");
        long want_grad = kept_saves(&pr.net, pr.n, 1, 0);
        ck_assert_int_eq(g_off, 0);
        ck_assert_msg(want_grad > 0 && g_on == want_grad, "%s: %ld im2col launches saved in a gradient step, expected %ld",
                      cases[m].model, g_on, want_grad);
        ck_assert_msg(memcmp(grad_off, grad_on, P * 4) == 0, "%s: the gradient differs with kept columns", cases[m].model);
        free(grad_off); free(grad_on);
        ck_assert_msg(want > 0 && s_on == want, "%s: %ld im2col launches saved, expected %ld", cases[m].model, s_on, want);
        ck_assert_msg(want_chunked > want && s_tight > 0 && s_tight < want_chunked,
                      "%s: under the cap %ld saved, expected some of %ld", cases[m].model, s_tight, want_chunked);
        for (int k = 0; k < 3; k++) {
            ck_assert_msg(memcmp(off[k], on[k], sizes[k] * 4) == 0, "%s: output %d differs with kept columns",
                          cases[m].model, k);
            ck_assert_msg(memcmp(coff[k], tight[k], sizes[k] * 4) == 0,
                          "%s: output %d differs with some chunks' columns kept", cases[m].model, k);
            free(off[k]); free(on[k]); free(coff[k]); free(tight[k]);
        }
        problem_free(&pr);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, parameter_counts);
    tcase_add_test(tc, parameter_layout_fashion_mnist);
    tcase_add_test(tc, parameter_layout_other_models);
    tcase_add_test(tc, init_follows_pytorch_defaults);
    tcase_add_test(tc, reference_gradients_vs_finite_differences);
    suite_add_tcase(s, tc);
    /* its own case, so the GPU-family run (CK_RUN_CASE=device) repeats only this part */
    TCase *dev = tcase_create("device");
    tcase_set_timeout(dev, 900);
    tcase_add_test(dev, device_matches_reference);
    tcase_add_test(dev, kept_columns_change_nothing);
    tcase_add_test(dev, batchnorm_eval_with_fusion);
    suite_add_tcase(s, dev);
    return tu_run(s);
}
