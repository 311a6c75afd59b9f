/* The iteration's scalars: one small device buffer of 8-byte slots that a distillation
 * iteration's reductions write and its decisions read (cl/scalars.cl), so that the host
 * waits for the device once, at the iteration's end, with one read of the head slots.
 *
 *   slot        what
 *   D           ||theta_0 - theta*||^2
 *   NUM         the loss's numerator (the matched step's squared distance, or PAD's kept part)
 *   DLR         dL/d(step size), accumulated over the reverse steps
 *   MATCHED     the matched step (K unless --auto_match picked one)
 *   GRAD_BAD    count of non-finite entries of the set's gradient
 *   SET_BAD     count of non-finite entries of the set after its step
 *   OUTCOME     ScOutcome: what happened to the set
 *   LR          the step size the set holds after the update
 *   then K      auto_match: the distances d_1 .. d_K
 *
 * A slot is a double where the device has fp64, else a float pair (hi, lo) summed with
 * TwoSum (slot FORMAT says which); sums of a reduction's float partial sums are finished
 * in index order, so every value is deterministic, and with fp64 the same bits as the
 * host's double sum of the same partials. */
#ifndef CLMTT_SCALARS_H
#define CLMTT_SCALARS_H

#include "core/blas.h"

#include <stdint.h>

typedef enum {
    SC_FORMAT = 0, SC_D, SC_NUM, SC_DLR, SC_MATCHED, SC_GRAD_BAD, SC_SET_BAD, SC_OUTCOME, SC_LR,
    SC_HEAD   /* slots read at the end; the distances follow */
} ScSlot;

/* Matches SetUpdate (host/distill/threshold.h) and cl/scalars.cl. */
typedef enum { SC_UPDATED = 0, SC_SKIPPED = 1, SC_DIVERGED = 2, SC_NOT_FINITE = 3 } ScOutcome;

enum { SC_TAG_FP64 = 64, SC_TAG_FLOAT = 32 };

typedef struct {
    cl_mem buf;
    int nslots;
    int K;
} IterScalars;

/* The head slots as the host reads them. */
typedef struct {
    double D, num, dlr, lr;
    int matched, outcome;
    double grad_bad, set_bad;
    int format;   /* SC_TAG_FP64 or SC_TAG_FLOAT */
} IterValues;

/* Room for the head and K distances. */
void scalars_init(IterScalars *sc, int K);
void scalars_free(IterScalars *sc);
/* Zeros every slot; MATCHED = K. */
void scalars_reset(IterScalars *sc);
/* slot = sum (mode 0) or slot -= sum (mode 1) of reduction `op` over n entries of x (and y). */
void scalars_reduce(IterScalars *sc, int slot, int mode, DevReduceOp op, size_t n, DPtr x, DPtr y);
/* scalars_reduce's dot product x.y, then x += alpha z in the same pass. */
void scalars_dot_update(IterScalars *sc, int slot, int mode, size_t n, DPtr x, DPtr y, float alpha, DPtr z);
/* --auto_match: MATCHED = the first minimum of the distance slots, NUM = its distance. */
void scalars_argmin(IterScalars *sc);
/* dst = (float) slot */
void scalars_put_float(IterScalars *sc, int slot, DPtr dst);
/* The iteration's one wait: reads the head slots and decodes them. */
void scalars_read(IterScalars *sc, IterValues *out);
/* Blocking write of v into `slot` in the format `format` (the host-side PAD selection). */
void scalars_write(IterScalars *sc, int slot, double v, int format);

/* One 8-byte slot's value in a format; the encoding the kernels use. */
double scalars_decode(const uint32_t w[2], int format);
void scalars_encode(double v, int format, uint32_t w[2]);

/* Plain C references of the kernels of cl/scalars.cl in the fp64 format (slots as doubles),
 * for tests. */
double scalars_sum_ref(const float *partial, int groups);
int scalars_argmin_ref(const double *dist, int K, double *best);
int scalars_gate_ref(double num, double D, double dlr, double grad_bad, double threshold);
float scalars_lambda_scale_ref(double D);
/* learnset_keep_or_undo (ema NULL: none) and scalars_settle's outcome. */
void scalars_keep_or_undo_ref(float *theta, float *vel, float *ema, const float *saved, const float *saved_vel,
                              const float *saved_ema, size_t n, int outcome, double set_bad);
int scalars_settle_ref(int outcome, double set_bad);

#endif
