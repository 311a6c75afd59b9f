/* Applies a config file (config_yaml.h) to a command's flags. Keys are looked up in the
 * command's FlagSet at run time, so a flag added to a command is a config key at once. */
#include "cli/cli_config.h"
#include "cli/config_yaml.h"
#include "core/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every key of DATM's configuration (utils/cfg.py of https://github.com/NUS-HPC-AI-Lab/DATM).
 * The ones clmtt has no flag for (wandb's project, the CUDA device list, its evaluation
 * switches, ...) are ignored without being taken for misspellings of clmtt's flags. */
static const char *const datm_keys[] = {
    "dataset", "subset", "model", "ipc", "eval_mode", "num_eval", "eval_it", "epoch_eval_train", "Iteration",
    "lr_img", "lr_teacher", "lr_init", "batch_real", "batch_syn", "batch_train", "pix_init", "dsa", "dsa_strategy",
    "data_path", "buffer_path", "expert_epochs", "syn_steps", "max_start_epoch", "min_start_epoch", "zca",
    "load_all", "no_aug", "texture", "canvas_size", "canvas_samples", "max_files", "max_experts", "force_save",
    "ema_decay", "lr_y", "Momentum_y", "project", "threshold", "record_loss", "Sequential_Generation",
    "expansion_end_epoch", "current_max_start_epoch", "skip_first_eva", "parall_eva", "lr_lr", "res", "device",
    "Initialize_Label_With_Another_Model", "Initialize_Label_Model", "Initialize_Label_Model_Dir",
    "Label_Model_Timestamp",
};

int cli_config_datm_key(const char *name) {
    for (size_t i = 0; i < sizeof datm_keys / sizeof datm_keys[0]; i++)
        if (strcmp(datm_keys[i], name) == 0) return 1;
    return 0;
}

static char fold(char c) { return c == '-' ? '_' : (char)tolower((unsigned char)c); }

/* Edits (insert, delete, replace, swap of neighbours) between a and b, case and '-'/'_'
 * aside; stops counting above cap + 1. */
static int edit_distance(const char *a, const char *b, int cap) {
    int n = (int)strlen(a), m = (int)strlen(b);
    if (abs(n - m) > cap) return cap + 1;
    int *d = xmalloc(sizeof(int) * (size_t)(n + 1) * (m + 1));
#define D(i, j) d[(i) * (m + 1) + (j)]
    for (int i = 0; i <= n; i++) D(i, 0) = i;
    for (int j = 0; j <= m; j++) D(0, j) = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int sub = fold(a[i - 1]) != fold(b[j - 1]);
            int v = D(i - 1, j - 1) + sub;
            if (D(i - 1, j) + 1 < v) v = D(i - 1, j) + 1;
            if (D(i, j - 1) + 1 < v) v = D(i, j - 1) + 1;
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]) &&
                D(i - 2, j - 2) + 1 < v)
                v = D(i - 2, j - 2) + 1;
            D(i, j) = v;
        }
    int r = D(n, m);
#undef D
    free(d);
    return r > cap ? cap + 1 : r;
}

/* One edit is a likely slip in a short name (ipc, res, lr_y), two in a longer one; more
 * would match unrelated names (zca and dsa are two apart). */
static int slip_cap(const char *name) { return strlen(name) <= 4 ? 1 : 2; }

static void consider(const char *key, const char *name, const char **best, int *best_d) {
    int d = edit_distance(key, name, slip_cap(name));
    if (d <= slip_cap(name) && d < *best_d) {
        *best = name;
        *best_d = d;
    }
}

const char *cli_config_suggest(const FlagSet *fs, const char *key) {
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int k = 0; k < fs->nflags; k++) consider(key, fs->flags[k].name, &best, &best_d);
    for (size_t i = 0; i < sizeof datm_keys / sizeof datm_keys[0]; i++) consider(key, datm_keys[i], &best, &best_d);
    return best;
}

static const char *kind_name(CfgKind k) { return k == CFG_SEQUENCE ? "a list" : "a mapping"; }

/* DATM's device is a list of CUDA devices; clmtt's --device one OpenCL index. */
static int datm_device_list(const CfgEntry *e) { return e->kind == CFG_SEQUENCE && strcmp(e->key, "device") == 0; }

/* Sets the flag of one entry, or leaves a key the command does not use; dies on anything
 * wrong with the entry. */
static void apply_entry(FlagSet *fs, const char *path, const CfgEntry *e) {
    char origin[4200];
    snprintf(origin, sizeof origin, "--cfg %s: line %d", path, e->line);
    if (strcmp(e->key, "cfg") == 0) die("%s: the key 'cfg' cannot be set inside a config file", origin);
    Flag *f = cli_find(fs, e->key, strlen(e->key));
    if (!f) {
        const char *near = cli_config_datm_key(e->key) ? NULL : cli_config_suggest(fs, e->key);
        if (near) die("%s: unknown key '%s' (did you mean '%s'?)", origin, e->key, near);
        return;
    }
    if (datm_device_list(e)) return;
    if (e->kind == CFG_SEQUENCE || e->kind == CFG_MAPPING)
        die("%s: '%s' is the flag --%s, which takes one value, not %s", origin, e->key, f->name, kind_name(e->kind));
    if (f->given == FLAG_GIVEN_CFG)   /* the same flag spelt twice (syn_steps, syn-steps) */
        die("%s: '%s' sets --%s a second time", origin, e->key, f->name);
    if (f->given) return;   /* the command line has the last word */
    if (e->kind == CFG_NULL) {
        if (f->type != FLAG_OPT_INT && f->type != FLAG_DEVICE)   /* None-able flags take a null */
            die("%s: '%s' has no value (--%s needs one)", origin, e->key, f->name);
        cli_set(fs, f, "None", origin);
    } else {
        cli_set(fs, f, e->value, origin);
    }
}

/* One stderr line naming the keys apply_entry left alone (the file is valid by then). */
static void report_ignored(FlagSet *fs, const char *path, const CfgFile *cf) {
    size_t len = 0;
    char *text = NULL;
    for (int i = 0; i < cf->n; i++) {
        const CfgEntry *e = &cf->e[i];
        const char *shown = datm_device_list(e) ? "device (a CUDA device list)" : e->key;
        if (cli_find(fs, e->key, strlen(e->key)) && !datm_device_list(e)) continue;
        size_t k = strlen(shown);
        text = xrealloc(text, len + k + 3);
        if (len) { memcpy(text + len, ", ", 2); len += 2; }
        memcpy(text + len, shown, k + 1);
        len += k;
    }
    if (text) fprintf(stderr, "--cfg %s: ignoring keys clmtt does not use: %s\n", path, text);
    free(text);
}

void cli_apply_config(FlagSet *fs, const char *path) {
    /* Flags of type string point into the entries' text, so the file stays read for the
     * life of the program (one per parse; a program parses once). */
    static CfgFile kept;
    cfg_free(&kept);
    char err[1024];
    if (cfg_read(path, &kept, err, sizeof err)) die("--cfg %s", err);
    printf("Config: %s (%d key%s)\n", path, kept.n, kept.n == 1 ? "" : "s");
    for (int i = 0; i < kept.n; i++) apply_entry(fs, path, &kept.e[i]);
    report_ignored(fs, path, &kept);
}
