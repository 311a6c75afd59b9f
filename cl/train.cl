/* Training helpers: loss sums. */

/* sums[0] += sum rowloss, sums[1] += sum correct, sums[2] += n (one work-group). */
__kernel void train_accumulate_sums(__global float *sums, __global const float *rowloss,
                                    __global const float *correct, int n, __local float *tmp) {
    float a = 0.0f, b = 0.0f;
    for (int i = get_local_id(0); i < n; i += get_local_size(0)) { a += rowloss[i]; b += correct[i]; }
    a = group_sum(a, tmp);
    b = group_sum(b, tmp);
    if (get_local_id(0) == 0) { sums[0] += a; sums[1] += b; sums[2] += (float)n; }
}
