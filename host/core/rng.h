/* Reproducible random numbers on the host: Random123's Philox-4x32-10 counter
 * generator. A stream is (seed, stream id); draws never depend on the device, so
 * a seed reproduces the same augmentation, batches and initialisation anywhere. */
#ifndef CLMTT_RNG_H
#define CLMTT_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t seed;
    uint64_t stream;
    uint64_t counter;
    uint32_t buf[4];
    int left;
} Rng;

void rng_init(Rng *r, uint64_t seed, uint64_t stream);
uint32_t rng_u32(Rng *r);
/* Uniform in [0, 1) with 53 (double) or 24 (float) random bits. */
double rng_uniform(Rng *r);
float rng_uniformf(Rng *r);
/* Uniform integer in [lo, hi], both ends inclusive. */
int rng_int(Rng *r, int lo, int hi);
/* Standard normal (Box-Muller). */
double rng_normal(Rng *r);
/* out[0..n-1] = a uniformly random permutation of 0..n-1. */
void rng_perm(Rng *r, int *out, int n);
/* The id of sub-stream `index` of stream `stream` (a 64-bit mix of both), so that work item
 * i (an expert, an evaluation network) draws from a stream of its own that depends only on
 * the seed and i, whichever process or rank runs it. */
uint64_t rng_substream(uint64_t stream, uint64_t index);
/* A seed from the clock and process id, for runs without --seed. */
uint64_t rng_fresh_seed(void);

#endif
