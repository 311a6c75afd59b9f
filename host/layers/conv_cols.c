#include "layers/conv_cols.h"
#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t conv_cols_cap(void) {
    unsigned long long v;
    int got = env_count("CLMTT_CONV_COLS_FLOATS", 0, SIZE_MAX, &v);
    if (got < 0)
        die("CLMTT_CONV_COLS_FLOATS must be a non-negative integer (floats; 0 = off), got '%s'",
            getenv("CLMTT_CONV_COLS_FLOATS"));
    /* Default: an eighth of the device memory; on the CPU family at most 64 MiB. Measured on a
     * 2-core AMD EPYC (PoCL, ConvNet, Fashion-MNIST, distillation iterations, runs alternated in
     * one session): ipc 1 keeps every column (29 MiB) in 3.32 s against 3.73 s rebuilt; ipc 10
     * in 35.2 s under the 64 MiB cap against 38.5 s rebuilt, but 36.6 s against 35.1 keeping
     * them all (286 MiB), which bought nothing there. */
    if (!got) {
        size_t eighth = (size_t)(RT.dev.global_mem / 8 / sizeof(float)), cpu_cap = (size_t)16 << 20;
        return rt_cpu_family() && eighth > cpu_cap ? cpu_cap : eighth;
    }
    return (size_t)v;
}

static void shape_key(const Conv2dShape *s, int key[8]) {
    int k[8] = {s->N, s->Cin, s->H, s->W, s->Cout, s->K, s->pad, s->in_nchw};
    memcpy(key, k, sizeof k);
}

void conv_cols_begin(void) {
    RtCols *c = &RT.cols;
    c->cap = conv_cols_cap();
    c->on = c->cap > 0;
    for (int i = 0; i < c->n; i++) c->e[i].valid = 0;
}

void conv_cols_end(void) {
    RtCols *c = &RT.cols;
    c->on = 0;
    for (int i = 0; i < c->n; i++) c->e[i].valid = 0;
}

cl_mem conv_cols_find(const Conv2dShape *s, cl_mem src, int n0, int nc) {
    RtCols *c = &RT.cols;
    if (!c->on) return NULL;
    int key[8];
    shape_key(s, key);
    for (int i = 0; i < c->n; i++) {
        RtColEntry *e = &c->e[i];
        if (e->valid && e->src == src && e->n0 == n0 && e->nc == nc && memcmp(e->key, key, sizeof key) == 0) {
            RT.counts.im2col_saved++;
            return e->buf;
        }
    }
    return NULL;
}

/* Frees the buffers of forgotten entries (to make room under the cap), keeping the table packed. */
static void drop_unused(RtCols *c) {
    int j = 0;
    for (int i = 0; i < c->n; i++) {
        if (c->e[i].valid) {
            c->e[j++] = c->e[i];
        } else {
            dev_free(c->e[i].buf);
            c->held -= c->e[i].floats;
        }
    }
    c->n = j;
}

cl_mem conv_cols_claim(const Conv2dShape *s, cl_mem src, int n0, int nc, size_t floats) {
    RtCols *c = &RT.cols;
    if (!c->on || floats > c->cap || floats * sizeof(float) > RT.dev.max_alloc) return NULL;
    RtColEntry *e = NULL;
    /* A forgotten buffer big enough (the smallest such), else a new one. */
    for (int i = 0; i < c->n; i++)
        if (!c->e[i].valid && c->e[i].floats >= floats && (!e || c->e[i].floats < e->floats)) e = &c->e[i];
    if (!e) {
        if (c->held + floats > c->cap || c->n == RT_MAX_COLS) drop_unused(c);
        if (c->held + floats > c->cap || c->n == RT_MAX_COLS) return NULL;
        e = &c->e[c->n++];
        e->buf = dev_alloc(floats * sizeof(float), "kept convolution columns");
        e->floats = floats;
        c->held += floats;
    }
    e->src = src;
    shape_key(s, e->key);
    e->n0 = n0;
    e->nc = nc;
    e->valid = 1;
    return e->buf;
}
