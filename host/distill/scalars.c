/* The iteration's scalars on the device; see scalars.h. */
#include "distill/scalars.h"
#include "core/util.h"

#include <math.h>
#include <string.h>

void scalars_init(IterScalars *sc, int K) {
    memset(sc, 0, sizeof *sc);
    sc->K = K;
    sc->nslots = SC_HEAD + K;
    sc->buf = dev_alloc((size_t)sc->nslots * 8, "the iteration's scalars");
}

void scalars_free(IterScalars *sc) {
    dev_free(sc->buf);
    memset(sc, 0, sizeof *sc);
}

void scalars_reset(IterScalars *sc) {
    LAUNCH("scalars_reset", (size_t)sc->nslots, KM(sc->buf), KI(sc->nslots), KI(sc->K));
}

void scalars_reduce(IterScalars *sc, int slot, int mode, DevReduceOp op, size_t n, DPtr x, DPtr y) {
    if (slot < 0 || slot >= sc->nslots) die("internal: scalar slot %d of %d", slot, sc->nslots);
    int groups;
    cl_mem partial = dev_reduce_partials(op, n, x, y, &groups);
    LAUNCH("scalars_sum", 1, KM(partial), KI(groups), KM(sc->buf), KI(slot), KI(mode));
}

void scalars_dot_update(IterScalars *sc, int slot, int mode, size_t n, DPtr x, DPtr y, float alpha, DPtr z) {
    if (slot < 0 || slot >= sc->nslots) die("internal: scalar slot %d of %d", slot, sc->nslots);
    int groups;
    cl_mem partial = dev_reduce_dot_update(n, x, y, alpha, z, &groups);
    LAUNCH("scalars_sum", 1, KM(partial), KI(groups), KM(sc->buf), KI(slot), KI(mode));
}

void scalars_argmin(IterScalars *sc) { LAUNCH("scalars_argmin", 1, KM(sc->buf), KI(SC_HEAD), KI(sc->K)); }

void scalars_put_float(IterScalars *sc, int slot, DPtr dst) {
    LAUNCH("scalars_put_float", 1, KM(dst.mem), KL(dst.off), KM(sc->buf), KI(slot));
}

double scalars_decode(const uint32_t w[2], int format) {
    if (format == SC_TAG_FP64) {
        double v;
        memcpy(&v, w, 8);
        return v;
    }
    float p[2];
    memcpy(p, w, 8);
    return (double)p[0] + (double)p[1];
}

void scalars_encode(double v, int format, uint32_t w[2]) {
    if (format == SC_TAG_FP64) {
        memcpy(w, &v, 8);
        return;
    }
    float p[2] = {(float)v, 0.0f};
    if (isfinite(p[0])) p[1] = (float)(v - (double)p[0]);
    memcpy(w, p, 8);
}

void scalars_read(IterScalars *sc, IterValues *out) {
    uint32_t w[SC_HEAD][2];
    dev_read(sc->buf, 0, sizeof w, w);
    int format = (int)w[SC_FORMAT][0];
    if (format != SC_TAG_FP64 && format != SC_TAG_FLOAT)
        die("internal: the iteration's scalars carry format tag %d", format);
    out->format = format;
    out->D = scalars_decode(w[SC_D], format);
    out->num = scalars_decode(w[SC_NUM], format);
    out->dlr = scalars_decode(w[SC_DLR], format);
    out->lr = scalars_decode(w[SC_LR], format);
    out->matched = (int)scalars_decode(w[SC_MATCHED], format);
    out->outcome = (int)scalars_decode(w[SC_OUTCOME], format);
    out->grad_bad = scalars_decode(w[SC_GRAD_BAD], format);
    out->set_bad = scalars_decode(w[SC_SET_BAD], format);
}

void scalars_write(IterScalars *sc, int slot, double v, int format) {
    uint32_t w[2];
    scalars_encode(v, format, w);
    dev_write(sc->buf, (size_t)slot * 8, 8, w);
}
