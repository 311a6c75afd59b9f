/* --cfg FILE (host/cli/config_yaml.c, host/cli/cli_config.c): DATM's own config files
 * (tests/fixtures/datm, copied unchanged) land in clmtt distill's flags; YAML number and
 * boolean forms go through the flags' parsers; the command line overrides the file wherever
 * --cfg stands; keys clmtt does not use are reported once; misspelt flags, broken YAML,
 * duplicate keys, lists for one-value flags and missing files are errors naming the file;
 * every file of configs/ reads and uses only keys clmtt knows; and clmtt distill runs from
 * configs/datm/CIFAR10_ipc1.yaml on stand-in CIFAR-10 data with ZCA. */
#include "cli/cli.h"
#include "cli/cli_config.h"
#include "cli/config_yaml.h"
#include "standin.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *g_tmp;   /* the test's temporary folder (logs, written config files) */

static const char *tmpdir(void) {
    if (!g_tmp) g_tmp = tu_tempdir("config");
    return g_tmp;
}

static char *source_dir(void) {
    const char *env = getenv("CLMTT_SOURCE_DIR");
    if (env && *env) return xstrdup(env);
    char *s = xstrdup(__FILE__);
    char *cut = strstr(s, "/tests/test_config.c");
    if (cut) *cut = 0;
    return s;
}

/* <source>/tests/fixtures/datm/<name> (malloc'd). */
static char *fixture(const char *name) {
    char *src = source_dir(), *p = xmalloc(strlen(src) + strlen(name) + 64);
    sprintf(p, "%s/tests/fixtures/datm/%s", src, name);
    free(src);
    return p;
}

/* Writes text to <tmp>/<name> and returns the path (malloc'd). */
static char *write_cfg(const char *name, const char *text) {
    char *p = tu_path(tmpdir(), name);
    tu_write_file(p, text, strlen(text));
    return p;
}

