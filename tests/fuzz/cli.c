/* cli_parse on any argument list: the input's bytes split at NUL bytes into argv[1..],
 * parsed against a flag set with one flag of each type. A bad flag or value dies by
 * design, which counts as a rejection here (FUZZ_EXPECT_DIE); --help and -h, which print
 * the usage and exit 0, are left out of the list. */
#include "fuzz_common.h"

#include <math.h>

#include "cli/cli.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "fuzz";
    for (char *p = buf; p <= buf + size && argc <= MAX_ARGS; p += strlen(p) + 1)
        if (strcmp(p, "--help") != 0 && strcmp(p, "-h") != 0) argv[argc++] = p;
    argv[argc] = NULL;

    int iters = 5000, ipc = -1, zca = 0;
    double lr = 0.01;
    const char *dataset = "CIFAR10";
    Flag flags[] = {
        {"syn_steps", FLAG_INT, &iters, "int", 0},
        {"max_start_epoch", FLAG_OPT_INT, &ipc, "optional int", 0},
        {"lr_img", FLAG_FLOAT, &lr, "number", 0},
        {"dataset", FLAG_STR, &dataset, "text", 0},
        {"zca", FLAG_BOOL, &zca, "boolean", 0},
    };
    FlagSet fs = {"fuzz", "flags of each type", flags, (int)(sizeof flags / sizeof flags[0])};
    volatile int parsed = 0;
    FUZZ_EXPECT_DIE((cli_parse(&fs, argc, argv), parsed = 1));
    if (parsed) {
        if (zca != 0 && zca != 1) abort();
        if (!isfinite(lr) || !dataset) abort();
        if (cli_flag(&fs, "dataset") != &flags[3]) abort();
        fuzz_touch(dataset, strlen(dataset));
    }
    free(buf);
    return 0;
}
