/* Finite-difference checks shared by the tests.
 * Layers: a float64 reference layer with weights and a bias,
 *   out = f(in, w, b),
 * backward vs central differences of the forward (one coordinate at a time), tangent vs
 * the directional difference of the forward, rbackward vs the directional difference of
 * the backward. The callbacks receive `shape` as given.
 * The distiller: its meta-gradient (plain images or texture canvases) against central
 * differences of the unrolled loss computed in float64 from the same batches, crop
 * offsets and augmentation draws. */
#ifndef CLMTT_FDCHECK_H
#define CLMTT_FDCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "distill/distill.h"

typedef struct {
    const void *shape;
    size_t n_in, n_out, n_w, n_b;
    void (*forward)(const void *shape, double *out, const double *in, const double *w, const double *b);
    void (*backward)(const void *shape, double *din, double *dw, double *db, const double *dout, const double *in,
                     const double *w);
    /* in_t may be NULL (a layer whose input is the network input). */
    void (*tangent)(const void *shape, double *out_t, const double *in, const double *in_t, const double *w,
                    const double *w_t, const double *b_t);
    void (*rbackward)(const void *shape, double *rdin, double *rdw, double *rdb, const double *dout,
                      const double *rdout, const double *in, const double *in_t, const double *w, const double *w_t);
} FdLayer;

/* Defines the FdLayer callbacks fd_fwd, fd_bwd, fd_tan and fd_rbwd of a layer whose
 * references are <layer>_forward_ref, _backward_ref, _tangent_ref and _rbackward_ref
 * (their first argument the layer's shape). */
#define FD_LAYER_CALLBACKS(layer)                                                                                \
    static void fd_fwd(const void *s, double *out, const double *in, const double *w, const double *b) {         \
        layer##_forward_ref(s, out, in, w, b);                                                                   \
    }                                                                                                            \
    static void fd_bwd(const void *s, double *din, double *dw, double *db, const double *dout, const double *in, \
                       const double *w) {                                                                        \
        layer##_backward_ref(s, din, dw, db, dout, in, w);                                                       \
    }                                                                                                            \
    static void fd_tan(const void *s, double *out_t, const double *in, const double *in_t, const double *w,      \
                       const double *w_t, const double *b_t) {                                                   \
        layer##_tangent_ref(s, out_t, in, in_t, w, w_t, b_t);                                                    \
    }                                                                                                            \
    static void fd_rbwd(const void *s, double *rdin, double *rdw, double *rdb, const double *dout,               \
                        const double *rdout, const double *in, const double *in_t, const double *w,              \
                        const double *w_t) {                                                                     \
        layer##_rbackward_ref(s, rdin, rdw, rdb, dout, rdout, in, in_t, w, w_t);                                 \
    }

/* Step of the central differences; tolerances are stated in fdcheck.c. */
#define FD_STEP 1e-6

void fd_check_backward(const FdLayer *l, uint64_t seed);
void fd_check_tangent(const FdLayer *l, int with_in_t, uint64_t seed);
void fd_check_rbackward(const FdLayer *l, int with_in_t, uint64_t seed);
/* All of the above: backward (seed), tangent and rbackward with and without in_t
 * (seeds seed + 100 ... seed + 400). */
void fd_check_layer(const FdLayer *l, uint64_t seed);

/* ---- the distiller's meta-gradient ---- */

enum { FD_META_NSYN = 6, FD_META_CLASSES = 3 };

typedef struct {
    int side;             /* network input: 1 x side x side */
    int canvas_size;      /* 0: plain images; else texture canvases of canvas_size x the input */
    int canvas_samples;   /* crop rounds per step (1 without texture) */
    float norm_noise;     /* factor on the start noise of networks that normalize after the first conv */
    int freq_dims;        /* > 0: frequency set, rows of freq_dims DCT coefficients (low frequencies first) */
    int soft;             /* 1: learned soft labels: target rows softmax(Y), Y uniform in [-1, 1) */
} FdMetaShape;

/* A small problem: FD_META_NSYN rows of X (uniform in [-1.5, 1.5); for frequency sets the
 * images decoded from coefficients uniform in [-1.5, 1.5)) with labels i / 2,
 * batches of 4, K student steps, a start theta0 (an initialization plus noise of +-0.02)
 * and a target near it, step size alpha 0.05. */
typedef struct {
    FdMetaShape shape;
    Net net;
    int K, batch;
    int32_t labels[FD_META_NSYN];
    float *X, *theta0, *target;
    double alpha;
    double *Y;            /* soft: the label logits [FD_META_NSYN][FD_META_CLASSES] the reference uses */
} FdMeta;

/* The network of the meta-gradient problems on side x side images: `model`, or under
 * CLMTT_TEST_SMALL (the simulator's runs) a ConvNet variant at width FD_SMALL_WIDTH. */
enum { FD_SMALL_WIDTH = 8 };
void fd_net_build(Net *net, const char *model, int side);
void fd_meta_make(FdMeta *m, const FdMetaShape *shape, const char *model, int K, uint64_t seed);
void fd_meta_free(FdMeta *m);
/* A learnable set holding m's images (pixels, or texture canvases) and a distiller for it. */
typedef struct { Distiller d; LearnSet set; } FdMetaRun;
/* The run for m with the given augmentation strategy. */
void fd_meta_distiller(const FdMeta *m, const char *strategy, FdMetaRun *r);
void fd_meta_run_free(FdMetaRun *r);
/* The unrolled loss in float64 at images X and step size alpha, replaying r's last batches,
 * crop offsets and draws, at r's last matched step and over its kept entries (the matching
 * options' choices held fixed). */
double fd_meta_ref_loss(const FdMeta *m, const FdMetaRun *r, const double *X, double alpha);
/* The float64 trajectory theta_0 .. theta_steps ((steps + 1) x P) replaying r's last batches. */
void fd_meta_ref_thetas(const FdMeta *m, const FdMetaRun *r, const double *X, double alpha, int steps,
                        double *thetas);
/* Runs distiller_meta_grad on r (rng seeded with seed) and checks against fd_meta_ref_loss:
 * the loss (1e-4 relative), dL/dlr against a central difference with step h (2e-3
 * relative + 1e-6), and dL/dX at up to npix pixels first, first + stride, ... against
 * central differences (relative error of the vector below tol); soft labels: dL/dY at every
 * logit against central differences (relative error below tol). Returns how many
 * differences are nonzero (pixels the loss reaches); *sampled (may be NULL) = the pixels
 * checked. */
int fd_check_meta_gradient(const FdMeta *m, FdMetaRun *r, const char *what, double h, uint64_t seed, size_t first,
                           size_t stride, int npix, double tol, int *sampled);
/* Peak device memory of one meta-gradient with the full augmentation on a ConvNetW32 problem
 * of K steps (above what was allocated before). */
size_t fd_meta_peak(const FdMetaShape *shape, int K);

#endif
