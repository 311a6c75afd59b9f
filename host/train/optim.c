/* SGD with momentum and weight decay on the device (cl/optim.cl), and its reference. */
#include "train/optim.h"
#include "core/runtime.h"
#include "core/util.h"

void sgd_step(Sgd *s, size_t n, DPtr theta, DPtr grad, DPtr vel) {
    if (s->momentum != 0.0 && !vel.mem) die("internal: SGD with momentum needs a momentum buffer");
    LAUNCH("optim_sgd_step", n, KM(theta.mem), KL(theta.off), KM(grad.mem), KL(grad.off),
           KM(vel.mem ? vel.mem : grad.mem), KL(vel.off), KL(n), KF(s->lr), KF(s->momentum), KF(s->weight_decay),
           KI(s->fresh));
    s->fresh = 0;
}

void sgd_restart(Sgd *s) { s->fresh = 1; }

void sgd_step_ref(const Sgd *s, size_t n, double *theta, const double *grad, double *vel) {
    for (size_t i = 0; i < n; i++) {
        double d = grad[i] + s->weight_decay * theta[i];
        if (s->momentum != 0.0) {
            vel[i] = s->fresh ? d : s->momentum * vel[i] + d;
            d = vel[i];
        }
        theta[i] -= s->lr * d;
    }
}
