/* The one optimizer (host/train/optim.c): SGD with momentum and weight decay, PyTorch's
 * semantics, on n floats of one tensor at an offset of a flat buffer. */

/* d = g + wd*theta; momentum: v = first ? d : mu*v + d; theta -= lr * (mu ? v : d). */
__kernel void optim_sgd_step(__global float *theta, long toff, __global const float *grad, long goff,
                             __global float *vel, long voff, long n, float lr, float mu, float wd, int first) {
    long i = get_global_id(0);
    if (i >= n) return;
    float d = grad[goff + i] + wd * theta[toff + i];
    if (mu != 0.0f) {
        float v = first ? d : mu * vel[voff + i] + d;
        vel[voff + i] = v;
        d = v;
    }
    theta[toff + i] -= lr * d;
}
