#include "cli/cli.h"
#include "core/runtime.h"
#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cli_parse_bool(const char *s) {
    const char *t[] = {"True", "true", "1", "yes", "Yes", "on"};
    const char *f[] = {"False", "false", "0", "no", "No", "off"};
    for (int i = 0; i < 6; i++) {
        if (strcmp(s, t[i]) == 0) return 1;
        if (strcmp(s, f[i]) == 0) return 0;
    }
    return -1;
}

/* Compares a flag name with underscores to user text where '-' may stand for '_'. */
static int name_eq(const char *flag, const char *text, size_t n) {
    if (strlen(flag) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[i] == '-' ? '_' : text[i];
        if (c != flag[i]) return 0;
    }
    return 1;
}

static void set_value(const FlagSet *fs, Flag *f, const char *v) {
    char *end;
    switch (f->type) {
    case FLAG_INT:
    case FLAG_OPT_INT: {
        if (f->type == FLAG_OPT_INT && (strcmp(v, "None") == 0 || strcmp(v, "none") == 0)) {
            *(int *)f->dest = -1;
            break;
        }
        errno = 0;
        long x = strtol(v, &end, 10);
        if (*v == 0 || *end || errno || x < -2147483647L || x > 2147483647L)
            die("%s: --%s expects an integer, got '%s'", fs->command, f->name, v);
        *(int *)f->dest = (int)x;
        break;
    }
    case FLAG_FLOAT: {
        errno = 0;
        double x = strtod(v, &end);
        if (*v == 0 || *end || errno || !isfinite(x))
            die("%s: --%s expects a number, got '%s'", fs->command, f->name, v);
        *(double *)f->dest = x;
        break;
    }
    case FLAG_STR:
        *(const char **)f->dest = v;
        break;
    case FLAG_DEVICE: {
        if (strcmp(v, "None") == 0 || strcmp(v, "none") == 0) {
            *(int *)f->dest = -1;
            break;
        }
        int d = rt_pick_device(v);
        if (d < 0) die("%s: --%s expects a device index or a list like 0,1 (see 'clmtt devices'), got '%s'",
                       fs->command, f->name, v);
        *(int *)f->dest = d;
        break;
    }
    case FLAG_BOOL: {
        int b = cli_parse_bool(v);
        if (b < 0) die("%s: --%s expects True or False, got '%s'", fs->command, f->name, v);
        *(int *)f->dest = b;
        break;
    }
    }
    f->given = 1;
}

void cli_parse(FlagSet *fs, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_usage(fs);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0)
            die("%s: unexpected argument '%s' (flags look like --name=value; see 'clmtt %s --help')", fs->command, a, fs->command);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        Flag *f = NULL;
        for (int k = 0; k < fs->nflags; k++)
            if (name_eq(fs->flags[k].name, name, n)) { f = &fs->flags[k]; break; }
        if (!f) die("%s: unknown flag '--%.*s' (see 'clmtt %s --help')", fs->command, (int)n, name, fs->command);
        if (eq) {
            set_value(fs, f, eq + 1);
        } else if (f->type == FLAG_BOOL) {
            /* A following boolean literal belongs to the flag; anything else does not. */
            if (i + 1 < argc && cli_parse_bool(argv[i + 1]) >= 0) set_value(fs, f, argv[++i]);
            else { *(int *)f->dest = 1; f->given = 1; }
        } else {
            if (i + 1 >= argc) die("%s: --%s needs a value", fs->command, f->name);
            set_value(fs, f, argv[++i]);
        }
    }
}

void cli_usage(const FlagSet *fs) {
    printf("usage: clmtt %s [flags]\n%s\n\nflags (--name=value or --name value; '-' and '_' are interchangeable):\n",
           fs->command, fs->summary);
    for (int k = 0; k < fs->nflags; k++) {
        const Flag *f = &fs->flags[k];
        char def[128];
        switch (f->type) {
        case FLAG_INT: snprintf(def, sizeof def, "%d", *(int *)f->dest); break;
        case FLAG_OPT_INT:
        case FLAG_DEVICE:
            if (*(int *)f->dest < 0) snprintf(def, sizeof def, "None");
            else snprintf(def, sizeof def, "%d", *(int *)f->dest);
            break;
        case FLAG_FLOAT: snprintf(def, sizeof def, "%g", *(double *)f->dest); break;
        case FLAG_STR: snprintf(def, sizeof def, "%s", *(const char **)f->dest ? *(const char **)f->dest : "(none)"); break;
        case FLAG_BOOL: snprintf(def, sizeof def, "%s", *(int *)f->dest ? "True" : "False"); break;
        }
        printf("  --%-20s %s [default: %s]\n", f->name, f->help, def);
    }
}

const Flag *cli_flag(const FlagSet *fs, const char *name) {
    for (int k = 0; k < fs->nflags; k++)
        if (strcmp(fs->flags[k].name, name) == 0) return &fs->flags[k];
    die("internal: no flag --%s in %s", name, fs->command);
}

void cli_require(int cond, const char *flag, const char *fmt, ...) {
    if (cond) return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    die("--%s: %s", flag, msg);
}
