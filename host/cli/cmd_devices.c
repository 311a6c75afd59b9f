/* clmtt devices: what OpenCL sees, and which device clmtt picks by default. */
#include "cli/cli.h"
#include "cli/commands.h"
#include "core/runtime.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>

static const char *type_name(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    return "other";
}

int cmd_devices(int argc, char **argv) {
    FlagSet fs = {"devices", "List the OpenCL devices; the default is marked with '*'.", NULL, 0};
    cli_parse(&fs, argc, argv);
    DeviceInfo devs[64];
    int n = rt_list_devices(devs, 64);
    if (n == 0)
        die("no OpenCL device found. Install an OpenCL driver (on Debian: pocl-opencl-icd for the CPU, "
            "or your GPU vendor's OpenCL ICD)");
    int def = rt_default_device(devs, n);
    for (int i = 0; i < n; i++) {
        const DeviceInfo *d = &devs[i];
        char g[32], l[32], a[32];
        printf("%c %d: %s\n", i == def ? '*' : ' ', i, d->name);
        printf("    platform:       %s\n", d->platform_name);
        printf("    vendor:         %s\n", d->vendor);
        printf("    type:           %s\n", type_name(d->type));
        printf("    compute units:  %u\n", d->compute_units);
        printf("    global memory:  %s (max buffer %s)\n", human_bytes((double)d->global_mem, g, sizeof g),
               human_bytes((double)d->max_alloc, a, sizeof a));
        printf("    local memory:   %s\n", human_bytes((double)d->local_mem, l, sizeof l));
        printf("    max work-group: %zu\n", d->max_wg);
        printf("    OpenCL:         %s (driver %s)\n", d->version, d->driver);
        printf("    fp64:           %s\n", d->fp64 ? "yes" : "no");
    }
    const char *env = getenv("CLMTT_DEVICE");
    if (env && *env) printf("CLMTT_DEVICE=%s overrides the default.\n", env);
    return 0;
}
