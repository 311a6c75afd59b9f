/* im2col columns kept across the passes of one student step.
 *
 * A reverse step runs four passes over every convolution (forward, tangent, R-backward,
 * backward; host/net/exec.c exec_grad_hvp), and each rebuilt the im2col columns of the
 * layer input (four times) and of its tangent (twice), though neither changes within the
 * step; a plain gradient step (host/train/step.c step_grad: the forward sweep, expert
 * training) builds them twice. Between conv_cols_begin and conv_cols_end, conv2d keeps the
 * columns of each (input buffer, layer shape, chunk) the first pass builds in a buffer of
 * their own and the later passes read them; each reuse counts one im2col launch saved
 * (RtCounts.im2col_saved). A cap bounds the floats held: columns that do not fit go
 * through the shared scratch as before. The cap is CLMTT_CONV_COLS_FLOATS (floats; 0 turns
 * keeping off), by default an eighth of the device memory, at most 64 MiB on the CPU family. The buffers stay with the runtime for the next step; begin forgets
 * their contents, since the activations they came from are rewritten by the next step. */
#ifndef CLMTT_CONV_COLS_H
#define CLMTT_CONV_COLS_H

#include "layers/conv2d.h"

/* Starts keeping columns (forgetting all kept ones). */
void conv_cols_begin(void);
/* Stops keeping columns; what is kept is forgotten (the buffers stay). */
void conv_cols_end(void);
/* The kept columns of `src` for layer shape s and chunk [n0, n0 + nc), or NULL. A hit
 * counts one im2col launch saved. */
cl_mem conv_cols_find(const Conv2dShape *s, cl_mem src, int n0, int nc);
/* A buffer of at least `floats` to build those columns in, registered as holding them once
 * the caller has filled it; NULL when keeping is off or the cap leaves no room. */
cl_mem conv_cols_claim(const Conv2dShape *s, cl_mem src, int n0, int nc, size_t floats);
/* The cap in floats (CLMTT_CONV_COLS_FLOATS or the default). */
size_t conv_cols_cap(void);

#endif