/* The usage line of --name in help text, up to its end (malloc'd), or NULL. */
static char *usage_line(const char *help, const char *name) {
    char want[128];
    snprintf(want, sizeof want, "\n  --%s ", name);
    const char *p = strstr(help, want);
    if (!p) return NULL;
    p++;
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Fails unless `clmtt distill ... --help` showed --name holding value, set by the file. */
static void expect_from_file(const char *help, const char *name, const char *value) {
    char *line = usage_line(help, name), want[256];
    ck_assert_msg(line != NULL, "no --%s in the usage", name);
    snprintf(want, sizeof want, "[--cfg: %s]", value);
    ck_assert_msg(tu_has(line, want), "--%s: want %s in '%s'", name, want, line);
    free(line);
}

/* ---- a flag set of every type, parsed in this process ---- */

typedef struct {
    int count, opt, on, off;
    double a, b, c;
    const char *name, *cfg;
    Flag flags[9];
    FlagSet fs;
} Toy;

static void toy_init(Toy *t) {
    memset(t, 0, sizeof *t);
    t->count = 1;
    t->opt = 7;
    t->off = 1;
    t->name = "default";
    Flag f[9] = {
        {"count", FLAG_INT, &t->count, "an int", 0},
        {"opt", FLAG_OPT_INT, &t->opt, "an optional int", 0},
        {"on", FLAG_BOOL, &t->on, "a boolean", 0},
        {"off", FLAG_BOOL, &t->off, "a boolean", 0},
        {"a", FLAG_FLOAT, &t->a, "a number", 0},
        {"b", FLAG_FLOAT, &t->b, "a number", 0},
        {"c", FLAG_FLOAT, &t->c, "a number", 0},
        {"name", FLAG_STR, &t->name, "a string", 0},
        {"cfg", FLAG_STR, &t->cfg, "config file", 0},
    };
    memcpy(t->flags, f, sizeof f);
    t->fs = (FlagSet){"toy", "test flags", t->flags, 9};
}

static void toy_parse(Toy *t, int argc, const char **argv) {
    char *args[16];
    for (int i = 0; i < argc; i++) args[i] = (char *)argv[i];
    cli_parse(&t->fs, argc, args);
}

START_TEST(yaml_forms_through_flag_parsers) {
    /* DATM writes numbers as 5., 0.0000001 and 1e-07, booleans as True/False, and None/null. */
    char *p = write_cfg("forms.yaml", "count: 10000\nopt: null\non: True\noff: false\na: 5.\nb: 0.0000001\n"
                                      "c: 1e-07\nname: 'two words'\n");
    Toy t;
    toy_init(&t);
    const char *argv[] = {"toy", "--cfg", p};
    toy_parse(&t, 3, argv);
    ck_assert_int_eq(t.count, 10000);
    ck_assert_int_eq(t.opt, -1);
    ck_assert_int_eq(t.on, 1);
    ck_assert_int_eq(t.off, 0);
    ck_assert_double_eq(t.a, 5.0);
    ck_assert_double_eq(t.b, 1e-7);
    ck_assert_double_eq(t.c, 1e-7);
    ck_assert_str_eq(t.name, "two words");
    for (int k = 0; k < 8; k++) ck_assert_int_eq(t.flags[k].given, FLAG_GIVEN_CFG);
    free(p);
}
END_TEST

START_TEST(command_line_overrides_file) {
    char *p = write_cfg("override.yaml", "count: 9\na: 2.5\non: True\nname: file\n");
    /* The command line wins whether it comes before or after --cfg; the rest is the file's. */
    for (int order = 0; order < 2; order++) {
        Toy t;
        toy_init(&t);
        const char *before[] = {"toy", "--count=3", "--on", "False", "--cfg", p};
        const char *after[] = {"toy", "--cfg", p, "--count=3", "--on", "False"};
        toy_parse(&t, 6, order ? after : before);
        ck_assert_int_eq(t.count, 3);
        ck_assert_int_eq(t.flags[0].given, FLAG_GIVEN_ARGV);
        ck_assert_int_eq(t.on, 0);
        ck_assert_double_eq(t.a, 2.5);
        ck_assert_str_eq(t.name, "file");
        ck_assert_int_eq(t.flags[4].given, FLAG_GIVEN_CFG);
        ck_assert_int_eq(t.opt, 7);   /* not in the file: its default */
        ck_assert_int_eq(t.flags[1].given, 0);
    }
    free(p);
}
END_TEST

typedef struct {
    const char *path;
    const char *extra;   /* one more command-line argument, or NULL */
} ToyRun;

static void toy_run(void *arg) {
    const ToyRun *r = arg;
    Toy t;
    toy_init(&t);
    const char *argv[] = {"toy", "--cfg", r->path, r->extra};
    toy_parse(&t, r->extra ? 4 : 3, argv);
}

/* Parses the toy flags with --cfg text in a child; returns its exit status, stderr in err. */
static int toy_child(const char *name, const char *text, const char *extra, char *err, size_t n) {
    char *p = write_cfg(name, text);
    ToyRun r = {p, extra};
    int st = tu_in_child(toy_run, &r, err, n);
    free(p);
    return st;
}

START_TEST(unused_keys_reported_once) {
    char err[2048];
    int st = toy_child("unused.yaml", "count: 2\nproject: CIFAR10_ipc1\nwandb_entity: me\nskip_first_eva: True\n", NULL,
                       err, sizeof err);
    ck_assert_int_eq(st, 0);
    TU_ASSERT_HAS(err, "unused.yaml: ignoring keys clmtt does not use: project, wandb_entity, skip_first_eva");
    ck_assert_msg(!strstr(strstr(err, "ignoring") + 1, "ignoring"), "reported twice: %s", err);
    /* A file of only known keys reports nothing. */
    st = toy_child("used.yaml", "count: 2\n", NULL, err, sizeof err);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(err[0] == 0, "unexpected stderr: %s", err);
}
END_TEST

START_TEST(bad_values_name_flag_and_file) {
    char err[2048];
    ck_assert_int_eq(toy_child("v1.yaml", "\ncount: ten\n", NULL, err, sizeof err), 1);
    TU_ASSERT_HAS(err, "toy: --count expects an integer, got 'ten' (--cfg ");
    TU_ASSERT_HAS(err, "v1.yaml: line 2)");
    ck_assert_int_eq(toy_child("v2.yaml", "on: maybe\n", NULL, err, sizeof err), 1);
    TU_ASSERT_HAS(err, "--on expects True or False, got 'maybe'");
    ck_assert_int_eq(toy_child("v3.yaml", "a: 1e999\n", NULL, err, sizeof err), 1);
    TU_ASSERT_HAS(err, "--a expects a number, got '1e999'");
    /* A flag without a value: YAML's null is None for optional ints only. */
    ck_assert_int_eq(toy_child("v4.yaml", "count:\n", NULL, err, sizeof err), 1);
    TU_ASSERT_HAS(err, "v4.yaml: line 1: 'count' has no value (--count needs one)");
    /* A bad value the command line overrides is never read. */
    ck_assert_int_eq(toy_child("v5.yaml", "count: ten\n", "--count=4", err, sizeof err), 0);
}
END_TEST

START_TEST(nested_values) {
    char err[2048];
    ck_assert_int_eq(toy_child("n1.yaml", "count: [1, 2]\n", NULL, err, sizeof err), 1);
    TU_ASSERT_HAS(err, "n1.yaml: line 1: 'count' is the flag --count, which takes one value, not a list");
    ck_assert_int_eq(toy_child("n2.yaml", "a: 1\nname:\n  first: x\n", NULL, err, sizeof err), 1);
    TU_ASSERT_HAS(err, "n2.yaml: line 2: 'name' is the flag --name, which takes one value, not a mapping");
    ck_assert_int_eq(toy_child("n3.yaml", "cfg: other.yaml\n", NULL, err, sizeof err), 1);
    TU_ASSERT_HAS(err, "the key 'cfg' cannot be set inside a config file");
    ck_assert_int_eq(toy_child("n4.yaml", "count: 1\na: 2\ncount: 3\n", NULL, err, sizeof err), 1);
    TU_ASSERT_HAS(err, "duplicate key 'count' (first at line 1)");
}
END_TEST

/* ---- the reader alone ---- */

/* cfg_read of text; returns its status, the message in err. */
static int read_text(const char *name, const char *text, CfgFile *f, char *err, size_t n) {
    char *p = write_cfg(name, text);
    int rc = cfg_read(p, f, err, n);
    free(p);
    return rc;
}

START_TEST(reader_entries_of_datm_file) {
    char *p = fixture("CIFAR-10_IPC1.yaml"), err[1024];
    CfgFile f;
    ck_assert_msg(cfg_read(p, &f, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(f.n, 26);
    ck_assert_str_eq(f.e[0].key, "dataset");
    ck_assert_str_eq(f.e[0].value, "CIFAR10");
    ck_assert_str_eq(f.e[1].key, "device");
    ck_assert_int_eq(f.e[1].kind, CFG_SEQUENCE);
    ck_assert_int_eq(f.e[1].line, 2);
    ck_assert_str_eq(f.e[2].key, "ipc");
    ck_assert_int_eq(f.e[2].line, 4);
    int seen = 0;
    for (int i = 0; i < f.n; i++) {
        if (!strcmp(f.e[i].key, "lr_y")) { ck_assert_str_eq(f.e[i].value, "5."); seen++; }
        if (!strcmp(f.e[i].key, "lr_lr")) { ck_assert_str_eq(f.e[i].value, "0.0000001"); seen++; }
        if (!strcmp(f.e[i].key, "zca")) { ck_assert_str_eq(f.e[i].value, "True"); seen++; }
        ck_assert_int_eq(f.e[i].column, 1);
    }
    ck_assert_int_eq(seen, 3);
    cfg_free(&f);
    free(p);
}
END_TEST

START_TEST(reader_null_and_empty) {
    CfgFile f;
    char err[1024];
    ck_assert_int_eq(read_text("e1.yaml", "# only a comment\n", &f, err, sizeof err), 0);
    ck_assert_int_eq(f.n, 0);
    ck_assert_int_eq(read_text("e2.yaml", "a:\nb: ~\nc: ''\nd: \"None\"\n", &f, err, sizeof err), 0);
    ck_assert_int_eq(f.n, 4);
    ck_assert_int_eq(f.e[0].kind, CFG_NULL);
    ck_assert_int_eq(f.e[1].kind, CFG_NULL);
    ck_assert_int_eq(f.e[2].kind, CFG_SCALAR);   /* a quoted empty string is a string */
    ck_assert_str_eq(f.e[3].value, "None");
    cfg_free(&f);
}
END_TEST

START_TEST(reader_syntax_errors_with_line) {
    CfgFile f;
    char err[1024];
    struct { const char *name, *text, *want; } cases[] = {
        /* an indented line under a scalar value */
        {"indent.yaml", "ipc: 1\nsyn_steps: 80\n  lr_img: 100\n", "indent.yaml: YAML error at line 3, column 9: mapping values are not allowed"},
        /* a quote never closed */
        {"quote.yaml", "ipc: 1\ndataset: \"CIFAR10\nzca: True\n", "(while scanning a quoted scalar started at line 2, column 10)"},
        /* a tab indenting a key */
        {"tab.yaml", "ipc: 1\n\tzca: True\n", "tab.yaml: YAML error at line 2, column 1: found a tab character that violates indentation"},
        {"dup.yaml", "ipc: 1\nzca: True\nipc: 2\n", "dup.yaml: line 3: duplicate key 'ipc' (first at line 1)"},
        {"list.yaml", "- ipc\n- zca\n", "list.yaml: line 1: expected a mapping of key: value lines at the top"},
        {"two.yaml", "ipc: 1\n---\nipc: 2\n", "two.yaml: line 2: a second YAML document"},
        {"alias.yaml", "a: &x 1\nb: *x\n", "alias.yaml: line 2: the value of 'b' is an alias"},
        {"key.yaml", "[a]: 1\n", "key.yaml: line 1, column 1: a key must be a name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(read_text(cases[i].name, cases[i].text, &f, err, sizeof err) == -1, "%s read", cases[i].name);
        TU_ASSERT_HAS(err, cases[i].want);
        ck_assert_int_eq(f.n, 0);
    }
    ck_assert_int_eq(cfg_read("/nonexistent/clmtt.yaml", &f, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "/nonexistent/clmtt.yaml: cannot open: No such file or directory");
    ck_assert_int_eq(cfg_read(tmpdir(), &f, err, sizeof err), -1);
    TU_ASSERT_HAS(err, "is a folder, not a config file");
}
END_TEST

START_TEST(suggestions) {
    Toy t;
    toy_init(&t);
    ck_assert_str_eq(cli_config_suggest(&t.fs, "Count"), "count");
    ck_assert_str_eq(cli_config_suggest(&t.fs, "cuont"), "count");     /* swapped neighbours */
    ck_assert_str_eq(cli_config_suggest(&t.fs, "counts"), "count");
    ck_assert_str_eq(cli_config_suggest(&t.fs, "nmae"), "name");
    ck_assert_ptr_null(cli_config_suggest(&t.fs, "volume"));
    /* DATM's keys are suggested too, flags of clmtt or not. */
    ck_assert_str_eq(cli_config_suggest(&t.fs, "Sequential_generation"), "Sequential_Generation");
    ck_assert(cli_config_datm_key("skip_first_eva"));
    ck_assert(!cli_config_datm_key("skip_first_eval"));
}
END_TEST

/* ---- through clmtt distill's own flags ---- */

START_TEST(datm_files_land_in_distill_flags) {
    struct { const char *file; int nkeys; const char *vals[20][2]; } cases[] = {
        {"CIFAR-10_IPC1.yaml", 26,
         {{"dataset", "CIFAR10"}, {"ipc", "1"}, {"syn_steps", "80"}, {"expert_epochs", "2"}, {"lr_img", "100"},
          {"lr_teacher", "0.01"}, {"ema_decay", "0.995"}, {"Iteration", "10000"}, {"batch_syn", "10"},
          {"num_eval", "1"}, {"eval_it", "500"}, {"lr_y", "5"}, {"Momentum_y", "0.9"}, {"batch_train", "128"},
          {"max_start_epoch", "4"}, {"lr_lr", "1e-07"}, {"zca", "True"}, {"data_path", "../dataset"}}},
        {"CIFAR-10_IPC10.yaml", 27,
         {{"ipc", "10"}, {"batch_syn", "100"}, {"ema_decay", "0.9995"}, {"lr_y", "2"}, {"max_start_epoch", "20"},
          {"lr_lr", "1e-05"}, {"zca", "True"}, {"buffer_path", "../buffer_storage/"}}},
        {"CIFAR-100_IPC10.yaml", 27,
         {{"dataset", "CIFAR100"}, {"ipc", "10"}, {"lr_img", "1000"}, {"batch_syn", "1000"}, {"lr_y", "10"},
          {"max_start_epoch", "50"}, {"eval_it", "500"}, {"zca", "True"}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = fixture(cases[i].file), want[600];
        TuRun r = tu_clmtt(tmpdir(), "distill --cfg %s --help", p);
        TU_EXPECT_OK(r);
        snprintf(want, sizeof want, "Config: %s (%d keys)", p, cases[i].nkeys);
        TU_ASSERT_HAS(r.out, want);
        for (int k = 0; k < 20 && cases[i].vals[k][0]; k++) expect_from_file(r.out, cases[i].vals[k][0], cases[i].vals[k][1]);
        /* DATM's keys that will never be flags of clmtt; its other keys may become flags. */
        TU_ASSERT_HAS(r.err, "ignoring keys clmtt does not use: device (a CUDA device list), project, skip_first_eva");
        tu_run_free(&r);
        free(p);
    }
}
END_TEST

START_TEST(distill_command_line_overrides) {
    char *p = fixture("CIFAR-10_IPC1.yaml");
    const char *forms[] = {"--lr_img=7 --zca False --cfg %s --help", "--cfg %s --lr_img 7 --zca=False --help"};
    for (int i = 0; i < 2; i++) {
        char args[1200];
        snprintf(args, sizeof args, forms[i], p);
        TuRun r = tu_clmtt(tmpdir(), "distill %s", args);
        TU_EXPECT_OK(r);
        char *line = usage_line(r.out, "lr_img");
        ck_assert_msg(line && tu_has(line, "[given: 7]"), "%s", line ? line : "(no lr_img)");
        free(line);
        line = usage_line(r.out, "zca");
        ck_assert_msg(line && tu_has(line, "[given: False]"), "%s", line ? line : "(no zca)");
        free(line);
        expect_from_file(r.out, "syn_steps", "80");
        tu_run_free(&r);
    }
    free(p);
}
END_TEST

START_TEST(distill_errors_name_the_file) {
    struct { const char *name, *text, *want; } cases[] = {
        {"typo1.yaml", "ipc: 1\nsyn_step: 3\n", "typo1.yaml: line 2: unknown key 'syn_step' (did you mean 'syn_steps'?)"},
        {"typo2.yaml", "lr_imgs: 100\n", "typo2.yaml: line 1: unknown key 'lr_imgs' (did you mean 'lr_img'?)"},
        {"typo3.yaml", "Lr_img: 100\n", "typo3.yaml: line 1: unknown key 'Lr_img' (did you mean 'lr_img'?)"},
        {"typo4.yaml", "iteration: 100\n", "unknown key 'iteration' (did you mean 'Iteration'?)"},
        {"ipc0.yaml", "ipc: 0\n", "clmtt: --ipc: must be at least 1, got 0 (set by --cfg "},
        {"ipcx.yaml", "ipc: 1.5\n", "distill: --ipc expects an integer, got '1.5' (--cfg "},
        {"dev.yaml", "device: {cuda: 0}\n", "'device' is the flag --device, which takes one value, not a mapping"},
        {"dup.yaml", "zca: True\nzca: False\n", "dup.yaml: line 2: duplicate key 'zca' (first at line 1)"},
        /* the same flag twice under two spellings */
        {"dup2.yaml", "syn_steps: 1\nsyn-steps: 2\n", "dup2.yaml: line 2: 'syn-steps' sets --syn_steps a second time"},
        {"broken.yaml", "ipc: 1\n  zca: True\n", "broken.yaml: YAML error at line 2, column 6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = write_cfg(cases[i].name, cases[i].text);
        TuRun r = tu_clmtt(tmpdir(), "distill --cfg %s --num_eval 0", p);
        TU_EXPECT_FAIL_WITH(r, cases[i].want);
        tu_run_free(&r);
        free(p);
    }
    TuRun r = tu_clmtt(tmpdir(), "distill --cfg %s/missing.yaml", tmpdir());
    TU_EXPECT_FAIL_WITH(r, "missing.yaml: cannot open: No such file or directory");
    tu_run_free(&r);
    /* DATM's CUDA device list is ignored; one index sets clmtt's --device. */
    char *p = write_cfg("devlist.yaml", "device: [0, 1]\n");
    r = tu_clmtt(tmpdir(), "distill --cfg %s --help", p);
    TU_EXPECT_OK(r);
    TU_ASSERT_HAS(r.err, "ignoring keys clmtt does not use: device (a CUDA device list)");
    tu_run_free(&r);
    free(p);
    p = write_cfg("devone.yaml", "device: 0\n");
    r = tu_clmtt(tmpdir(), "distill --cfg %s --help", p);
    TU_EXPECT_OK(r);
    expect_from_file(r.out, "device", "0");
    tu_run_free(&r);
    free(p);
}
END_TEST

START_TEST(buffer_and_eval_take_cfg) {
    char *p = write_cfg("be.yaml", "dataset: CIFAR100\nnum_eval: 3\nsyn_steps: 80\n");
    TuRun r = tu_clmtt(tmpdir(), "buffer --cfg %s --help", p);
    TU_EXPECT_OK(r);
    expect_from_file(r.out, "dataset", "CIFAR100");
    TU_ASSERT_HAS(r.err, "ignoring keys clmtt does not use: num_eval, syn_steps");
    tu_run_free(&r);
    r = tu_clmtt(tmpdir(), "eval --cfg %s --help", p);
    TU_EXPECT_OK(r);
    expect_from_file(r.out, "num_eval", "3");
    tu_run_free(&r);
    free(p);
}
END_TEST

/* ---- the shipped configs ---- */

/* The flag names of `clmtt distill --help` (a NULL-terminated malloc'd array). */
static char **distill_flag_names(void) {
    TuRun r = tu_clmtt(tmpdir(), "distill --help");
    TU_EXPECT_OK(r);
    char **names = xmalloc(sizeof(char *) * 256);
    int n = 0;
    for (const char *p = strstr(r.out, "\n  --"); p && n < 255; p = strstr(p + 1, "\n  --")) {
        const char *s = p + 5, *e = s;
        while (*e && *e != ' ') e++;
        names[n] = xmalloc((size_t)(e - s) + 1);
        memcpy(names[n], s, (size_t)(e - s));
        names[n++][e - s] = 0;
    }
    names[n] = NULL;
    ck_assert_msg(n > 40, "only %d flags in 'clmtt distill --help'", n);
    tu_run_free(&r);
    return names;
}

static int in_list(char **names, const char *key) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], key)) return 1;
    return 0;
}

/* Checks one shipped file: it reads, clmtt distill takes it, and each key is a distill flag
 * (configs/mtt, configs/fmnist) or a distill flag or one of DATM's keys (configs/datm: DATM's
 * schedule flags may come after the file); each names where its values come from. */
static void check_shipped(const char *path, const char *folder, char **flags) {
    CfgFile f;
    char err[1024];
    ck_assert_msg(cfg_read(path, &f, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(f.n >= 8, "%s: only %d keys", path, f.n);
    int datm = !strcmp(folder, "datm");
    for (int i = 0; i < f.n; i++) {
        const char *k = f.e[i].key;
        ck_assert_msg(f.e[i].kind == CFG_SCALAR, "%s line %d: '%s' is not one value", path, f.e[i].line, k);
        ck_assert_msg(in_list(flags, k) || (datm && cli_config_datm_key(k)), "%s line %d: '%s' is not a key of %s",
                      path, f.e[i].line, k, datm ? "clmtt distill or DATM" : "clmtt distill");
    }
    cfg_free(&f);
    char *text = tu_read_text(path);
    const char *source = datm ? "https://github.com/NUS-HPC-AI-Lab/DATM, configs/"
                         : !strcmp(folder, "fmnist") ? "tools/datm_table.sh" : "(Cazenavette et al., CVPR 2022";
    TU_ASSERT_HAS(text, source);
    free(text);
    TuRun r = tu_clmtt(tmpdir(), "distill --cfg %s --help", path);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
}

START_TEST(shipped_configs_use_known_keys) {
    char *src = source_dir(), **flags = distill_flag_names();
    const char *folders[] = {"mtt", "datm", "fmnist"};
    int min_files[] = {11, 12, 2};
    for (int d = 0; d < 3; d++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/configs/%s", src, folders[d]);
        DIR *h = opendir(dir);
        ck_assert_msg(h != NULL, "no folder %s", dir);
        int n = 0;
        for (struct dirent *e; (e = readdir(h));) {
            size_t len = strlen(e->d_name);
            if (len < 6 || strcmp(e->d_name + len - 5, ".yaml")) continue;
            char path[4500];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            check_shipped(path, folders[d], flags);
            n++;
        }
        closedir(h);
        ck_assert_msg(n >= min_files[d], "%s: %d files", dir, n);
    }
    for (int i = 0; flags[i]; i++) free(flags[i]);
    free(flags);
    free(src);
}
END_TEST

/* ---- a run from a shipped config ---- */

/* clmtt distill from configs/datm/CIFAR10_ipc1.yaml on stand-in CIFAR-10 with ZCA: the file's
 * values reach the run (printed settings and metrics.jsonl); the command line lowers only
 * the cost (one iteration, two student steps, no evaluation) and picks the data; the file's
 * DATM keys (samples_predicted_correctly, the window, the threshold) act. */
START_TEST(standin_cifar10_run_from_datm_config) {
    char *src = source_dir(), data[800], buf[800], run[800], cfg[4200];
    snprintf(data, sizeof data, "%s/cifar10", tmpdir());
    snprintf(buf, sizeof buf, "%s/buffers", tmpdir());
    snprintf(run, sizeof run, "%s/run", tmpdir());
    snprintf(cfg, sizeof cfg, "%s/configs/datm/CIFAR10_ipc1.yaml", src);
    mkdir_p(data);
    standin_cifar10(data, 2, 1, 21);
    /* Experts as long as the file's max_start_epoch 4 + expert_epochs 2 - 1 needs. */
    TuRun r = tu_clmtt(tmpdir(), "buffer --dataset=CIFAR10 --model=ConvNet --zca --train_epochs=5 --num_experts=1 "
                                 "--batch_train=10 --seed=1 --data_path=%s --buffer_path=%s", data, buf);
    TU_EXPECT_OK(r);
    tu_run_free(&r);
    r = tu_clmtt(tmpdir(), "distill --cfg %s --data_path=%s --buffer_path=%s --Iteration=1 --syn_steps=2 --num_eval=0 "
                           "--seed=3 --save_path=%s", cfg, data, buf, run);
    TU_EXPECT_OK(r);
    char want[4400];
    snprintf(want, sizeof want, "Config: %s (", cfg);
    TU_ASSERT_HAS(r.out, want);
    const char *hp[] = {"dataset=CIFAR10 ", "model=ConvNet ", "ipc=1 ", "syn_steps=2 ", "expert_epochs=2 ",
                        "max_start_epoch=4 ", "Iteration=1 ", "lr_img=100 ", "lr_lr=1e-07 ", "lr_teacher=0.01 ",
                        "batch_syn=10 ", "pix_init=samples_predicted_correctly ", "eval_it=500 ", "num_eval=0 "};
    for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) TU_ASSERT_HAS(r.out, hp[i]);
    TU_ASSERT_HAS(r.out, "Soft labels: label logits learned with lr_y=5 Momentum_y=0.9");
    TU_ASSERT_HAS(r.out, "decay 0.995)");
    TU_ASSERT_HAS(r.out, "Initialization: 1 real image per class that expert");
    TU_ASSERT_HAS(r.out, "whose loss is <= 1.1");
    tu_run_free(&r);
    char mpath[900];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", run);
    char *text = tu_read_text(mpath);
    char *line = strstr(text, "{\"settings\"");
    ck_assert_msg(line != NULL, "no settings line in %s", mpath);
    *strchr(line, '\n') = 0;
    cJSON *o = cJSON_Parse(line), *s = cJSON_GetObjectItem(o, "settings");
    ck_assert_ptr_nonnull(s);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(s, "zca")));
    ck_assert_double_eq(cJSON_GetObjectItem(s, "lr_img")->valuedouble, 100);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(s, "lr_lr")->valuedouble, 1e-7, 1e-15);
    ck_assert_int_eq(cJSON_GetObjectItem(s, "batch_syn")->valueint, 10);
    ck_assert_int_eq(cJSON_GetObjectItem(s, "batch_train")->valueint, 128);
    ck_assert_int_eq(cJSON_GetObjectItem(s, "max_start_epoch")->valueint, 4);
    ck_assert_int_eq(cJSON_GetObjectItem(s, "eval_it")->valueint, 500);
    cJSON_Delete(o);
    free(text);
    free(src);
}
END_TEST

int main(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, yaml_forms_through_flag_parsers);
    tcase_add_test(tc, command_line_overrides_file);
    tcase_add_test(tc, unused_keys_reported_once);
    tcase_add_test(tc, bad_values_name_flag_and_file);
    tcase_add_test(tc, nested_values);
    tcase_add_test(tc, reader_entries_of_datm_file);
    tcase_add_test(tc, reader_null_and_empty);
    tcase_add_test(tc, reader_syntax_errors_with_line);
    tcase_add_test(tc, suggestions);
    tcase_add_test(tc, datm_files_land_in_distill_flags);
    tcase_add_test(tc, distill_command_line_overrides);
    tcase_add_test(tc, distill_errors_name_the_file);
    tcase_add_test(tc, buffer_and_eval_take_cfg);
    tcase_add_test(tc, shipped_configs_use_known_keys);
    tcase_add_test(tc, standin_cifar10_run_from_datm_config);
    suite_add_tcase(s, tc);
    int rc = tu_run(s);
    if (g_tmp) tu_rm_tree(g_tmp);
    return rc;
}
