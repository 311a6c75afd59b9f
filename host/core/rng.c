#include "core/rng.h"

#include <Random123/philox.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

void rng_init(Rng *r, uint64_t seed, uint64_t stream) {
    r->seed = seed;
    r->stream = stream;
    r->counter = 0;
    r->left = 0;
}

static void refill(Rng *r) {
    philox4x32_ctr_t c = {{(uint32_t)r->counter, (uint32_t)(r->counter >> 32), (uint32_t)r->stream,
                           (uint32_t)(r->stream >> 32)}};
    philox4x32_key_t k = {{(uint32_t)r->seed, (uint32_t)(r->seed >> 32)}};
    philox4x32_ctr_t o = philox4x32(c, k);
    for (int i = 0; i < 4; i++) r->buf[i] = o.v[i];
    r->counter++;
    r->left = 4;
}

uint32_t rng_u32(Rng *r) {
    if (r->left == 0) refill(r);
    return r->buf[4 - r->left--];
}

double rng_uniform(Rng *r) {
    uint64_t a = rng_u32(r) >> 5, b = rng_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

float rng_uniformf(Rng *r) { return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

int rng_int(Rng *r, int lo, int hi) {
    uint64_t span = (uint64_t)((int64_t)hi - lo) + 1;
    /* Rejection sampling keeps every value equally likely. */
    uint64_t limit = (0x100000000ULL / span) * span;
    uint32_t x;
    do x = rng_u32(r); while ((uint64_t)x >= limit);
    return lo + (int)(x % span);
}

double rng_normal(Rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rng_perm(Rng *r, int *out, int n) {
    for (int i = 0; i < n; i++) out[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = rng_int(r, 0, i);
        int t = out[i]; out[i] = out[j]; out[j] = t;
    }
}

/* SplitMix64's finalizer: a bijection of 64-bit values that spreads every input bit. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_substream(uint64_t stream, uint64_t index) {
    return mix64(mix64(stream + 0x9e3779b97f4a7c15ULL) ^ (index + 0x632be59bd9b4e019ULL));
}

uint64_t rng_fresh_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = (uint64_t)ts.tv_sec * 1000003ULL ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20);
    return s & 0x7fffffffULL; /* small enough to print and pass back with --seed */
}
