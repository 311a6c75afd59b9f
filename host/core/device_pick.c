/* --device lists (see rt_pick_device in runtime.h). Apart from runtime.c because the flag
 * parser needs it and must not pull in the OpenCL runtime (the flag fuzz harness links it
 * alone). */
#include "core/runtime.h"
#include "core/dist.h"

#include <stdlib.h>

int rt_pick_device(const char *list) {
    int ids[64], n = 0;
    const char *p = list;
    while (n < 64) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 1000000) return -1;
        ids[n++] = (int)v;
        if (*end == 0) break;
        if (*end != ',') return -1;
        p = end + 1;
    }
    if (n == 0 || *p == 0) return -1;
    return ids[dist_local_rank() % n];
}
