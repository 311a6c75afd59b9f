/* ImageNet subset lists: parsing and lookup (see host/data/subset.h). The six lists of
 * the original live in data/subsets/<name>.txt and are compiled in by tools/embed_files.cmake. */
#include "data/subset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

extern const int clmtt_subset_count;
extern const char *const clmtt_subset_names[];
extern const char *const clmtt_subset_texts[];

/* ImageNet-1k has 1000 classes, so an index is 0..999. */
#define SUBSET_IMAGENET_CLASSES 1000

static int subset_all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Appends one class; the arrays grow by one. */
static void subset_add(Subset *s, const char *wnid, int index, const char *name, int line) {
    int k = s->num_classes++;
    s->wnids = xrealloc(s->wnids, (size_t)s->num_classes * sizeof(char *));
    s->index = xrealloc(s->index, (size_t)s->num_classes * sizeof(int));
    s->names = xrealloc(s->names, (size_t)s->num_classes * sizeof(char *));
    s->line = xrealloc(s->line, (size_t)s->num_classes * sizeof(int));
    s->wnids[k] = wnid ? xstrdup(wnid) : NULL;
    s->index[k] = index;
    char fallback[64];
    if (!name || !*name) {
        if (wnid) name = wnid;
        else {
            snprintf(fallback, sizeof fallback, "index %d", index);
            name = fallback;
        }
    }
    s->names[k] = xstrdup(name);
    s->line[k] = line;
}

/* Reads an index token; -1 with a message when out of range. */
static int subset_index(const char *tok, const char *source, int line, char *err, size_t errlen) {
    long v = strlen(tok) > 6 ? SUBSET_IMAGENET_CLASSES : strtol(tok, NULL, 10);
    if (v >= SUBSET_IMAGENET_CLASSES) {
        snprintf(err, errlen, "%s:%d: ImageNet index %s is out of range 0..%d", source, line, tok,
                 SUBSET_IMAGENET_CLASSES - 1);
        return -1;
    }
    return (int)v;
}

/* One line without its comment: "<wnid> [<index>] [<name>]" or "<index> [<name>]". */
static int subset_line(Subset *s, char *text, const char *source, int line, char *err, size_t errlen) {
    char *p = text;
    while (isspace((unsigned char)*p)) p++;
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1])) *--end = 0;
    if (!*p) return 0;
    char *tok = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if (*p) *p++ = 0;
    while (isspace((unsigned char)*p)) p++;
    const char *wnid = NULL;
    int index = -1;
    if (subset_all_digits(tok)) {
        if ((index = subset_index(tok, source, line, err, errlen)) < 0) return -1;
    } else {
        if (strchr(tok, '/') || strcmp(tok, ".") == 0 || strcmp(tok, "..") == 0) {
            snprintf(err, errlen, "%s:%d: '%s' is not a class folder name (a wnid such as n01440764)", source, line, tok);
            return -1;
        }
        wnid = tok;
        char *idx = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        char saved = *p;
        *p = 0;
        if (subset_all_digits(idx)) {
            if ((index = subset_index(idx, source, line, err, errlen)) < 0) return -1;
            if (saved) p++;
            while (isspace((unsigned char)*p)) p++;
        } else {
            *p = saved;
            p = idx;
        }
    }
    for (int k = 0; k < s->num_classes; k++) {
        if (wnid && s->wnids[k] && strcmp(wnid, s->wnids[k]) == 0) {
            snprintf(err, errlen, "%s:%d: class %s is listed twice (also on line %d)", source, line, wnid, s->line[k]);
            return -1;
        }
        if (index >= 0 && s->index[k] == index) {
            snprintf(err, errlen, "%s:%d: ImageNet index %d is listed twice (also on line %d)", source, line, index,
                     s->line[k]);
            return -1;
        }
    }
    subset_add(s, wnid, index, p, line);
    return 0;
}

