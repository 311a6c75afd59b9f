/* The config file reader over libyaml's event parser: one document holding one mapping
 * whose keys are scalars; a value is a scalar, or a nested list or mapping that the reader
 * skips and marks, so that the caller can say what is wrong with it (or ignore it). */
#include "cli/config_yaml.h"
#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

typedef struct {
    const char *path;
    yaml_parser_t parser;
    char *err;
    size_t errlen;
} Reader;

static int fail(Reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(Reader *r, const char *fmt, ...) {
    int k = snprintf(r->err, r->errlen, "%s: ", r->path);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < r->errlen) vsnprintf(r->err + k, r->errlen - k, fmt, ap);
    va_end(ap);
    return -1;
}

/* The next event, or -1 with libyaml's problem and where it is (1-based, as editors count). */
static int next_event(Reader *r, yaml_event_t *ev) {
    if (yaml_parser_parse(&r->parser, ev)) return 0;
    const yaml_parser_t *p = &r->parser;
    const char *problem = p->problem ? p->problem : "not valid YAML";
    if (p->context)
        return fail(r, "YAML error at line %zu, column %zu: %s (%s started at line %zu, column %zu)",
                    p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                    p->context_mark.line + 1, p->context_mark.column + 1);
    return fail(r, "YAML error at line %zu, column %zu: %s", p->problem_mark.line + 1, p->problem_mark.column + 1,
                problem);
}

/* YAML's null written plainly: nothing, ~, null, Null, NULL. A quoted "" is a string. */
static int plain_null(const yaml_event_t *ev) {
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)ev->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* Consumes a nested value whose start event was just read, through its matching end. */
static int skip_nested(Reader *r) {
    int depth = 1;
    while (depth > 0) {
        yaml_event_t ev;
        if (next_event(r, &ev)) return -1;
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) depth++;
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) depth--;
        yaml_event_delete(&ev);
    }
    return 0;
}

/* Reads the pairs of the top mapping (its start event already read) through its end. */
static int read_pairs(Reader *r, CfgFile *out) {
    for (;;) {
        yaml_event_t key;
        if (next_event(r, &key)) return -1;
        if (key.type == YAML_MAPPING_END_EVENT) { yaml_event_delete(&key); return 0; }
        int kline = (int)key.start_mark.line + 1, kcol = (int)key.start_mark.column + 1;
        if (key.type != YAML_SCALAR_EVENT || !*(const char *)key.data.scalar.value) {
            yaml_event_delete(&key);
            return fail(r, "line %d, column %d: a key must be a name (key: value)", kline, kcol);
        }
        const char *name = (const char *)key.data.scalar.value;
        for (int i = 0; i < out->n; i++)
            if (strcmp(out->e[i].key, name) == 0) {
                int prev = out->e[i].line;
                fail(r, "line %d: duplicate key '%s' (first at line %d)", kline, name, prev);
                yaml_event_delete(&key);
                return -1;
            }
        CfgEntry e = {xstrdup(name), NULL, CFG_SCALAR, kline, kcol};
        yaml_event_delete(&key);
        /* Added before the value is read, so that cfg_free releases it on any error. */
        out->e = xrealloc(out->e, (size_t)(out->n + 1) * sizeof *out->e);
        out->e[out->n++] = e;
        CfgEntry *cur = &out->e[out->n - 1];

        yaml_event_t val;
        if (next_event(r, &val)) return -1;
        switch (val.type) {
        case YAML_SCALAR_EVENT:
            cur->kind = plain_null(&val) ? CFG_NULL : CFG_SCALAR;
            cur->value = xstrdup((const char *)val.data.scalar.value);
            yaml_event_delete(&val);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            cur->kind = val.type == YAML_SEQUENCE_START_EVENT ? CFG_SEQUENCE : CFG_MAPPING;
            cur->value = xstrdup("");
            yaml_event_delete(&val);
            if (skip_nested(r)) return -1;
            break;
        default:
            yaml_event_delete(&val);
            return fail(r, "line %d: the value of '%s' is an alias (*name), which config files do not use", kline,
                        cur->key);
        }
    }
}

/* Walks stream, document, the one mapping, and the end of the stream. */
static int read_document(Reader *r, CfgFile *out) {
    yaml_event_t ev;
    if (next_event(r, &ev)) return -1;   /* stream start */
    yaml_event_delete(&ev);
    if (next_event(r, &ev)) return -1;
    if (ev.type == YAML_STREAM_END_EVENT) { yaml_event_delete(&ev); return 0; }   /* only comments */
    yaml_event_delete(&ev);              /* document start */
    if (next_event(r, &ev)) return -1;
    int line = (int)ev.start_mark.line + 1;
    if (ev.type == YAML_SCALAR_EVENT && plain_null(&ev)) {
        yaml_event_delete(&ev);          /* "---" and nothing else */
    } else if (ev.type == YAML_MAPPING_START_EVENT) {
        yaml_event_delete(&ev);
        if (read_pairs(r, out)) return -1;
    } else {
        yaml_event_delete(&ev);
        return fail(r, "line %d: expected a mapping of key: value lines at the top", line);
    }
    if (next_event(r, &ev)) return -1;   /* document end */
    yaml_event_delete(&ev);
    if (next_event(r, &ev)) return -1;
    int extra = ev.type != YAML_STREAM_END_EVENT;
    line = (int)ev.start_mark.line + 1;
    yaml_event_delete(&ev);
    if (extra) return fail(r, "line %d: a second YAML document (---); a config file holds one", line);
    return 0;
}

int cfg_read(const char *path, CfgFile *out, char *err, size_t errlen) {
    out->e = NULL;
    out->n = 0;
    Reader r = {path, {0}, err, errlen};
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return fail(&r, "is a folder, not a config file");
    FILE *f = fopen(path, "rb");
    if (!f) return fail(&r, "cannot open: %s", strerror(errno));
    if (!yaml_parser_initialize(&r.parser)) {
        fclose(f);
        return fail(&r, "out of memory starting the YAML parser");
    }
    yaml_parser_set_input_file(&r.parser, f);
    int rc = read_document(&r, out);
    yaml_parser_delete(&r.parser);
    fclose(f);
    if (rc) cfg_free(out);
    return rc;
}

void cfg_free(CfgFile *f) {
    for (int i = 0; i < f->n; i++) {
        free(f->e[i].key);
        free(f->e[i].value);
    }
    free(f->e);
    f->e = NULL;
    f->n = 0;
}
