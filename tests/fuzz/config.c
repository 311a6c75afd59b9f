/* cfg_read on any bytes as a --cfg file, then the same file through cli_parse --cfg against
 * a flag set with one flag of each type. The reader must return 0 or -1 with a message,
 * never die; applying the entries may die by design (a misspelt key, a bad value), which
 * counts as a rejection here (FUZZ_EXPECT_DIE). Stdout ("Config: ...") and stderr (the
 * ignored keys) are closed by tools/fuzz.sh (-close_fd_mask=3). */
#include "fuzz_common.h"

#include <math.h>

#include "cli/cli.h"
#include "cli/config_yaml.h"

static void check_entries(const CfgFile *f) {
    for (int i = 0; i < f->n; i++) {
        const CfgEntry *e = &f->e[i];
        if (!e->key || !*e->key || !e->value || e->line < 1 || e->column < 1) abort();
        if (e->kind != CFG_SCALAR && e->kind != CFG_NULL && e->kind != CFG_SEQUENCE && e->kind != CFG_MAPPING) abort();
        for (int j = 0; j < i; j++)
            if (strcmp(f->e[j].key, e->key) == 0) abort();   /* duplicates are errors */
        fuzz_touch(e->value, strlen(e->value));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    CfgFile f;
    char err[1024];
    err[0] = 0;
    if (cfg_read(path, &f, err, sizeof err) != 0) {
        if (!err[0] || f.n != 0) abort();
        return 0;
    }
    check_entries(&f);
    cfg_free(&f);

    int steps = 20, start = -1, zca = 0;
    double lr = 0.01;
    const char *dataset = "CIFAR10", *cfg = NULL;
    Flag flags[] = {
        {"syn_steps", FLAG_INT, &steps, "int", 0},
        {"max_start_epoch", FLAG_OPT_INT, &start, "optional int", 0},
        {"lr_img", FLAG_FLOAT, &lr, "number", 0},
        {"dataset", FLAG_STR, &dataset, "text", 0},
        {"zca", FLAG_BOOL, &zca, "boolean", 0},
        {"cfg", FLAG_STR, &cfg, "config file", 0},
    };
    FlagSet fs = {"fuzz", "flags of each type", flags, (int)(sizeof flags / sizeof flags[0])};
    char *argv[] = {"fuzz", "--cfg", (char *)path, NULL};
    volatile int parsed = 0;
    FUZZ_EXPECT_DIE((cli_parse(&fs, 3, argv), parsed = 1));
    if (parsed) {
        if (zca != 0 && zca != 1) abort();
        if (!isfinite(lr) || !dataset) abort();
        fuzz_touch(dataset, strlen(dataset));
    }
    return 0;
}