int subset_parse(const char *text, const char *source, const char *name, Subset *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->source = xstrdup(source);
    char *copy = xstrdup(text);
    int line = 0, rc = 0;
    for (char *p = copy; p && rc == 0;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        char *hash = strchr(p, '#');
        if (hash) *hash = 0;
        rc = subset_line(out, p, source, line, err, errlen);
        p = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (rc == 0 && out->num_classes < 2) {
        snprintf(err, errlen, "%s: a subset needs at least 2 classes, this one lists %d", source, out->num_classes);
        rc = -1;
    }
    if (rc != 0) subset_free(out);
    return rc;
}

/* Subset names become file names and folder names: letters, digits, '_', '-', '.'. */
static int subset_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof(((Subset *)0)->name) || name[0] == '.') return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') return 0;
    return 1;
}

/* The folders searched for <name>.txt, in order; returns how many (at most 2). */
static int subset_dirs(char dirs[2][4096]) {
    int n = 0;
    const char *env = getenv("CLMTT_DATA_DIR");
    if (env && *env) snprintf(dirs[n++], 4096, "%s/subsets", env);
#ifdef CLMTT_SUBSETS_SRC_DIR
    snprintf(dirs[n++], 4096, "%s", CLMTT_SUBSETS_SRC_DIR);
#endif
    return n;
}

int subset_find(const char *name, Subset *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!name || !subset_name_ok(name)) {
        snprintf(err, errlen, "'%s' is not a subset name (letters, digits, '_', '-' and '.', not starting with '.')",
                 name ? name : "(none)");
        return -1;
    }
    char dirs[2][4096];
    int nd = subset_dirs(dirs);
    for (int d = 0; d < nd; d++) {
        size_t plen = strlen(dirs[d]) + strlen(name) + 6;
        char *path = xmalloc(plen);
        snprintf(path, plen, "%s/%s.txt", dirs[d], name);
        if (!file_exists(path)) {
            free(path);
            continue;
        }
        size_t len;
        errno = 0;
        char *text = (char *)read_file(path, &len);
        int rc = -1;
        if (text) rc = subset_parse(text, path, name, out, err, errlen);
        else snprintf(err, errlen, "cannot read %s: %s", path, errno ? strerror(errno) : "read error");
        free(text);
        free(path);
        return rc;
    }
    for (int i = 0; i < clmtt_subset_count; i++)
        if (strcmp(clmtt_subset_names[i], name) == 0) return subset_parse(clmtt_subset_texts[i], "built-in", name, out, err, errlen);
    return 1;
}

static int subset_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

char *subset_known(void) {
    char **names = NULL;
    int n = 0;
    for (int i = 0; i < clmtt_subset_count; i++) {
        names = xrealloc(names, (size_t)(n + 1) * sizeof(char *));
        names[n++] = xstrdup(clmtt_subset_names[i]);
    }
    char dirs[2][4096];
    int nd = subset_dirs(dirs);
    for (int d = 0; d < nd; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        struct dirent *e;
        while ((e = readdir(dir))) {
            size_t len = strlen(e->d_name);
            if (len <= 4 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
            char *nm = xstrdup(e->d_name);
            nm[len - 4] = 0;
            if (!subset_name_ok(nm)) {
                free(nm);
                continue;
            }
            names = xrealloc(names, (size_t)(n + 1) * sizeof(char *));
            names[n++] = nm;
        }
        closedir(dir);
    }
    qsort(names, (size_t)n, sizeof(char *), subset_cmp);
    size_t cap = 1;
    for (int i = 0; i < n; i++) cap += strlen(names[i]) + 2;
    char *out = xmalloc(cap);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0) continue;
        if (out[0]) strcat(out, ", ");
        strcat(out, names[i]);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return out;
}

void subset_free(Subset *s) {
    for (int k = 0; k < s->num_classes; k++) {
        free(s->wnids[k]);
        free(s->names[k]);
    }
    free(s->wnids);
    free(s->index);
    free(s->names);
    free(s->line);
    free(s->source);
    memset(s, 0, sizeof *s);
}
