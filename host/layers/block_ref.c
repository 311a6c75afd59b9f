/* float64 references of the fused block: the existing norm, act and pool references run one
 * after the other, with the intermediate values kept (the device recomputes them instead). */
#include "layers/block.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

/* Forward intermediates of one block: z = norm(in) (or a copy of in), a = act(z). */
typedef struct {
    size_t ni, no;
    NormShape ns;
    PoolShape ps;
    double *stats, *z, *a;
} RefChain;

static void chain_forward(RefChain *r, const BlockShape *s, const double *in, const double *gamma, const double *beta) {
    r->ni = (size_t)s->C * s->N * s->H * s->W;
    r->no = block_out_size(s);
    r->ns = (NormShape){s->norm, s->C, s->N, s->H * s->W};
    r->ps = (PoolShape){s->pool, s->C * s->N, s->H, s->W};
    r->stats = xcalloc(2 * (size_t)block_nsets(s) + 1, sizeof(double));
    r->z = xmalloc(r->ni * sizeof(double));
    r->a = xmalloc(r->ni * sizeof(double));
    if (s->norm != NORM_NONE) norm_forward_ref(&r->ns, r->z, r->stats, in, gamma, beta);
    else memcpy(r->z, in, r->ni * sizeof(double));
    act_forward_ref(s->act, r->ni, r->a, r->z);
}

static void chain_free(RefChain *r) { free(r->stats); free(r->z); free(r->a); }

/* The pooling step (forward, or its transpose from an output gradient g to ga). */
static void chain_pool(const RefChain *r, const BlockShape *s, double *out, const double *a_or_t) {
    if (s->pool == POOL_NONE) memcpy(out, a_or_t, r->no * sizeof(double));
    else pool_tangent_ref(&r->ps, out, r->a, a_or_t);
}
static void chain_pool_back(const RefChain *r, const BlockShape *s, double *ga, const double *g) {
    if (s->pool == POOL_NONE) memcpy(ga, g, r->ni * sizeof(double));
    else pool_backward_ref(&r->ps, ga, g, r->a);
}

/* Per-channel sums of a CNHW tensor (the conv bias gradient). */
static void channel_sums(const BlockShape *s, double *out, const double *x) {
    size_t per = (size_t)s->N * s->H * s->W;
    for (int c = 0; c < s->C; c++) {
        double acc = 0.0;
        for (size_t i = 0; i < per; i++) acc += x[(size_t)c * per + i];
        out[c] = acc;
    }
}

void block_forward_ref(const BlockShape *s, double *out, double *stats, const double *in, const double *gamma,
                       const double *beta) {
    RefChain r;
    chain_forward(&r, s, in, gamma, beta);
    chain_pool(&r, s, out, r.a);
    if (stats) memcpy(stats, r.stats, 2 * (size_t)block_nsets(s) * sizeof(double));
    chain_free(&r);
}

/* dz = act'(z) * pooling's transpose of dout (the norm's output gradient). */
static double *chain_dz(const RefChain *r, const BlockShape *s, const double *dout) {
    double *ga = xmalloc(r->ni * sizeof(double)), *dz = xmalloc(r->ni * sizeof(double));
    chain_pool_back(r, s, ga, dout);
    act_backward_ref(s->act, r->ni, dz, ga, r->z);
    free(ga);
    return dz;
}

void block_backward_ref(const BlockShape *s, double *din, double *dgamma, double *dbeta, double *dbias,
                        const double *dout, const double *in, const double *gamma, const double *beta) {
    RefChain r;
    chain_forward(&r, s, in, gamma, beta);
    double *dz = chain_dz(&r, s, dout);
    if (s->norm != NORM_NONE) norm_backward_ref(&r.ns, din, dgamma, dbeta, dz, in, r.stats, gamma);
    else memcpy(din, dz, r.ni * sizeof(double));
    if (dbias) channel_sums(s, dbias, din);
    free(dz);
    chain_free(&r);
}

/* z_t: the norm's tangent (or in_t without norm). */
static double *chain_zt(const RefChain *r, const BlockShape *s, const double *in, const double *in_t,
                        const double *gamma, const double *gamma_t, const double *beta_t) {
    double *zt = xmalloc(r->ni * sizeof(double));
    if (s->norm != NORM_NONE) norm_tangent_ref(&r->ns, zt, in, in_t, r->stats, gamma, gamma_t, beta_t);
    else memcpy(zt, in_t, r->ni * sizeof(double));
    return zt;
}

void block_tangent_ref(const BlockShape *s, double *out_t, const double *in, const double *in_t, const double *gamma,
                       const double *beta, const double *gamma_t, const double *beta_t) {
    RefChain r;
    chain_forward(&r, s, in, gamma, beta);
    double *zt = chain_zt(&r, s, in, in_t, gamma, gamma_t, beta_t), *at = xmalloc(r.ni * sizeof(double));
    act_tangent_ref(s->act, r.ni, at, r.z, zt);
    chain_pool(&r, s, out_t, at);
    free(zt);
    free(at);
    chain_free(&r);
}

void block_rbackward_ref(const BlockShape *s, double *rdin, double *rdgamma, double *rdbeta, double *rdbias,
                         const double *dout, const double *rdout, const double *in, const double *in_t,
                         const double *gamma, const double *beta, const double *gamma_t, const double *beta_t) {
    RefChain r;
    chain_forward(&r, s, in, gamma, beta);
    double *ga = xmalloc(r.ni * sizeof(double)), *rga = xmalloc(r.ni * sizeof(double));
    double *dz = chain_dz(&r, s, dout), *rdz = xmalloc(r.ni * sizeof(double));
    double *zt = chain_zt(&r, s, in, in_t, gamma, gamma_t, beta_t);
    chain_pool_back(&r, s, ga, dout);
    chain_pool_back(&r, s, rga, rdout);   /* pooling is linear once the max is fixed */
    act_rbackward_ref(s->act, r.ni, rdz, ga, rga, r.z, zt);
    if (s->norm != NORM_NONE)
        norm_rbackward_ref(&r.ns, rdin, rdgamma, rdbeta, dz, rdz, in, in_t, r.stats, gamma, gamma_t);
    else memcpy(rdin, rdz, r.ni * sizeof(double));
    if (rdbias) channel_sums(s, rdbias, rdin);
    free(ga); free(rga); free(dz); free(rdz); free(zt);
    chain_free(&r);
}
